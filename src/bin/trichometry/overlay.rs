//! The overlay drawn by `trichometry analyze --overlay`: each strand's centreline
//! coloured by thickness class, emergence points circled, a legend and the
//! headline figures.

use ab_glyph::FontRef;
use image::{DynamicImage, Rgb, RgbImage};
use imageproc::drawing::{
    draw_filled_rect_mut, draw_hollow_circle_mut, draw_line_segment_mut, draw_text_mut,
};
use imageproc::rect::Rect;
use trichometry::{Analysis, ThicknessClass};

/// DejaVu Sans Mono (Bitstream Vera licence, see `assets/DejaVuSansMono.LICENSE`).
static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSansMono.ttf");

const VELLUS: Rgb<u8> = Rgb([0, 220, 255]);
const INTERMEDIATE: Rgb<u8> = Rgb([255, 210, 0]);
const TERMINAL: Rgb<u8> = Rgb([255, 40, 160]);
const UNCOUNTED: Rgb<u8> = Rgb([150, 150, 150]);
const EMERGENCE: Rgb<u8> = Rgb([40, 255, 80]);

fn class_colour(c: ThicknessClass) -> Rgb<u8> {
    match c {
        ThicknessClass::Vellus => VELLUS,
        ThicknessClass::Intermediate => INTERMEDIATE,
        ThicknessClass::Terminal => TERMINAL,
    }
}

/// Draws `analysis` over `image`.
pub fn draw(image: &DynamicImage, analysis: &Analysis) -> RgbImage {
    let mut out = image.to_rgb8();
    for s in &analysis.strands {
        let colour = if s.count_weight > 0.0 {
            class_colour(s.class)
        } else {
            UNCOUNTED
        };
        for seg in s.centerline.windows(2) {
            draw_line_segment_mut(
                &mut out,
                (seg[0][0] as f32 - 0.5, seg[0][1] as f32 - 0.5),
                (seg[1][0] as f32 - 0.5, seg[1][1] as f32 - 0.5),
                colour,
            );
        }
        if let Some(e) = s.emergence {
            draw_hollow_circle_mut(&mut out, (e[0] as i32, e[1] as i32), 4, EMERGENCE);
        }
    }
    let Ok(font) = FontRef::try_from_slice(FONT) else {
        return out;
    };
    let scale = (out.height() as f32 / 40.0).clamp(10.0, 28.0);
    let line_h = (scale * 1.15) as i32;
    let lines: Vec<(String, Rgb<u8>)> = vec![
        (
            format!(
                "{:.1} hairs  {:.0} /cm2 [{:.0}-{:.0}]",
                analysis.hair_count,
                analysis.density_per_cm2,
                analysis.density_ci95_per_cm2[0],
                analysis.density_ci95_per_cm2[1]
            ),
            Rgb([255, 255, 255]),
        ),
        (
            format!(
                "width mean {:.1} um  median {:.1} um  CV {:.0}%",
                analysis.mean_width_um,
                analysis.median_width_um,
                100.0 * analysis.width_cv
            ),
            Rgb([255, 255, 255]),
        ),
        (
            format!("vellus <30um {:.0}%", 100.0 * analysis.vellus_fraction),
            VELLUS,
        ),
        (
            format!(
                "intermediate {:.0}%",
                100.0 * analysis.intermediate_fraction
            ),
            INTERMEDIATE,
        ),
        (
            format!("terminal >=40um {:.0}%", 100.0 * analysis.terminal_fraction),
            TERMINAL,
        ),
        ("o emergence   grey: not counted".to_string(), EMERGENCE),
    ];
    let box_w = (scale * 0.62 * 46.0) as u32;
    let box_h = (line_h * lines.len() as i32 + 8) as u32;
    let (w, h) = (box_w.min(out.width()), box_h.min(out.height()));
    draw_filled_rect_mut(&mut out, Rect::at(0, 0).of_size(w, h), Rgb([0, 0, 0]));
    for (k, (text, colour)) in lines.iter().enumerate() {
        draw_text_mut(
            &mut out,
            *colour,
            4,
            4 + k as i32 * line_h,
            scale,
            &font,
            text,
        );
    }
    out
}
