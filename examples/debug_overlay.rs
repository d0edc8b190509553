//! Development aid: draws truth (green, emergence as a circle) and detected strands
//! (red, emergence as a cross) over a generated photo.
//! `cargo run --release --example debug_overlay -- SCENARIO SEED OUT.png [SCALE]`
mod common;
use image::{imageops, Rgb, RgbImage};
use imageproc::drawing::{draw_cross_mut, draw_hollow_circle_mut, draw_line_segment_mut};
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, Calibration, Params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: debug_overlay SCENARIO SEED OUT.png [SCALE]".into());
    }
    let scenario = Scenario::from_name(&args[0])?;
    let seed: u64 = args[1].parse()?;
    let k: u32 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let mut scene = scenario.params();
    common::camera_from_env(&mut scene)?;
    let synth = render(&scene, seed)?;
    let cal = Calibration::new(synth.truth.um_per_px)?;
    let a = analyze(
        &image::DynamicImage::ImageRgb8(synth.image.clone()),
        &cal,
        &Params::default(),
    )?;
    let mut img: RgbImage = imageops::resize(
        &synth.image,
        synth.image.width() * k,
        synth.image.height() * k,
        imageops::FilterType::Nearest,
    );
    let kf = k as f32;
    let green = Rgb([0, 255, 0]);
    for h in &synth.truth.hairs {
        for w in h.centerline_px.windows(2) {
            draw_line_segment_mut(
                &mut img,
                (w[0][0] as f32 * kf, w[0][1] as f32 * kf),
                (w[1][0] as f32 * kf, w[1][1] as f32 * kf),
                green,
            );
        }
        let e = h.emergence_px;
        draw_hollow_circle_mut(
            &mut img,
            ((e[0] as f32 * kf) as i32, (e[1] as f32 * kf) as i32),
            6,
            green,
        );
    }
    for s in &a.strands {
        let col = if s.count_weight > 0.0 {
            Rgb([255, 0, 0])
        } else {
            Rgb([255, 0, 255])
        };
        for w in s.centerline.windows(2) {
            draw_line_segment_mut(
                &mut img,
                (w[0][0] as f32 * kf + 1.0, w[0][1] as f32 * kf + 1.0),
                (w[1][0] as f32 * kf + 1.0, w[1][1] as f32 * kf + 1.0),
                col,
            );
        }
        if let Some(e) = s.emergence {
            draw_cross_mut(
                &mut img,
                Rgb([255, 255, 0]),
                (e[0] as f32 * kf) as i32,
                (e[1] as f32 * kf) as i32,
            );
        }
    }
    if let Ok(c) = std::env::var("CROP") {
        let v: Vec<u32> = c.split(',').map(|t| t.parse()).collect::<Result<_, _>>()?;
        if v.len() == 4 {
            img = imageops::crop_imm(&img, v[0] * k, v[1] * k, v[2] * k, v[3] * k).to_image();
        }
    }
    img.save(&args[2])?;
    Ok(())
}
