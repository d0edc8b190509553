//! Stage 0: burned-in overlays.
//!
//! Frames exported by video dermatoscopes often carry graphics drawn into the
//! pixels: a header or footer bar with text (patient code, date,
//! magnification), and a scale bar with end ticks and a label. They are not
//! hairs and the skin under them is not seen, so:
//!
//! * a **bar** along an edge of the photo is left out of the field
//!   ([`field_of`]): the photo is analysed without it, the field area does not
//!   include it, and a hair cut by it is cut by the field's border (see
//!   [`crate::analyze`]'s counting rule);
//! * **graphics inside the field** (a scale bar, its ticks, its label) are
//!   filled in from the skin around them before the analysis.
//!
//! Both are told by what no camera records. A bar's lines hold one colour,
//! apart from its text, and it ends in a step across the whole photo from one
//! line to the next, which optical blur never leaves so sharp; a drawn line
//! holds one drawing colour to the level (every channel at full scale or at
//! none) along a row or a column, which sensor noise and skin's tint never do.
//!
//! Not handled: graphics drawn in black inside the field (dark shafts clip to
//! black as well), graphics that JPEG compression has moved off their colour,
//! and text written straight onto the skin in another colour.

use image::{DynamicImage, GenericImageView};
use serde::{Deserialize, Serialize};

/// The part of a photo analysed as skin (px): the photo without the bars
/// burned in along its edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width (px).
    pub width: u32,
    /// Height (px).
    pub height: u32,
}

impl FieldRect {
    /// The whole of a `width` × `height` photo.
    pub fn whole(width: u32, height: u32) -> Self {
        FieldRect {
            x: 0,
            y: 0,
            width,
            height,
        }
    }

    /// Whether `p` (px, continuous) lies inside, `margin` px clear of the edges.
    pub fn contains(&self, p: [f64; 2], margin: f64) -> bool {
        let (x0, y0) = (f64::from(self.x), f64::from(self.y));
        let (x1, y1) = (x0 + f64::from(self.width), y0 + f64::from(self.height));
        p[0] >= x0 + margin && p[1] >= y0 + margin && p[0] < x1 - margin && p[1] < y1 - margin
    }

    /// Whether this is the whole of a `width` × `height` photo.
    pub fn is_whole(&self, width: u32, height: u32) -> bool {
        *self == Self::whole(width, height)
    }
}

/// A colour channel within this many levels (of 255) of a bar's colour is that
/// colour: JPEG compression (quality 50) moves a flat bar's pixels by a few
/// levels, more next to its text.
const FLAT_TOLERANCE: u8 = 8;

/// The outermost line of a bar: this share of its pixels has the bar's colour.
/// (Smooth skin can too: what tells a bar is where it ends, below.)
const BAR_EDGE_FLAT_SHARE: f64 = 0.6;

/// A line further in continues the bar while this share of its pixels has the
/// bar's colour (the rest: its text).
const BAR_INNER_FLAT_SHARE: f64 = 0.35;

/// A bar ends in a hard step across the photo: between its last line and the
/// next, this share of the pixels change by at least [`BAR_STEP_LEVELS`] in some
/// channel. Photographed skin changes that much from one line to the next only
/// at the edges of shafts, a few per cent of a line; optical blur spreads even
/// those over several lines.
const BAR_STEP_SHARE: f64 = 0.5;

/// See [`BAR_STEP_SHARE`].
const BAR_STEP_LEVELS: u8 = 24;

/// A bar may hold this many lines in a row that keep less of its colour than
/// [`BAR_INNER_FLAT_SHARE`] (dense text, smeared by JPEG compression) but do
/// not end it in a step.
const MAX_WEAK_LINES: usize = 3;

/// Lines beyond a bar's last that are left out too: the anti-aliased or
/// JPEG-ringing edge between bar and photo.
const BAR_MARGIN_PX: u32 = 4;

/// A bar is at least this many lines deep (a single odd line at an edge is
/// left alone).
const MIN_BAR_LINES: u32 = 2;

/// Largest share of the photo's side the bars along one edge may take; a
/// photo that is "bar" beyond it (a flat test card, a blank frame) is left
/// whole, for the quality verdict to judge.
const MAX_BAR_SHARE: f64 = 0.4;

