//! Scoring an [`Analysis`] against generator ground truth.
//!
//! A detected strand *matches* a true hair when at least
//! [`MIN_COVERAGE`] of its centreline points lie within a tolerance of that hair's
//! true centreline (the larger of 3 px and the true shaft width); it matches the hair
//! covering most of its points. Recall is over true hairs visible for at least the
//! analysis' minimum length; precision is over detected strands.

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::synth::truth::Truth;

/// Share of a strand's points that must lie on a true hair to match it.
pub const MIN_COVERAGE: f64 = 0.7;

/// Largest distance (µm) between a counted strand's emergence point and a true
/// hair's for the two to be the same emergence: about one follicular opening.
pub const EMERGENCE_TOLERANCE_UM: f64 = 100.0;

/// How one analysis compares with its truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// True hair count (emergence in the field).
    pub true_count: f64,
    /// Estimated hair count.
    pub estimated_count: f64,
    /// (estimated − true) / true, in % (0 when both are 0; 100 per hair when true is 0).
    pub count_error_pct: f64,
    /// Density error (hairs/cm²).
    pub density_error_per_cm2: f64,
    /// True hairs long enough to be detected.
    pub detectable_hairs: usize,
    /// Of those, how many were matched by at least one strand.
    pub recalled_hairs: usize,
    /// Detected strands.
    pub detected_strands: usize,
    /// Detected strands that match a true hair.
    pub matched_strands: usize,
    /// `recalled_hairs / detectable_hairs` (1 when there are none).
    pub recall: f64,
    /// `matched_strands / detected_strands` (1 when there are none).
    pub precision: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Per matched true hair: (true width, measured width) in µm, best-covering strand.
    pub width_pairs_um: Vec<[f64; 2]>,
    /// Mean |measured − true| width over `width_pairs_um` (µm; 0 when none).
    pub width_mae_um: f64,
    /// Mean (measured − true) width (µm; 0 when none).
    pub width_bias_um: f64,
    /// Measured minus true vellus fraction (fraction).
    pub vellus_fraction_error: f64,
    /// Measured minus true follicular-unit count.
    pub follicular_unit_error: i64,
    /// Of the count carried by strands with an emergence point, the share whose
    /// point lies within [`EMERGENCE_TOLERANCE_UM`] of a true emergence in the field
    /// (1 when nothing is counted). A count can be right by chance, its misses offset
    /// by false emergences; this says how much of it stands where hairs emerge.
    pub emergence_precision: f64,
    /// Share of the true emergences in the field within [`EMERGENCE_TOLERANCE_UM`] of
    /// a counted strand's emergence point (1 when there are none). Hairs of one
    /// follicular unit share an opening, so one counted point can recall several.
    pub emergence_recall: f64,
}

fn visible_points(truth: &Truth, hair: usize) -> Vec<[f64; 2]> {
    let (w, h) = (f64::from(truth.image.width), f64::from(truth.image.height));
    truth.hairs[hair]
        .centerline_px
        .iter()
        .copied()
        .filter(|p| p[0] >= 0.0 && p[1] >= 0.0 && p[0] < w && p[1] < h)
        .collect()
}

