//! Image-quality verdict: is this photo sharp, exposed and contrasted enough for
//! its figures to be trusted?
//!
//! Every photo gets a [`Quality`] (in [`Analysis::quality`](crate::Analysis::quality)):
//! the measurements below, a `reliable` flag and the [`QualityIssue`]s that
//! cleared it. A photo that fails is still analysed (a count of 0 on a blank or
//! badly blurred frame is then flagged, not passed off as a bald scalp).
//!
//! # Measurements
//!
//! All are made in linear light (after undoing sRGB), where optical blur is a
//! linear convolution.
//!
//! * **Blur** (`edge_blur_sigma_um`): the Gaussian σ of the optics, from edges,
//!   by re-blurring (Hu & de Haan 2006). At an edge blurred by σ_b, the peak of
//!   the gradient after a further Gaussian of σ_s is ∝ 1/√(σ_b² + σ_s²). The
//!   ratio `R` of the peaks at two known scales σ₁ < σ₂ gives
//!   σ_b² = (R²σ₂² − σ₁²)/(1 − R²), independent of the edge's contrast and of the
//!   illumination. It is taken at the strongest half of the edge points
//!   (non-maximum-suppressed gradient maxima well above the noise) and the
//!   median ratio is used. A defocus disc of radius r reads as σ ≈ r/2 (equal
//!   second moment). Where two edges lie closer than ~2σ₂ (a shaft of a few
//!   pixels) they interfere and the estimate errs low; σ₂ is kept small for
//!   that reason. Converted to µm with the calibration, so the threshold is a
//!   property of the optics on the skin, whatever the magnification.
//! * **Exposure**: the fraction of pixels with a channel at the top of the
//!   encoding range (highlights clipped), with every channel at the bottom
//!   (shadows clipped), and the mean linear level.
//! * **Contrast**: `ln(p98 / p2)` of the linear brightness: the log ratio
//!   between the brightest and darkest 2 % of the frame.
//!
//! # References
//! * H. Hu, G. de Haan, "Low cost robust blur estimator", IEEE ICIP 2006
//!   (re-blur ratio of gradient maxima at edges).
//! * F. Crété et al., "The blur effect: perception and estimation with a new
//!   no-reference perceptual blur metric", SPIE Human Vision and Electronic
//!   Imaging XII, 2007 (re-blurring as a blur measure).

use std::fmt;

use image::DynamicImage;
use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::filter::{filter_cols, filter_rows, gaussian_kernel, Plane};
use crate::preprocess::{prepare, LinearRgb};

/// Largest edge blur (Gaussian σ, µm) of a reliable photo. The width fit
/// separates a shaft's diameter from the blur only when the diameter is at
/// least 3σ (see [`analyze`](crate::analyze)); at 10 µm the 30 µm
/// vellus/intermediate limit is just resolved, above it thin hairs merge into the
/// blur and their widths and classes are guesses.
pub const MAX_BLUR_SIGMA_UM: f64 = 10.0;

/// Largest fraction of pixels with a clipped highlight. A well-exposed frame
/// clips only specular glints and the brightest scale flakes, under 1–2 % of the
/// field; at 5 % clipped areas are as large as the shafts' share of a sparse
/// field, and white and grey hair lose their contrast in them.
pub const MAX_HIGHLIGHT_CLIPPED: f64 = 0.05;

/// Largest fraction of pixels with every channel clipped black. Dense, dark,
/// clipped hair covers at most about a quarter of a field (300 hairs/cm² ×
/// 80 µm × 1 mm visible = 24 %) and may legitimately render black; beyond
/// that, skin is clipped too and shafts that touch black skin vanish.
pub const MAX_SHADOW_CLIPPED: f64 = 0.25;

/// Smallest mean linear level (1 % of full scale, sRGB code ≈ 25 of 255). Below
/// it the shaft-to-skin contrast of a thin hair is a few code values, at the
/// level of quantisation and sensor noise.
pub const MIN_MEAN_LEVEL: f64 = 0.01;

/// Largest mean linear level (sRGB code ≈ 243 of 255): the skin is at the top of
/// the range, light hair has no room above it, and clipping is near everywhere.
pub const MAX_MEAN_LEVEL: f64 = 0.9;

/// Smallest contrast `ln(p98/p2)` (= ln 1.1). Sensor noise of 2.5 % (σ) alone
/// spreads a flat frame's 2nd and 98th percentiles ±2σ apart, 10 %: a frame with
/// less spread holds nothing but noise (blank, fogged, or far out of focus).
/// Bare skin in focus (pores, pigment, openings) spreads more; any shaft far
/// more (dark hair gives 1–4).
pub const MIN_CONTRAST: f64 = 0.0953;

