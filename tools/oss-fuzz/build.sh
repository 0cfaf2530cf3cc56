#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build: libFuzzer targets with ASan into $OUT, each with its seed
# corpus, dictionary and options, plus the suppressions of known upstream findings (read by the
# targets from a file beside the binary, since the platform sets no environment: iommufuzz.supp
# for vtd, iommufuzz-smmuv3.supp for smmuv3).
# `vtd` and `smmuv3` are shipped: `vtd_any` runs old variants whose known bugs would be filed
# again and again; run it locally (see README, "Fuzzing campaigns").
cd "$SRC/iommufuzz"
cargo fuzz build -O --debug-assertions
BIN=fuzz/target/x86_64-unknown-linux-gnu/release
for name in ${IOMMUFUZZ_TARGETS:-vtd smmuv3}; do
    cp "$BIN/$name" "$OUT/"
    (cd "corpus/$name" && zip -q "$OUT/${name}_seed_corpus.zip" ./*)
    # vtd_any shares the vtd dictionary.
    cp "fuzz/${name%_any}.dict" "$OUT/$name.dict"
    cp "fuzz/$name.options" "$OUT/$name.options"
done
cp suppressions/upstream-known.supp "$OUT/iommufuzz.supp"
cp suppressions/smmuv3-upstream-known.supp "$OUT/iommufuzz-smmuv3.supp"
