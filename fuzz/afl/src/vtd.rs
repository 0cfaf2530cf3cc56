//! AFL++ target `vtd`: the same bytes, decoder and run as the libFuzzer target, so crash files
//! move between engines unchanged. Settings: IOMMUFUZZ_VARIANT, IOMMUFUZZ_SUPPRESSIONS.

fn main() {
    afl::fuzz!(|data: &[u8]| iommufuzz::fuzz::vtd(data));
}
