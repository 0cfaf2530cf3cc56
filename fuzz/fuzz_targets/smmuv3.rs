//! libFuzzer target `smmuv3`: raw bytes -> SMMUv3 scenario on one variant, through the decoder
//! and run function of `iommufuzz replay --model smmuv3`. Variant: `IOMMUFUZZ_VARIANT`
//! (default: the SMMUv3 upstream variant); extra suppressions: `IOMMUFUZZ_SUPPRESSIONS`;
//! `IOMMUFUZZ_ONLY` as for `vtd`. A violation panics with the report, which libFuzzer records.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iommufuzz::fuzz::smmuv3(data));
