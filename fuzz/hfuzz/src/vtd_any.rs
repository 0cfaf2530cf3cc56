//! honggfuzz target `vtd_any`: the first byte picks the variant.

fn main() {
    loop {
        honggfuzz::fuzz!(|data: &[u8]| { iommufuzz::fuzz::vtd_any(data); });
    }
}
