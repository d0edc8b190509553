//! Registration of two photos of one scalp zone: the similarity transform
//! (shift, rotation, scale) that maps the baseline onto the follow-up.
//!
//! Two photos of one zone are never framed alike: the dermatoscope is put down a
//! little shifted and turned, and a different device or zoom changes the scale.
//! [`register`] estimates the transform in three stages:
//!
//! 1. **Constellation of hairs** (from the two [`Analysis`] results). Every strand
//!    is a point with a direction; one baseline strand paired with one follow-up
//!    strand fixes rotation and shift (scale comes from the two calibrations).
//!    Every such pair within the rotation limit is a hypothesis, scored by how many
//!    strands it carries onto a strand of the other photo (a RANSAC over all
//!    minimal samples, which for a few hundred strands is cheaper than drawing
//!    random ones). The best hypotheses are refined by least squares on their
//!    inliers: emergence point to emergence point, and centreline points to the
//!    matched centreline (point-to-line), with tightening tolerances.
//! 2. **Direct refinement on the images** (when both photos are given): a
//!    Gauss–Newton (Lucas–Kanade) fit of shift, rotation, scale and a photometric
//!    gain and offset on band-passed absorbance (`−ln` of linear brightness, so an
//!    exposure change is an offset; the band-pass removes lighting gradients and
//!    vignetting), with Tukey weights so that hairs gained or lost between the
//!    visits do not pull the fit. Skin texture, openings and shafts all contribute,
//!    so this is precise to a fraction of a pixel where the constellation gives a
//!    pixel or two.
//! 3. **Checks**: the normalised cross-correlation of the aligned band-passed
//!    images over the overlap and the share of strands carried onto a strand are
//!    the confidence; below [`RegisterParams::min_inliers`] /
//!    [`RegisterParams::min_correlation`] the pair is reported as not registered
//!    ([`Error::Registration`]) rather than compared on a wrong overlap.
//!
//! # References
//! * M. A. Fischler, R. C. Bolles, "Random sample consensus", *Comm. ACM* 24 (1981).
//! * S. Umeyama, "Least-squares estimation of transformation parameters between
//!   two point patterns", *IEEE TPAMI* 13 (1991) — the similarity parametrisation.
//! * S. Baker, I. Matthews, "Lucas–Kanade 20 years on: a unifying framework",
//!   *IJCV* 56 (2004), §3 (forwards additive, with a photometric gain and bias).
//! * P. J. Besl, N. D. McKay, "A method for registration of 3-D shapes" (ICP),
//!   *IEEE TPAMI* 14 (1992); point-to-line variant after Chen & Medioni (1992).

use image::DynamicImage;
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;
use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, StrandResult};
use crate::error::{Error, Result};
use crate::filter::{filter_cols, filter_rows, gaussian_kernel, Plane};
use crate::overlay::FieldRect;
use crate::preprocess::prepare;

/// The similarity transform that maps baseline pixel positions to follow-up pixel
/// positions: `q = scale · R(rotation) · (p − c) + c + (dx, dy)`, with `c` the
/// centre of the baseline image (the same convention as the generator's
/// [`PairTransform`](crate::synth::truth::PairTransform)).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Similarity {
    /// Shift along x (follow-up px).
    pub dx_px: f64,
    /// Shift along y (follow-up px).
    pub dy_px: f64,
    /// Rotation (degrees; +x turns towards +y, clockwise on screen).
    pub rotation_deg: f64,
    /// Follow-up pixels per baseline pixel.
    pub scale: f64,
    /// The centre `c` (baseline px).
    pub center_px: [f64; 2],
}

impl Similarity {
    /// The identity about `center_px`, at `scale`.
    pub fn identity(center_px: [f64; 2], scale: f64) -> Self {
        Similarity {
            dx_px: 0.0,
            dy_px: 0.0,
            rotation_deg: 0.0,
            scale,
            center_px,
        }
    }

    /// Maps a baseline position (px) to the follow-up image (px).
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let c = self.center_px;
        let (sn, cs) = self.rotation_deg.to_radians().sin_cos();
        let v = [p[0] - c[0], p[1] - c[1]];
        [
            self.scale * (cs * v[0] - sn * v[1]) + c[0] + self.dx_px,
            self.scale * (sn * v[0] + cs * v[1]) + c[1] + self.dy_px,
        ]
    }

    /// Maps a follow-up position (px) back to the baseline image (px).
    pub fn invert(&self, q: [f64; 2]) -> [f64; 2] {
        let c = self.center_px;
        let (sn, cs) = self.rotation_deg.to_radians().sin_cos();
        let v = [
            (q[0] - c[0] - self.dx_px) / self.scale,
            (q[1] - c[1] - self.dy_px) / self.scale,
        ];
        [cs * v[0] + sn * v[1] + c[0], -sn * v[0] + cs * v[1] + c[1]]
    }

    fn from_params(center_px: [f64; 2], x: [f64; 4]) -> Self {
        Similarity {
            dx_px: x[0],
            dy_px: x[1],
            rotation_deg: x[2].to_degrees(),
            scale: x[3].exp(),
            center_px,
        }
    }

    fn params(&self) -> [f64; 4] {
        [
            self.dx_px,
            self.dy_px,
            self.rotation_deg.to_radians(),
            self.scale.ln(),
        ]
    }
}

