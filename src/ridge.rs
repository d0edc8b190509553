//! Stage 2: multi-scale curvilinear-structure detection.
//!
//! At each scale σ the absorbance image is convolved with Gaussian derivatives
//! (scale-normalised by σ², Lindeberg's γ = 2 normalisation for which a bar of
//! width `w` responds most at σ = w/2), and the Hessian is decomposed per pixel.
//! The eigenvector of the eigenvalue of largest magnitude is the line normal `n`.
//! The line strength is
//!
//! `s = σ²·(−p·λ₁) − σ²·max(0, −p·λ₂) − σ·|∇L·n|`
//!
//! for polarity `p` (+1: hair darker than skin, a maximum of absorbance; −1: grey
//! or white hair brighter than skin). The second term suppresses blobs (flakes,
//! openings) whose curvature is strong in both directions; the third suppresses the
//! side lobes next to a step edge, where a line has zero gradient across it and an
//! edge does not (at an edge's lobe both terms are equal, so the lobe cancels).
//! Strength is turned into a signal-to-noise ratio by dividing by a robust noise
//! level measured at the same scale over the whole image, and each pixel keeps the
//! scale and polarity with the largest strength.
//!
//! Each pixel also records Steger's sub-pixel centre offset `t = −(∇L·n)/(nᵀHn)`
//! along `n`: a pixel is a *line point* when the centre falls inside it.
//!
//! # References
//! * C. Steger, "An unbiased detector of curvilinear structures", IEEE PAMI 20(2), 1998.
//! * T. Lindeberg, "Edge detection and ridge detection with automatic scale
//!   selection", IJCV 30(2), 1998 (γ-normalised derivatives).
//! * A. Frangi et al., "Multiscale vessel enhancement filtering", MICCAI 1998
//!   (eigenvalue-ratio blob suppression).

use rayon::prelude::*;

use crate::filter::{smooth_in_place, Plane, RowDerivatives};

/// How far outside its pixel (±0.5 px) a sub-pixel centre may fall and still make
/// the pixel a line point. Exactly 0.5 loses shafts centred on a pixel boundary:
/// the second-order Taylor estimate of `t` overshoots there by a few hundredths of
/// a pixel on both neighbours (measured 0.524 and 0.527 for a 3-px bar), so neither
/// would qualify. The overlap this allows is removed by the across-line maximum.
const CENTRE_TOLERANCE_PX: f32 = 0.6;

/// An opposite-polarity response must exceed a line point's by this factor to
/// mark it as a ringing lobe (see [`RidgeMap::is_max_across`]).
const LOBE_RATIO: f32 = 1.6;

/// Along the normal, a same-polarity response beyond a dip below this fraction of
/// a line point's strength is another shaft, not the same one.
const VALLEY_RATIO: f32 = 0.5;

/// A normal component is held as a 16-bit fraction of this (a resolution of
/// 3·10⁻⁵, an angle within 2·10⁻³ degrees): 4 bytes a pixel instead of 8.
const NORMAL_STEPS: f32 = 32767.0;

/// A centre offset is held in 16 bits at this many steps per pixel: ±8 px at a
/// resolution of 2.4·10⁻⁴ px, 2 bytes a pixel instead of 4. Offsets beyond
/// ±[`MAX_OFFSET_PX`] (a point far from any centre, never a line point) are held
/// at that bound.
const OFFSET_STEPS_PER_PX: f32 = 4096.0;

/// The largest centre offset held exactly (px); see [`OFFSET_STEPS_PER_PX`].
const MAX_OFFSET_PX: f32 = 7.99;

/// `v` rounded to the nearest of `steps` per unit, as a 16-bit integer
/// (`v · steps` must lie within ±32767).
#[inline]
fn quantize(v: f32, steps: f32) -> i16 {
    (v * steps + 0.5f32.copysign(v)) as i16
}

/// The smallest kernel σ, in taps, of a scale computed with dilated taps (see
/// [`dilation`]).
const MIN_TAP_SIGMA: f64 = 0.85;

/// Largest dilation the detector uses (taps 8 px apart).
const MAX_DILATION: usize = 8;

