//! Stage 1: colour photo → linear-light planes and a hair-contrast channel.
//!
//! Photos are assumed sRGB-encoded (what cameras, phones and dermatoscopes write);
//! the transfer curve is undone so that the widths measured later are made in
//! linear light, where optical blur is a linear convolution and an opaque shaft
//! occludes exactly its own width. The contrast channel is the *absorbance*
//! `−ln(mean(R, G, B))`: multiplicative illumination (vignetting, a light gradient,
//! exposure) becomes an additive, slowly varying term that second-derivative
//! filters ignore, so no explicit flat-fielding is needed for detection, and a
//! hair's contrast reads the same in a dim corner and in the centre.
//!
//! The line detector reads it against the local skin level `skin`
//! ([`Background`]) and with a *specular floor* `f` = [`SPECULAR_FLOOR`]:
//! `−ln(mean/skin + f)`, zero on skin whatever the light. A shaft's surface reflects a few per cent of the light
//! whatever its pigment (the Fresnel reflectance of keratin, n ≈ 1.55, is 4.6 %
//! at normal incidence), so below about a tenth of the skin's level a pixel's
//! brightness tells the sheen and the noise on an opaque shaft, not how much it
//! absorbs. The bare logarithm expands exactly that range: the specular sheen
//! along a dark shaft, resolved at high magnification, became a valley as deep
//! as a gap between two shafts, and the detector traced the shaft's two dark
//! sides as two hairs (+12.6 % pooled count error on clipped dark hair at
//! 3 µm/px, +4.1 % with the floor). The floor is a fraction of the local skin
//! level, so it scales with the light as the shaft's own brightness does.
//!
//! Blond and red hair may have almost no contrast in that channel: pheomelanin
//! absorbs blue more than green, and the skin's haemoglobin absorbs green, so
//! such a shaft is darker than the skin in blue, lighter in green, and the mean
//! cancels the two. The *yellow* channel `R − G + B` (weights summing to one, so a
//! grey pixel keeps its level and skin stays positive) reads that difference as
//! darkness: a shaft yellower than the skin is dark there. [`ContrastChannel`]
//! names the channel a strand was found and is measured in.

use image::DynamicImage;
use rayon::prelude::*;

use crate::filter::{Bilinear, Plane, Sample, ROWS_PER_TASK};

/// Floor added before the logarithm: one step of a 12-bit sensor in linear light.
/// Keeps saturated-black pixels finite without compressing real dark detail.
const LINEAR_FLOOR: f32 = 1.0 / 4096.0;

/// Light a shaft reflects from its surface, as a fraction of the local skin
/// level, added before the logarithm of the detector's absorbance (see the
/// module docs): keratin's Fresnel reflectance (4.6 %) against the 30–50 %
/// diffuse reflectance of light skin. Chosen among 0.02–0.3 on validation
/// photos: 0.02 left the sheen's valley (the high-magnification overcount),
/// 0.3 merged touching dark shafts.
pub(crate) const SPECULAR_FLOOR: f32 = 0.1;

/// Linear-light red, green and blue of a photo.
#[derive(Clone, Debug)]
pub(crate) enum LinearRgb<'a> {
    /// An 8-bit RGB photo read through its 256-entry linearisation table: the
    /// values are the table's, computed where they are read, so no `f32` plane
    /// per channel (12 bytes per pixel) is held.
    Table {
        width: usize,
        height: usize,
        /// Interleaved R, G, B bytes, row-major.
        raw: &'a [u8],
        lut: Box<[f32; 256]>,
    },
    /// Any other pixel format, converted to one plane per channel in [0, 1].
    Planes([Plane; 3]),
}

impl LinearRgb<'_> {
    /// Width and height in pixels.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            LinearRgb::Table { width, height, .. } => (*width, *height),
            LinearRgb::Planes([r, ..]) => (r.width, r.height),
        }
    }

    /// Linear red, green and blue of pixel `i` (row-major index).
    #[inline]
    pub fn pixel(&self, i: usize) -> [f32; 3] {
        match self {
            LinearRgb::Table { raw, lut, .. } => [
                lut[usize::from(raw[3 * i])],
                lut[usize::from(raw[3 * i + 1])],
                lut[usize::from(raw[3 * i + 2])],
            ],
            LinearRgb::Planes([r, g, b]) => [r.data[i], g.data[i], b.data[i]],
        }
    }

    /// Red, green and blue sampled bilinearly at `(x, y)` (pixel centres at
    /// integer + 0.5, clamped to the image), the position computed once for the
    /// three.
    #[inline]
    pub fn sample_rgb(&self, x: f64, y: f64) -> [f32; 3] {
        match self {
            LinearRgb::Table {
                width,
                height,
                raw,
                lut,
            } => {
                let b = Bilinear::at(*width, *height, x, y);
                [0, 1, 2]
                    .map(|c| b.blend(|px, py| lut[usize::from(raw[3 * (py * width + px) + c])]))
            }
            LinearRgb::Planes(planes) => {
                let b = Bilinear::at(planes[0].width, planes[0].height, x, y);
                [0, 1, 2].map(|c| b.blend(|px, py| planes[c].at(px, py)))
            }
        }
    }
}