/// The field of `image`: the photo without the flat bars burned in along its
/// edges (all of it when there are none).
pub fn field_of(image: &DynamicImage) -> FieldRect {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return FieldRect::whole(w, h);
    }
    let limit_rows = (MAX_BAR_SHARE * f64::from(h)) as u32;
    let limit_cols = (MAX_BAR_SHARE * f64::from(w)) as u32;
    let row = |y: u32| (0..w).map(move |x| rgb_at(image, x, y));
    let col = |x: u32| (0..h).map(move |y| rgb_at(image, x, y));
    let top = bar_depth((0..limit_rows).map(row));
    let bottom = bar_depth((0..limit_rows).map(|k| row(h - 1 - k)));
    let left = bar_depth((0..limit_cols).map(col));
    let right = bar_depth((0..limit_cols).map(|k| col(w - 1 - k)));
    let (x0, x1) = (left, w.saturating_sub(right));
    let (y0, y1) = (top, h.saturating_sub(bottom));
    if x1 <= x0 || y1 <= y0 {
        return FieldRect::whole(w, h);
    }
    FieldRect {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    }
}

/// The pixel at `(x, y)` as 8-bit RGB.
fn rgb_at(image: &DynamicImage, x: u32, y: u32) -> [u8; 3] {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb.get_pixel(x, y).0,
        _ => {
            let [r, g, b, _] = image.get_pixel(x, y).0;
            [r, g, b]
        }
    }
}

/// Lines of the bar along one edge (0 when none), the margin included;
/// `lines` runs from the edge inwards. A bar is a run of lines from the edge,
/// the first of one colour ([`BAR_EDGE_FLAT_SHARE`]), the others keeping it
/// ([`BAR_INNER_FLAT_SHARE`]), that ends in a hard step to the photo
/// ([`BAR_STEP_SHARE`]).
fn bar_depth<L, P>(lines: L) -> u32
where
    L: Iterator<Item = P>,
    P: Iterator<Item = [u8; 3]>,
{
    let mut colour: Option<[u8; 3]> = None;
    let mut weak = 0usize;
    let (mut pixels, mut last): (Vec<[u8; 3]>, Vec<[u8; 3]>) = (Vec::new(), Vec::new());
    // `depth`: the lines before this one, all of the bar.
    for (depth, line) in (0u32..).zip(lines) {
        pixels.clear();
        pixels.extend(line);
        if pixels.is_empty() {
            return 0;
        }
        let c = match colour {
            Some(c) => c,
            None => {
                let c = median_colour(&pixels);
                if flat_share(&pixels, c) < BAR_EDGE_FLAT_SHARE {
                    return 0;
                }
                colour = Some(c);
                c
            }
        };
        if flat_share(&pixels, c) < BAR_INNER_FLAT_SHARE {
            let steps = pixels
                .iter()
                .zip(&last)
                .filter(|(a, b)| {
                    a.iter()
                        .zip(b.iter())
                        .any(|(u, v)| u.abs_diff(*v) >= BAR_STEP_LEVELS)
                })
                .count();
            if steps as f64 >= BAR_STEP_SHARE * pixels.len() as f64 {
                return if depth >= MIN_BAR_LINES {
                    depth + BAR_MARGIN_PX
                } else {
                    0
                };
            }
            // A line of dense text, or one that JPEG compression smeared.
            weak += 1;
            if weak > MAX_WEAK_LINES {
                return 0;
            }
        } else {
            weak = 0;
        }
        std::mem::swap(&mut pixels, &mut last);
    }
    // A "bar" that never ends within the lines given is the photo itself.
    0
}

/// Per-channel median of `pixels` (not empty).
fn median_colour(pixels: &[[u8; 3]]) -> [u8; 3] {
    let mut out = [0u8; 3];
    let mut counts = [0usize; 256];
    for (c, o) in out.iter_mut().enumerate() {
        counts.fill(0);
        for p in pixels {
            counts[usize::from(p[c])] += 1;
        }
        let half = pixels.len() / 2;
        let mut seen = 0;
        for (v, n) in counts.iter().enumerate() {
            seen += n;
            if seen > half {
                *o = v as u8;
                break;
            }
        }
    }
    out
}

/// Whether `p` is `c` within [`FLAT_TOLERANCE`] in every channel.
fn same_colour(p: [u8; 3], c: [u8; 3]) -> bool {
    p.iter()
        .zip(&c)
        .all(|(a, b)| a.abs_diff(*b) <= FLAT_TOLERANCE)
}

/// Share of `pixels` that are colour `c` ([`same_colour`]).
fn flat_share(pixels: &[[u8; 3]], c: [u8; 3]) -> f64 {
    pixels.iter().filter(|p| same_colour(**p, c)).count() as f64 / pixels.len().max(1) as f64
}

/// A channel at this level or above is at full scale, at 255 minus it or
/// below at none: the colours graphics are drawn in (white, yellow, green,
/// red…) have every channel at one or the other, and one at least at full
/// scale.
const FULL_LEVEL: u8 = 251;

/// Drawn pixels lie in runs, along a row or a column, of at least this many
/// pixels of one colour (to a level): a scale bar, its ticks, the strokes of
/// its label.
const MIN_DRAWN_RUN: usize = 6;