/// Pixels between the kernel taps at scale `sigma` (px): the largest power of
/// two `D` ≤ [`MAX_DILATION`] for which the plane is pre-smoothed by σₐ = `D`
/// and the rest, √(σ² − D²), still spans [`MIN_TAP_SIGMA`] taps. On such a
/// plane the derivatives at σ cost 1/`D` of the taps; the pre-smoothing leaves
/// ≈ 0.7 % of the signal at the frequency where the dilated kernel's spectrum
/// repeats, so the responses differ from the undilated ones by well under 1 %
/// (unit test `dilated_derivatives_match_the_direct_ones`).
fn dilation(sigma: f64) -> usize {
    let mut d = 1;
    while 2 * d <= MAX_DILATION {
        let next = (2 * d) as f64;
        if sigma * sigma < next * next * (1.0 + MIN_TAP_SIGMA * MIN_TAP_SIGMA) {
            break;
        }
        d *= 2;
    }
    d
}

/// Smooths `plane`, already smoothed by a Gaussian of `from` px (0: not at all),
/// further to `to` px (`to` > `from`): a Gaussian of √(to² − from²) whose taps
/// lie `from` px apart (1 from an unsmoothed plane). From `D` to `2D`, as the
/// ascending scales ask, that Gaussian spans √3 taps on a plane smoothed by
/// `D` px: the conditions of [`RowDerivatives::dilated`].
fn presmooth(plane: &mut Plane, from: usize, to: usize) {
    let (from_px, to_px) = (from as f64, to as f64);
    smooth_in_place(
        plane,
        (to_px * to_px - from_px * from_px).sqrt(),
        from.max(1),
    );
}

/// Per-pixel best ridge response over scales and polarities.
#[derive(Clone, Debug)]
pub(crate) struct RidgeMap {
    pub width: usize,
    pub height: usize,
    /// Line strength (absorbance units × 0.48 for a bar at its best scale).
    pub strength: Vec<f32>,
    /// Index into `sigmas_px` of the chosen scale.
    pub scale: Vec<u8>,
    /// +1 dark line, −1 bright line, 0 none.
    pub polarity: Vec<i8>,
    /// Unit normal across the line, each component in steps of 1/[`NORMAL_STEPS`]
    /// (read it through [`RidgeMap::normal`]).
    normal: Vec<[i16; 2]>,
    /// Sub-pixel offset of the line centre from the pixel centre, along the
    /// normal, in steps of 1/[`OFFSET_STEPS_PER_PX`] px (read it through
    /// [`RidgeMap::offset_px`]).
    offset: Vec<i16>,
    /// The scales (σ, px).
    pub sigmas_px: Vec<f64>,
    /// Robust noise level of the line strength at each scale.
    pub noise: Vec<f32>,
}

impl RidgeMap {
    /// Unit normal across the line at pixel `i`.
    #[inline]
    pub fn normal(&self, i: usize) -> [f32; 2] {
        let [x, y] = self.normal[i];
        [f32::from(x) / NORMAL_STEPS, f32::from(y) / NORMAL_STEPS]
    }

    /// Sub-pixel offset of the line centre from pixel `i`'s centre, along its
    /// normal (px).
    #[inline]
    pub fn offset_px(&self, i: usize) -> f32 {
        f32::from(self.offset[i]) / OFFSET_STEPS_PER_PX
    }

    /// Signal-to-noise ratio of pixel `i`'s line strength at its scale (0 = none).
    #[inline]
    pub fn snr(&self, i: usize) -> f32 {
        if self.polarity[i] == 0 {
            0.0
        } else {
            self.strength[i] / self.noise[usize::from(self.scale[i])]
        }
    }

    /// Whether pixel `i` holds a line centre with at least `min_snr`.
    #[inline]
    pub fn is_line_point(&self, i: usize, min_snr: f32) -> bool {
        if self.polarity[i] == 0 || self.snr(i) < min_snr {
            return false;
        }
        let t = self.offset_px(i);
        let [nx, ny] = self.normal(i);
        (t * nx).abs() <= CENTRE_TOLERANCE_PX && (t * ny).abs() <= CENTRE_TOLERANCE_PX
    }