/// The linear-light channel a strand is found and measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContrastChannel {
    /// The mean of R, G and B: dark, grey and white hair.
    Mean,
    /// `R − G + B`: a shaft yellower than the skin (blond, red) is dark in it.
    Yellow,
}

/// Weights of R, G and B in [`ContrastChannel::Yellow`].
const YELLOW_WEIGHTS: [f32; 3] = [1.0, -1.0, 1.0];

/// Linear-light level of [`ContrastChannel::Yellow`], never below zero.
#[inline]
fn yellow([r, g, b]: [f32; 3]) -> f32 {
    (YELLOW_WEIGHTS[0] * r + YELLOW_WEIGHTS[1] * g + YELLOW_WEIGHTS[2] * b).max(0.0)
}

/// A strand's measuring plane: the stored mean, or the yellow channel computed
/// where it is sampled (no plane held for the few strands that need it).
#[derive(Clone, Copy, Debug)]
pub(crate) enum ContrastPlane<'a> {
    Mean(&'a Plane),
    Yellow(&'a LinearRgb<'a>),
}

impl ContrastPlane<'_> {
    /// Width and height in pixels.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            ContrastPlane::Mean(p) => (p.width, p.height),
            ContrastPlane::Yellow(rgb) => rgb.dims(),
        }
    }
}

impl Sample for ContrastPlane<'_> {
    #[inline]
    fn sample(&self, x: f64, y: f64) -> f32 {
        match self {
            ContrastPlane::Mean(p) => p.sample(x, y),
            // Bilinear sampling is linear, so the weighted sum of the channels'
            // samples is the sample of the weighted sum.
            ContrastPlane::Yellow(rgb) => {
                let s = rgb.sample_rgb(x, y);
                let v: f32 = (0..3).map(|c| YELLOW_WEIGHTS[c] * s[c]).sum();
                v.max(0.0)
            }
        }
    }
}

/// The planes every later stage reads.
#[derive(Clone, Debug)]
pub(crate) struct Prepared<'a> {
    /// Linear-light red, green and blue in [0, 1].
    pub rgb: LinearRgb<'a>,
    /// Linear-light mean of the three channels in [0, 1].
    pub mean: Plane,
}

impl Prepared<'_> {
    /// The plane a strand of `channel` is measured in.
    pub fn contrast(&self, channel: ContrastChannel) -> ContrastPlane<'_> {
        match channel {
            ContrastChannel::Mean => ContrastPlane::Mean(&self.mean),
            ContrastChannel::Yellow => ContrastPlane::Yellow(&self.rgb),
        }
    }

    /// Absorbance `−ln(mean + floor)`: hair darker than skin is a ridge
    /// (maximum). Made on demand: the registration of two photos reads it.
    pub fn absorbance(&self) -> Plane {
        let mut out = Plane::new(self.mean.width, self.mean.height);
        let chunk = ROWS_PER_TASK * self.mean.width.max(1);
        out.data
            .par_chunks_mut(chunk)
            .zip(self.mean.data.par_chunks(chunk))
            .for_each(|(o, m)| {
                for (o, &m) in o.iter_mut().zip(m) {
                    *o = -(m + LINEAR_FLOOR).ln();
                }
            });
        out
    }

    /// The line detector's absorbance against the local skin level `skin`,
    /// `−ln(mean/skin + f)` with the [`SPECULAR_FLOOR`] `f`: made on demand and
    /// dropped after the detector.
    pub fn detector_absorbance(&self, skin: &Background) -> Plane {
        let (width, height) = (self.mean.width, self.mean.height);
        let mut out = Plane::new(width, height);
        if width == 0 || height == 0 {
            return out;
        }
        let columns = skin.column_weights(width);
        let chunk = ROWS_PER_TASK * width;
        out.data
            .par_chunks_mut(chunk)
            .zip(self.mean.data.par_chunks(chunk))
            .enumerate()
            .for_each(|(c, (o, m))| {
                let mut level = Vec::with_capacity(width);
                for (r, (o, m)) in o.chunks_mut(width).zip(m.chunks(width)).enumerate() {
                    skin.row(c * ROWS_PER_TASK + r, &columns, &mut level);
                    for ((o, &m), &s) in o.iter_mut().zip(m).zip(&level) {
                        *o = -(m / s.max(LINEAR_FLOOR) + SPECULAR_FLOOR).ln();
                    }
                }
            });
        out
    }

    /// Absorbance of [`ContrastChannel::Yellow`], `−ln(R − G + B + floor)`, for the
    /// line detector: made on demand and dropped after it, like
    /// [`Self::detector_absorbance`].
    pub fn yellow_absorbance(&self) -> Plane {
        let (width, height) = self.rgb.dims();
        let mut out = Plane::new(width, height);
        let chunk = ROWS_PER_TASK * width.max(1);
        out.data
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(c, a)| {
                for (j, a) in a.iter_mut().enumerate() {
                    *a = -(yellow(self.rgb.pixel(c * chunk + j)) + LINEAR_FLOOR).ln();
                }
            });
        out
    }
}

