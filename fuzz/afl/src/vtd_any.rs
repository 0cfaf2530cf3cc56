//! AFL++ target `vtd_any`: the first byte picks the variant, as in the libFuzzer target.

fn main() {
    afl::fuzz!(|data: &[u8]| iommufuzz::fuzz::vtd_any(data));
}
