//! What the fuzz targets run, shared with the stable-toolchain replay test
//! (`tests/fuzz_corpus.rs` of the main crate includes this file), so that CI
//! exercises every corpus input without nightly.
//!
//! A panic here is a finding: either the library panicked, or one of the
//! invariants below failed.

use trichometry::photo::{decode_photo, PhotoLimits};
use trichometry::{analyze, Analysis, Calibration, Error, Params};

/// Decoding limits of the fuzz target: 1 MiB decoded and 256 px per side keep
/// each execution in milliseconds (the limits' own checks are what is tested).
pub const FUZZ_LIMITS: PhotoLimits = PhotoLimits {
    max_decode_bytes: 1 << 20,
    max_side_px: 256,
};

/// Largest photo analysed by the fuzz target (px): 64 × 64. Analysis costs
/// about 100 ms at 128 × 128 on one core of the development machine (10 runs/s);
/// at 64 × 64 every stage still runs (the smallest photo is 16 × 16).
pub const FUZZ_MAX_PIXELS: u64 = 64 * 64;

/// Calibration of the fuzz target (µm/px).
pub const FUZZ_UM_PER_PX: f64 = 6.0;

/// Decodes `data` as a photo and analyses it. Returns the library's error for
/// input it rejects; panics when an invariant of a result fails:
/// every figure finite and non-negative where it must be, fractions in [0, 1],
/// the JSON of the result readable back into an equal result.
///
/// # Panics
/// On a broken invariant (that is the finding).
pub fn decode_and_analyze(data: &[u8]) -> Result<Analysis, Error> {
    let image = decode_photo(data, FUZZ_LIMITS)?;
    let params = Params {
        max_pixels: FUZZ_MAX_PIXELS,
        ..Params::default()
    };
    let calibration = Calibration::new(FUZZ_UM_PER_PX)?;
    let a = analyze(&image, &calibration, &params)?;
    check(&a);
    let text = serde_json::to_string(&a).expect("an Analysis always serialises");
    let back: Analysis = serde_json::from_str(&text).expect("its own JSON reads back");
    assert_eq!(back, a, "JSON round trip changed the analysis");
    Ok(a)
}

/// The invariants of any analysis.
///
/// # Panics
/// When one fails.
pub fn check(a: &Analysis) {
    let non_negative = [
        ("field_area_cm2", a.field_area_cm2),
        ("hair_count", a.hair_count),
        ("density_per_cm2", a.density_per_cm2),
        ("mean_width_um", a.mean_width_um),
        ("median_width_um", a.median_width_um),
        ("width_cv", a.width_cv),
        (
            "cumulative_thickness_mm_per_cm2",
            a.cumulative_thickness_mm_per_cm2,
        ),
        ("quality.mean_level", a.quality.mean_level),
        ("quality.contrast", a.quality.contrast),
    ];
    for (name, v) in non_negative {
        // `is_sign_positive` also refuses −0.0, which would read "-0" in a table.
        assert!(v.is_finite() && v.is_sign_positive(), "{name} = {v}");
    }
    for (name, v) in [
        ("vellus_fraction", a.vellus_fraction),
        ("intermediate_fraction", a.intermediate_fraction),
        ("terminal_fraction", a.terminal_fraction),
        (
            "highlight_clipped_fraction",
            a.quality.highlight_clipped_fraction,
        ),
        ("shadow_clipped_fraction", a.quality.shadow_clipped_fraction),
    ] {
        assert!((0.0..=1.0).contains(&v), "{name} = {v}");
    }
    let [lo, hi] = a.density_ci95_per_cm2;
    assert!(
        lo <= a.density_per_cm2 && a.density_per_cm2 <= hi,
        "CI {lo}–{hi}"
    );
    assert_eq!(a.quality.reliable, a.quality.issues.is_empty());
    for s in &a.strands {
        assert!(s.width_um.is_finite() && s.width_um > 0.0, "strand width");
        assert!(
            s.length_um.is_finite() && s.length_um > 0.0,
            "strand length"
        );
    }
}

/// Reads `data` as a saved `Analysis` JSON (as `trichometry analyze --json` and
/// `results.jsonl` rows hold it). Whatever it reads must write back to JSON
/// that reads again into an equal value.
///
/// # Panics
/// When the round trip fails (that is the finding).
pub fn load_analysis_json(data: &[u8]) -> Option<Analysis> {
    let a: Analysis = serde_json::from_slice(data).ok()?;
    let text = serde_json::to_string(&a).expect("an Analysis always serialises");
    let back: Analysis = serde_json::from_str(&text).expect("its own JSON reads back");
    assert_eq!(back, a, "JSON round trip changed the analysis");
    Some(a)
}
