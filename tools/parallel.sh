#!/usr/bin/env bash
# Parallel fuzzing on one machine, all workers sharing one corpus directory:
#   libFuzzer -fork=N (one supervisor, N child processes merging into the corpus),
#   libFuzzer -jobs=N -workers=N (independent processes reading each other's additions),
#   AFL main + secondary (-M / -S on one output directory), when cargo-afl is installed.
# Each run gets SECONDS_PER_RUN (default 10); the check is that the shared corpus grew and
# that nothing crashed outside the known upstream findings.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${SECONDS_PER_RUN:-10}
N=${JOBS:-2}
export IOMMUFUZZ_SUPPRESSIONS=$PWD/suppressions/upstream-known.supp
BIN=fuzz/target/x86_64-unknown-linux-gnu/release/vtd
[ -x "$BIN" ] || { echo "build first: cargo +nightly fuzz build -O"; exit 1; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
grew() { # dir before
    local now; now=$(ls "$1" | wc -l)
    [ "$now" -gt "$2" ] || { echo "corpus did not grow ($2 -> $now)"; exit 1; }
    echo "corpus $2 -> $now files"
}

echo "-- libFuzzer -fork=$N"
mkdir "$t/fork" && cp corpus/vtd/* "$t/fork/"
n0=$(ls "$t/fork" | wc -l)
"$BIN" -fork="$N" -max_total_time="$S" -dict=fuzz/vtd.dict -artifact_prefix="$t/" "$t/fork" >"$t/fork.log" 2>&1
grep -E '^#[0-9]+: cov' "$t/fork.log" | tail -1
grew "$t/fork" "$n0"

echo "-- libFuzzer -jobs=$N -workers=$N"
mkdir "$t/jobs" && cp corpus/vtd/* "$t/jobs/"
(cd "$t" && "$OLDPWD/$BIN" -jobs="$N" -workers="$N" -max_total_time="$S" -artifact_prefix="$t/" "$t/jobs" >/dev/null 2>&1)
grep -h 'DONE' "$t"/fuzz-*.log | head -"$N"
grew "$t/jobs" "$n0"
ls "$t"/crash-* >/dev/null 2>&1 && { echo "crash:"; ls "$t"/crash-*; exit 1; }

if command -v cargo-afl >/dev/null 2>&1; then
    echo "-- AFL main + secondary"
    (cd fuzz/afl && cargo afl build --release --quiet)
    A=fuzz/afl/target/release/vtd-afl
    export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
    cargo afl fuzz -i corpus/vtd -o "$t/afl" -M main -V "$S" -x fuzz/vtd.dict -- "$A" >/dev/null 2>&1 &
    cargo afl fuzz -i corpus/vtd -o "$t/afl" -S sec1 -V "$S" -- "$A" >/dev/null 2>&1
    wait
    for w in main sec1; do
        echo "$w: $(grep -E '^(execs_done|corpus_count|saved_crashes)' "$t/afl/$w/fuzzer_stats" | tr -s ' ' | tr '\n' ' ')"
    done
    # The secondary imports the main's queue and vice versa: both saw the shared corpus.
    ls "$t/afl/sec1/queue" | grep -q 'sync:main' && echo "sec1 synced from main"
else
    echo "-- AFL: skipped (cargo-afl not installed)"
fi
echo "parallel: ok"
