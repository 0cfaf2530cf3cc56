//! libFuzzer target `vtd_any`: the first byte picks the variant (index into `VARIANTS`, modulo
//! their number), the rest is the raw VT-d scenario, so one campaign covers every variant.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iommufuzz::fuzz::vtd_any(data));
