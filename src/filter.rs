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
#[derive(Clone, Debug)]
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
        let fx = (x - 0.5).clamp(0.0, (self.width - 1) as f64);
        let fy = (y - 0.5).clamp(0.0, (self.height - 1) as f64);
        let x0 = fx.floor() as usize;
        let y0 = fy.floor() as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let ax = (fx - x0 as f64) as f32;
        let ay = (fy - y0 as f64) as f32;
        let top = self.at(x0, y0) * (1.0 - ax) + self.at(x1, y0) * ax;
        let bottom = self.at(x0, y1) * (1.0 - ax) + self.at(x1, y1) * ax;
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
                for (j, p) in padded.iter_mut().enumerate() {
                    *p = row[reflect(j as i64 - r, w as i64)];
                }
                for (x, o) in out.iter_mut().enumerate() {
                    let window = &padded[x..x + kernel.len()];
                    *o = window.iter().zip(kernel).map(|(a, b)| a * b).sum();
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

/// The first and second Gaussian derivatives of a plane at one scale: what a
/// Hessian line detector reads at every pixel.
#[derive(Debug)]
pub(crate) struct Derivatives {
    pub lx: Plane,
    pub ly: Plane,
    pub lxx: Plane,
    pub lxy: Plane,
    pub lyy: Plane,
    /// Row-pass results (smoothed, first and second x-derivative), kept to reuse
    /// their memory from one scale to the next.
    rows: [Plane; 3],
}

impl Derivatives {
    pub fn new() -> Self {
        let p = || Plane::new(0, 0);
        Derivatives {
            lx: p(),
            ly: p(),
            lxx: p(),
            lxy: p(),
            lyy: p(),
            rows: [p(), p(), p()],
        }
    }

    /// Fills every derivative of `src` at `sigma` (px), with the kernels of
    /// [`gaussian_kernel`] and mirror borders: the same values as
    /// [`filter_rows`] then [`filter_cols`] with the matching kernels, up to the
    /// order of the floating-point sums.
    ///
    /// Two separable passes serve all five: the row pass makes the smoothed, first-
    /// and second-derivative rows from one read of each row, the column pass makes
    /// the five outputs from one read of each of those. The order-0 and order-2
    /// kernels are even and the order-1 kernel is odd, so each pass adds (or
    /// subtracts) the two samples a tap apart before multiplying: half the
    /// products. Taps run in the outer loop and pixels in the inner one, so the
    /// inner loop is independent multiply-adds along a row, which the compiler
    /// vectorises.
    pub fn compute(&mut self, src: &Plane, sigma: f64) {
        let k = [
            gaussian_kernel(sigma, 0),
            gaussian_kernel(sigma, 1),
            gaussian_kernel(sigma, 2),
        ];
        let r = k[0].len() / 2;
        // Taps 0..=r of each kernel, from its centre outwards.
        let half: [Vec<f32>; 3] = [k[0][r..].to_vec(), k[1][r..].to_vec(), k[2][r..].to_vec()];
        let (w, h) = (src.width, src.height);
        for p in self.rows.iter_mut().chain([
            &mut self.lx,
            &mut self.ly,
            &mut self.lxx,
            &mut self.lxy,
            &mut self.lyy,
        ]) {
            p.width = w;
            p.height = h;
            p.data.resize(w * h, 0.0);
        }
        if w == 0 || h == 0 {
            return;
        }
        derivative_rows(src, &half, &mut self.rows);
        derivative_cols(
            &self.rows,
            &half,
            [
                &mut self.lx.data,
                &mut self.ly.data,
                &mut self.lxx.data,
                &mut self.lxy.data,
                &mut self.lyy.data,
            ],
            w,
            h,
        );
    }
}

/// Row pass of [`Derivatives::compute`]: `rows[o]` is `src` correlated along x
/// with the order-`o` kernel whose taps `0..=r` are `half[o]`.
fn derivative_rows(src: &Plane, half: &[Vec<f32>; 3], rows: &mut [Plane; 3]) {
    let w = src.width;
    let r = half[0].len() - 1;
    let [r0, r1, r2] = rows;
    r0.data
        .par_chunks_mut(ROWS_PER_TASK * w)
        .zip(r1.data.par_chunks_mut(ROWS_PER_TASK * w))
        .zip(r2.data.par_chunks_mut(ROWS_PER_TASK * w))
        .zip(src.data.par_chunks(ROWS_PER_TASK * w))
        .for_each(|(((o0, o1), o2), input)| {
            let mut padded = vec![0.0f32; w + 2 * r];
            for (((o0, o1), o2), row) in o0
                .chunks_mut(w)
                .zip(o1.chunks_mut(w))
                .zip(o2.chunks_mut(w))
                .zip(input.chunks(w))
            {
                for (j, p) in padded.iter_mut().enumerate() {
                    *p = row[reflect(j as i64 - r as i64, w as i64)];
                }
                let centre = &padded[r..r + w];
                for x in 0..w {
                    o0[x] = half[0][0] * centre[x];
                    o1[x] = 0.0;
                    o2[x] = half[2][0] * centre[x];
                }
                let taps = half[0].iter().zip(&half[1]).zip(&half[2]).enumerate();
                for (t, ((&k0, &k1), &k2)) in taps.skip(1) {
                    let ahead = &padded[r + t..r + t + w];
                    let behind = &padded[r - t..r - t + w];
                    for x in 0..w {
                        let (a, b) = (ahead[x], behind[x]);
                        let (sum, diff) = (a + b, a - b);
                        o0[x] += k0 * sum;
                        o1[x] += k1 * diff;
                        o2[x] += k2 * sum;
                    }
                }
            }
        });
}

/// Column pass of [`Derivatives::compute`]: from the smoothed (`rows[0]`),
/// x-derivative (`rows[1]`) and second x-derivative (`rows[2]`) rows, writes
/// `[lx, ly, lxx, lxy, lyy]`.
fn derivative_cols(
    rows: &[Plane; 3],
    half: &[Vec<f32>; 3],
    out: [&mut Vec<f32>; 5],
    w: usize,
    h: usize,
) {
    fn row_of(p: &Plane, y: usize) -> &[f32] {
        &p.data[y * p.width..(y + 1) * p.width]
    }
    let [lx, ly, lxx, lxy, lyy] = out;
    let chunk = ROWS_PER_TASK * w;
    lx.par_chunks_mut(chunk)
        .zip(ly.par_chunks_mut(chunk))
        .zip(lxx.par_chunks_mut(chunk))
        .zip(lxy.par_chunks_mut(chunk))
        .zip(lyy.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(c, ((((lx, ly), lxx), lxy), lyy))| {
            for (dy, ((((lx, ly), lxx), lxy), lyy)) in lx
                .chunks_mut(w)
                .zip(ly.chunks_mut(w))
                .zip(lxx.chunks_mut(w))
                .zip(lxy.chunks_mut(w))
                .zip(lyy.chunks_mut(w))
                .enumerate()
            {
                let y = c * ROWS_PER_TASK + dy;
                let (s0, s1, s2) = (
                    row_of(&rows[0], y),
                    row_of(&rows[1], y),
                    row_of(&rows[2], y),
                );
                for x in 0..w {
                    lx[x] = half[0][0] * s1[x];
                    ly[x] = 0.0;
                    lxx[x] = half[0][0] * s2[x];
                    lxy[x] = 0.0;
                    lyy[x] = half[2][0] * s0[x];
                }
                let taps = half[0].iter().zip(&half[1]).zip(&half[2]).enumerate();
                for (t, ((&k0, &k1), &k2)) in taps.skip(1) {
                    let ahead = reflect((y + t) as i64, h as i64);
                    let behind = reflect(y as i64 - t as i64, h as i64);
                    let (a0, b0) = (row_of(&rows[0], ahead), row_of(&rows[0], behind));
                    let (a1, b1) = (row_of(&rows[1], ahead), row_of(&rows[1], behind));
                    let (a2, b2) = (row_of(&rows[2], ahead), row_of(&rows[2], behind));
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
        });
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
    fn fused_derivatives_match_the_separate_passes() {
        let (w, h) = (37, 23);
        let mut p = Plane::new(w, h);
        for (i, v) in p.data.iter_mut().enumerate() {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            *v = (0.3 * x).sin() * (0.2 * y).cos() + 0.01 * x * y;
        }
        for sigma in [0.8, 2.5, 7.0] {
            let mut d = Derivatives::new();
            d.compute(&p, sigma);
            let k: Vec<Vec<f32>> = (0..3).map(|o| gaussian_kernel(sigma, o)).collect();
            let (mut tmp, mut want) = (Plane::new(0, 0), Plane::new(0, 0));
            for (got, (ox, oy)) in [
                (&d.lx, (1, 0)),
                (&d.ly, (0, 1)),
                (&d.lxx, (2, 0)),
                (&d.lxy, (1, 1)),
                (&d.lyy, (0, 2)),
            ] {
                filter_rows(&p, &k[ox], &mut tmp);
                filter_cols(&tmp, &k[oy], &mut want);
                for (g, e) in got.data.iter().zip(&want.data) {
                    assert!((g - e).abs() < 1e-5, "σ {sigma} d{ox}{oy}: {g} vs {e}");
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
