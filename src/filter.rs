//! Separable Gaussian derivative filters on `f32` planes.
//!
//! Borders are handled by mirror reflection (`…, 2, 1, 0, 1, 2, …`), which keeps a
//! straight line that meets the border straight and adds no false edge there.

use rayon::prelude::*;

/// Rows handed to one rayon task. Row passes over a few hundred pixels are far
/// too short to schedule one by one; 16 rows of a 1280-px image is ~20 k
/// multiply-adds per tap, enough to amortise scheduling.
pub(crate) const ROWS_PER_TASK: usize = 16;

/// A single-channel `f32` image, row-major.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Plane {
    pub fn new(width: usize, height: usize) -> Self {
        Plane {
            width,
            height,
            data: vec![0.0; width * height],
        }
    }

    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Bilinear sample at continuous position (pixel centres at integer + 0.5),
    /// clamped to the image.
    #[inline]
    pub fn sample(&self, x: f64, y: f64) -> f32 {
        bilinear(self.width, self.height, x, y, |px, py| self.at(px, py))
    }
}

/// What can be sampled bilinearly at a continuous position: a [`Plane`], or a
/// channel read through a table.
pub(crate) trait Sample {
    /// The value at `(x, y)` (pixel centres at integer + 0.5), clamped to the image.
    fn sample(&self, x: f64, y: f64) -> f32;
}

impl Sample for Plane {
    #[inline]
    fn sample(&self, x: f64, y: f64) -> f32 {
        Plane::sample(self, x, y)
    }
}

/// Bilinear interpolation at continuous position `(x, y)` (pixel centres at
/// integer + 0.5, clamped to the image) of a `width` × `height` image (both ≥ 1)
/// whose pixel `(px, py)` is `at(px, py)`.
#[inline]
pub(crate) fn bilinear(
    width: usize,
    height: usize,
    x: f64,
    y: f64,
    at: impl Fn(usize, usize) -> f32,
) -> f32 {
    Bilinear::at(width, height, x, y).blend(at)
}

/// The four pixels and two weights of a bilinear sample, to blend several
/// channels at one position for the cost of one position.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bilinear {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    ax: f32,
    ay: f32,
}

impl Bilinear {
    /// The sample at `(x, y)` of a `width` × `height` image (both ≥ 1); see
    /// [`bilinear`].
    #[inline]
    pub fn at(width: usize, height: usize, x: f64, y: f64) -> Self {
        let fx = (x - 0.5).clamp(0.0, (width - 1) as f64);
        let fy = (y - 0.5).clamp(0.0, (height - 1) as f64);
        // Non-negative after the clamp (or NaN, which casts to 0 either way), so
        // truncation is the floor, without a call to `floor` on baseline x86-64.
        let x0 = fx as usize;
        let y0 = fy as usize;
        Bilinear {
            x0,
            y0,
            x1: (x0 + 1).min(width - 1),
            y1: (y0 + 1).min(height - 1),
            ax: (fx - x0 as f64) as f32,
            ay: (fy - y0 as f64) as f32,
        }
    }

    /// The blend of the image whose pixel `(px, py)` is `at(px, py)`.
    #[inline]
    pub fn blend(&self, at: impl Fn(usize, usize) -> f32) -> f32 {
        let (ax, ay) = (self.ax, self.ay);
        let top = at(self.x0, self.y0) * (1.0 - ax) + at(self.x1, self.y0) * ax;
        let bottom = at(self.x0, self.y1) * (1.0 - ax) + at(self.x1, self.y1) * ax;
        top * (1.0 - ay) + bottom * ay
    }
}

