#!/usr/bin/env bash
# Runs the OSS-Fuzz and ClusterFuzzLite build.sh outside Docker, as the base image would: SRC,
# OUT and WORK point at temporary directories, the project is at $SRC/iommufuzz, cargo-fuzz and
# nightly are on PATH. Then checks $OUT the way `infra/helper.py check_build` would need it and
# replays the packaged seed corpus with the packaged suppressions.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz not installed: skipped"; exit 0; }
command -v zip >/dev/null || { echo "zip not installed: skipped"; exit 0; }
# The base image's default toolchain is nightly; here, nightly if present, else bootstrap.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    export RUSTUP_TOOLCHAIN=nightly
else
    export RUSTC_BOOTSTRAP=1
fi
for build in tools/oss-fuzz/build.sh .clusterfuzzlite/build.sh; do
    t=$(mktemp -d)
    export SRC=$t/src OUT=$t/out WORK=$t/work
    mkdir -p "$SRC" "$OUT" "$WORK"
    # A link instead of a copy reuses the fuzz build cache.
    ln -s "$root" "$SRC/iommufuzz"
    cp "$build" "$SRC/build.sh"
    (cd "$SRC" && bash -eu "$SRC/build.sh")
    for f in iommufuzz.supp iommufuzz-smmuv3.supp; do
        [ -s "$OUT/$f" ] || { echo "$build: \$OUT/$f missing"; exit 1; }
    done
    for f in "$OUT"/*; do
        n=$(basename "$f")
        case $n in *.*) ;; *) [[ $n =~ ^[A-Za-z0-9_-]+$ ]] || { echo "bad binary name $n"; exit 1; } ;; esac
    done
    for tgt in vtd smmuv3; do
        for f in $tgt ${tgt}_seed_corpus.zip $tgt.dict $tgt.options; do
            [ -s "$OUT/$f" ] || { echo "$build: \$OUT/$f missing"; exit 1; }
        done
        [ -x "$OUT/$tgt" ] || { echo "$build: \$OUT/$tgt not executable"; exit 1; }
        seeds=$(unzip -Z1 "$OUT/${tgt}_seed_corpus.zip" | wc -l)
        [ "$seeds" -eq "$(ls corpus/$tgt | wc -l)" ] || { echo "$tgt seed zip has $seeds files"; exit 1; }
        mkdir "$WORK/seeds-$tgt" && (cd "$WORK/seeds-$tgt" && unzip -q "$OUT/${tgt}_seed_corpus.zip")
        # No IOMMUFUZZ_SUPPRESSIONS: the binary must find its suppressions file beside itself.
        (cd "$OUT" && env -u IOMMUFUZZ_SUPPRESSIONS ./$tgt -runs=0 -dict=$tgt.dict "$WORK/seeds-$tgt") 2>&1 | grep -E '^Done'
        echo "$build: $tgt ok ($seeds seeds)"
    done
    echo "$build: ok ($(ls "$OUT" | wc -l) files in \$OUT)"
    rm -rf "$t"
done
