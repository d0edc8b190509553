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
    fn reflect_indexes_mirror() {
        let got: Vec<usize> = (-3..7).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
    }
}