/// Registration settings. Plain data with defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterParams {
    /// Largest rotation searched (degrees, either way). A re-placed dermatoscope
    /// turns by a few degrees; 30° leaves room for a careless placement while
    /// keeping hypotheses with a half-turned hair stream out.
    pub max_rotation_deg: f64,
    /// Largest change of scale, beyond the calibrations' ratio, the image fit may
    /// make (fraction).
    pub max_scale_refinement: f64,
    /// Strands carried onto a strand of the other photo needed to accept a
    /// registration.
    pub min_inliers: usize,
    /// Normalised cross-correlation of the aligned band-passed photos needed to
    /// accept a registration (when both photos are given).
    pub min_correlation: f64,
    /// Refine on the images (stage 2) when both photos are given.
    pub refine_on_images: bool,
    /// Share of the smaller photo the registered photos must overlap on. Two
    /// photos of one zone, re-placed by its landmarks, overlap on most of the
    /// field; a transform that leaves a sliver has correlated on too few
    /// pixels to be trusted (a generated phototrichogram pair was aligned
    /// 511 px off on 18 % of its field at a correlation of 0.23).
    pub min_overlap_fraction: f64,
}

impl Default for RegisterParams {
    fn default() -> Self {
        RegisterParams {
            max_rotation_deg: 30.0,
            max_scale_refinement: 0.05,
            min_inliers: 5,
            min_correlation: 0.2,
            refine_on_images: true,
            min_overlap_fraction: 0.3,
        }
    }
}

impl RegisterParams {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending field.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, value: f64, expected: &'static str| {
            Err(Error::InvalidParameter {
                name,
                value,
                expected,
            })
        };
        if !(self.max_rotation_deg.is_finite() && (0.0..=180.0).contains(&self.max_rotation_deg)) {
            return bad(
                "max_rotation_deg",
                self.max_rotation_deg,
                "an angle in 0..=180°",
            );
        }
        if !(self.max_scale_refinement.is_finite()
            && (0.0..=0.5).contains(&self.max_scale_refinement))
        {
            return bad(
                "max_scale_refinement",
                self.max_scale_refinement,
                "a fraction in 0..=0.5",
            );
        }
        if self.min_inliers < 2 {
            return bad("min_inliers", self.min_inliers as f64, "at least 2");
        }
        if !(self.min_correlation.is_finite() && (-1.0..=1.0).contains(&self.min_correlation)) {
            return bad(
                "min_correlation",
                self.min_correlation,
                "a correlation in -1..=1",
            );
        }
        if !(self.min_overlap_fraction.is_finite()
            && (0.0..=1.0).contains(&self.min_overlap_fraction))
        {
            return bad(
                "min_overlap_fraction",
                self.min_overlap_fraction,
                "a fraction in 0..=1",
            );
        }
        Ok(())
    }
}

/// How a registration was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMethod {
    /// Constellation of strands only (no photos given, or the image fit was not
    /// used).
    Strands,
    /// Constellation of strands refined on the photos.
    StrandsAndImages,
}

/// The result of [`register`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// Baseline → follow-up transform.
    pub transform: Similarity,
    /// Scale implied by the two calibrations alone (baseline µm/px ÷ follow-up µm/px).
    pub calibration_scale: f64,
    /// Strands of the baseline carried onto a strand of the follow-up.
    pub inliers: usize,
    /// Strands of the baseline considered (those long enough).
    pub baseline_strands: usize,
    /// Strands of the follow-up considered.
    pub followup_strands: usize,
    /// Root-mean-square distance of the matched emergence points after the fit (µm).
    pub rms_residual_um: f64,
    /// Normalised cross-correlation of the aligned band-passed photos over the
    /// overlap (`None` without photos).
    pub correlation: Option<f64>,
    /// Confidence in 0..=1: the lower of the inlier share (of the smaller strand
    /// set) and the correlation, when there is one.
    pub confidence: f64,
    /// Overlap of both fields, in baseline pixel coordinates (a convex polygon).
    pub overlap_polygon_px: Vec<[f64; 2]>,
    /// Area of the overlap (cm², at the baseline calibration).
    pub overlap_area_cm2: f64,
    /// How it was obtained.
    pub method: RegistrationMethod,
}

/// A strand reduced to what registration needs.
#[derive(Clone, Debug)]
struct Feature {
    /// Start: the emergence end when known.
    a: [f64; 2],
    /// Other end.
    b: [f64; 2],
    /// Direction a → b (radians).
    dir: f64,
    /// Whether `a` is the emergence (the direction is then oriented).
    oriented: bool,
    /// Chord length (px).
    len: f64,
    /// Shaft width (µm).
    width_um: f64,
    /// Centreline points (px), every few px, ends trimmed.
    samples: Vec<[f64; 2]>,
}

fn features(a: &Analysis) -> Vec<Feature> {
    let mut out: Vec<Feature> = a.strands.iter().filter_map(feature).collect();
    // Longest first; a few hundred are plenty and keep the search quadratic-cheap.
    out.sort_by(|x, y| y.len.total_cmp(&x.len));
    out.truncate(MAX_FEATURES);
    out
}

/// Strands used for registration, longest first.
const MAX_FEATURES: usize = 250;
/// Strands of each photo paired into hypotheses (the longest: their direction is
/// the best known). 60 × 60 pairs, two orientations each, scored over
/// [`SCORE_FEATURES`]² pairs: ~0.1 s on one core.
const HYPOTHESIS_FEATURES: usize = 60;
/// Strands of each photo a hypothesis is scored on.
const SCORE_FEATURES: usize = 120;