/// Sampled Gaussian kernel of derivative `order` (0, 1 or 2) and standard deviation
/// `sigma` (px), radius ⌈4σ⌉. The order-0 kernel sums to 1; the derivative kernels
/// are corrected so that they give exact derivatives of x and x²/2.
pub(crate) fn gaussian_kernel(sigma: f64, order: u8) -> Vec<f32> {
    let radius = (4.0 * sigma).ceil().max(1.0) as i64;
    let g: Vec<f64> = (-radius..=radius)
        .map(|i| {
            let x = i as f64;
            (-(x * x) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let sum: f64 = g.iter().sum();
    let g0: Vec<f64> = g.iter().map(|v| v / sum).collect();
    let xs: Vec<f64> = (-radius..=radius).map(|i| i as f64).collect();
    let k: Vec<f64> = match order {
        0 => g0,
        1 => {
            // d/dx G = -x/σ² G; flip sign convention so that correlation gives +slope.
            let raw: Vec<f64> = g0.iter().zip(&xs).map(|(g, x)| -x * g).collect();
            // Normalise: Σ raw(i) · f(x+i) for f(x)=x must be 1 (correlation form).
            let m: f64 = raw.iter().zip(&xs).map(|(k, x)| k * x).sum();
            raw.iter().map(|k| k / m).collect()
        }
        _ => {
            let s2 = sigma * sigma;
            let raw: Vec<f64> = g0.iter().zip(&xs).map(|(g, x)| (x * x - s2) * g).collect();
            // Remove the DC part (Σ g0 = 1), then scale so that f(x) = x²/2 gives exactly 1.
            let dc: f64 = raw.iter().sum();
            let balanced: Vec<f64> = raw.iter().zip(&g0).map(|(k, g)| k - dc * g).collect();
            let m: f64 = balanced.iter().zip(&xs).map(|(k, x)| k * x * x / 2.0).sum();
            balanced.iter().map(|k| k / m).collect()
        }
    };
    // Correlation with k(i) at offset i: out(x) = Σ_i k(i) in(x + i).
    k.into_iter().map(|v| v as f32).collect()
}

#[inline]
fn reflect(i: i64, n: i64) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let mut m = i.rem_euclid(period);
    if m >= n {
        m = period - m;
    }
    m as usize
}

/// Fills `padded` (`row.len() + 2 * reach` long) with `row` and `reach`
/// mirrored pixels on each side: the interior by one copy, only the borders
/// through [`reflect`] (which divides).
#[inline]
fn pad_mirrored(row: &[f32], reach: usize, padded: &mut [f32]) {
    let w = row.len();
    padded[reach..reach + w].copy_from_slice(row);
    for j in (0..reach).chain(reach + w..padded.len()) {
        padded[j] = row[reflect(j as i64 - reach as i64, w as i64)];
    }
}

/// Correlates every row with `kernel` (odd length, centred), mirror borders.
pub(crate) fn filter_rows(src: &Plane, kernel: &[f32], dst: &mut Plane) {
    let w = src.width;
    let r = (kernel.len() / 2) as i64;
    dst.width = src.width;
    dst.height = src.height;
    dst.data.resize(src.data.len(), 0.0);
    if w == 0 {
        return;
    }
    dst.data
        .par_chunks_mut(ROWS_PER_TASK * w)
        .zip(src.data.par_chunks(ROWS_PER_TASK * w))
        .for_each(|(out_rows, in_rows)| {
            let mut padded = vec![0.0f32; w + 2 * r as usize];
            for (out, row) in out_rows.chunks_mut(w).zip(in_rows.chunks(w)) {
                pad_mirrored(row, r as usize, &mut padded);
                // Taps outside, pixels inside: the inner loop vectorises, and each
                // pixel's sum still runs from 0 over the taps in order.
                out.fill(0.0);
                for (j, &kv) in kernel.iter().enumerate() {
                    for (o, &p) in out.iter_mut().zip(&padded[j..j + w]) {
                        *o += kv * p;
                    }
                }
            }
        });
}

/// Correlates every column with `kernel` (odd length, centred), mirror borders.
pub(crate) fn filter_cols(src: &Plane, kernel: &[f32], dst: &mut Plane) {
    let w = src.width;
    let h = src.height as i64;
    let r = (kernel.len() / 2) as i64;
    dst.width = src.width;
    dst.height = src.height;
    dst.data.resize(src.data.len(), 0.0);
    if w == 0 {
        return;
    }
    dst.data
        .par_chunks_mut(ROWS_PER_TASK * w)
        .enumerate()
        .for_each(|(chunk, out_rows)| {
            for (dy, out) in out_rows.chunks_mut(w).enumerate() {
                let y = (chunk * ROWS_PER_TASK + dy) as i64;
                out.fill(0.0);
                for (k, &kv) in kernel.iter().enumerate() {
                    let sy = reflect(y + k as i64 - r, h);
                    let row = &src.data[sy * w..(sy + 1) * w];
                    for (o, s) in out.iter_mut().zip(row) {
                        *o += kv * s;
                    }
                }
            }
        });
}

/// Columns per task of the column pass of [`smooth_in_place`].
const STRIP_COLUMNS: usize = 128;

/// Smooths `plane` in place by a Gaussian of `sigma` px whose taps lie `step`
/// pixels apart (mirror borders), rows then columns; the plane must already be
/// smoothed by a Gaussian of at least `step` px when `step` > 1. Each task holds
/// a copy of one row, or of one strip of [`STRIP_COLUMNS`] columns, so no second
/// plane is made.
pub(crate) fn smooth_in_place(plane: &mut Plane, sigma: f64, step: usize) {
    let (w, h) = (plane.width, plane.height);
    if w == 0 || h == 0 {
        return;
    }
    let step = step.max(1);
    let kernel = gaussian_kernel(sigma / step as f64, 0);
    let r = (kernel.len() / 2) as i64;
    let reach = r * step as i64;
    plane
        .data
        .par_chunks_mut(ROWS_PER_TASK * w)
        .for_each(|rows| {
            let mut padded = vec![0.0f32; w + 2 * reach as usize];
            for row in rows.chunks_mut(w) {
                pad_mirrored(row, reach as usize, &mut padded);
                row.fill(0.0);
                for (k, &kv) in kernel.iter().enumerate() {
                    let start = k * step;
                    for (o, s) in row.iter_mut().zip(&padded[start..start + w]) {
                        *o += kv * s;
                    }
                }
            }
        });
    // The column pass: each strip of columns is copied out, then written back
    // filtered, one output row at a time.
    let mut strips: Vec<Vec<&mut [f32]>> = (0..w.div_ceil(STRIP_COLUMNS))
        .map(|_| Vec::with_capacity(h))
        .collect();
    for row in plane.data.chunks_mut(w) {
        for (strip, piece) in strips.iter_mut().zip(row.chunks_mut(STRIP_COLUMNS)) {
            strip.push(piece);
        }
    }
    strips.into_par_iter().for_each(|mut strip| {
        let sw = strip.first().map_or(0, |p| p.len());
        let copy: Vec<f32> = strip.iter().flat_map(|p| p.iter().copied()).collect();
        for (y, out) in strip.iter_mut().enumerate() {
            out.fill(0.0);
            for (k, &kv) in kernel.iter().enumerate() {
                let sy = reflect(y as i64 + (k as i64 - r) * step as i64, h as i64);
                for (o, s) in out.iter_mut().zip(&copy[sy * sw..(sy + 1) * sw]) {
                    *o += kv * s;
                }
            }
        }
    });
}

/// The first and second Gaussian derivatives of a plane at one scale, one row
/// at a time: what a Hessian line detector reads at every pixel, without a
/// whole plane per derivative (five planes and three intermediate ones were 32
/// bytes per pixel, the largest part of the detector's memory).
///
/// Two separable passes serve all five derivatives: the row pass makes the
/// smoothed, first- and second-derivative rows from one read of each source
/// row, the column pass makes the five outputs of a row from one read of the
/// `2r + 1` row-pass rows around it, which a ring buffer holds. Rows asked for
/// in order (`y`, `y + 1`, …) cost one new row pass each; a jump starts the
/// ring afresh. The order-0 and order-2 kernels are even and the order-1
/// kernel is odd, so each pass adds (or subtracts) the two samples a tap apart
/// before multiplying: half the products. Taps run in the outer loop and pixels
/// in the inner one, so the inner loop is independent multiply-adds along a
/// row, which the compiler vectorises.
///
/// The values do not depend on which rows were asked for before: each is the
/// same sum, in the same order, as [`filter_rows`] then [`filter_cols`] with the
/// kernels of [`gaussian_kernel`] and mirror borders give, up to the order of
/// the floating-point sums.
#[derive(Debug)]
pub(crate) struct RowDerivatives<'a> {
    src: &'a Plane,
    /// Taps `0..=r` of the order-0, -1 and -2 kernels, from the centre outwards.
    half: [Vec<f32>; 3],
    /// Row-pass results (smoothed, d/dx, d²/dx²) of rows `y − r ..= y + r`;
    /// virtual row `v` (mirrored into the image) sits in slot `v mod (2r + 1)`.
    ring: [Vec<f32>; 3],
    /// One source row with `r` mirrored pixels on each side.
    padded: Vec<f32>,
    /// The row whose derivatives are in the outputs.
    current: Option<usize>,
    /// Pixels between taps (1, or the dilation on a pre-smoothed plane).
    step: usize,
    /// `Lx` of the current row.
    pub lx: Vec<f32>,
    /// `Ly` of the current row.
    pub ly: Vec<f32>,
    /// `Lxx` of the current row.
    pub lxx: Vec<f32>,
    /// `Lxy` of the current row.
    pub lxy: Vec<f32>,
    /// `Lyy` of the current row.
    pub lyy: Vec<f32>,
}

impl<'a> RowDerivatives<'a> {
    /// Derivatives of `src` at `sigma` (px); no row is computed yet.
    #[cfg(test)]
    pub fn new(src: &'a Plane, sigma: f64) -> Self {
        Self::dilated(src, sigma, 1)
    }

    /// Derivatives of `src` by Gaussian kernels of `sigma` (px) whose taps lie
    /// `step` pixels apart: on a plane already smoothed by a Gaussian of σₐ
    /// (see [`smooth_in_place`]), they are the derivatives at √(σₐ² + σ²) for
    /// 1/`step` of the taps. The sampling is sound when σₐ ≥ `step` and
    /// σ ≥ 0.85 `step` (see `ridge::MIN_TAP_SIGMA`): the pre-smoothing leaves
    /// below 1 % of the signal where the kernel's spectrum repeats.
    pub fn dilated(src: &'a Plane, sigma: f64, step: usize) -> Self {
        let step = step.max(1);
        let d = step as f32;
        let mut k = [
            gaussian_kernel(sigma / step as f64, 0),
            gaussian_kernel(sigma / step as f64, 1),
            gaussian_kernel(sigma / step as f64, 2),
        ];
        // The kernels are exact on x and x²/2 in units of taps; per pixel, a
        // first derivative is 1/step and a second 1/step² of that.
        k[1].iter_mut().for_each(|v| *v /= d);
        k[2].iter_mut().for_each(|v| *v /= d * d);
        let r = k[0].len() / 2;
        let w = src.width;
        let slots = 2 * r * step + 1;
        RowDerivatives {
            src,
            half: [k[0][r..].to_vec(), k[1][r..].to_vec(), k[2][r..].to_vec()],
            ring: [
                vec![0.0; slots * w],
                vec![0.0; slots * w],
                vec![0.0; slots * w],
            ],
            padded: vec![0.0; w + 2 * r * step],
            current: None,
            step,
            lx: vec![0.0; w],
            ly: vec![0.0; w],
            lxx: vec![0.0; w],
            lxy: vec![0.0; w],
            lyy: vec![0.0; w],
        }
    }

    /// How far the kernels reach (px): taps × step.
    fn reach_px(&self) -> usize {
        (self.half[0].len() - 1) * self.step
    }

    /// Row pass of virtual row `v` (mirrored into the image) into its ring slot.
    fn row_pass(&mut self, v: i64) {
        let (w, h) = (self.src.width, self.src.height);
        let r = self.reach_px();
        let step = self.step;
        let slot = v.rem_euclid(2 * r as i64 + 1) as usize;
        let sy = reflect(v, h as i64);
        let row = &self.src.data[sy * w..(sy + 1) * w];
        pad_mirrored(row, r, &mut self.padded);
        let [r0, r1, r2] = &mut self.ring;
        let o0 = &mut r0[slot * w..(slot + 1) * w];
        let o1 = &mut r1[slot * w..(slot + 1) * w];
        let o2 = &mut r2[slot * w..(slot + 1) * w];
        let half = &self.half;
        let centre = &self.padded[r..r + w];
        for x in 0..w {
            o0[x] = half[0][0] * centre[x];
            o1[x] = 0.0;
            o2[x] = half[2][0] * centre[x];
        }
        let taps = half[0].iter().zip(&half[1]).zip(&half[2]).enumerate();
        for (t, ((&k0, &k1), &k2)) in taps.skip(1) {
            let t = t * step;
            let ahead = &self.padded[r + t..r + t + w];
            let behind = &self.padded[r - t..r - t + w];
            for x in 0..w {
                let (a, b) = (ahead[x], behind[x]);
                let (sum, diff) = (a + b, a - b);
                o0[x] += k0 * sum;
                o1[x] += k1 * diff;
                o2[x] += k2 * sum;
            }
        }
    }

    /// Fills `lx … lyy` with the derivatives of row `y` (`y < height`).
    pub fn compute_row(&mut self, y: usize) {
        let r = self.reach_px();
        let step = self.step as i64;
        let w = self.src.width;
        if w == 0 {
            return;
        }
        let yi = y as i64;
        let ri = r as i64;
        if self.current.is_some_and(|c| c + 1 == y) {
            self.row_pass(yi + ri);
        } else {
            for v in yi - ri..=yi + ri {
                self.row_pass(v);
            }
        }
        self.current = Some(y);
        let slots = 2 * ri + 1;
        let ring_row = |p: &Vec<f32>, v: i64| -> std::ops::Range<usize> {
            let s = v.rem_euclid(slots) as usize;
            debug_assert!(p.len() >= (s + 1) * w);
            s * w..(s + 1) * w
        };
        let half = &self.half;
        let [p0, p1, p2] = &self.ring;
        let (lx, ly, lxx, lxy, lyy) = (
            &mut self.lx,
            &mut self.ly,
            &mut self.lxx,
            &mut self.lxy,
            &mut self.lyy,
        );
        {
            let c = ring_row(p0, yi);
            let (s0, s1, s2) = (&p0[c.clone()], &p1[c.clone()], &p2[c]);
            for x in 0..w {
                lx[x] = half[0][0] * s1[x];
                ly[x] = 0.0;
                lxx[x] = half[0][0] * s2[x];
                lxy[x] = 0.0;
                lyy[x] = half[2][0] * s0[x];
            }
        }
        let taps = half[0].iter().zip(&half[1]).zip(&half[2]).enumerate();
        for (t, ((&k0, &k1), &k2)) in taps.skip(1) {
            let t = t as i64 * step;
            let ahead = ring_row(p0, yi + t);
            let behind = ring_row(p0, yi - t);
            let (a0, b0) = (&p0[ahead.clone()], &p0[behind.clone()]);
            let (a1, b1) = (&p1[ahead.clone()], &p1[behind.clone()]);
            let (a2, b2) = (&p2[ahead], &p2[behind]);
            for x in 0..w {
                let (sum0, diff0) = (a0[x] + b0[x], a0[x] - b0[x]);
                let (sum1, diff1) = (a1[x] + b1[x], a1[x] - b1[x]);
                lx[x] += k0 * sum1;
                ly[x] += k1 * diff0;
                lxx[x] += k0 * (a2[x] + b2[x]);
                lxy[x] += k1 * diff1;
                lyy[x] += k2 * sum0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_kernels_are_exact_on_polynomials() {
        for sigma in [0.8, 1.5, 3.0] {
            let k1 = gaussian_kernel(sigma, 1);
            let k2 = gaussian_kernel(sigma, 2);
            let r = (k1.len() / 2) as i64;
            let at = |k: &[f32], f: &dyn Fn(f64) -> f64| -> f64 {
                (-r..=r)
                    .zip(k)
                    .map(|(i, kv)| f64::from(*kv) * f(i as f64))
                    .sum()
            };
            assert!((at(&k1, &|x| x) - 1.0).abs() < 1e-5);
            assert!(at(&k1, &|_| 1.0).abs() < 1e-6);
            assert!((at(&k2, &|x| x * x / 2.0) - 1.0).abs() < 1e-5);
            assert!(at(&k2, &|_| 1.0).abs() < 1e-5);
            assert!(at(&k2, &|x| x).abs() < 1e-5);
        }
    }

    #[test]
    fn smoothing_preserves_a_constant_at_the_borders() {
        let p = Plane {
            width: 5,
            height: 3,
            data: vec![2.0; 15],
        };
        let k = gaussian_kernel(2.0, 0);
        let (mut tmp, mut out) = (Plane::new(0, 0), Plane::new(0, 0));
        filter_rows(&p, &k, &mut tmp);
        filter_cols(&tmp, &k, &mut out);
        assert!(out.data.iter().all(|v| (v - 2.0).abs() < 1e-5));
    }

    #[test]
    fn row_derivatives_match_the_separate_passes_in_any_row_order() {
        let (w, h) = (37, 23);
        let mut p = Plane::new(w, h);
        for (i, v) in p.data.iter_mut().enumerate() {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            *v = (0.3 * x).sin() * (0.2 * y).cos() + 0.01 * x * y;
        }
        // In order, then in runs that start afresh (as bands of rows do), with a
        // radius (σ 7 → 28 px) beyond the image's height.
        let in_order: Vec<usize> = (0..h).collect();
        let in_runs = [9, 10, 11, 0, 1, 2, 3, 22, 15, 16, 4];
        for sigma in [0.8, 2.5, 7.0] {
            let k: Vec<Vec<f32>> = (0..3).map(|o| gaussian_kernel(sigma, o)).collect();
            let (mut tmp, mut want) = (Plane::new(0, 0), Plane::new(0, 0));
            let mut expected = Vec::new();
            for (ox, oy) in [(1, 0), (0, 1), (2, 0), (1, 1), (0, 2)] {
                filter_rows(&p, &k[ox], &mut tmp);
                filter_cols(&tmp, &k[oy], &mut want);
                expected.push(want.data.clone());
            }
            let mut first: Vec<Option<Vec<f32>>> = vec![None; h];
            for order in [&in_order[..], &in_runs[..]] {
                let mut d = RowDerivatives::new(&p, sigma);
                for &y in order {
                    d.compute_row(y);
                    let got = [&d.lx, &d.ly, &d.lxx, &d.lxy, &d.lyy];
                    for (o, (g, e)) in got.iter().zip(&expected).enumerate() {
                        for (x, (a, b)) in g.iter().zip(&e[y * w..(y + 1) * w]).enumerate() {
                            assert!(
                                (a - b).abs() < 1e-5,
                                "σ {sigma} d{o} ({x}, {y}): {a} vs {b}"
                            );
                        }
                    }
                    let row: Vec<f32> = got.iter().flat_map(|g| g.iter().copied()).collect();
                    match &first[y] {
                        Some(before) => assert_eq!(before, &row, "σ {sigma} row {y}"),
                        None => first[y] = Some(row),
                    }
                }
            }
        }
    }

    #[test]
    fn reflect_indexes_mirror() {
        let got: Vec<usize> = (-3..7).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
    }
}