/// Times the drawn pixels take in the full-scale pixels near them: a label's
/// glyphs, each within a run's length of the next.
const MAX_GROWTH_STEPS: usize = 8;

/// Pixels of one run are within this many levels of its first in every
/// channel. (JPEG compression moves a drawn colour by more; loosened to 8
/// levels, with full scale from 240 and runs of 8, the runs took in bright
/// smooth skin of JPEG photos without graphics, and their counts moved.)
const RUN_TOLERANCE: u8 = 1;

/// How far (px) a drawn pixel looks for skin in each of the four directions
/// when it is filled in.
const FILL_REACH_PX: usize = 64;

/// `image` with the graphics drawn into it (a scale bar, its ticks and label)
/// filled in from the skin beside them, or `None` when it has none.
///
/// A drawn pixel is one of a run along a row or a column, at least
/// [`MIN_DRAWN_RUN`] long, of one drawing colour to the level (every channel
/// at full scale or at none, one at least at full: [`FULL_LEVEL`]); a
/// photographed shaft, flake or patch of bright skin keeps the noise of the
/// sensor and the tint of skin, except where the exposure clips it white, and
/// a clipped core filled in from its own flanks still reads as a shaft. The
/// runs and the pixel around them (anti-aliasing, JPEG ringing) are each
/// filled with the mean of the nearest other pixels up, down, left and
/// right, weighted by the inverse of their distance: a hair crossing a thin
/// bar runs on through it. Graphics drawn in black are left alone: dark
/// shafts clip to black too.
pub(crate) fn erase_drawn(image: &DynamicImage) -> Option<DynamicImage> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => std::borrow::Cow::Borrowed(rgb),
        _ => std::borrow::Cow::Owned(image.to_rgb8()),
    };
    let px = |x: usize, y: usize| rgb.get_pixel(x as u32, y as u32).0;
    // A drawing colour: each channel at full scale or none, one at least at
    // full scale (white, yellow, green, red…). Bright skin clips its red
    // channel, not the others.
    let full = |p: [u8; 3]| {
        p.iter().any(|&v| v >= FULL_LEVEL)
            && p.iter()
                .all(|&v| v >= FULL_LEVEL || v <= u8::MAX - FULL_LEVEL)
    };
    let alike = |a: [u8; 3], b: [u8; 3]| {
        a.iter()
            .zip(&b)
            .all(|(u, v)| u.abs_diff(*v) <= RUN_TOLERANCE)
    };
    let mut drawn = vec![false; w * h];
    let mut any = false;
    // Runs along rows (dy = 0) and along columns.
    for (outer, inner, along_x) in [(h, w, true), (w, h, false)] {
        for o in 0..outer {
            let at = |i: usize| if along_x { (i, o) } else { (o, i) };
            let mut i = 0;
            while i < inner {
                let (x, y) = at(i);
                let c = px(x, y);
                if !full(c) {
                    i += 1;
                    continue;
                }
                let mut j = i + 1;
                while j < inner && {
                    let (x, y) = at(j);
                    alike(px(x, y), c)
                } {
                    j += 1;
                }
                if j - i >= MIN_DRAWN_RUN {
                    for k in i..j {
                        let (x, y) = at(k);
                        drawn[y * w + x] = true;
                    }
                    any = true;
                }
                i = j;
            }
        }
    }
    if !any {
        return None;
    }
    // Full-scale pixels near drawn ones are of the same graphics (the dots
    // and short strokes of a label), and so on outwards.
    for _ in 0..MAX_GROWTH_STEPS {
        let near = box_dilate(&drawn, w, h, MIN_DRAWN_RUN);
        let mut grew = false;
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if near[i] && !drawn[i] && full(px(x, y)) {
                    drawn[i] = true;
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    // The pixel around each run too.
    let mut fill = drawn.clone();
    for y in 0..h {
        for x in 0..w {
            if drawn[y * w + x] {
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(w) {
                        fill[yy * w + xx] = true;
                    }
                }
            }
        }
    }
    let mut out = (*rgb).clone();
    for y in 0..h {
        for x in 0..w {
            if !fill[y * w + x] {
                continue;
            }
            let mut sum = [0.0f64; 3];
            let mut weight = 0.0;
            let steps: [(isize, isize); 4] = [(1, 0), (-1, 0), (0, 1), (0, -1)];
            for (sx, sy) in steps {
                for d in 1..=FILL_REACH_PX as isize {
                    let (xx, yy) = (x as isize + sx * d, y as isize + sy * d);
                    if xx < 0 || yy < 0 || xx >= w as isize || yy >= h as isize {
                        break;
                    }
                    let (xx, yy) = (xx as usize, yy as usize);
                    if !fill[yy * w + xx] {
                        let p = px(xx, yy);
                        let k = 1.0 / d as f64;
                        for (s, v) in sum.iter_mut().zip(p) {
                            *s += k * f64::from(v);
                        }
                        weight += k;
                        break;
                    }
                }
            }
            if weight > 0.0 {
                let p = sum.map(|s| (s / weight).round().clamp(0.0, 255.0) as u8);
                out.put_pixel(x as u32, y as u32, image::Rgb(p));
            }
        }
    }
    Some(DynamicImage::ImageRgb8(out))
}