fn feature(s: &StrandResult) -> Option<Feature> {
    let n = s.centerline.len();
    if n < 4 {
        return None;
    }
    let (head, tail) = (s.centerline[0], s.centerline[n - 1]);
    let (a, b, oriented) = match s.emergence {
        Some(e) if dist(e, tail) < dist(e, head) => (tail, head, true),
        Some(_) => (head, tail, true),
        None => (head, tail, false),
    };
    let len = dist(a, b);
    if len < 4.0 {
        return None;
    }
    let trim = n / 10;
    let step = (n / 24).max(2);
    let samples = s.centerline[trim..n - trim]
        .iter()
        .step_by(step)
        .copied()
        .collect();
    Some(Feature {
        a,
        b,
        dir: (b[1] - a[1]).atan2(b[0] - a[0]),
        oriented,
        len,
        width_um: s.width_um,
        samples,
    })
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

fn wrap(a: f64) -> f64 {
    let t = std::f64::consts::TAU;
    let mut x = a.rem_euclid(t);
    if x > std::f64::consts::PI {
        x -= t;
    }
    x
}

/// Angle between two undirected lines (radians, 0..=π/2).
fn line_angle(a: f64, b: f64) -> f64 {
    let d = wrap(a - b).abs();
    d.min(std::f64::consts::PI - d)
}

/// Distance from `p` to the segment `a`–`b`, and the projection parameter.
fn seg_dist(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> (f64, f64, [f64; 2]) {
    let d = [b[0] - a[0], b[1] - a[1]];
    let l2 = d[0] * d[0] + d[1] * d[1];
    let t = if l2 > 0.0 {
        ((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / l2
    } else {
        0.0
    };
    let tc = t.clamp(0.0, 1.0);
    let q = [a[0] + tc * d[0], a[1] + tc * d[1]];
    (dist(p, q), t, q)
}

/// Whether baseline feature `f` carried by `t` lies on follow-up feature `g`:
/// same line direction within `angle` and the mapped mid-point within `tol` px of
/// `g`'s chord, inside its extent.
fn carried(t: &Similarity, f: &Feature, g: &Feature, tol: f64, angle: f64) -> Option<f64> {
    let th = t.rotation_deg.to_radians();
    if line_angle(f.dir + th, g.dir) > angle {
        return None;
    }
    let mid = t.apply([(f.a[0] + f.b[0]) / 2.0, (f.a[1] + f.b[1]) / 2.0]);
    let (d, u, _) = seg_dist(mid, g.a, g.b);
    let slack = tol / g.len.max(1e-9);
    if d <= tol && u >= -slack && u <= 1.0 + slack {
        Some(d)
    } else {
        None
    }
}

/// One-to-one correspondences (baseline, follow-up) under `t` (greedy by distance).
fn correspondences(
    t: &Similarity,
    fb: &[Feature],
    ff: &[Feature],
    tol: f64,
    angle: f64,
) -> Vec<(usize, usize)> {
    let mut cands: Vec<(f64, usize, usize)> = Vec::new();
    for (i, f) in fb.iter().enumerate() {
        for (j, g) in ff.iter().enumerate() {
            if let Some(d) = carried(t, f, g, tol, angle) {
                cands.push((d, i, j));
            }
        }
    }
    cands.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut used_b = vec![false; fb.len()];
    let mut used_f = vec![false; ff.len()];
    let mut out = Vec::new();
    for (_, i, j) in cands {
        if !used_b[i] && !used_f[j] {
            used_b[i] = true;
            used_f[j] = true;
            out.push((i, j));
        }
    }
    out
}

/// Solves the `n`×`n` system `a x = b` by Gaussian elimination with partial
/// pivoting; `None` when it is singular.
pub(crate) fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let piv = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..N {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (v, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; N];
    for row in (0..N).rev() {
        let mut s = b[row];
        for k in row + 1..N {
            s -= a[row][k] * x[k];
        }
        x[row] = s / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Least-squares update of shift and rotation (scale held) from correspondences:
/// emergence to emergence (point-to-point) and centreline samples to the matched
/// centreline (point-to-line). Gauss–Newton, a few iterations.
fn refine_on_strands(
    mut t: Similarity,
    pairs: &[(usize, usize)],
    fb: &[Feature],
    ff: &[Feature],
) -> Similarity {
    for _ in 0..6 {
        let mut h = [[0.0; 3]; 3];
        let mut g = [0.0; 3];
        let mut add = |j: [f64; 3], r: f64, w: f64| {
            for i in 0..3 {
                for k in 0..3 {
                    h[i][k] += w * j[i] * j[k];
                }
                g[i] -= w * j[i] * r;
            }
        };
        let c = t.center_px;
        let d = [t.dx_px, t.dy_px];
        for &(i, j) in pairs {
            let (f, k) = (&fb[i], &ff[j]);
            if f.oriented && k.oriented {
                let q = t.apply(f.a);
                let v = [q[0] - c[0] - d[0], q[1] - c[1] - d[1]];
                // ∂q/∂θ = (−v_y, v_x).
                add([1.0, 0.0, -v[1]], q[0] - k.a[0], 1.0);
                add([0.0, 1.0, v[0]], q[1] - k.a[1], 1.0);
            }
            for &p in &f.samples {
                let q = t.apply(p);
                let Some((_, _, foot, n)) = nearest_on_polyline(q, &k.samples, k) else {
                    continue;
                };
                let v = [q[0] - c[0] - d[0], q[1] - c[1] - d[1]];
                let r = n[0] * (q[0] - foot[0]) + n[1] * (q[1] - foot[1]);
                if r.abs() > 6.0 {
                    continue;
                }
                add([n[0], n[1], -v[1] * n[0] + v[0] * n[1]], r, 0.25);
            }
        }
        let Some(x) = solve(h, g) else { break };
        t.dx_px += x[0];
        t.dy_px += x[1];
        t.rotation_deg += x[2].to_degrees();
        if x[0].abs() + x[1].abs() < 1e-3 && x[2].abs() < 1e-6 {
            break;
        }
    }
    t
}

/// Nearest point of the polyline through `pts` (the chord of `k` when it has
/// fewer than 2 points) to `q`, with the unit normal there; `None` when `q`
/// projects beyond either end (the along-line position is then unknown).
fn nearest_on_polyline(
    q: [f64; 2],
    pts: &[[f64; 2]],
    k: &Feature,
) -> Option<(f64, f64, [f64; 2], [f64; 2])> {
    let chord = [k.a, k.b];
    let pts = if pts.len() >= 2 { pts } else { &chord[..] };
    let mut best: Option<(f64, f64, [f64; 2], [f64; 2])> = None;
    let last = pts.len() - 2;
    for (s, w) in pts.windows(2).enumerate() {
        let (d, u, foot) = seg_dist(q, w[0], w[1]);
        if (s == 0 && u < 0.0) || (s == last && u > 1.0) {
            continue;
        }
        if best.is_none_or(|b| d < b.0) {
            let dv = [w[1][0] - w[0][0], w[1][1] - w[0][1]];
            let l = dv[0].hypot(dv[1]).max(1e-9);
            best = Some((d, u, foot, [-dv[1] / l, dv[0] / l]));
        }
    }
    best
}

/// The constellation stage: best transform from the strands, with its inliers.
fn register_strands(
    fb: &[Feature],
    ff: &[Feature],
    center: [f64; 2],
    scale: f64,
    um_b: f64,
    p: &RegisterParams,
) -> Vec<(Similarity, Vec<(usize, usize)>)> {
    let max_rot = p.max_rotation_deg.to_radians();
    let coarse_tol = (60.0 / um_b).max(6.0);
    let coarse_angle = 12f64.to_radians();
    let (sb, sf) = (
        &fb[..fb.len().min(SCORE_FEATURES)],
        &ff[..ff.len().min(SCORE_FEATURES)],
    );
    let mut hyps: Vec<(usize, Similarity)> = Vec::new();
    for f in &fb[..fb.len().min(HYPOTHESIS_FEATURES)] {
        for g in &ff[..ff.len().min(HYPOTHESIS_FEATURES)] {
            let lr = g.len / (f.len * scale);
            if !(0.5..=2.0).contains(&lr) {
                continue;
            }
            if (f.width_um - g.width_um).abs() > 15.0 + 0.3 * f.width_um.max(g.width_um) {
                continue;
            }
            let both = f.oriented && g.oriented;
            let th0 = wrap(g.dir - f.dir);
            let cands: &[f64] = if both {
                &[th0, f64::NAN]
            } else {
                &[th0, wrap(th0 + std::f64::consts::PI)]
            };
            for &th in cands.iter().filter(|t| t.is_finite()) {
                if th.abs() > max_rot {
                    continue;
                }
                // Reference points: emergences when both are known, else mid-points
                // (flipped with the direction).
                let (pb, pf) = if both {
                    (f.a, g.a)
                } else {
                    (
                        [(f.a[0] + f.b[0]) / 2.0, (f.a[1] + f.b[1]) / 2.0],
                        [(g.a[0] + g.b[0]) / 2.0, (g.a[1] + g.b[1]) / 2.0],
                    )
                };
                let mut t = Similarity {
                    dx_px: 0.0,
                    dy_px: 0.0,
                    rotation_deg: th.to_degrees(),
                    scale,
                    center_px: center,
                };
                let q = t.apply(pb);
                t.dx_px = pf[0] - q[0];
                t.dy_px = pf[1] - q[1];
                let score = sb
                    .iter()
                    .filter(|x| {
                        sf.iter()
                            .any(|y| carried(&t, x, y, coarse_tol, coarse_angle).is_some())
                    })
                    .count();
                if score >= 2 {
                    hyps.push((score, t));
                }
            }
        }
    }
    hyps.sort_by_key(|h| std::cmp::Reverse(h.0));
    let mut refined: Vec<(Similarity, Vec<(usize, usize)>)> = Vec::new();
    for (_, t0) in hyps.into_iter().take(12) {
        let mut t = t0;
        let mut pairs = Vec::new();
        for (tol_um, ang) in [(60.0, 12.0), (36.0, 10.0), (24.0, 8.0), (18.0, 8.0)] {
            let tol = (tol_um / um_b).max(2.0);
            pairs = correspondences(&t, fb, ff, tol, f64::to_radians(ang));
            if pairs.len() < 2 {
                break;
            }
            t = refine_on_strands(t, &pairs, fb, ff);
        }
        if pairs.len() >= 2 {
            refined.push((t, pairs));
        }
    }
    refined.sort_by_key(|r| std::cmp::Reverse(r.1.len()));
    // Distinct answers only: the same transform reached from several seeds counts once.
    let mut out: Vec<(Similarity, Vec<(usize, usize)>)> = Vec::new();
    for (t, pairs) in refined {
        let same = out.iter().any(|(u, _)| {
            dist(u.apply(center), t.apply(center)) < 5.0
                && (u.rotation_deg - t.rotation_deg).abs() < 1.0
        });
        if !same {
            out.push((t, pairs));
        }
        if out.len() == STRAND_CANDIDATES {
            break;
        }
    }
    out
}

/// Distinct constellation answers handed to the image fit: with few strands (a
/// sparse or miniaturised scalp) a wrong hypothesis can carry as many strands as
/// the right one, and the photos tell them apart.
const STRAND_CANDIDATES: usize = 3;

/// Band-passed absorbance: small-scale structure (shafts, openings, texture)
/// without the lighting.
fn band_pass(image: &DynamicImage, fine_px: f64, coarse_px: f64) -> Plane {
    let prep = prepare(image, true);
    let blur = |src: &Plane, s: f64| {
        let k = gaussian_kernel(s, 0);
        let mut tmp = Plane::new(src.width, src.height);
        let mut out = Plane::new(src.width, src.height);
        filter_rows(src, &k, &mut tmp);
        filter_cols(&tmp, &k, &mut out);
        out
    };
    let absorbance = prep.absorbance();
    let fine = blur(&absorbance, fine_px);
    let coarse = blur(&absorbance, coarse_px);
    let mut out = fine;
    for (o, c) in out.data.iter_mut().zip(&coarse.data) {
        *o -= c;
    }
    out
}

/// Gradient planes (central differences).
fn gradients(p: &Plane) -> (Plane, Plane) {
    let (w, h) = (p.width, p.height);
    let mut gx = Plane::new(w, h);
    let mut gy = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let xl = x.saturating_sub(1);
            let xr = (x + 1).min(w - 1);
            let yu = y.saturating_sub(1);
            let yd = (y + 1).min(h - 1);
            let dxn = (xr - xl).max(1) as f32;
            let dyn_ = (yd - yu).max(1) as f32;
            gx.data[y * w + x] = (p.at(xr, y) - p.at(xl, y)) / dxn;
            gy.data[y * w + x] = (p.at(x, yd) - p.at(x, yu)) / dyn_;
        }
    }
    (gx, gy)
}

/// Sample spacing of the image fit (px of the baseline).
const FIT_STEP: usize = 2;

/// Lucas–Kanade refinement of `t` on band-passed planes `b` (baseline) and `f`
/// (follow-up); returns the refined transform and the final correlation.
fn refine_on_images(
    mut t: Similarity,
    b: &Plane,
    f: &Plane,
    scale_cal: f64,
    p: &RegisterParams,
) -> (Similarity, f64) {
    let (fgx, fgy) = gradients(f);
    let (fw, fh) = (f.width as f64, f.height as f64);
    let margin = 4.0;
    let mut gain = 1.0f64;
    let mut bias = 0.0f64;
    let mut sigma_r = f64::INFINITY;
    let lo = (scale_cal * (1.0 - p.max_scale_refinement)).ln();
    let hi = (scale_cal * (1.0 + p.max_scale_refinement)).ln();
    for iter in 0..30 {
        let x = t.params();
        let c = t.center_px;
        let mut h = [[0.0; 6]; 6];
        let mut g = [0.0; 6];
        let mut res: Vec<f64> = Vec::new();
        let collect_res = sigma_r.is_infinite() || iter % 3 == 0;
        for yi in (0..b.height).step_by(FIT_STEP) {
            for xi in (0..b.width).step_by(FIT_STEP) {
                let pb = [xi as f64 + 0.5, yi as f64 + 0.5];
                let q = t.apply(pb);
                if q[0] < margin || q[1] < margin || q[0] > fw - margin || q[1] > fh - margin {
                    continue;
                }
                let fv = f64::from(f.sample(q[0], q[1]));
                let r = gain * fv + bias - f64::from(b.at(xi, yi));
                if collect_res {
                    res.push(r.abs());
                }
                // Tukey biweight with c = 4.685 σ.
                let w = if sigma_r.is_finite() {
                    let u = r / (4.685 * sigma_r);
                    if u.abs() >= 1.0 {
                        continue;
                    }
                    (1.0 - u * u).powi(2)
                } else {
                    1.0
                };
                let gxv = gain * f64::from(fgx.sample(q[0], q[1]));
                let gyv = gain * f64::from(fgy.sample(q[0], q[1]));
                let v = [q[0] - c[0] - x[0], q[1] - c[1] - x[1]];
                let j = [
                    gxv,
                    gyv,
                    -v[1] * gxv + v[0] * gyv,
                    v[0] * gxv + v[1] * gyv,
                    fv,
                    1.0,
                ];
                for a in 0..6 {
                    for k in 0..6 {
                        h[a][k] += w * j[a] * j[k];
                    }
                    g[a] -= w * j[a] * r;
                }
            }
        }
        if collect_res && !res.is_empty() {
            let mid = res.len() / 2;
            let med = *res.select_nth_unstable_by(mid, f64::total_cmp).1;
            sigma_r = (1.4826 * med).max(1e-6);
        }
        let Some(d) = solve(h, g) else { break };
        let nx = [
            x[0] + d[0],
            x[1] + d[1],
            x[2] + d[2],
            (x[3] + d[3]).clamp(lo, hi),
        ];
        t = Similarity::from_params(t.center_px, nx);
        gain += d[4];
        bias += d[5];
        if d[0].abs() + d[1].abs() < 1e-3 && d[2].abs() < 1e-6 && d[3].abs() < 1e-6 && iter > 3 {
            break;
        }
    }
    (t, correlation(&t, b, f))
}

/// Normalised cross-correlation of `b` and `f` warped by `t`, over the overlap.
fn correlation(t: &Similarity, b: &Plane, f: &Plane) -> f64 {
    let (fw, fh) = (f.width as f64, f.height as f64);
    let (mut n, mut sb, mut sf, mut sbb, mut sff, mut sbf) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for yi in (0..b.height).step_by(FIT_STEP) {
        for xi in (0..b.width).step_by(FIT_STEP) {
            let q = t.apply([xi as f64 + 0.5, yi as f64 + 0.5]);
            if q[0] < 1.0 || q[1] < 1.0 || q[0] > fw - 1.0 || q[1] > fh - 1.0 {
                continue;
            }
            let vb = f64::from(b.at(xi, yi));
            let vf = f64::from(f.sample(q[0], q[1]));
            n += 1.0;
            sb += vb;
            sf += vf;
            sbb += vb * vb;
            sff += vf * vf;
            sbf += vb * vf;
        }
    }
    if n < 16.0 {
        return 0.0;
    }
    let cov = sbf / n - sb / n * sf / n;
    let vb = sbb / n - (sb / n).powi(2);
    let vf = sff / n - (sf / n).powi(2);
    if vb <= 0.0 || vf <= 0.0 {
        0.0
    } else {
        cov / (vb * vf).sqrt()
    }
}

/// Side of the planes phase correlation works on (px): the band-passed photos are
/// averaged down to at most this. Enough texture survives at 256 px; the image fit
/// then works at full resolution.
const PC_SIDE: usize = 256;

/// Averages `p` over `k`×`k` blocks.
fn decimate(p: &Plane, k: usize) -> Plane {
    let (w, h) = (p.width / k, p.height / k);
    let mut out = Plane::new(w.max(1), h.max(1));
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for dy in 0..k {
                for dx in 0..k {
                    acc += p.at(x * k + dx, y * k + dy);
                }
            }
            out.data[y * out.width + x] = acc / (k * k) as f32;
        }
    }
    out
}

/// In-place 2-D FFT of a row-major `w`×`h` buffer.
fn fft2(data: &mut [Complex<f32>], w: usize, h: usize, inverse: bool) {
    let mut planner = FftPlanner::<f32>::new();
    let (row, col) = if inverse {
        (planner.plan_fft_inverse(w), planner.plan_fft_inverse(h))
    } else {
        (planner.plan_fft_forward(w), planner.plan_fft_forward(h))
    };
    for r in data.chunks_mut(w) {
        row.process(r);
    }
    let mut column = vec![Complex::new(0.0, 0.0); h];
    for x in 0..w {
        for y in 0..h {
            column[y] = data[y * w + x];
        }
        col.process(&mut column);
        for y in 0..h {
            data[y * w + x] = column[y];
        }
    }
}

/// Phase-correlation seed: for each rotation on a 1° grid within the limit (then
/// 0.25° around the best), the baseline is turned and scaled into the follow-up
/// frame, and the peak of the phase correlation gives the shift and a score.
/// Returns the transform (full-resolution pixels) of the highest peak.
///
/// # References
/// * C. D. Kuglin, D. C. Hines, "The phase correlation image alignment method",
///   *Proc. IEEE Int. Conf. Cybernetics and Society* (1975).
/// * B. S. Reddy, B. N. Chatterji, "An FFT-based technique for translation,
///   rotation, and scale-invariant image registration", *IEEE TIP* 5 (1996) — here
///   the scale is known from the calibrations, so a rotation sweep replaces the
///   log-polar step.
fn phase_correlation_seed(
    b: &Plane,
    f: &Plane,
    center: [f64; 2],
    scale: f64,
    max_rot_deg: f64,
) -> Option<Similarity> {
    let k = (b.width.max(b.height).max(f.width.max(f.height)) / PC_SIDE).max(1);
    let (bd, fd) = (decimate(b, k), decimate(f, k));
    let (w, h) = (fd.width, fd.height);
    if w < 8 || h < 8 || bd.width < 8 || bd.height < 8 {
        return None;
    }
    let kf = k as f64;
    let hann = |i: usize, n: usize| {
        0.5 - 0.5 * (std::f64::consts::TAU * (i as f64 + 0.5) / n as f64).cos()
    };
    let mut ff: Vec<Complex<f32>> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            Complex::new(fd.data[i] * (hann(x, w) * hann(y, h)) as f32, 0.0)
        })
        .collect();
    fft2(&mut ff, w, h, false);
    let cd = [center[0] / kf, center[1] / kf];
    let try_angle = |deg: f64| -> (f64, [f64; 2]) {
        let t = Similarity {
            dx_px: 0.0,
            dy_px: 0.0,
            rotation_deg: deg,
            scale,
            center_px: cd,
        };
        let mut g: Vec<Complex<f32>> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let p = t.invert([x as f64 + 0.5, y as f64 + 0.5]);
                let inside = p[0] >= 0.5
                    && p[1] >= 0.5
                    && p[0] <= bd.width as f64 - 0.5
                    && p[1] <= bd.height as f64 - 0.5;
                let v = if inside { bd.sample(p[0], p[1]) } else { 0.0 };
                Complex::new(v * (hann(x, w) * hann(y, h)) as f32, 0.0)
            })
            .collect();
        fft2(&mut g, w, h, false);
        for (gv, fv) in g.iter_mut().zip(&ff) {
            let c = fv * gv.conj();
            let m = c.norm();
            *gv = if m > 1e-12 {
                c / m
            } else {
                Complex::new(0.0, 0.0)
            };
        }
        fft2(&mut g, w, h, true);
        let (mut best, mut at) = (f32::NEG_INFINITY, 0usize);
        for (i, v) in g.iter().enumerate() {
            if v.re > best {
                best = v.re;
                at = i;
            }
        }
        let (px, py) = (at % w, at / w);
        // Sub-pixel peak by a parabola through the neighbours.
        let val = |x: usize, y: usize| f64::from(g[(y % h) * w + (x % w)].re);
        let sub = |m: f64, c: f64, p: f64| {
            let d = m - 2.0 * c + p;
            if d.abs() > 1e-12 {
                (0.5 * (m - p) / d).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        };
        let c0 = val(px, py);
        let ox = sub(val(px + w - 1, py), c0, val(px + 1, py));
        let oy = sub(val(px, py + h - 1), c0, val(px, py + 1));
        let wrapd = |v: f64, n: usize| if v > n as f64 / 2.0 { v - n as f64 } else { v };
        let shift = [wrapd(px as f64 + ox, w), wrapd(py as f64 + oy, h)];
        (f64::from(best) / (w * h) as f64, shift)
    };
    let mut best = (f64::NEG_INFINITY, 0.0, [0.0, 0.0]);
    let coarse = max_rot_deg.floor() as i64;
    for a in -coarse..=coarse {
        let (score, shift) = try_angle(a as f64);
        if score > best.0 {
            best = (score, a as f64, shift);
        }
    }
    let centre = best.1;
    for step in [-0.75, -0.5, -0.25, 0.25, 0.5, 0.75] {
        let deg = centre + step;
        if deg.abs() > max_rot_deg {
            continue;
        }
        let (score, shift) = try_angle(deg);
        if score > best.0 {
            best = (score, deg, shift);
        }
    }
    let (_, deg, shift) = best;
    Some(Similarity {
        dx_px: shift[0] * kf,
        dy_px: shift[1] * kf,
        rotation_deg: deg,
        scale,
        center_px: center,
    })
}