/// Fewest edge points needed to estimate the blur. A single 200-µm hair at
/// 6 µm/px gives about 60 (two edges of 30 px).
pub const MIN_EDGE_POINTS: usize = 50;

/// A channel at or above this linear level is clipped (8-bit: code 255 only;
/// code 254 is 0.991).
const HIGHLIGHT_CLIP_LINEAR: f32 = 0.995;
/// Every channel at or below this linear level: clipped black (8-bit codes 0 and 1).
const SHADOW_CLIP_LINEAR: f32 = 0.0005;
/// Re-blur scales (px). σ₁ = 1 suppresses pixel noise; σ₂ = 2 keeps the two
/// edges of a 5-px shaft from interfering (their cross-talk at σ₂ is 7 %).
const SIGMA_1_PX: f64 = 1.0;
const SIGMA_2_PX: f64 = 2.0;
/// An edge point's gradient must exceed this many noise standard deviations.
const EDGE_NOISE_FACTOR: f64 = 8.0;
/// Brightness histogram: bins over log₂ of the linear level from 2⁻¹⁶ to 1.
const HIST_BINS: usize = 2048;
const HIST_LOG2_MIN: f64 = -16.0;

/// Why a photo's figures are not reliable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum QualityIssue {
    /// The optics' blur exceeds [`MAX_BLUR_SIGMA_UM`].
    Blurred {
        /// Measured edge blur (Gaussian σ, µm).
        blur_sigma_um: f64,
        /// The limit (µm).
        max_um: f64,
    },
    /// No edge stands out of the noise: a blank frame, or one so far out of focus
    /// that nothing in it has an edge.
    NoEdges {
        /// Edge points found.
        edge_points: usize,
        /// Fewest needed.
        min: usize,
    },
    /// Too many highlights clipped.
    HighlightsClipped {
        /// Fraction of pixels with a clipped channel.
        fraction: f64,
        /// The limit.
        max: f64,
    },
    /// Too many shadows clipped.
    ShadowsClipped {
        /// Fraction of pixels with every channel black.
        fraction: f64,
        /// The limit.
        max: f64,
    },
    /// The frame is too dark.
    Underexposed {
        /// Mean linear level (0–1).
        mean_level: f64,
        /// The limit.
        min: f64,
    },
    /// The frame is too bright.
    Overexposed {
        /// Mean linear level (0–1).
        mean_level: f64,
        /// The limit.
        max: f64,
    },
    /// The frame has too little contrast.
    LowContrast {
        /// `ln(p98/p2)` of the linear brightness.
        contrast: f64,
        /// The limit.
        min: f64,
    },
}

impl fmt::Display for QualityIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QualityIssue::Blurred {
                blur_sigma_um,
                max_um,
            } => write!(
                f,
                "blurred: edge blur σ = {blur_sigma_um:.1} µm exceeds {max_um} µm"
            ),
            QualityIssue::NoEdges { edge_points, min } => write!(
                f,
                "no sharp structure: {edge_points} edge points above the noise, {min} needed \
                 (blank, or far out of focus)"
            ),
            QualityIssue::HighlightsClipped { fraction, max } => write!(
                f,
                "overexposed: {:.1} % of pixels clip white (at most {:.0} %)",
                100.0 * fraction,
                100.0 * max
            ),
            QualityIssue::ShadowsClipped { fraction, max } => write!(
                f,
                "underexposed: {:.1} % of pixels clip black (at most {:.0} %)",
                100.0 * fraction,
                100.0 * max
            ),
            QualityIssue::Underexposed { mean_level, min } => write!(
                f,
                "too dark: mean level {:.2} % of full scale (at least {:.0} %)",
                100.0 * mean_level,
                100.0 * min
            ),
            QualityIssue::Overexposed { mean_level, max } => write!(
                f,
                "too bright: mean level {:.1} % of full scale (at most {:.0} %)",
                100.0 * mean_level,
                100.0 * max
            ),
            QualityIssue::LowContrast { contrast, min } => write!(
                f,
                "low contrast: ln(p98/p2) = {contrast:.3} (at least {min:.3})"
            ),
        }
    }
}

