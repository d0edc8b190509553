//! Phototrichogram: hair growth and the anagen / telogen split from clipped hair.
//!
//! The zone is clipped short and photographed, then photographed again a few days
//! later. [`phototrichogram`] registers the two photos, follows each hair
//! (the matching of [`compare`](crate::compare())), and reads its growth from the
//! change of its visible length: a growing (anagen) hair lengthens by
//! ~0.3–0.4 mm/day, a resting (telogen) one not at all. [`anagen_by_length`] is
//! the one-photo variant: photographed a known number of days after clipping, a
//! hair longer than the clipped stub plus the slowest anagen growth counts as
//! anagen.
//!
//! Hairs cut by the border of either photo are left out: their visible length is
//! not their length.

use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, StrandResult};
use crate::compare::{hair_records, CompareParams, HairFate, Photo};
use crate::error::{Error, Result};
use crate::preprocess::prepare;
use crate::register::{register, Registration};

/// Phototrichogram settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GrowthParams {
    /// Registration and matching settings.
    pub compare: CompareParams,
    /// A hair growing at least this fast is in anagen (mm/day). Anagen scalp hair
    /// grows 0.3–0.4 mm/day; 0.1 leaves room for length-measurement noise of a
    /// few tens of µm over 2–3 days.
    pub anagen_min_mm_per_day: f64,
    /// Hairs whose strand comes within this of the image border are left out (px).
    pub border_margin_px: f64,
}

impl Default for GrowthParams {
    fn default() -> Self {
        GrowthParams {
            // Hairs grow between the two photos: a match is not checked by
            // reading one visit's (shorter) path in the other photo.
            compare: CompareParams {
                verify_matches_in_photos: false,
                ..CompareParams::default()
            },
            anagen_min_mm_per_day: 0.1,
            border_margin_px: 3.0,
        }
    }
}

/// One followed hair.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HairGrowth {
    /// Strand id in the first photo's analysis.
    pub baseline_strand: usize,
    /// Strand id in the second photo's analysis.
    pub followup_strand: usize,
    /// Visible length in the first photo (µm).
    pub baseline_length_um: f64,
    /// Visible length in the second photo (µm).
    pub followup_length_um: f64,
    /// Growth (mm/day).
    pub growth_mm_per_day: f64,
    /// Whether it grows at least `anagen_min_mm_per_day`.
    pub anagen: bool,
}

/// Anagen / telogen counts with the anagen share and its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseCounts {
    /// Hairs in anagen.
    pub anagen: usize,
    /// Hairs in telogen.
    pub telogen: usize,
    /// anagen / (anagen + telogen).
    pub anagen_fraction: f64,
    /// Wilson score 95 % interval of `anagen_fraction` (sampling of hairs).
    pub anagen_fraction_ci95: [f64; 2],
    /// anagen / telogen (∞ written as `null` in JSON when there is no telogen hair).
    pub anagen_telogen_ratio: Option<f64>,
}

impl PhaseCounts {
    fn new(anagen: usize, telogen: usize) -> Self {
        let n = (anagen + telogen) as f64;
        let p = if n > 0.0 { anagen as f64 / n } else { 0.0 };
        PhaseCounts {
            anagen,
            telogen,
            anagen_fraction: p,
            anagen_fraction_ci95: wilson(anagen as f64, n),
            anagen_telogen_ratio: (telogen > 0).then(|| anagen as f64 / telogen as f64),
        }
    }
}

/// Wilson score 95 % interval of a proportion `k / n`.
///
/// # References
/// * E. B. Wilson, "Probable inference, the law of succession, and statistical
///   inference", *JASA* 22 (1927).
pub fn wilson(k: f64, n: f64) -> [f64; 2] {
    if n <= 0.0 {
        return [0.0, 1.0];
    }
    let z = 1.96f64;
    let p = k / n;
    let d = 1.0 + z * z / n;
    let c = (p + z * z / (2.0 * n)) / d;
    let h = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / d;
    [(c - h).max(0.0), (c + h).min(1.0)]
}

/// What [`phototrichogram`] reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Growth {
    /// Days between the photos.
    pub days: f64,
    /// The registration of the second photo onto the first.
    pub registration: Registration,
    /// Each followed hair, away from both borders.
    pub hairs: Vec<HairGrowth>,
    /// Anagen / telogen split.
    pub phases: PhaseCounts,
    /// Median growth of the anagen hairs (mm/day; 0 when none).
    pub median_anagen_growth_mm_per_day: f64,
}

fn clear_of_border(s: &StrandResult, a: &Analysis, margin: f64) -> bool {
    let field = a.field();
    s.centerline.iter().all(|p| field.contains(*p, margin))
}