/// Overlap of both fields in baseline pixels: the follow-up frame mapped back,
/// clipped to the baseline frame (Sutherland–Hodgman).
pub fn overlap_polygon(t: &Similarity, baseline: [u32; 2], followup: [u32; 2]) -> Vec<[f64; 2]> {
    overlap_of_fields(
        t,
        FieldRect::whole(baseline[0], baseline[1]),
        FieldRect::whole(followup[0], followup[1]),
    )
}

/// [`overlap_polygon`] of two fields that need not be whole photos (photos
/// with bars burned in along their edges: [`crate::Analysis::field`]).
pub fn overlap_of_fields(
    t: &Similarity,
    baseline: FieldRect,
    followup: FieldRect,
) -> Vec<[f64; 2]> {
    let (x0, y0) = (f64::from(followup.x), f64::from(followup.y));
    let (x1, y1) = (
        x0 + f64::from(followup.width),
        y0 + f64::from(followup.height),
    );
    let (bx, by) = (f64::from(baseline.x), f64::from(baseline.y));
    let poly: Vec<[f64; 2]> = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
        .iter()
        .map(|q| {
            let p = t.invert(*q);
            [p[0] - bx, p[1] - by]
        })
        .collect();
    clip_to_rect(&poly, f64::from(baseline.width), f64::from(baseline.height))
        .into_iter()
        .map(|p| [p[0] + bx, p[1] + by])
        .collect()
}

