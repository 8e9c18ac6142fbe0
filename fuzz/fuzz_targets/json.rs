#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sealbox_tests::fuzz_targets::json(data));
