//! Camera and rasterisation: skin, skin structures, hairs (Beer–Lambert through
//! a cylinder, 4×4 supersampled), illumination, optical blur, Poisson–Gaussian
//! sensor noise, 8-bit sRGB quantisation.

use std::f64::consts::PI;

use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::optics::{hair_optics, SrgbEncoder};
use super::rng;
use super::scene::{Blob, Hair, Scene, UnitKind};
use crate::synth::truth::DistractorKind;

/// Rows per parallel task. Rows of 640–1280 px take ≈ 20–60 µs each in the skin
/// and blur passes; 16 rows per task keeps task overhead below 1 % and gives
/// enough tasks (32+) to balance 2–16 threads. The output never depends on it.
const ROWS_PER_TASK: usize = 16;

/// Supersampling grid per pixel side for hairs (4 × 4 samples).
const SUPERSAMPLE: usize = 4;

/// Lighting of one photo (camera-attached).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lighting {
    pub exposure: f64,
    /// Gradient: relative change per half image side along x and y.
    pub gradient: [f64; 2],
    pub vignetting: f64,
    /// White-balance multipliers.
    pub white_balance: [f64; 3],
}

impl Lighting {
    pub(crate) fn draw(rng: &mut ChaCha8Rng, gradient: f64, vignetting: f64, jitter: f64) -> Self {
        let a: f64 = rand::Rng::random_range(rng, 0.0..2.0 * PI);
        let g: f64 = gradient * rand::Rng::random_range(rng, 0.5..1.0);
        let n = |rng: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(rng) };
        let exposure = (1.0 + jitter * n(rng)).clamp(0.6, 1.4);
        let wb = [1.0 + 0.02 * n(rng), 1.0, 1.0 + 0.03 * n(rng)];
        Lighting {
            exposure,
            gradient: [g * a.cos(), g * a.sin()],
            vignetting: vignetting * rand::Rng::random_range(rng, 0.7..1.0),
            white_balance: wb,
        }
    }
}

/// One camera: maps scene µm to image px by `px = m · um + t`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    pub width: u32,
    pub height: u32,
    pub m: [[f64; 2]; 2],
    pub t: [f64; 2],
    pub light: Lighting,
    pub noise_seed: u64,
}

impl View {
    /// Pixels per µm (the similarity's scale).
    pub(crate) fn px_per_um(&self) -> f64 {
        (self.m[0][0] * self.m[1][1] - self.m[0][1] * self.m[1][0])
            .abs()
            .sqrt()
    }

    /// µm per pixel of this view.
    pub(crate) fn um_per_px(&self) -> f64 {
        1.0 / self.px_per_um()
    }

    pub(crate) fn to_px(self, p: [f64; 2]) -> [f64; 2] {
        [
            self.m[0][0] * p[0] + self.m[0][1] * p[1] + self.t[0],
            self.m[1][0] * p[0] + self.m[1][1] * p[1] + self.t[1],
        ]
    }

    pub(crate) fn to_um(self, q: [f64; 2]) -> [f64; 2] {
        let det = self.m[0][0] * self.m[1][1] - self.m[0][1] * self.m[1][0];
        let x = q[0] - self.t[0];
        let y = q[1] - self.t[1];
        [
            (self.m[1][1] * x - self.m[0][1] * y) / det,
            (-self.m[1][0] * x + self.m[0][0] * y) / det,
        ]
    }

    pub(crate) fn contains(&self, q: [f64; 2]) -> bool {
        q[0] >= 0.0 && q[1] >= 0.0 && q[0] < f64::from(self.width) && q[1] < f64::from(self.height)
    }
}

/// Optical and sensor settings of a render.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sensor {
    pub blur_sigma_px: f64,
    pub shot_noise: f64,
    pub read_noise: f64,
    pub emergence_fade_um: f64,
}