    /// Whether pixel `i` is the strongest response across the line: no pixel
    /// within `2σ + 1` px along its normal, before a valley in the response (see
    /// [`VALLEY_RATIO`]), responds more with the same polarity, or
    /// more than [`LOBE_RATIO`] times as much with the opposite polarity. The second
    /// test removes the ringing lobes a strong shaft leaves beside itself (about
    /// 0.45 of its peak) without letting the bright gap between two touching dark
    /// shafts, which responds about as strongly as they do, suppress them.
    pub fn is_max_across(&self, i: usize) -> bool {
        let s = self.strength[i];
        let p = self.polarity[i];
        let sigma = self.sigmas_px[usize::from(self.scale[i])];
        let reach = (2.0 * sigma + 1.0).ceil() as i64;
        let [nx, ny] = self.normal(i);
        let x = (i % self.width) as f64;
        let y = (i / self.width) as f64;
        for sign in [-1.0, 1.0] {
            let mut valley = s;
            for step in 1..=reach {
                let qx = (x + sign * step as f64 * f64::from(nx)).round();
                let qy = (y + sign * step as f64 * f64::from(ny)).round();
                if qx < 0.0 || qy < 0.0 || qx >= self.width as f64 || qy >= self.height as f64 {
                    break;
                }
                let q = qy as usize * self.width + qx as usize;
                if self.polarity[q] == p {
                    // Past a clear valley the response belongs to a neighbouring shaft.
                    if valley >= VALLEY_RATIO * s && self.strength[q] > s {
                        return false;
                    }
                    valley = valley.min(self.strength[q]);
                } else {
                    // A change of polarity is a valley too; a ringing lobe still
                    // yields to the much stronger shaft beyond it.
                    if self.strength[q] > LOBE_RATIO * s {
                        return false;
                    }
                    valley = 0.0;
                }
            }
        }
        true
    }

    /// Sub-pixel position of the line centre in pixel `i` (pixel centres at +0.5).
    #[inline]
    pub fn center(&self, i: usize) -> [f64; 2] {
        let x = (i % self.width) as f64 + 0.5;
        let y = (i / self.width) as f64 + 0.5;
        let t = f64::from(self.offset_px(i));
        let [nx, ny] = self.normal(i);
        [x + t * f64::from(nx), y + t * f64::from(ny)]
    }
}

/// Geometric ladder of scales covering shaft widths `min_width_px..=max_width_px`.
pub(crate) fn scale_ladder(min_width_px: f64, max_width_px: f64) -> Vec<f64> {
    const RATIO: f64 = 1.35;
    const MIN_SIGMA_PX: f64 = 0.8;
    let lo = (0.5 * min_width_px).max(MIN_SIGMA_PX);
    let hi = (0.5 * max_width_px).max(lo);
    let mut s = vec![lo];
    while *s.last().unwrap_or(&hi) * RATIO <= hi * 1.0001 {
        let next = s[s.len() - 1] * RATIO;
        s.push(next);
    }
    s
}

/// Output rows per band of the detector: the ring of row passes starts afresh
/// at each band, which repeats `2r` row passes, so bands are at least four
/// kernel radii tall (at most half the row passes repeated).
fn band_rows(radius_px: usize) -> usize {
    (4 * radius_px).max(64)
}

/// Robust standard deviation of one directional second derivative, from
/// `sample`: the [`along_line_curvature`] of every 3rd pixel of every 3rd row (a
/// fixed sample, so the result does not depend on the thread count or the
/// bands). Shafts leave it near noise level, so the estimate holds when they
/// cover most of the photo (long hair), where the median of `|Lxx|` measured the
/// shafts (15× the skin's noise on a dense generated photo).
fn robust_noise(mut sample: Vec<f32>) -> f32 {
    if sample.is_empty() {
        return 1.0;
    }
    let mid = sample.len() / 2;
    let (_, m, _) = sample.select_nth_unstable_by(mid, f32::total_cmp);
    (*m / ALONG_LINE_MEDIAN_PER_SD).max(1e-6)
}

/// Median of the smaller-magnitude Hessian eigenvalue over an isotropic Gaussian
/// random field, per standard deviation of one directional second derivative
/// (`Lxx`). Isotropy fixes the Hessian's covariance up to one factor
/// (Var Lxx : Var Lxy : Cov(Lxx, Lyy) = 3 : 1 : 1), so the ratio holds for white
/// noise and smooth skin texture alike; its value is a Monte-Carlo integral
/// (checked against filtered white noise in the tests).
const ALONG_LINE_MEDIAN_PER_SD: f32 = 0.415;

