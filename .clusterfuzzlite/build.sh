#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build: libFuzzer targets with ASan into $OUT, each with its seed
# corpus, dictionary and options, plus the suppressions of known upstream findings (read by the
# targets from iommufuzz.supp beside the binary, since the platform sets no environment).
# Only `vtd` is shipped: `vtd_any` runs old variants whose known bugs would be filed again and
# again; run it locally (see README, "Fuzzing campaigns").
cd "$SRC/iommufuzz"
cargo fuzz build -O --debug-assertions
BIN=fuzz/target/x86_64-unknown-linux-gnu/release
for name in ${IOMMUFUZZ_TARGETS:-vtd}; do
    cp "$BIN/$name" "$OUT/"
    (cd "corpus/$name" && zip -q "$OUT/${name}_seed_corpus.zip" ./*)
    cp fuzz/vtd.dict "$OUT/$name.dict"
    cp "fuzz/$name.options" "$OUT/$name.options"
done
cp suppressions/upstream-known.supp "$OUT/iommufuzz.supp"