/// Reusable per-hair / per-line accumulation buffers (touched-list sparse reset).
struct Scratch {
    w: usize,
    h: usize,
    mul: Vec<[f32; 3]>,
    add: Vec<[f32; 3]>,
    dist: Vec<f32>,
    touched: Vec<u32>,
    flag: Vec<bool>,
}

impl Scratch {
    fn new(w: usize, h: usize) -> Self {
        Scratch {
            w,
            h,
            mul: vec![[0.0; 3]; w * h],
            add: vec![[0.0; 3]; w * h],
            dist: vec![f32::INFINITY; w * h],
            touched: Vec::new(),
            flag: vec![false; w * h],
        }
    }

    #[inline]
    fn touch(&mut self, i: usize) {
        if !self.flag[i] {
            self.flag[i] = true;
            self.touched.push(i as u32);
        }
    }
}

/// Pixel box `[x0, y0, x1, y1)` around points with a margin, clipped to the image.
fn pixel_box(points: &[[f64; 2]], margin: f64, w: usize, h: usize) -> Option<[usize; 4]> {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in points {
        lo = [lo[0].min(p[0]), lo[1].min(p[1])];
        hi = [hi[0].max(p[0]), hi[1].max(p[1])];
    }
    let x0 = (lo[0] - margin).floor().max(0.0);
    let y0 = (lo[1] - margin).floor().max(0.0);
    let x1 = (hi[0] + margin).ceil().min(w as f64);
    let y1 = (hi[1] + margin).ceil().min(h as f64);
    if x0 >= x1 || y0 >= y1 {
        None
    } else {
        Some([x0 as usize, y0 as usize, x1 as usize, y1 as usize])
    }
}