/// Magnitude of the smaller Hessian eigenvalue: on a straight shaft the second
/// derivative along it, which the shaft leaves at noise level. Its median stays
/// near noise level when shafts cover most of the photo, where any statistic of
/// `Lxx` is the shafts' own. Over skin it is the smaller of two noise
/// curvatures, along a shaft one of them: where shafts cover the whole photo the
/// estimate reads up to 1.62× high (the ratio of the two medians), a bounded and
/// conservative error where `|Lxx|` read 15× high.
fn along_line_curvature(lxx: f32, lxy: f32, lyy: f32) -> f32 {
    hessian_eigenvalues(lxx, lxy, lyy).1.abs()
}

/// The eigenvalues of the Hessian `[[lxx, lxy], [lxy, lyy]]`: the larger and the
/// smaller in magnitude.
fn hessian_eigenvalues(lxx: f32, lxy: f32, lyy: f32) -> (f32, f32) {
    let half_tr = 0.5 * (lxx + lyy);
    let disc = (0.25 * (lxx - lyy) * (lxx - lyy) + lxy * lxy).sqrt();
    if half_tr >= 0.0 {
        (half_tr + disc, half_tr - disc)
    } else {
        (half_tr - disc, half_tr + disc)
    }
}

/// The per-pixel fields of one row of a [`RidgeMap`] that a scale may update.
struct RowFields<'m> {
    strength: &'m mut [f32],
    scale: &'m mut [u8],
    polarity: &'m mut [i8],
    normal: &'m mut [[i16; 2]],
    offset: &'m mut [i16],
}

/// Per-pixel candidates of one scale over one row, computed in a branch-free
/// pass (it vectorises) before [`update_row`] keeps the stronger ones.
struct Candidates {
    strength: Vec<f32>,
    polarity: Vec<f32>,
    nx: Vec<f32>,
    ny: Vec<f32>,
    offset: Vec<f32>,
}

impl Candidates {
    fn new(width: usize) -> Self {
        Candidates {
            strength: vec![0.0; width],
            polarity: vec![0.0; width],
            nx: vec![0.0; width],
            ny: vec![0.0; width],
            offset: vec![0.0; width],
        }
    }
}

/// Keeps, per pixel of one row, scale `k`'s response where it is stronger than
/// the best so far (strengths are never negative, so only a positive one) and
/// its eigenvector is defined. `cand` is scratch space of the row's length.
fn update_row(d: &RowDerivatives, k: usize, sigma: f64, row: RowFields, cand: &mut Candidates) {
    let s2 = (sigma * sigma) as f32;
    let s1 = sigma as f32;
    let w = row.strength.len();
    let (lxx, lyy, lxy, lx, ly) = (
        &d.lxx[..w],
        &d.lyy[..w],
        &d.lxy[..w],
        &d.lx[..w],
        &d.ly[..w],
    );
    let (cs, cp) = (&mut cand.strength[..w], &mut cand.polarity[..w]);
    let (cx, cy, ct) = (&mut cand.nx[..w], &mut cand.ny[..w], &mut cand.offset[..w]);
    for j in 0..w {
        let (a, b, c) = (lxx[j], lxy[j], lyy[j]);
        let (e_big, e_small) = hessian_eigenvalues(a, b, c);
        // Dark line: absorbance maximum, e_big < 0.
        let p: f32 = if e_big < 0.0 { 1.0 } else { -1.0 };
        let bound = s2 * (-p * e_big) - s2 * (-p * e_small).max(0.0);
        // Eigenvector of e_big; a zero vector (undefined) gives NaN, which no
        // comparison below takes.
        let along_b = b.abs() > 1e-12;
        let a_wins = a.abs() >= c.abs();
        let nx = if along_b {
            b
        } else if a_wins {
            1.0
        } else {
            0.0
        };
        let ny = if along_b {
            e_big - a
        } else if a_wins {
            0.0
        } else {
            1.0
        };
        let norm = (nx * nx + ny * ny).sqrt();
        let (nx, ny) = (nx / norm, ny / norm);
        let gn = lx[j] * nx + ly[j] * ny;
        cs[j] = if norm >= 1e-20 {
            bound - s1 * gn.abs()
        } else {
            f32::NAN
        };
        cp[j] = p;
        cx[j] = nx;
        cy[j] = ny;
        // Steger: t = −(g·n)/(nᵀHn), nᵀHn = e_big.
        ct[j] = -gn / e_big;
    }
    for j in 0..w {
        // Scale and polarity are chosen by strength (the γ-normalised
        // response peaks at σ = w/2); the noise only grades it.
        if cs[j] > row.strength[j] {
            row.strength[j] = cs[j];
            row.scale[j] = k as u8;
            row.polarity[j] = cp[j] as i8;
            row.normal[j] = [quantize(cx[j], NORMAL_STEPS), quantize(cy[j], NORMAL_STEPS)];
            row.offset[j] = quantize(
                ct[j].clamp(-MAX_OFFSET_PX, MAX_OFFSET_PX),
                OFFSET_STEPS_PER_PX,
            );
        }
    }
}

