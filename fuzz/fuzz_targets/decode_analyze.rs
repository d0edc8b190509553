//! Bytes → `decode_photo` with small limits → `analyze` at 6 µm/px → invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = trichometry_fuzz::decode_and_analyze(data);
});