/// `mask` (`w` × `h`) dilated by a square of half-side `r` px.
fn box_dilate(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let mut rows = vec![false; w * h];
    for y in 0..h {
        let line = &mask[y * w..(y + 1) * w];
        // Distance to the last set pixel, left to right and right to left.
        let mut last: Option<usize> = None;
        for x in 0..w {
            if line[x] {
                last = Some(x);
            }
            rows[y * w + x] = last.is_some_and(|l| x - l <= r);
        }
        last = None;
        for x in (0..w).rev() {
            if line[x] {
                last = Some(x);
            }
            if last.is_some_and(|l| l - x <= r) {
                rows[y * w + x] = true;
            }
        }
    }
    let mut out = vec![false; w * h];
    for x in 0..w {
        let mut last: Option<usize> = None;
        for y in 0..h {
            if rows[y * w + x] {
                last = Some(y);
            }
            out[y * w + x] = last.is_some_and(|l| y - l <= r);
        }
        last = None;
        for y in (0..h).rev() {
            if rows[y * w + x] {
                last = Some(y);
            }
            if last.is_some_and(|l| l - y <= r) {
                out[y * w + x] = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// A noisy, unevenly lit "skin" photo: no row or column of it is flat.
    fn skin(w: u32, h: u32) -> RgbImage {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        RgbImage::from_fn(w, h, |x, y| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state % 7) as f64 - 3.0;
            let shade =
                150.0 + 30.0 * (f64::from(x) / f64::from(w)) - 10.0 * (f64::from(y) / 100.0);
            let v = |k: f64| (shade * k + noise).clamp(0.0, 255.0) as u8;
            Rgb([v(1.0), v(0.8), v(0.7)])
        })
    }

    #[test]
    fn a_photo_without_bars_is_all_field() {
        let img = DynamicImage::ImageRgb8(skin(200, 120));
        assert_eq!(field_of(&img), FieldRect::whole(200, 120));
    }

    #[test]
    fn a_header_bar_with_text_and_a_side_bar_are_left_out() {
        let mut img = skin(200, 120);
        // A 14-row black header bar with white "text" blocks over 40 % of its
        // middle rows, and an 8-column grey bar on the right.
        for y in 0..14 {
            for x in 0..200 {
                let text = (4..10).contains(&y) && (x / 6) % 5 < 2;
                img.put_pixel(x, y, Rgb(if text { [255; 3] } else { [12, 12, 14] }));
            }
        }
        for y in 0..120 {
            for x in 192..200 {
                img.put_pixel(x, y, Rgb([90, 90, 90]));
            }
        }
        let field = field_of(&DynamicImage::ImageRgb8(img));
        assert_eq!(
            field,
            FieldRect {
                x: 0,
                y: 14 + BAR_MARGIN_PX,
                width: 192 - BAR_MARGIN_PX,
                height: 120 - 14 - BAR_MARGIN_PX,
            }
        );
    }

    #[test]
    fn a_flat_frame_is_left_whole() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 48, Rgb([200, 200, 200])));
        assert_eq!(field_of(&img), FieldRect::whole(64, 48));
    }

    #[test]
    fn a_drawn_scale_bar_is_filled_in_and_a_photo_without_one_is_left_alone() {
        let photo = skin(120, 80);
        let plain = DynamicImage::ImageRgb8(photo.clone());
        assert!(erase_drawn(&plain).is_none());
        let mut img = photo.clone();
        // A white bar 4 rows thick and a tick 3 columns wide.
        for x in 20..100 {
            for y in 40..44 {
                img.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        for y in 30..54 {
            for x in 98..101 {
                img.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        let Some(DynamicImage::ImageRgb8(out)) = erase_drawn(&DynamicImage::ImageRgb8(img)) else {
            panic!("the bar was not found");
        };
        // Every pixel is back within the skin's range of its neighbourhood,
        // and the skin away from the graphics is untouched.
        for y in 0..80 {
            for x in 0..120 {
                let (o, s) = (out.get_pixel(x, y).0, photo.get_pixel(x, y).0);
                let near = (18..103).contains(&x) && (28..56).contains(&y);
                if near {
                    assert!(
                        o.iter().zip(&s).all(|(a, b)| a.abs_diff(*b) <= 12),
                        "{x},{y}: {o:?} vs {s:?}"
                    );
                } else {
                    assert_eq!(o, s, "{x},{y}");
                }
            }
        }
    }
}