/// Runs the multi-scale detector over `absorbance`.
///
/// Each scale runs over bands of rows in parallel; a band computes its
/// derivatives row by row ([`RowDerivatives`]) and folds them into the map at
/// once, so no derivative plane is ever held whole.
pub(crate) fn detect(absorbance: &Plane, sigmas_px: &[f64]) -> RidgeMap {
    let (width, height) = (absorbance.width, absorbance.height);
    let n = width * height;
    let mut map = RidgeMap {
        width,
        height,
        strength: vec![0.0; n],
        scale: vec![0; n],
        polarity: vec![0; n],
        normal: vec![[NORMAL_STEPS as i16, 0]; n],
        offset: vec![0; n],
        sigmas_px: sigmas_px.to_vec(),
        noise: Vec::with_capacity(sigmas_px.len()),
    };
    if n == 0 {
        map.noise = vec![1.0; sigmas_px.len()];
        return map;
    }
    // The absorbance pre-smoothed by a Gaussian of σₐ = its dilation, for the
    // scales with dilated taps (scales ascend, so it is only ever smoothed
    // further): one plane, 4 bytes a pixel.
    let mut smoothed: Option<(usize, Plane)> = None;
    for (k, &sigma) in sigmas_px.iter().enumerate() {
        let step = dilation(sigma);
        if step > 1 && smoothed.as_ref().is_none_or(|(s, _)| *s != step) {
            let (from, mut plane) = smoothed.take().unwrap_or_else(|| (0, absorbance.clone()));
            presmooth(&mut plane, from, step);
            smoothed = Some((step, plane));
        }
        let (src, tap_sigma) = match &smoothed {
            Some((s, plane)) if step > 1 => {
                let sa = *s as f64;
                (plane, (sigma * sigma - sa * sa).sqrt())
            }
            _ => (absorbance, sigma),
        };
        let radius = crate::filter::gaussian_kernel(sigma, 0).len() / 2;
        let rows = band_rows(radius);
        let chunk = rows * width;
        let samples: Vec<Vec<f32>> = map
            .strength
            .par_chunks_mut(chunk)
            .zip(map.scale.par_chunks_mut(chunk))
            .zip(map.polarity.par_chunks_mut(chunk))
            .zip(map.normal.par_chunks_mut(chunk))
            .zip(map.offset.par_chunks_mut(chunk))
            .enumerate()
            .map(|(c, ((((strength, scale), polarity), normal), offset))| {
                let mut d = RowDerivatives::dilated(src, tap_sigma, step);
                let mut cand = Candidates::new(width);
                let mut sample = Vec::new();
                let rows_here = strength.len() / width;
                for dy in 0..rows_here {
                    let y = c * rows + dy;
                    d.compute_row(y);
                    if y % 3 == 0 {
                        sample.extend(
                            (0..width)
                                .step_by(3)
                                .map(|j| along_line_curvature(d.lxx[j], d.lxy[j], d.lyy[j])),
                        );
                    }
                    let span = dy * width..(dy + 1) * width;
                    update_row(
                        &d,
                        k,
                        sigma,
                        RowFields {
                            strength: &mut strength[span.clone()],
                            scale: &mut scale[span.clone()],
                            polarity: &mut polarity[span.clone()],
                            normal: &mut normal[span.clone()],
                            offset: &mut offset[span],
                        },
                        &mut cand,
                    );
                }
                sample
            })
            .collect();
        // Noise of a directional, σ²-normalised second derivative at this scale.
        let s2 = (sigma * sigma) as f32;
        map.noise.push(robust_noise(samples.concat()) * s2);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vertical dark bar `w` px wide centred at `cx` on a flat background.
    fn bar(width: usize, height: usize, cx: f64, w: f64, depth: f32) -> Plane {
        let mut p = Plane::new(width, height);
        for y in 0..height {
            for x in 0..width {
                // Exact pixel coverage of [cx − w/2, cx + w/2] by [x, x+1).
                let lo = (cx - w / 2.0).max(x as f64);
                let hi = (cx + w / 2.0).min(x as f64 + 1.0);
                p.data[y * width + x] = depth * (hi - lo).max(0.0) as f32;
            }
        }
        p
    }

    /// White Gaussian noise of standard deviation `sd` (Box–Muller, seeded).
    fn white_noise(width: usize, height: usize, sd: f32, seed: u64) -> Plane {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut p = Plane::new(width, height);
        for v in &mut p.data {
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
            *v = sd * ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32;
        }
        p
    }

    /// Standard deviation of `Lxx` over `p` at `sigma`, σ²-normalised: what
    /// [`RidgeMap::noise`] estimates, measured directly.
    fn lxx_sd(p: &Plane, sigma: f64) -> f32 {
        let mut d = RowDerivatives::new(p, sigma);
        let (mut sum, mut n) = (0.0f64, 0usize);
        let margin = 4 * sigma.ceil() as usize;
        for y in margin..p.height - margin {
            d.compute_row(y);
            for v in &d.lxx[margin..p.width - margin] {
                sum += f64::from(*v) * f64::from(*v);
                n += 1;
            }
        }
        ((sum / n as f64).sqrt() * sigma * sigma) as f32
    }

    #[test]
    fn the_noise_level_is_the_sd_of_a_second_derivative_and_holds_under_dense_shafts() {
        let (w, h) = (240, 240);
        let sigmas = [0.8, 2.0, 4.0];
        let noise = white_noise(w, h, 0.02, 7);
        let alone = detect(&noise, &sigmas);
        for (k, &s) in sigmas.iter().enumerate() {
            let truth = lxx_sd(&noise, s);
            let r = alone.noise[k] / truth;
            assert!(
                (0.93..1.07).contains(&r),
                "σ {s}: {} vs {truth}",
                alone.noise[k]
            );
        }
        // Bars 8 px wide every 12 px cover two thirds of the photo, as long hair
        // does: the median |Lxx| there is the bars' (tens of times the noise).
        // Along a bar the smaller eigenvalue is one directional derivative, not
        // the smaller of two, whose median is 1.62× higher: the bound.
        let mut dense = noise.clone();
        for cx in (6..w).step_by(12) {
            let b = bar(w, h, cx as f64 + 0.3, 8.0, 0.5);
            dense
                .data
                .iter_mut()
                .zip(&b.data)
                .for_each(|(a, v)| *a += v);
        }
        let covered = detect(&dense, &sigmas);
        for ((s, c), a) in sigmas.iter().zip(&covered.noise).zip(&alone.noise) {
            let r = c / a;
            assert!((0.9..1.7).contains(&r), "σ {s}: ratio {r}");
        }
    }

    /// The five derivatives on a plane pre-smoothed by σₐ = D with taps D apart
    /// ([`dilation`]) against the direct ones at the same σ, on white noise (a
    /// flat spectrum: the worst case for the repeated spectrum of dilated taps)
    /// and on a bar. Differences are measured away from the border, where both
    /// mirror the plane the same way only up to the kernels' reach.
    #[test]
    fn dilated_derivatives_match_the_direct_ones() {
        for (sigma, want_step) in [(2.7, 2), (4.8, 2), (5.4, 4), (9.0, 4), (11.0, 8)] {
            let step = dilation(sigma);
            assert_eq!(step, want_step, "σ = {sigma}");
            let sa = step as f64;
            for (name, p) in [
                ("noise", white_noise(160, 160, 1.0, 7)),
                ("bar", bar(160, 160, 80.3, 2.0 * sigma, 1.0)),
            ] {
                // In stages, as the detector smooths it when the scales ascend.
                let mut smoothed = p.clone();
                let mut from = 0usize;
                while from < step {
                    let to = (2 * from).max(2);
                    presmooth(&mut smoothed, from, to);
                    from = to;
                }
                let mut direct = RowDerivatives::new(&p, sigma);
                let mut dilated =
                    RowDerivatives::dilated(&smoothed, (sigma * sigma - sa * sa).sqrt(), step);
                let margin = (4.0 * sigma).ceil() as usize + 1;
                let (mut err, mut norm) = ([0.0f64; 5], [0.0f64; 5]);
                for y in margin..160 - margin {
                    direct.compute_row(y);
                    dilated.compute_row(y);
                    let a = [
                        &direct.lx,
                        &direct.ly,
                        &direct.lxx,
                        &direct.lxy,
                        &direct.lyy,
                    ];
                    let b = [
                        &dilated.lx,
                        &dilated.ly,
                        &dilated.lxx,
                        &dilated.lxy,
                        &dilated.lyy,
                    ];
                    for d in 0..5 {
                        for x in margin..160 - margin {
                            let (u, v) = (f64::from(a[d][x]), f64::from(b[d][x]));
                            err[d] += (u - v) * (u - v);
                            norm[d] += u * u;
                        }
                    }
                }
                // The bar has no y-derivatives to compare with.
                let compared = if name == "bar" {
                    vec![0, 2]
                } else {
                    (0..5).collect()
                };
                for d in compared {
                    let rel = (err[d] / norm[d]).sqrt();
                    assert!(rel < 0.01, "σ = {sigma}, {name}, derivative {d}: {rel:.4}");
                }
            }
        }
    }

    #[test]
    fn ladder_spans_requested_widths() {
        let s = scale_ladder(2.0, 20.0);
        assert!(s[0] >= 0.8 && s[0] <= 1.0);
        assert!(*s.last().unwrap() <= 10.0 && *s.last().unwrap() > 10.0 / 1.35);
    }

    #[test]
    fn finds_subpixel_centre_of_a_dark_bar() {
        let p = bar(41, 21, 20.3, 4.0, 0.5);
        let map = detect(&p, &scale_ladder(2.0, 8.0));
        let row = 10;
        let line_points: Vec<usize> = (0..41)
            .map(|x| row * 41 + x)
            .filter(|&i| map.is_line_point(i, 1.0) && map.strength[i] > 0.05)
            .collect();
        assert_eq!(line_points.len(), 1, "{line_points:?}");
        let c = map.center(line_points[0]);
        assert!((c[0] - 20.3).abs() < 0.05, "{c:?}");
        assert_eq!(map.polarity[line_points[0]], 1);
    }

    #[test]
    fn bright_bar_has_negative_polarity() {
        let mut p = bar(41, 21, 20.0, 4.0, 0.5);
        p.data.iter_mut().for_each(|v| *v = -*v);
        let map = detect(&p, &scale_ladder(2.0, 8.0));
        let i = 10 * 41 + 20;
        assert_eq!(map.polarity[i], -1);
    }

    #[test]
    fn step_edge_gives_no_line_point() {
        let mut p = Plane::new(41, 21);
        for y in 0..21 {
            for x in 20..41 {
                p.data[y * 41 + x] = 0.5;
            }
        }
        let map = detect(&p, &scale_ladder(2.0, 8.0));
        let row = 10;
        // Interior rows: no line point should carry appreciable strength.
        for x in 0..41 {
            let i = row * 41 + x;
            assert!(
                !(map.is_line_point(i, 0.0) && map.strength[i] > 0.01),
                "x={x} s={}",
                map.strength[i]
            );
        }
    }

    #[test]
    fn ringing_lobe_beside_a_dark_bar_is_not_a_maximum_but_the_gap_between_two_bars_does_not_hide_them(
    ) {
        // One bar: its light side lobes must not survive the across-line maximum.
        let p = bar(41, 21, 20.0, 4.0, 0.5);
        let map = detect(&p, &scale_ladder(2.0, 8.0));
        for x in 0..41 {
            let i = 10 * 41 + x;
            if map.polarity[i] < 0 && map.strength[i] > 0.05 {
                assert!(!map.is_max_across(i), "lobe at x={x} kept");
            }
        }
        // Two bars 6 px apart, a bright gap between them: both centres stay maxima.
        let mut two = bar(41, 21, 15.0, 4.0, 0.5);
        let right = bar(41, 21, 25.0, 4.0, 0.5);
        two.data
            .iter_mut()
            .zip(&right.data)
            .for_each(|(a, b)| *a += b);
        let map = detect(&two, &scale_ladder(2.0, 8.0));
        for cx in [15usize, 25] {
            let found = (cx - 1..=cx + 1).any(|x| {
                let i = 10 * 41 + x;
                map.polarity[i] > 0 && map.is_line_point(i, 0.0) && map.is_max_across(i)
            });
            assert!(found, "bar at x={cx} lost");
        }
    }
}