/// sRGB transfer curve, inverse (encoded [0,1] → linear [0,1]).
#[inline]
pub(crate) fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// Converts any decoded image to the working planes.
///
/// `linearize` undoes the sRGB curve; pass `false` for images known to be
/// linear already (raw sensor exports).
pub(crate) fn prepare(image: &DynamicImage, linearize: bool) -> Prepared<'_> {
    let width = image.width() as usize;
    let height = image.height() as usize;
    let decode = |v: f32| if linearize { srgb_to_linear(v) } else { v };
    let rgb = match image {
        // 8-bit input (the common case) goes through a 256-entry table.
        DynamicImage::ImageRgb8(rgb) => {
            let mut lut = Box::new([0.0f32; 256]);
            for (v, l) in lut.iter_mut().enumerate() {
                *l = decode(v as f32 / 255.0);
            }
            LinearRgb::Table {
                width,
                height,
                raw: rgb.as_raw(),
                lut,
            }
        }
        _ => {
            let rgb = image.to_rgb32f();
            let raw = rgb.as_raw();
            let mut planes = [
                Plane::new(width, height),
                Plane::new(width, height),
                Plane::new(width, height),
            ];
            for (c, plane) in planes.iter_mut().enumerate() {
                for (i, o) in plane.data.iter_mut().enumerate() {
                    // NaN (missing data in a float image) reads as black:
                    // `clamp` would keep it and it would spread through every
                    // filter (#6).
                    let v = raw[i * 3 + c];
                    *o = decode(if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) });
                }
            }
            LinearRgb::Planes(planes)
        }
    };
    let mut mean = Plane::new(width, height);
    let chunk = ROWS_PER_TASK * width.max(1);
    mean.data
        .par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(c, m)| {
            for (j, m) in m.iter_mut().enumerate() {
                let [r, g, b] = rgb.pixel(c * chunk + j);
                *m = (r + g + b) / 3.0;
            }
        });
    Prepared { rgb, mean }
}

/// A coarse map of the skin's brightness: the median of the linear mean channel
/// over square blocks, sampled bilinearly between block centres. Hair covers a
/// minority of any block, so the median is the skin's level there, following
/// vignetting and uneven light.
///
/// Each axis is split into blocks of as nearly equal lengths as whole pixels
/// allow, laid out symmetrically about the photo's centre: a rotation or
/// mirroring of the photo lays the blocks of the map over the same pixels, so
/// the map turns with the photo.
#[derive(Clone, Debug)]
pub(crate) struct Background {
    cols: Blocks,
    rows: Blocks,
    level: Vec<f32>,
}

/// The blocks along one axis of the photo.
#[derive(Clone, Debug)]
struct Blocks {
    /// Pixel range of each block, in order.
    ranges: Vec<std::ops::Range<usize>>,
    /// Centre of each block (px; pixel centres at integer + ½).
    centres: Vec<f64>,
}