/// Sutherland–Hodgman clip of a polygon to `[0, w] × [0, h]`.
pub(crate) fn clip_to_rect(poly: &[[f64; 2]], w: f64, h: f64) -> Vec<[f64; 2]> {
    type Edge = fn(&[f64; 2], f64, f64) -> f64;
    let edges: [Edge; 4] = [
        |p, _, _| p[0],
        |p, w, _| w - p[0],
        |p, _, _| p[1],
        |p, _, h| h - p[1],
    ];
    let mut out = poly.to_vec();
    for e in edges {
        if out.is_empty() {
            break;
        }
        let input = std::mem::take(&mut out);
        for i in 0..input.len() {
            let a = input[i];
            let b = input[(i + 1) % input.len()];
            let (da, db) = (e(&a, w, h), e(&b, w, h));
            if da >= 0.0 {
                out.push(a);
            }
            if (da >= 0.0) != (db >= 0.0) {
                let u = da / (da - db);
                out.push([a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1])]);
            }
        }
    }
    out
}

/// Shoelace area of a polygon (px²).
pub fn polygon_area(poly: &[[f64; 2]]) -> f64 {
    let n = poly.len();
    if n < 3 {
        return 0.0;
    }
    let mut s = 0.0;
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        s += a[0] * b[1] - b[0] * a[1];
    }
    (s / 2.0).abs()
}