fn seg_dist(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    let v = [p[0] - a[0], p[1] - a[1]];
    let l2 = d[0] * d[0] + d[1] * d[1];
    let t = if l2 > 0.0 {
        ((v[0] * d[0] + v[1] * d[1]) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (v[0] - t * d[0]).hypot(v[1] - t * d[1])
}

/// Renders the scene through `view` into linear RGB (before noise).
pub(crate) fn render_linear(scene: &Scene, view: &View, sensor: &Sensor) -> Vec<[f32; 3]> {
    let w = view.width as usize;
    let h = view.height as usize;
    let mut buf = vec![[0.0f32; 3]; w * h];
    skin_pass(scene, view, &mut buf, w);
    let mut scratch = Scratch::new(w, h);
    let s = view.px_per_um();

    // Perifollicular halos, openings and yellow dots.
    for u in &scene.units {
        let c = view.to_px(u.center_um);
        let halo_r = u.halo_radius_um * s;
        let open_r = u.radius_um * s;
        let Some(bx) = pixel_box(&[c], halo_r + 2.0, w, h) else {
            continue;
        };
        // Brown (0) to blue-grey (1) darkening per channel.
        let brown = [0.55, 0.68, 0.80];
        let grey = [0.70, 0.68, 0.62];
        let tint: Vec<f64> = (0..3)
            .map(|k| brown[k] + (grey[k] - brown[k]) * u.halo_hue)
            .collect();
        for y in bx[1]..bx[3] {
            for x in bx[0]..bx[2] {
                let d = (x as f64 + 0.5 - c[0]).hypot(y as f64 + 0.5 - c[1]);
                let halo = u.halo_strength * (-(d / halo_r).powi(2) * 2.2).exp();
                let opening = smooth_disc(d, open_r, 0.8);
                let px = &mut buf[y * w + x];
                for k in 0..3 {
                    let mut f = 1.0 - halo * tint[k];
                    match u.kind {
                        UnitKind::YellowDot => {
                            let yellow = [0.86, 0.62, 0.24];
                            let a = 0.7 * opening;
                            let rim =
                                1.0 - 0.15 * smooth_disc(d, open_r + 1.5, 1.0) * (1.0 - opening);
                            px[k] =
                                ((f64::from(px[k]) * f * rim) * (1.0 - a) + yellow[k] * a) as f32;
                            continue;
                        }
                        // The opening itself: darker, brownish-grey.
                        UnitKind::Empty => f *= 1.0 - 0.3 * opening * tint[k],
                        UnitKind::Hairs => f *= 1.0 - 0.5 * opening * tint[k],
                    }
                    px[k] = (f64::from(px[k]) * f) as f32;
                }
            }
        }
    }
    // Pores.
    for b in &scene.pores {
        blob(None, &mut buf, w, h, view, b, |px, a| {
            for v in px.iter_mut() {
                *v *= 1.0 - a;
            }
        });
    }
    // Furrows and vessels.
    for line in &scene.lines {
        let pts: Vec<[f64; 2]> = line.points_um.iter().map(|p| view.to_px(*p)).collect();
        let half = line.width_um * s / 2.0;
        let reach = 3.0 * half + 1.5;
        if pixel_box(&pts, reach, w, h).is_none() {
            continue;
        }
        for seg in pts.windows(2) {
            let Some(bx) = pixel_box(seg, reach, w, h) else {
                continue;
            };
            for y in bx[1]..bx[3] {
                for x in bx[0]..bx[2] {
                    let d = seg_dist([x as f64 + 0.5, y as f64 + 0.5], seg[0], seg[1]) as f32;
                    let i = y * w + x;
                    if d < scratch.dist[i] {
                        scratch.dist[i] = d;
                        scratch.touch(i);
                    }
                }
            }
        }
        let sigma = if line.kind == DistractorKind::Vessel {
            1.3 * half.max(0.35)
        } else {
            half.max(0.35)
        };
        for &i in &scratch.touched {
            let i = i as usize;
            let d = f64::from(scratch.dist[i]);
            let g = (-(d * d) / (2.0 * sigma * sigma)).exp();
            let px = &mut buf[i];
            match line.kind {
                DistractorKind::Vessel => {
                    // Blood absorbs green and blue: red, low luminance contrast.
                    let a = [0.03, 0.40, 0.30];
                    for k in 0..3 {
                        px[k] *= (-(line.strength * a[k] * g)).exp() as f32;
                    }
                }
                _ => {
                    let f = 1.0 - line.strength * g;
                    px[0] *= f as f32;
                    px[1] *= (f - 0.01 * g) as f32;
                    px[2] *= (f - 0.01 * g) as f32;
                }
            }
            scratch.dist[i] = f32::INFINITY;
            scratch.flag[i] = false;
        }
        scratch.touched.clear();
    }
    // Flakes: white scale lying on the skin.
    for (i, b) in scene.flakes.iter().enumerate() {
        let tex = rng::sub_seed(scene.skin_seed, 0xF1A4E + i as u64);
        blob(Some(tex), &mut buf, w, h, view, b, |px, a| {
            let white = [0.84f32, 0.83, 0.76];
            for k in 0..3 {
                px[k] = px[k] * (1.0 - a) + white[k] * a;
            }
        });
    }
    // Hairs, in scene order (later hairs lie on top).
    for hair in &scene.hairs {
        hair_pass(hair, view, sensor, &mut buf, &mut scratch);
    }
    if sensor.blur_sigma_px > 0.0 {
        buf = gaussian_blur(&buf, w, h, sensor.blur_sigma_px);
    }
    buf
}

fn smooth_disc(d: f64, r: f64, edge_px: f64) -> f64 {
    let t = ((r - d) / edge_px.max(1e-6) + 0.5).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn blob(
    textured: Option<u64>,
    buf: &mut [[f32; 3]],
    w: usize,
    h: usize,
    view: &View,
    b: &Blob,
    apply: impl Fn(&mut [f32; 3], f32),
) {
    let s = view.px_per_um();
    let c = view.to_px(b.center_um);
    let r = b.radius_um * s;
    // Orientation of the blob in the image follows the view's rotation.
    let rot = view.m[1][0].atan2(view.m[0][0]);
    let Some(bx) = pixel_box(&[c], r * 1.6 + 2.0, w, h) else {
        return;
    };
    for y in bx[1]..bx[3] {
        for x in bx[0]..bx[2] {
            let dx = x as f64 + 0.5 - c[0];
            let dy = y as f64 + 0.5 - c[1];
            let d = dx.hypot(dy);
            let phi = dy.atan2(dx) - rot;
            let mut rr = 1.0;
            for (k, (a, ph)) in b.harmonics.iter().enumerate() {
                rr += a * ((k as f64 + 2.0) * phi + ph).cos();
            }
            let mut a = b.strength * smooth_disc(d, r * rr, 1.0 + 0.15 * r);
            if let Some(seed) = textured {
                // Layered scale: patchy opacity, in scene µm so it moves with the skin.
                let p = view.to_um([x as f64 + 0.5, y as f64 + 0.5]);
                let n1 = rng::value_noise(seed, p[0] / 35.0, p[1] / 35.0);
                let n2 = rng::value_noise(seed ^ 9, p[0] / 12.0, p[1] / 12.0);
                a *= (0.75 + 0.3 * n1 + 0.15 * n2).clamp(0.0, 1.2);
            }
            if a > 0.0 {
                apply(&mut buf[y * w + x], a as f32);
            }
        }
    }
}

/// Base skin with a smooth multi-scale texture, evaluated in scene µm so that it
/// moves with the scalp between photos.
fn skin_pass(scene: &Scene, view: &View, buf: &mut [[f32; 3]], w: usize) {
    let seed = scene.skin_seed;
    let amp = scene.skin_texture;
    buf.par_chunks_mut(ROWS_PER_TASK * w)
        .enumerate()
        .for_each(|(chunk, rows)| {
            for (r, row) in rows.chunks_mut(w).enumerate() {
                let y = (chunk * ROWS_PER_TASK + r) as f64 + 0.5;
                for (x, px) in row.iter_mut().enumerate() {
                    let p = view.to_um([x as f64 + 0.5, y]);
                    let n1 = rng::value_noise(seed, p[0] / 900.0, p[1] / 900.0);
                    let n2 = rng::value_noise(seed ^ 1, p[0] / 260.0, p[1] / 260.0);
                    let n3 = rng::value_noise(seed ^ 2, p[0] / 70.0, p[1] / 70.0);
                    let n4 = rng::value_noise(seed ^ 3, p[0] / 2_500.0, p[1] / 2_500.0);
                    let n5 = rng::value_noise(seed ^ 4, p[0] / 22.0, p[1] / 22.0);
                    let lum = 1.0 + amp * (0.45 * n1 + 0.35 * n2 + 0.25 * n3 + 0.15 * n5);
                    // Slow patches of redness (erythema) and of yellowness.
                    let red = amp * 0.8 * n4;
                    let c = scene.skin_rgb;
                    px[0] = (c[0] * lum * (1.0 + red)) as f32;
                    px[1] = (c[1] * lum * (1.0 - 0.6 * red)) as f32;
                    px[2] = (c[2] * lum * (1.0 - 0.4 * red)) as f32;
                }
            }
        });
}

/// Composites one hair: a cylinder of the hair's radius around its centreline,
/// attenuating what lies below by Beer–Lambert along the chord and adding the
/// light it scatters back and its specular sheen. Each pixel is integrated over
/// a 4×4 grid. The centreline is tiled by the regions between the angle
/// bisectors at its vertices, so every sample belongs to exactly one segment;
/// the first and last segments end flat (emergence, crisp clipped tip).
fn hair_pass(hair: &Hair, view: &View, sensor: &Sensor, buf: &mut [[f32; 3]], sc: &mut Scratch) {
    let (w, h) = (sc.w, sc.h);
    let s = view.px_per_um();
    let r = hair.width_um / 2.0 * s;
    // Render polyline: every k-th sample (≈ 6 px chords; the sagitta on a bend
    // radius ≥ 1.5 mm stays below 0.02 px).
    let step_px = hair_step_px(hair, s);
    let k = ((6.0 / step_px).floor() as usize).max(1);
    let n = hair.points_um.len();
    let mut idx: Vec<usize> = (0..n).step_by(k).collect();
    if idx.last() != Some(&(n - 1)) {
        idx.push(n - 1);
    }
    let pts: Vec<[f64; 2]> = idx.iter().map(|&i| view.to_px(hair.points_um[i])).collect();
    if pts.len() < 2 || pixel_box(&pts, r + 2.0, w, h).is_none() {
        return;
    }
    // Arc length (µm) at each render vertex.
    let arc: Vec<f64> = idx.iter().map(|&i| arc_at(hair, i)).collect();
    let dirs: Vec<[f64; 2]> = pts
        .windows(2)
        .map(|s2| {
            let d = [s2[1][0] - s2[0][0], s2[1][1] - s2[0][1]];
            let l = d[0].hypot(d[1]).max(1e-12);
            [d[0] / l, d[1] / l]
        })
        .collect();
    let optics = hair_optics(hair.colour);
    let kabs: [f64; 3] = std::array::from_fn(|c| optics.absorption_per_um[c] * hair.pigment);
    let scat = optics.scatter_per_um;
    let fade_um = sensor.emergence_fade_um;
    let um_per_px = 1.0 / s;
    let nseg = dirs.len();
    for i in 0..nseg {
        let a = pts[i];
        let b = pts[i + 1];
        let d = dirs[i];
        let len = (b[0] - a[0]) * d[0] + (b[1] - a[1]) * d[1];
        let n0 = if i == 0 { d } else { bisector(dirs[i - 1], d) };
        let n1 = if i + 1 == nseg {
            d
        } else {
            bisector(d, dirs[i + 1])
        };
        let Some(bx) = pixel_box(&[a, b], r + 1.5, w, h) else {
            continue;
        };
        let (s0, s1) = (arc[i], arc[i + 1]);
        for y in bx[1]..bx[3] {
            for x in bx[0]..bx[2] {
                // Quick reject on the pixel centre.
                let cx = x as f64 + 0.5 - a[0];
                let cy = y as f64 + 0.5 - a[1];
                let perp_c = d[0] * cy - d[1] * cx;
                let along_c = d[0] * cx + d[1] * cy;
                if perp_c.abs() > r + 0.75 || along_c < -r - 1.5 || along_c > len + r + 1.5 {
                    continue;
                }
                let mut acc_mul = [0.0f64; 3];
                let mut acc_add = [0.0f64; 3];
                let mut hit = false;
                for sy in 0..SUPERSAMPLE {
                    for sx in 0..SUPERSAMPLE {
                        let qx = x as f64 + (sx as f64 + 0.5) / SUPERSAMPLE as f64;
                        let qy = y as f64 + (sy as f64 + 0.5) / SUPERSAMPLE as f64;
                        let v = [qx - a[0], qy - a[1]];
                        if v[0] * n0[0] + v[1] * n0[1] < 0.0 {
                            continue;
                        }
                        if (qx - b[0]) * n1[0] + (qy - b[1]) * n1[1] >= 0.0 {
                            continue;
                        }
                        let perp = d[0] * v[1] - d[1] * v[0];
                        if perp.abs() >= r {
                            continue;
                        }
                        hit = true;
                        let along = (v[0] * d[0] + v[1] * d[1]).clamp(0.0, len);
                        let s_um = s0 + (s1 - s0) * if len > 0.0 { along / len } else { 0.0 };
                        let fade = if fade_um > 0.0 {
                            let t = (s_um / fade_um).clamp(0.0, 1.0);
                            t * t * (3.0 - 2.0 * t)
                        } else {
                            1.0
                        };
                        let u = perp / r;
                        let band = if hair.banding > 0.0 {
                            1.0 + hair.banding * rng::value_noise(hair.band_seed, s_um / 180.0, 0.5)
                        } else {
                            1.0
                        };
                        let chord_um = 2.0 * r * (1.0 - u * u).sqrt() * um_per_px * fade * band;
                        let back = 1.0 - (-scat * chord_um).exp();
                        // Specular sheen: a narrow highlight off the axis.
                        let spec = hair.gloss * fade * (-((u + 0.3) * (u + 0.3)) / 0.045).exp();
                        for c in 0..3 {
                            let t = (-(kabs[c] + scat) * chord_um).exp();
                            acc_mul[c] += t - 1.0;
                            acc_add[c] += optics.albedo[c] * back + spec;
                        }
                    }
                }
                if hit {
                    let i = y * w + x;
                    sc.touch(i);
                    let norm = 1.0 / (SUPERSAMPLE * SUPERSAMPLE) as f64;
                    for c in 0..3 {
                        sc.mul[i][c] += (acc_mul[c] * norm) as f32;
                        sc.add[i][c] += (acc_add[c] * norm) as f32;
                    }
                }
            }
        }
    }
    for &i in &sc.touched {
        let i = i as usize;
        let (m, a) = (sc.mul[i], sc.add[i]);
        for (c, v) in buf[i].iter_mut().enumerate() {
            *v = *v * (1.0 + m[c]) + a[c];
        }
        sc.mul[i] = [0.0; 3];
        sc.add[i] = [0.0; 3];
        sc.flag[i] = false;
    }
    sc.touched.clear();
}

fn hair_step_px(hair: &Hair, px_per_um: f64) -> f64 {
    if hair.points_um.len() < 2 {
        return 1.0;
    }
    let p = hair.points_um[0];
    let q = hair.points_um[1];
    ((q[0] - p[0]).hypot(q[1] - p[1]) * px_per_um).max(1e-6)
}

/// Arc length (µm) from emergence to sample `i` (samples are equally spaced
/// except the last).
fn arc_at(hair: &Hair, i: usize) -> f64 {
    let n = hair.points_um.len();
    if i + 1 >= n {
        return hair.length_um;
    }
    if n < 2 {
        return 0.0;
    }
    let p = hair.points_um[0];
    let q = hair.points_um[1];
    (q[0] - p[0]).hypot(q[1] - p[1]) * i as f64
}

fn bisector(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    let s = [a[0] + b[0], a[1] + b[1]];
    let l = s[0].hypot(s[1]);
    if l < 1e-9 {
        b
    } else {
        [s[0] / l, s[1] / l]
    }
}

/// Separable Gaussian blur with clamped borders, rows in parallel.
fn gaussian_blur(src: &[[f32; 3]], w: usize, h: usize, sigma: f64) -> Vec<[f32; 3]> {
    let rad = (3.0 * sigma).ceil() as isize;
    let mut kernel: Vec<f32> = (-rad..=rad)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32)
        .collect();
    let sum: f32 = kernel.iter().sum();
    for k in kernel.iter_mut() {
        *k /= sum;
    }
    let mut tmp = vec![[0.0f32; 3]; w * h];
    tmp.par_chunks_mut(ROWS_PER_TASK * w)
        .enumerate()
        .for_each(|(chunk, rows)| {
            for (r, row) in rows.chunks_mut(w).enumerate() {
                let y = chunk * ROWS_PER_TASK + r;
                let srow = &src[y * w..(y + 1) * w];
                for (x, o) in row.iter_mut().enumerate() {
                    let mut acc = [0.0f32; 3];
                    for (ki, kv) in kernel.iter().enumerate() {
                        let xx = (x as isize + ki as isize - rad).clamp(0, w as isize - 1) as usize;
                        for c in 0..3 {
                            acc[c] += kv * srow[xx][c];
                        }
                    }
                    *o = acc;
                }
            }
        });
    let mut out = vec![[0.0f32; 3]; w * h];
    out.par_chunks_mut(ROWS_PER_TASK * w)
        .enumerate()
        .for_each(|(chunk, rows)| {
            for (r, row) in rows.chunks_mut(w).enumerate() {
                let y = (chunk * ROWS_PER_TASK + r) as isize;
                for (ki, kv) in kernel.iter().enumerate() {
                    let yy = (y + ki as isize - rad).clamp(0, h as isize - 1) as usize;
                    let srow = &tmp[yy * w..(yy + 1) * w];
                    for (o, s) in row.iter_mut().zip(srow) {
                        for c in 0..3 {
                            o[c] += kv * s[c];
                        }
                    }
                }
            }
        });
    out
}

/// Applies the camera's lighting and Poisson–Gaussian sensor noise (drawn per
/// row from a sub-seeded generator, so independent of thread scheduling) and
/// quantises to 8-bit sRGB.
pub(crate) fn expose(buf: &[[f32; 3]], view: &View, sensor: &Sensor) -> RgbImage {
    let w = view.width as usize;
    let h = view.height as usize;
    let mut img = RgbImage::new(view.width, view.height);
    let enc = SrgbEncoder::new();
    let light = view.light;
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let half_diag2 = cx * cx + cy * cy;
    let out: &mut [u8] = &mut img;
    out.par_chunks_mut(ROWS_PER_TASK * w * 3)
        .enumerate()
        .for_each(|(chunk, rows)| {
            for (r, row) in rows.chunks_mut(w * 3).enumerate() {
                let y = chunk * ROWS_PER_TASK + r;
                let mut rng = ChaCha8Rng::seed_from_u64(rng::sub_seed(view.noise_seed, y as u64));
                let yf = y as f64 + 0.5 - cy;
                for x in 0..w {
                    let xf = x as f64 + 0.5 - cx;
                    let grad = 1.0 + light.gradient[0] * xf / cx + light.gradient[1] * yf / cy;
                    let vig = 1.0 - light.vignetting * (xf * xf + yf * yf) / half_diag2;
                    let gain = (light.exposure * grad * vig).max(0.02);
                    let src = buf[y * w + x];
                    for c in 0..3 {
                        let v = (f64::from(src[c]) * gain * light.white_balance[c]).max(0.0);
                        let sd =
                            (sensor.shot_noise * v + sensor.read_noise * sensor.read_noise).sqrt();
                        let z: f64 = StandardNormal.sample(&mut rng);
                        let noisy = if sd > 0.0 { v + sd * z } else { v };
                        row[x * 3 + c] = enc.encode(noisy as f32);
                    }
                }
            }
        });
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_preserves_a_constant_image() {
        let src = vec![[0.5f32, 0.25, 0.125]; 40 * 30];
        let out = gaussian_blur(&src, 40, 30, 1.3);
        for p in out {
            assert!((p[0] - 0.5).abs() < 1e-5 && (p[2] - 0.125).abs() < 1e-5);
        }
    }

    #[test]
    fn view_round_trips() {
        let a = 0.1f64;
        let v = View {
            width: 10,
            height: 10,
            m: [
                [a.cos() / 3.0, -a.sin() / 3.0],
                [a.sin() / 3.0, a.cos() / 3.0],
            ],
            t: [4.0, -2.0],
            light: Lighting {
                exposure: 1.0,
                gradient: [0.0; 2],
                vignetting: 0.0,
                white_balance: [1.0; 3],
            },
            noise_seed: 0,
        };
        let p = [123.0, -45.0];
        let q = v.to_um(v.to_px(p));
        assert!((q[0] - p[0]).abs() < 1e-9 && (q[1] - p[1]).abs() < 1e-9);
        assert!((v.um_per_px() - 3.0).abs() < 1e-12);
    }
}