impl Blocks {
    /// An axis of `len` px in `n = ceil(len / block)` blocks between the edges
    /// `k·len/n`: pixel `p` lies in block `k` when its centre `p + ½` lies
    /// between the block's edges, in both blocks when on the edge between them
    /// (exact integer arithmetic). The edges lie symmetrically about the
    /// centre, so the mirrored pixel lies in the mirrored block.
    fn new(len: usize, block: usize) -> Self {
        let n = len.div_ceil(block).max(1);
        let (l, m) = (len as i64, n as i64);
        // Pixel p is in block k when 2k·len ≤ (2p + 1)·n ≤ 2(k + 1)·len.
        let ranges: Vec<std::ops::Range<usize>> = (0..m)
            .map(|k| {
                let start = (2 * k * l - m).div_euclid(2 * m)
                    + i64::from((2 * k * l - m).rem_euclid(2 * m) != 0);
                let end = (2 * (k + 1) * l - m).div_euclid(2 * m) + 1;
                start.clamp(0, l) as usize..end.clamp(0, l) as usize
            })
            .collect();
        let centres = ranges
            .iter()
            .map(|r| 0.5 * (r.start + r.end) as f64)
            .collect();
        Blocks { ranges, centres }
    }

    /// The two blocks whose centres bracket `x` (px) and the weight of the
    /// second; clamped to the first and last centres.
    fn bracket(&self, x: f64) -> (usize, usize, f64) {
        let c = &self.centres;
        let last = c.len() - 1;
        if last == 0 || x <= c[0] {
            return (0, 0, 0.0);
        }
        if x >= c[last] {
            return (last, last, 0.0);
        }
        let k = c.partition_point(|&v| v <= x) - 1;
        (k, k + 1, (x - c[k]) / (c[k + 1] - c[k]))
    }
}

impl Background {
    /// Block medians of `plane` over blocks of about `block`×`block` px.
    pub fn new(plane: &Plane, block: usize) -> Self {
        let block = block.max(2);
        let cols = Blocks::new(plane.width, block);
        let rows = Blocks::new(plane.height, block);
        let n_cols = cols.ranges.len();
        let level: Vec<f32> = (0..rows.ranges.len() * n_cols)
            .into_par_iter()
            .map(|b| {
                let (xs, ys) = (&cols.ranges[b % n_cols], &rows.ranges[b / n_cols]);
                let mut v: Vec<f32> = ys
                    .clone()
                    .flat_map(|y| xs.clone().map(move |x| (x, y)))
                    .map(|(x, y)| plane.at(x, y))
                    .collect();
                let mid = v.len() / 2;
                if v.is_empty() {
                    return 0.0;
                }
                *v.select_nth_unstable_by(mid, f32::total_cmp).1
            })
            .collect();
        Background { cols, rows, level }
    }

    /// Level of block column `c` in block row `r`.
    fn level(&self, c: usize, r: usize) -> f64 {
        f64::from(self.level[r * self.cols.ranges.len() + c])
    }

    /// Where each of `width` pixel centres lies between the block centres
    /// across the photo (see [`Self::row`]).
    pub fn column_weights(&self, width: usize) -> Vec<(usize, usize, f64)> {
        (0..width)
            .map(|x| self.cols.bracket(x as f64 + 0.5))
            .collect()
    }

    /// The skin level at the centres of row `y`'s pixels, into `out`
    /// (resized): [`Self::at`] at (`x` + ½, `y` + ½) for the `columns` of
    /// [`Self::column_weights`], the two block rows blended once for the row.
    pub fn row(&self, y: usize, columns: &[(usize, usize, f64)], out: &mut Vec<f32>) {
        let (r0, r1, ay) = self.rows.bracket(y as f64 + 0.5);
        let blended: Vec<f64> = (0..self.cols.ranges.len())
            .map(|c| self.level(c, r0) * (1.0 - ay) + self.level(c, r1) * ay)
            .collect();
        out.clear();
        out.extend(
            columns
                .iter()
                .map(|&(c0, c1, ax)| (blended[c0] * (1.0 - ax) + blended[c1] * ax) as f32),
        );
    }

    /// The skin level at pixel coordinates (`x`, `y`).
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let (c0, c1, ax) = self.cols.bracket(x);
        let (r0, r1, ay) = self.rows.bracket(y);
        let top = self.level(c0, r0) * (1.0 - ax) + self.level(c1, r0) * ax;
        let bottom = self.level(c0, r1) * (1.0 - ax) + self.level(c1, r1) * ax;
        top * (1.0 - ay) + bottom * ay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_ignores_a_thin_dark_line_and_follows_a_gradient() {
        let mut p = Plane::new(64, 64);
        for y in 0..64 {
            for x in 0..64 {
                p.data[y * 64 + x] = if x == 20 {
                    0.05
                } else {
                    0.2 + 0.004 * x as f32
                };
            }
        }
        let bg = Background::new(&p, 16);
        // Block centred at x = 24 holds the line at x = 20: the median ignores it.
        assert!((bg.at(24.0, 24.0) - (0.2 + 0.004 * 24.0)).abs() < 0.01);
        assert!(bg.at(56.0, 8.0) > bg.at(8.0, 8.0));
    }

