//! Bytes → a saved `Analysis` JSON → invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    trichometry_fuzz::load_analysis_json(data);
});