/// The image-quality verdict of one photo. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// True when no [`QualityIssue`] was found.
    pub reliable: bool,
    /// What makes the photo unreliable (empty when `reliable`).
    pub issues: Vec<QualityIssue>,
    /// Optical blur measured at edges (Gaussian σ, µm); `None` with fewer than
    /// [`MIN_EDGE_POINTS`] edge points.
    pub edge_blur_sigma_um: Option<f64>,
    /// Edge points the blur was measured on.
    pub edge_points: usize,
    /// Fraction of pixels with a channel clipped white.
    pub highlight_clipped_fraction: f64,
    /// Fraction of pixels with every channel clipped black.
    pub shadow_clipped_fraction: f64,
    /// Mean linear level of the frame (0–1).
    pub mean_level: f64,
    /// `ln(p98/p2)` of the linear brightness.
    pub contrast: f64,
}

/// Assesses the quality of a decoded photo.
///
/// `assume_srgb` as in [`Params::assume_srgb`](crate::Params::assume_srgb).
/// [`analyze`](crate::analyze) makes the same assessment on the planes it has
/// already prepared; this is for callers that only want the verdict.
///
/// # Units
/// Blur in µm; levels as fractions of full scale in linear light.
///
/// # Examples
/// ```
/// use trichometry::{quality::assess, Calibration};
///
/// let grey = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(64, 64, image::Rgb([128, 120, 110])));
/// let q = assess(&grey, &Calibration::new(6.0)?, true);
/// assert!(!q.reliable); // a blank frame: no edges, no contrast
/// # Ok::<(), trichometry::Error>(())
/// ```
pub fn assess(image: &DynamicImage, calibration: &Calibration, assume_srgb: bool) -> Quality {
    let prep = prepare(image, assume_srgb);
    assess_planes(&prep.rgb, &prep.mean, calibration.um_per_px())
}

/// [`assess`] on prepared linear planes (what `analyze` calls).
pub(crate) fn assess_planes(rgb: &LinearRgb, mean: &Plane, um_per_px: f64) -> Quality {
    let n = mean.data.len();
    // Exposure, in one sequential pass (a fixed order: the sums do not depend on
    // the thread count).
    let mut high = 0usize;
    let mut low = 0usize;
    let mut sum = 0.0f64;
    let mut hist = vec![0u64; HIST_BINS];
    for i in 0..n {
        let [r, g, b] = rgb.pixel(i);
        if r >= HIGHLIGHT_CLIP_LINEAR || g >= HIGHLIGHT_CLIP_LINEAR || b >= HIGHLIGHT_CLIP_LINEAR {
            high += 1;
        }
        if r <= SHADOW_CLIP_LINEAR && g <= SHADOW_CLIP_LINEAR && b <= SHADOW_CLIP_LINEAR {
            low += 1;
        }
        let m = mean.data[i];
        sum += f64::from(m);
        hist[level_bin(m)] += 1;
    }
    let frac = |k: usize| if n > 0 { k as f64 / n as f64 } else { 0.0 };
    let highlight_clipped_fraction = frac(high);
    let shadow_clipped_fraction = frac(low);
    let mean_level = if n > 0 { sum / n as f64 } else { 0.0 };
    let contrast = percentile_level(&hist, n, 0.98).ln() - percentile_level(&hist, n, 0.02).ln();

    let (edge_points, blur_px) = edge_blur_px(mean);
    let edge_blur_sigma_um = blur_px.map(|b| b * um_per_px);

    let mut issues = Vec::new();
    match edge_blur_sigma_um {
        None => issues.push(QualityIssue::NoEdges {
            edge_points,
            min: MIN_EDGE_POINTS,
        }),
        Some(b) if b > MAX_BLUR_SIGMA_UM => issues.push(QualityIssue::Blurred {
            blur_sigma_um: b,
            max_um: MAX_BLUR_SIGMA_UM,
        }),
        Some(_) => {}
    }
    if highlight_clipped_fraction > MAX_HIGHLIGHT_CLIPPED {
        issues.push(QualityIssue::HighlightsClipped {
            fraction: highlight_clipped_fraction,
            max: MAX_HIGHLIGHT_CLIPPED,
        });
    }
    if shadow_clipped_fraction > MAX_SHADOW_CLIPPED {
        issues.push(QualityIssue::ShadowsClipped {
            fraction: shadow_clipped_fraction,
            max: MAX_SHADOW_CLIPPED,
        });
    }
    if mean_level < MIN_MEAN_LEVEL {
        issues.push(QualityIssue::Underexposed {
            mean_level,
            min: MIN_MEAN_LEVEL,
        });
    }
    if mean_level > MAX_MEAN_LEVEL {
        issues.push(QualityIssue::Overexposed {
            mean_level,
            max: MAX_MEAN_LEVEL,
        });
    }
    if contrast < MIN_CONTRAST {
        issues.push(QualityIssue::LowContrast {
            contrast,
            min: MIN_CONTRAST,
        });
    }
    Quality {
        reliable: issues.is_empty(),
        issues,
        edge_blur_sigma_um,
        edge_points,
        highlight_clipped_fraction,
        shadow_clipped_fraction,
        mean_level,
        contrast,
    }
}