    #[test]
    fn a_yellow_shaft_the_mean_cannot_see_is_dark_in_the_yellow_channel() {
        // Linear skin (0.60, 0.40, 0.30) and a yellower shaft (0.60, 0.45, 0.25):
        // the same mean, so no contrast there; R − G + B falls from 0.50 to 0.40.
        let skin = [0.60f32, 0.40, 0.30];
        let shaft = [0.60f32, 0.45, 0.25];
        let mut planes = [Plane::new(9, 3), Plane::new(9, 3), Plane::new(9, 3)];
        for (c, plane) in planes.iter_mut().enumerate() {
            for y in 0..3 {
                for x in 0..9 {
                    plane.data[y * 9 + x] = if x == 4 { shaft[c] } else { skin[c] };
                }
            }
        }
        let rgb = LinearRgb::Planes(planes);
        let (on, off) = (4 + 9, 9);
        let [sr, sg, sb] = skin;
        let mean_skin = (sr + sg + sb) / 3.0;
        for i in [on, off] {
            let [r, g, b] = rgb.pixel(i);
            assert!(((r + g + b) / 3.0 - mean_skin).abs() < 1e-6);
        }
        let prep = Prepared {
            mean: Plane::new(9, 3),
            rgb,
        };
        let a = prep.yellow_absorbance();
        assert!((a.data[off] - -(0.5f32 + LINEAR_FLOOR).ln()).abs() < 1e-5);
        assert!((a.data[on] - -(0.4f32 + LINEAR_FLOOR).ln()).abs() < 1e-5);
        // The measuring plane samples the same combination, bilinearly: halfway
        // between the shaft's pixel centre and the skin's, the level is halfway.
        let plane = prep.contrast(ContrastChannel::Yellow);
        assert!((plane.sample(4.5, 1.5) - 0.4).abs() < 1e-6);
        assert!((plane.sample(5.0, 1.5) - 0.45).abs() < 1e-6);
        assert!((plane.sample(0.5, 1.5) - 0.5).abs() < 1e-6);
        assert_eq!(plane.dims(), (9, 3));
    }

