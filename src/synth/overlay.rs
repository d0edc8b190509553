//! Burned-in graphics, as video dermatoscopes export them: a header bar with
//! text along the top edge and a 1 mm scale bar with end ticks and a label
//! near the bottom-right corner, drawn into the finished photo (sharp, flat
//! colour, no optics, no sensor noise).

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::overlay::FieldRect;

/// Colours header bars are drawn in.
const BAR_COLOURS: [[u8; 3]; 3] = [[16, 16, 16], [40, 44, 52], [0, 32, 96]];

/// Colours scale bars and their labels are drawn in.
const MARK_COLOURS: [[u8; 3]; 3] = [[255, 255, 255], [255, 255, 0], [0, 255, 0]];

/// Draws a header bar with text and a 1 mm scale bar with its label into
/// `image` (µm/px `um_per_px`), their colours and text drawn from `seed`.
/// Returns the field left below the bar: the skin a hair must emerge in to
/// count.
pub fn burn_in(image: &mut RgbImage, um_per_px: f64, seed: u64) -> FieldRect {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0b5e_55ed);
    let (w, h) = image.dimensions();
    let bar_h = (h / 20).max(12).min(h / 3);
    let bar = BAR_COLOURS[rng.random_range(0..BAR_COLOURS.len())];
    let mark = MARK_COLOURS[rng.random_range(0..MARK_COLOURS.len())];
    fill(image, 0, 0, w, bar_h, bar);
    // Text: a row of 5×7 block glyphs, each a random pattern.
    let cell = (bar_h / 10).max(1);
    let glyph_w = 6 * cell;
    let text_top = (bar_h - 7 * cell) / 2;
    let glyphs = (w / 2 / glyph_w).max(1);
    for g in 0..glyphs {
        if rng.random_bool(0.15) {
            continue; // a space
        }
        let x0 = cell * 2 + g * glyph_w;
        for gy in 0..7 {
            for gx in 0..5 {
                if rng.random_bool(0.45) {
                    fill(
                        image,
                        x0 + gx * cell,
                        text_top + gy * cell,
                        cell,
                        cell,
                        [255, 255, 255],
                    );
                }
            }
        }
    }
    // Scale bar: 1 mm, with ticks at both ends and a label above.
    let len = (1000.0 / um_per_px).round() as u32;
    let thick = (bar_h / 6).max(2);
    if len + 40 < w && bar_h + 60 < h {
        let (x0, y0) = (w - 20 - len, h - 20 - thick);
        fill(image, x0, y0, len, thick, mark);
        let tick = 4 * thick;
        fill(image, x0, y0 + thick / 2 - tick / 2, thick, tick, mark);
        fill(
            image,
            x0 + len - thick,
            y0 + thick / 2 - tick / 2,
            thick,
            tick,
            mark,
        );
        let lc = (thick / 2).max(1);
        let label_top = y0.saturating_sub(tick / 2 + 9 * lc);
        for g in 0..4 {
            let gx0 = x0 + len / 2 - 12 * lc + g * 6 * lc;
            for gy in 0..7 {
                for gx in 0..5 {
                    if rng.random_bool(0.45) {
                        fill(image, gx0 + gx * lc, label_top + gy * lc, lc, lc, mark);
                    }
                }
            }
        }
    }
    FieldRect {
        x: 0,
        y: bar_h,
        width: w,
        height: h - bar_h,
    }
}

/// Fills the rectangle at `(x, y)`, `w` × `h`, clipped to the image.
fn fill(image: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, colour: [u8; 3]) {
    let (iw, ih) = image.dimensions();
    for yy in y..(y + h).min(ih) {
        for xx in x..(x + w).min(iw) {
            image.put_pixel(xx, yy, Rgb(colour));
        }
    }
}