fn level_bin(v: f32) -> usize {
    let l = f64::from(v).max(f64::MIN_POSITIVE).log2();
    let t = (l - HIST_LOG2_MIN) / -HIST_LOG2_MIN;
    ((t * HIST_BINS as f64).floor().max(0.0) as usize).min(HIST_BINS - 1)
}

/// The level at quantile `q` of the histogram (bin centre), floored at 2⁻¹⁶.
fn percentile_level(hist: &[u64], n: usize, q: f64) -> f64 {
    let target = (q * n as f64).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    let mut bin = HIST_BINS - 1;
    for (i, &h) in hist.iter().enumerate() {
        seen += h;
        if seen >= target {
            bin = i;
            break;
        }
    }
    let l = HIST_LOG2_MIN + (bin as f64 + 0.5) / HIST_BINS as f64 * -HIST_LOG2_MIN;
    l.exp2()
}

/// Gradient components of `plane` smoothed at `sigma` (px).
fn gradient(plane: &Plane, sigma: f64) -> (Plane, Plane) {
    let g0 = gaussian_kernel(sigma, 0);
    let g1 = gaussian_kernel(sigma, 1);
    let mut tmp = Plane::new(0, 0);
    let mut gx = Plane::new(0, 0);
    let mut gy = Plane::new(0, 0);
    filter_rows(plane, &g1, &mut tmp);
    filter_cols(&tmp, &g0, &mut gx);
    filter_rows(plane, &g0, &mut tmp);
    filter_cols(&tmp, &g1, &mut gy);
    (gx, gy)
}

/// Robust standard deviation of one gradient component, from the lower quartile
/// of its absolute value (for zero-mean Gaussian noise the quartile is 0.3186 σ),
/// over every other row and column. Edges move the lower quartile only when
/// they fill most of the frame (long hair can cover half of it, which would
/// move a median); what it measures is the noise *as the
/// filter sees it*, whatever its spectrum (JPEG and demosaicing correlate
/// sensor noise, which a per-pixel estimate would understate), plus fine skin
/// texture, which is no edge to measure blur on either.
fn gradient_noise(gx: &Plane, gy: &Plane) -> f64 {
    let (w, h) = (gx.width, gx.height);
    let mut v: Vec<f32> = Vec::with_capacity(w.div_ceil(2) * h.div_ceil(2) * 2);
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let i = y * w + x;
            v.push(gx.data[i].abs());
            v.push(gy.data[i].abs());
        }
    }
    if v.is_empty() {
        return 0.0;
    }
    let quartile = v.len() / 4;
    f64::from(*v.select_nth_unstable_by(quartile, f32::total_cmp).1) / 0.3186
}

