//! libFuzzer target `vtd`: raw bytes -> VT-d scenario on one variant.
//! Variant: `IOMMUFUZZ_VARIANT` (default: newest upstream); extra suppressions:
//! `IOMMUFUZZ_SUPPRESSIONS`. A violation panics with the report, which libFuzzer records.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iommufuzz::fuzz::vtd(data));
