#!/usr/bin/env bash
# One crash file, every engine: the verdict line and trace hash printed by `iommufuzz replay`
# must be exactly what the libFuzzer, AFL and honggfuzz `vtd` (or `smmuv3`) binaries report for
# the same bytes. Engines that are not installed are skipped with a message (CI does not install
# AFL or honggfuzz). Usage: tools/engines-replay.sh [CRASH_FILE VARIANT [vtd|smmuv3]]
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
CLI=target/release/iommufuzz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tgt=${3:-vtd}
model=()
case $tgt in
    vtd) ;;
    smmuv3) model=(--model smmuv3) ;;
    *) echo "unknown target $tgt (vtd, smmuv3)"; exit 2 ;;
esac
if [ $# -ge 2 ]; then
    crash=$1 var=$2
else
    # The feng-v1 race, minimized to raw bytes.
    "$CLI" minimize crashes/feng-v1-eagain-race/scenario.json --out "$tmp/feng" >/dev/null
    crash=$tmp/feng.raw var=feng-v1
fi
export IOMMUFUZZ_VARIANT=$var

# The line with the verdict and the one with the trace hash identify a run exactly.
key() { grep -E '^(verdict:|  steps=)' | head -2; }
want=$("$CLI" replay "$crash" "${model[@]}" --variant "$var" | key || true)
[ -n "$want" ] || { echo "iommufuzz replay printed no verdict"; exit 1; }
echo "iommufuzz replay: $(echo "$want" | head -1)"

fail=0 ran=0
check() { # engine-name output-file
    local got
    got=$(key < "$2")
    if [ "$got" = "$want" ]; then
        echo "$1: identical"
    else
        echo "$1: DIFFERS"; echo "  want: $want"; echo "  got:  $got"; fail=1
    fi
    ran=$((ran + 1))
}

if command -v cargo-fuzz >/dev/null 2>&1; then
    tc=(); rustup toolchain list 2>/dev/null | grep -q '^nightly' && tc=(+nightly) || export RUSTC_BOOTSTRAP=1
    cargo "${tc[@]}" fuzz build -O --debug-assertions "$tgt" >/dev/null 2>&1
    fuzz/target/x86_64-unknown-linux-gnu/release/"$tgt" "$crash" > "$tmp/lf.out" 2>&1 || true
    check libfuzzer "$tmp/lf.out"
else
    echo "libfuzzer: skipped (cargo-fuzz not installed)"
fi

if command -v cargo-afl >/dev/null 2>&1; then
    (cd fuzz/afl && cargo afl build --release --quiet)
    # The AFL binary run outside afl-fuzz reads one input from stdin.
    fuzz/afl/target/release/"$tgt"-afl < "$crash" > "$tmp/afl.out" 2>&1 || true
    check afl "$tmp/afl.out"
else
    echo "afl: skipped (cargo-afl not installed: cargo install cargo-afl)"
fi

if command -v cargo-hfuzz >/dev/null 2>&1; then
    (cd fuzz/hfuzz && cargo hfuzz build-debug >/dev/null 2>&1)
    # A debug honggfuzz binary replays the file named by CARGO_HONGGFUZZ_CRASH_FILENAME
    # (`cargo hfuzz run-debug` does the same under lldb).
    CARGO_HONGGFUZZ_CRASH_FILENAME="$crash" \
        fuzz/hfuzz/hfuzz_target/x86_64-unknown-linux-gnu/debug/"$tgt"-hfuzz > "$tmp/hf.out" 2>&1 || true
    check honggfuzz "$tmp/hf.out"
else
    echo "honggfuzz: skipped (cargo-hfuzz not installed: cargo install honggfuzz)"
fi

echo "engines compared: $ran"
exit $fail