    #[test]
    fn the_detector_absorbance_is_flat_on_skin_and_floored_on_opaque_shafts() {
        // Skin lit from the left (0.2 to 0.6 across the photo, the same at any
        // exposure), one black column and one at a twentieth of the skin.
        let (w, h) = (96usize, 8usize);
        let skin = |x: usize| 0.2 + 0.4 * x as f32 / (w - 1) as f32;
        let mut mean = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                mean.data[y * w + x] = match x {
                    30 => 0.0,
                    70 => 0.05 * skin(x),
                    _ => skin(x),
                };
            }
        }
        let rgb = LinearRgb::Planes([mean.clone(), mean.clone(), mean.clone()]);
        let prep = Prepared { rgb, mean };
        let bg = Background::new(&prep.mean, 16);
        let a = prep.detector_absorbance(&bg);
        let on_skin = -(1.0 + SPECULAR_FLOOR).ln();
        for y in 0..h {
            // Between the first and last block centres (8 and 88 px).
            for x in [10, 20, 50, 85] {
                let v = a.at(x, y);
                assert!((v - on_skin).abs() < 0.01, "({x}, {y}): {v} on skin");
            }
            // Opaque: −ln f at most; a shaft at 5 % of the skin reads
            // −ln(0.05 + f) wherever the light falls.
            assert!((a.at(30, y) - -SPECULAR_FLOOR.ln()).abs() < 0.01);
            assert!((a.at(70, y) - -(0.05 + SPECULAR_FLOOR).ln()).abs() < 0.01);
        }
        // Row evaluation of the skin map agrees with the point lookup.
        let mut row = Vec::new();
        bg.row(3, &bg.column_weights(w), &mut row);
        for (x, v) in row.iter().enumerate() {
            assert!((f64::from(*v) - bg.at(x as f64 + 0.5, 3.5)).abs() < 1e-5);
        }
    }

    #[test]
    fn background_blocks_lie_symmetrically_about_the_centre() {
        for (len, block) in [
            (256usize, 67usize),
            (100, 16),
            (101, 16),
            (640, 67),
            (17, 16),
        ] {
            let b = Blocks::new(len, block);
            let n = b.ranges.len();
            assert_eq!(n, len.div_ceil(block));
            assert_eq!(b.ranges[0].start, 0);
            assert_eq!(b.ranges[n - 1].end, len);
            for k in 0..n {
                let (r, m) = (&b.ranges[k], &b.ranges[n - 1 - k]);
                assert_eq!(
                    (r.start, r.end),
                    (len - m.end, len - m.start),
                    "{len} px, block {k}"
                );
                assert!(r.len() + 1 >= len / n && r.len() <= len.div_ceil(n) + 1);
                // Adjacent blocks meet, sharing a pixel centred on their edge.
                if k + 1 < n {
                    let next = b.ranges[k + 1].start;
                    assert!(next == r.end || next + 1 == r.end, "{len} px, block {k}");
                }
            }
        }
        // A map of a mirrored plane is the mirrored map.
        let (w, h) = (101usize, 37usize);
        let mut p = Plane::new(w, h);
        let mut q = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let v = ((x * 31 + y * 17) % 23) as f32 / 23.0;
                p.data[y * w + x] = v;
                q.data[(h - 1 - y) * w + (w - 1 - x)] = v;
            }
        }
        let (bp, bq) = (Background::new(&p, 16), Background::new(&q, 16));
        for (x, y) in [(0.5, 0.5), (10.3, 20.7), (50.5, 18.5), (99.0, 3.0)] {
            let (a, b) = (bp.at(x, y), bq.at(w as f64 - x, h as f64 - y));
            assert!((a - b).abs() < 1e-9, "({x}, {y}): {a} vs {b}");
        }
    }

    #[test]
    fn srgb_curve_end_points_and_midtone() {
        assert_eq!(srgb_to_linear(0.0), 0.0);
        assert!((srgb_to_linear(1.0) - 1.0).abs() < 1e-6);
        // sRGB 0.5 is 21.4% linear light.
        assert!((srgb_to_linear(0.5) - 0.2140).abs() < 1e-3);
    }

    #[test]
    fn darker_pixel_has_higher_absorbance() {
        let img = image::RgbImage::from_fn(2, 1, |x, _| {
            if x == 0 {
                image::Rgb([200, 180, 170])
            } else {
                image::Rgb([40, 30, 30])
            }
        });
        let img = DynamicImage::ImageRgb8(img);
        let p = prepare(&img, true);
        assert!(p.absorbance().at(1, 0) > p.absorbance().at(0, 0));
        assert!(p.mean.at(0, 0) > p.mean.at(1, 0));
    }

    #[test]
    fn an_8_bit_photo_read_through_its_table_matches_the_same_photo_as_float_planes() {
        let img = image::RgbImage::from_fn(7, 5, |x, y| {
            image::Rgb([
                (37 * x + 11 * y) as u8,
                (200 - 23 * y) as u8,
                (9 * x * y) as u8,
            ])
        });
        let table = DynamicImage::ImageRgb8(img);
        let float = DynamicImage::ImageRgb32F(table.to_rgb32f());
        for linearize in [true, false] {
            let a = prepare(&table, linearize);
            let b = prepare(&float, linearize);
            assert!(matches!(a.rgb, LinearRgb::Table { .. }));
            assert!(matches!(b.rgb, LinearRgb::Planes(_)));
            for i in 0..35 {
                let (pa, pb) = (a.rgb.pixel(i), b.rgb.pixel(i));
                for c in 0..3 {
                    assert!((pa[c] - pb[c]).abs() < 1e-6, "pixel {i} channel {c}");
                }
                assert!((a.mean.data[i] - b.mean.data[i]).abs() < 1e-6);
                assert!((a.absorbance().data[i] - b.absorbance().data[i]).abs() < 1e-5);
            }
            // Bilinear samples, inside and clamped past the border.
            for (x, y) in [(0.2, 0.3), (3.7, 2.25), (6.9, 4.9), (-2.0, 9.0)] {
                let (ra, rb) = (a.rgb.sample_rgb(x, y), b.rgb.sample_rgb(x, y));
                for c in 0..3 {
                    let (sa, sb) = (ra[c], rb[c]);
                    assert!(
                        (sa - sb).abs() < 1e-6,
                        "({x}, {y}) channel {c}: {sa} vs {sb}"
                    );
                }
            }
        }
    }
}
