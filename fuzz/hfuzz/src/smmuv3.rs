//! honggfuzz target `smmuv3`: the same bytes, decoder and run as the libFuzzer `smmuv3` target.
//! Settings: IOMMUFUZZ_VARIANT (an SMMUv3 variant), IOMMUFUZZ_SUPPRESSIONS, IOMMUFUZZ_ONLY.

fn main() {
    loop {
        honggfuzz::fuzz!(|data: &[u8]| { iommufuzz::fuzz::smmuv3(data); });
    }
}
