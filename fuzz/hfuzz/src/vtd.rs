//! honggfuzz target `vtd`: the same bytes, decoder and run as the libFuzzer target.
//! Settings: IOMMUFUZZ_VARIANT, IOMMUFUZZ_SUPPRESSIONS.

fn main() {
    loop {
        honggfuzz::fuzz!(|data: &[u8]| { iommufuzz::fuzz::vtd(data); });
    }
}