/// Registers the follow-up photo of a zone onto its baseline photo.
///
/// `baseline` and `followup` are the two analyses (their strands are the
/// constellation; their `um_per_px` give the starting scale); the photos, when
/// given, refine the transform on the images and give the correlation check.
///
/// # Units
/// Transform in pixels and degrees; residual in µm; overlap area in cm² at the
/// baseline calibration.
///
/// # Errors
/// [`Error::InvalidParameter`] for bad `params`; [`Error::Registration`] when
/// the two photos cannot be registered: too few strands, too few carried onto
/// each other, or the aligned photos do not correlate — a wrong overlap is never
/// reported as a result.
pub fn register(
    baseline: &Analysis,
    baseline_image: Option<&DynamicImage>,
    followup: &Analysis,
    followup_image: Option<&DynamicImage>,
    params: &RegisterParams,
) -> Result<Registration> {
    params.validate()?;
    let um_b = baseline.um_per_px;
    let um_f = followup.um_per_px;
    if !(um_b.is_finite() && um_b > 0.0 && um_f.is_finite() && um_f > 0.0) {
        return Err(Error::Registration {
            message: format!("calibrations {um_b} and {um_f} µm/px are not positive"),
        });
    }
    let scale = um_b / um_f;
    let center = [
        f64::from(baseline.image.width) / 2.0,
        f64::from(baseline.image.height) / 2.0,
    ];
    let fb = features(baseline);
    let ff = features(followup);
    let photos = baseline_image.is_some() && followup_image.is_some() && params.refine_on_images;
    if !photos && (fb.len() < params.min_inliers || ff.len() < params.min_inliers) {
        return Err(Error::Registration {
            message: format!(
                "too few strands to register on: {} in the baseline, {} in the follow-up, \
                 at least {} each are needed",
                fb.len(),
                ff.len(),
                params.min_inliers
            ),
        });
    }
    let strand_cands = register_strands(&fb, &ff, center, scale, um_b, params);
    let mut method = RegistrationMethod::Strands;
    let mut corr = None;
    let t = match (baseline_image, followup_image, params.refine_on_images) {
        (Some(bi), Some(fi), true) => {
            let dims_ok = bi.width() == baseline.image.width
                && bi.height() == baseline.image.height
                && fi.width() == followup.image.width
                && fi.height() == followup.image.height;
            if !dims_ok {
                return Err(Error::Registration {
                    message: "a photo's size differs from its analysis".into(),
                });
            }
            let bb = band_pass(bi, 1.2, 8.0);
            let bf = band_pass(fi, 1.2 * scale.max(0.1), 8.0 * scale.max(0.1));
            let mut seeds: Vec<Similarity> = strand_cands.iter().map(|(t, _)| *t).collect();
            seeds.extend(phase_correlation_seed(
                &bb,
                &bf,
                center,
                scale,
                params.max_rotation_deg,
            ));
            // Each seed is refined on the photos; the one whose aligned photos
            // correlate best wins.
            let mut best: Option<(Similarity, f64)> = None;
            for s0 in seeds {
                let (t2, c2) = refine_on_images(s0, &bb, &bf, scale, params);
                if best.is_none_or(|(_, c)| c2 > c) {
                    best = Some((t2, c2));
                }
            }
            let Some((t, c)) = best else {
                return Err(Error::Registration {
                    message: "no starting transform for the image fit".into(),
                });
            };
            corr = Some(c);
            method = RegistrationMethod::StrandsAndImages;
            t
        }
        _ => match strand_cands.first() {
            Some((t, pairs)) if pairs.len() >= params.min_inliers => *t,
            Some((_, pairs)) => {
                return Err(Error::Registration {
                    message: format!(
                        "only {} strands agree on a transform; at least {} are needed",
                        pairs.len(),
                        params.min_inliers
                    ),
                })
            }
            None => {
                return Err(Error::Registration {
                    message: "no transform carries two strands of one photo onto the other".into(),
                })
            }
        },
    };
    let pairs = correspondences(&t, &fb, &ff, (18.0 / um_b).max(2.0), 8f64.to_radians());
    let emergence_res: Vec<f64> = pairs
        .iter()
        .filter(|(i, j)| fb[*i].oriented && ff[*j].oriented)
        .map(|(i, j)| dist(t.apply(fb[*i].a), ff[*j].a) / scale * um_b)
        .collect();
    let rms_residual_um = if emergence_res.is_empty() {
        0.0
    } else {
        (emergence_res.iter().map(|r| r * r).sum::<f64>() / emergence_res.len() as f64).sqrt()
    };
    let share = pairs.len() as f64 / fb.len().min(ff.len()).max(1) as f64;
    let confidence = corr
        .map_or(share, |c| share.min(c.max(0.0)))
        .clamp(0.0, 1.0);
    if corr.is_none() && pairs.len() < params.min_inliers {
        return Err(Error::Registration {
            message: format!(
                "only {} strands agree on the refined transform; at least {} are needed",
                pairs.len(),
                params.min_inliers
            ),
        });
    }
    if let Some(c) = corr {
        if c < params.min_correlation {
            return Err(Error::Registration {
                message: format!(
                    "the aligned photos correlate at {c:.2}, below {:.2}: not the same zone, \
                     or too different to compare",
                    params.min_correlation
                ),
            });
        }
    }
    let (field_b, field_f) = (baseline.field(), followup.field());
    let poly = overlap_of_fields(&t, field_b, field_f);
    let overlap_px = polygon_area(&poly);
    let smaller_px = (f64::from(field_b.width) * f64::from(field_b.height))
        .min(f64::from(field_f.width) * f64::from(field_f.height) / (scale * scale));
    if overlap_px < params.min_overlap_fraction * smaller_px {
        return Err(Error::Registration {
            message: format!(
                "the registered photos overlap on {:.0} % of the smaller one, below {:.0} %: \
                 not the same zone, or a transform that cannot be trusted",
                100.0 * overlap_px / smaller_px.max(1e-9),
                100.0 * params.min_overlap_fraction
            ),
        });
    }
    let overlap_area_cm2 = overlap_px * um_b * um_b / 1e8;
    Ok(Registration {
        transform: t,
        calibration_scale: scale,
        inliers: pairs.len(),
        baseline_strands: fb.len(),
        followup_strands: ff.len(),
        rms_residual_um,
        correlation: corr,
        confidence,
        overlap_polygon_px: poly,
        overlap_area_cm2,
        method,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_inverts() {
        let t = Similarity {
            dx_px: 12.5,
            dy_px: -7.0,
            rotation_deg: 3.3,
            scale: 1.02,
            center_px: [320.0, 256.0],
        };
        let p = [100.0, 40.0];
        let q = t.invert(t.apply(p));
        assert!((q[0] - p[0]).abs() < 1e-9 && (q[1] - p[1]).abs() < 1e-9);
    }

    #[test]
    fn solver_solves_a_known_system() {
        let a = [[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]];
        let x = [1.0, -2.0, 0.5];
        let b = [
            a[0][0] * x[0] + a[0][1] * x[1] + a[0][2] * x[2],
            a[1][0] * x[0] + a[1][1] * x[1] + a[1][2] * x[2],
            a[2][0] * x[0] + a[2][1] * x[1] + a[2][2] * x[2],
        ];
        let s = solve(a, b).unwrap();
        for i in 0..3 {
            assert!((s[i] - x[i]).abs() < 1e-12);
        }
        assert!(solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]).is_none());
    }

    #[test]
    fn overlap_of_a_shifted_field_and_of_fields_without_their_bars() {
        let t = Similarity {
            dx_px: -50.0,
            dy_px: 0.0,
            rotation_deg: 0.0,
            scale: 1.0,
            center_px: [50.0, 50.0],
        };
        // The follow-up frame maps back to x in [50, 150]: half the field overlaps.
        let a = polygon_area(&overlap_polygon(&t, [100, 100], [100, 100]));
        assert!((a - 5000.0).abs() < 1e-9, "{a}");
        // With a 10-row bar along the top of the baseline and a 20-column bar
        // along the left of the follow-up (which maps back to x ≥ 70), the
        // overlap is x in [70, 100], y in [10, 100].
        let base = FieldRect {
            x: 0,
            y: 10,
            width: 100,
            height: 90,
        };
        let follow = FieldRect {
            x: 20,
            y: 0,
            width: 80,
            height: 100,
        };
        let poly = overlap_of_fields(&t, base, follow);
        let a = polygon_area(&poly);
        assert!((a - 30.0 * 90.0).abs() < 1e-9, "{a}");
        assert!(poly
            .iter()
            .all(|p| (70.0 - 1e-9..=100.0 + 1e-9).contains(&p[0])
                && (10.0 - 1e-9..=100.0 + 1e-9).contains(&p[1])));
    }
}