/// Per-hair growth between two photos of clipped hair `days` apart.
///
/// # Units
/// Lengths in µm, growth in mm/day.
///
/// # Errors
/// [`Error::InvalidParameter`] for `days` not positive or bad params;
/// [`Error::Registration`] when the photos cannot be registered.
pub fn phototrichogram(
    first: Photo<'_>,
    second: Photo<'_>,
    days: f64,
    params: &GrowthParams,
) -> Result<Growth> {
    params.compare.validate()?;
    if !(days.is_finite() && days > 0.0) {
        return Err(Error::InvalidParameter {
            name: "days",
            value: days,
            expected: "a positive number of days between the photos",
        });
    }
    let reg = register(
        first.analysis,
        first.image,
        second.analysis,
        second.image,
        &params.compare.register,
    )?;
    let planes = match (first.image, second.image) {
        (Some(a), Some(b)) => Some((prepare(a, true).absorbance(), prepare(b, true).absorbance())),
        _ => None,
    };
    let records = hair_records(
        0,
        first.analysis,
        second.analysis,
        &reg.transform,
        planes.as_ref(),
        &params.compare,
    );
    let mut hairs = Vec::new();
    for r in records.iter().filter(|r| r.fate == HairFate::Followed) {
        let (Some(i), Some(j)) = (r.baseline_strand, r.followup_strand) else {
            continue;
        };
        let (Some(sb), Some(sf)) = (
            first.analysis.strands.get(i),
            second.analysis.strands.get(j),
        ) else {
            continue;
        };
        if !clear_of_border(sb, first.analysis, params.border_margin_px)
            || !clear_of_border(sf, second.analysis, params.border_margin_px)
        {
            continue;
        }
        let g = (sf.length_um - sb.length_um) / 1000.0 / days;
        hairs.push(HairGrowth {
            baseline_strand: i,
            followup_strand: j,
            baseline_length_um: sb.length_um,
            followup_length_um: sf.length_um,
            growth_mm_per_day: g,
            anagen: g >= params.anagen_min_mm_per_day,
        });
    }
    let anagen = hairs.iter().filter(|h| h.anagen).count();
    let mut rates: Vec<f64> = hairs
        .iter()
        .filter(|h| h.anagen)
        .map(|h| h.growth_mm_per_day)
        .collect();
    Ok(Growth {
        days,
        registration: reg,
        phases: PhaseCounts::new(anagen, hairs.len() - anagen),
        median_anagen_growth_mm_per_day: crate::stats::median(&mut rates).unwrap_or(0.0),
        hairs,
    })
}

/// The one-photo phototrichogram: `days` after clipping to `clipped_length_um`, a
/// counted hair (clear of the border) longer than the stub plus
/// `anagen_min_mm_per_day × days` is in anagen.
///
/// # Units
/// Lengths in µm, rates in mm/day.
///
/// # Errors
/// [`Error::InvalidParameter`] for a non-positive `days` or negative
/// `clipped_length_um`.
pub fn anagen_by_length(
    analysis: &Analysis,
    days: f64,
    clipped_length_um: f64,
    params: &GrowthParams,
) -> Result<PhaseCounts> {
    if !(days.is_finite() && days > 0.0) {
        return Err(Error::InvalidParameter {
            name: "days",
            value: days,
            expected: "a positive number of days since clipping",
        });
    }
    if !(clipped_length_um.is_finite() && clipped_length_um >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "clipped_length_um",
            value: clipped_length_um,
            expected: "a length ≥ 0 µm",
        });
    }
    let threshold = clipped_length_um + params.anagen_min_mm_per_day * 1000.0 * days;
    let (mut a, mut t) = (0, 0);
    for s in analysis
        .strands
        .iter()
        .filter(|s| s.count_weight > 0.0 && clear_of_border(s, analysis, params.border_margin_px))
    {
        if s.length_um >= threshold {
            a += 1;
        } else {
            t += 1;
        }
    }
    Ok(PhaseCounts::new(a, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_published_value() {
        // 81 of 263 (Newcombe 1998, example): 0.2553–0.3662.
        let ci = wilson(81.0, 263.0);
        assert!(
            (ci[0] - 0.2553).abs() < 5e-4 && (ci[1] - 0.3662).abs() < 5e-4,
            "{ci:?}"
        );
        assert_eq!(wilson(0.0, 0.0), [0.0, 1.0]);
    }

    #[test]
    fn phase_counts_and_ratio() {
        let p = PhaseCounts::new(85, 15);
        assert!((p.anagen_fraction - 0.85).abs() < 1e-12);
        assert!((p.anagen_telogen_ratio.unwrap() - 85.0 / 15.0).abs() < 1e-12);
        assert!(PhaseCounts::new(3, 0).anagen_telogen_ratio.is_none());
    }
}