/// Edge points and the blur σ (px) measured on them; `None` when fewer than
/// [`MIN_EDGE_POINTS`].
fn edge_blur_px(plane: &Plane) -> (usize, Option<f64>) {
    let (w, h) = (plane.width, plane.height);
    if w < 5 || h < 5 {
        return (0, None);
    }
    let (gx, gy) = gradient(plane, SIGMA_1_PX);
    // A floor for noise-free images: 1e-4 of full scale per pixel of slope.
    let threshold = (EDGE_NOISE_FACTOR * gradient_noise(&gx, &gy)).max(1e-4);
    // Squared magnitudes: the comparisons below need no square root (it is taken
    // for the points kept), and `hypot` on every pixel cost 5 % of `analyze`.
    let mag2 = |i: usize| {
        let (dx, dy) = (f64::from(gx.data[i]), f64::from(gy.data[i]));
        dx * dx + dy * dy
    };
    let threshold2 = threshold * threshold;
    // Non-maximum suppression along the gradient direction quantised to the
    // nearest of 0°, 45°, 90° and 135°, away from the border (reflection there
    // makes spurious symmetric maxima).
    let tan_22_5 = std::f64::consts::FRAC_PI_8.tan();
    let margin = (3.0 * SIGMA_2_PX).ceil() as usize;
    let mut points: Vec<(usize, f64)> = Vec::new();
    for y in margin..h.saturating_sub(margin) {
        for x in margin..w.saturating_sub(margin) {
            let i = y * w + x;
            let m2 = mag2(i);
            if m2 < threshold2 {
                continue;
            }
            let (dx, dy) = (f64::from(gx.data[i]), f64::from(gy.data[i]));
            // The direction modulo 180°: turned into the upper half-plane.
            let (dx, dy) = if dy < 0.0 { (-dx, -dy) } else { (dx, dy) };
            let step: (isize, isize) = if dy < tan_22_5 * dx.abs() {
                (1, 0)
            } else if dx.abs() < tan_22_5 * dy {
                (0, 1)
            } else if dx > 0.0 {
                (1, 1)
            } else {
                (-1, 1)
            };
            let at = |sx: isize, sy: isize| {
                let xx = (x as isize + sx) as usize;
                let yy = (y as isize + sy) as usize;
                mag2(yy * w + xx)
            };
            if m2 > at(step.0, step.1) && m2 >= at(-step.0, -step.1) {
                points.push((i, m2.sqrt()));
            }
        }
    }
    drop((gx, gy));
    if points.len() < MIN_EDGE_POINTS {
        return (points.len(), None);
    }
    // The strongest half: the clearest edges, least disturbed by noise.
    let mut strengths: Vec<f64> = points.iter().map(|p| p.1).collect();
    let mid = strengths.len() / 2;
    let cut = *strengths.select_nth_unstable_by(mid, f64::total_cmp).1;
    points.retain(|p| p.1 >= cut);

    let (gx2, gy2) = gradient(plane, SIGMA_2_PX);
    let mut ratios: Vec<f64> = points
        .iter()
        .map(|&(i, m1)| f64::from(gx2.data[i]).hypot(f64::from(gy2.data[i])) / m1)
        .collect();
    let count = ratios.len();
    let mid = count / 2;
    let r = *ratios.select_nth_unstable_by(mid, f64::total_cmp).1;
    // σ_b² = (R²σ₂² − σ₁²)/(1 − R²); R ≥ 1 means no measurable blur difference
    // (infinitely blurred), R ≤ σ₁/σ₂ means sharper than the sampling.
    let (s1, s2) = (SIGMA_1_PX, SIGMA_2_PX);
    let r2 = r * r;
    let blur = if r2 >= 1.0 {
        f64::INFINITY
    } else {
        ((r2 * s2 * s2 - s1 * s1) / (1.0 - r2)).max(0.0).sqrt()
    };
    (count, Some(blur))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A linear-light plane of discs and bars blurred by exactly `sigma` px: each
    /// pixel is the analytic blurred step, erf across the edge.
    fn blurred_shapes(w: usize, h: usize, sigma: f64) -> Plane {
        let mut p = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f64 + 0.5, y as f64 + 0.5);
                // Signed distance to a set of discs (negative inside).
                let mut v: f64 = 0.6;
                for (cx, cy, r) in [(40.0, 40.0, 20.0), (110.0, 60.0, 28.0), (60.0, 110.0, 15.0)] {
                    let d = (fx - cx).hypot(fy - cy) - r;
                    v -= 0.4 * 0.5 * erfc(d / (sigma.max(1e-6) * std::f64::consts::SQRT_2));
                }
                p.data[y * w + x] = v as f32;
            }
        }
        p
    }

    fn erfc(x: f64) -> f64 {
        // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let y = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        let e = y * (-x * x).exp();
        if x >= 0.0 {
            e
        } else {
            2.0 - e
        }
    }

    #[test]
    fn blur_of_analytic_edges_is_recovered() {
        for sigma in [1.0, 1.5, 2.0, 3.0, 4.5] {
            let p = blurred_shapes(160, 160, sigma);
            let (n, b) = edge_blur_px(&p);
            let b = b.unwrap();
            assert!(n >= MIN_EDGE_POINTS);
            assert!((b - sigma).abs() < 0.15 * sigma + 0.1, "σ {sigma}: got {b}");
        }
    }

    #[test]
    fn a_constant_plane_has_no_edges() {
        let p = Plane {
            width: 50,
            height: 40,
            data: vec![0.3; 2000],
        };
        assert_eq!(edge_blur_px(&p), (0, None));
    }

    #[test]
    fn percentiles_of_a_two_level_histogram() {
        let mut hist = vec![0u64; HIST_BINS];
        hist[level_bin(0.1)] += 50;
        hist[level_bin(0.5)] += 50;
        assert!((percentile_level(&hist, 100, 0.02) / 0.1 - 1.0).abs() < 0.01);
        assert!((percentile_level(&hist, 100, 0.98) / 0.5 - 1.0).abs() < 0.01);
    }
}