fn dist_to_polyline(p: [f64; 2], line: &[[f64; 2]]) -> f64 {
    let mut best = f64::INFINITY;
    for seg in line.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let ab = [b[0] - a[0], b[1] - a[1]];
        let len2 = ab[0] * ab[0] + ab[1] * ab[1];
        let t = if len2 > 0.0 {
            (((p[0] - a[0]) * ab[0] + (p[1] - a[1]) * ab[1]) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let q = [a[0] + t * ab[0], a[1] + t * ab[1]];
        best = best.min(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt());
    }
    if line.len() == 1 {
        best = ((p[0] - line[0][0]).powi(2) + (p[1] - line[0][1]).powi(2)).sqrt();
    }
    best
}

/// Scores `analysis` against `truth`. `min_length_um` sets which true hairs count
/// as detectable (use the analysis' own minimum strand length).
pub fn score(analysis: &Analysis, truth: &Truth, min_length_um: f64) -> Score {
    let um = truth.um_per_px;
    let visible: Vec<Vec<[f64; 2]>> = (0..truth.hairs.len())
        .map(|i| visible_points(truth, i))
        .collect();
    // Bounding boxes for a quick reject.
    let boxes: Vec<[f64; 4]> = visible
        .iter()
        .map(|v| {
            v.iter().fold(
                [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ],
                |b, p| {
                    [
                        b[0].min(p[0]),
                        b[1].min(p[1]),
                        b[2].max(p[0]),
                        b[3].max(p[1]),
                    ]
                },
            )
        })
        .collect();
    let mut best_for_hair: Vec<Option<(f64, f64)>> = vec![None; truth.hairs.len()]; // (coverage, width)
    let mut matched_strands = 0;
    for s in &analysis.strands {
        let mut best: Option<(usize, f64)> = None;
        for (h, line) in visible.iter().enumerate() {
            if line.len() < 2 {
                continue;
            }
            let tol = (truth.hairs[h].width_um / um).max(3.0);
            let b = boxes[h];
            let near = s
                .centerline
                .iter()
                .filter(|p| {
                    p[0] >= b[0] - tol
                        && p[0] <= b[2] + tol
                        && p[1] >= b[1] - tol
                        && p[1] <= b[3] + tol
                })
                .filter(|p| dist_to_polyline(**p, line) <= tol)
                .count();
            let coverage = near as f64 / s.centerline.len().max(1) as f64;
            if coverage >= MIN_COVERAGE && best.is_none_or(|(_, c)| coverage > c) {
                best = Some((h, coverage));
            }
        }
        if let Some((h, c)) = best {
            matched_strands += 1;
            if best_for_hair[h].is_none_or(|(bc, _)| c > bc) {
                best_for_hair[h] = Some((c, s.width_um));
            }
        }
    }
    let detectable: Vec<usize> = (0..truth.hairs.len())
        .filter(|&h| truth.hairs[h].visible_length_um >= min_length_um)
        .collect();
    let recalled = detectable
        .iter()
        .filter(|&&h| best_for_hair[h].is_some())
        .count();
    let width_pairs_um: Vec<[f64; 2]> = detectable
        .iter()
        .filter_map(|&h| best_for_hair[h].map(|(_, w)| [truth.hairs[h].width_um, w]))
        .collect();
    let n = width_pairs_um.len().max(1) as f64;
    let width_mae_um = width_pairs_um
        .iter()
        .map(|p| (p[1] - p[0]).abs())
        .sum::<f64>()
        / n;
    let width_bias_um = width_pairs_um.iter().map(|p| p[1] - p[0]).sum::<f64>() / n;
    let recall = if detectable.is_empty() {
        1.0
    } else {
        recalled as f64 / detectable.len() as f64
    };
    let detected = analysis.strands.len();
    let precision = if detected == 0 {
        1.0
    } else {
        matched_strands as f64 / detected as f64
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let true_count = truth.summary.hair_count as f64;
    let count_error_pct = if true_count > 0.0 {
        100.0 * (analysis.hair_count - true_count) / true_count
    } else {
        100.0 * analysis.hair_count
    };
    let tolerance_px = EMERGENCE_TOLERANCE_UM / um;
    let true_emergences: Vec<[f64; 2]> = truth
        .hairs
        .iter()
        .filter(|h| h.emergence_in_field)
        .map(|h| h.emergence_px)
        .collect();
    let counted: Vec<([f64; 2], f64)> = analysis
        .strands
        .iter()
        .filter(|s| s.count_weight > 0.0)
        .filter_map(|s| s.emergence.map(|e| (e, s.count_weight)))
        .collect();
    let near = |p: [f64; 2], q: [f64; 2]| (p[0] - q[0]).hypot(p[1] - q[1]) <= tolerance_px;
    let counted_weight: f64 = counted.iter().map(|c| c.1).sum();
    let emergence_precision = if counted_weight > 0.0 {
        counted
            .iter()
            .filter(|(e, _)| true_emergences.iter().any(|&t| near(*e, t)))
            .fold(0.0, |sum, c| sum + c.1)
            / counted_weight
    } else {
        1.0
    };
    let emergence_recall = if true_emergences.is_empty() {
        1.0
    } else {
        true_emergences
            .iter()
            .filter(|&&t| counted.iter().any(|(e, _)| near(*e, t)))
            .count() as f64
            / true_emergences.len() as f64
    };
    Score {
        true_count,
        estimated_count: analysis.hair_count,
        count_error_pct,
        density_error_per_cm2: analysis.density_per_cm2 - truth.summary.density_per_cm2,
        detectable_hairs: detectable.len(),
        recalled_hairs: recalled,
        detected_strands: detected,
        matched_strands,
        recall,
        precision,
        f1,
        width_pairs_um,
        width_mae_um,
        width_bias_um,
        vellus_fraction_error: analysis.vellus_fraction - truth.summary.vellus_fraction,
        follicular_unit_error: analysis.follicular_units as i64
            - truth.summary.follicular_units as i64,
        emergence_precision,
        emergence_recall,
    }
}
