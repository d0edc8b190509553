//! Burned-in graphics (a header bar with text, a scale bar with ticks and a
//! label) do not change what is measured: generated photos with and without
//! them, on seeds the overlay handling was not tuned on (it was tuned on none:
//! its thresholds come from the flatness of drawn colour, measured on one
//! photo, seed 101 of clipped dark).
//!
//! Run `cargo test --release --test overlay -- --nocapture` to print the
//! figures.

use image::DynamicImage;
use trichometry::overlay::FieldRect;
use trichometry::synth::{burn_in, render, Scenario, Truth};
use trichometry::{analyze, Calibration, Params};

const SEEDS: std::ops::RangeInclusive<u64> = 501..=508;

/// Hairs of `truth` that emerge inside `rect` (the field with a bar burned in).
fn true_count_in(truth: &Truth, rect: FieldRect) -> f64 {
    let (x0, y0) = (f64::from(rect.x), f64::from(rect.y));
    let (x1, y1) = (x0 + f64::from(rect.width), y0 + f64::from(rect.height));
    truth
        .hairs
        .iter()
        .filter(|h| {
            let [x, y] = h.emergence_px;
            h.emergence_in_field && x >= x0 && x < x1 && y >= y0 && y < y1
        })
        .count() as f64
}

#[test]
fn burned_in_graphics_are_left_out_of_the_field_and_the_count() {
    let params = Params::default();
    let ignoring = Params {
        detect_overlays: false,
        ..Params::default()
    };
    let (mut err_plain, mut err_marked, mut moved, mut added_if_ignored) = (0.0, 0.0, 0.0, 0.0);
    for seed in SEEDS {
        let synth = render(&Scenario::ClippedDark.params(), seed).unwrap();
        let cal = Calibration::new(synth.truth.um_per_px).unwrap();
        let mut marked = synth.image.clone();
        let field = burn_in(&mut marked, synth.truth.um_per_px, seed);
        let plain = analyze(&DynamicImage::ImageRgb8(synth.image.clone()), &cal, &params).unwrap();
        assert_eq!(
            plain.field_px, None,
            "seed {seed}: a plain photo is all field"
        );
        let marked = DynamicImage::ImageRgb8(marked);
        let a = analyze(&marked, &cal, &params).unwrap();
        let b = analyze(&marked, &cal, &ignoring).unwrap();

        // The field is the photo below the bar, to the margin of its edge.
        let f = a.field_px.expect("the bar is found");
        assert_eq!((f.x, f.width), (0, field.width), "seed {seed}: {f:?}");
        assert!(
            (field.y..=field.y + 4).contains(&f.y),
            "seed {seed}: field from row {}, bar ends at {}",
            f.y,
            field.y
        );
        let area = f64::from(f.width) * f64::from(f.height) * synth.truth.um_per_px.powi(2) / 1e8;
        assert!((a.field_area_cm2 - area).abs() < 1e-12);
        // No counted strand lies on the bar.
        for s in a.strands.iter().filter(|s| s.count_weight > 0.0) {
            assert!(
                s.centerline.iter().all(|p| p[1] >= f64::from(f.y)),
                "seed {seed}: strand {} runs on the bar",
                s.id
            );
        }
        let (w, h) = (synth.truth.image.width, synth.truth.image.height);
        let truth_all = true_count_in(&synth.truth, FieldRect::whole(w, h));
        let truth_field = true_count_in(&synth.truth, field);
        // The plain photo's hairs that emerge in the field left by the bar.
        let plain_in_field: f64 = plain
            .strands
            .iter()
            .filter(|s| {
                s.emergence
                    .or_else(|| s.centerline.first().copied())
                    .is_some_and(|p| p[1] >= f64::from(f.y))
            })
            .map(|s| s.count_weight)
            .sum();
        err_plain += (plain.hair_count - truth_all).abs();
        err_marked += (a.hair_count - truth_field).abs();
        // Both as counted where the hairs emerged (the counting frames of the
        // two fields differ).
        let marked_raw: f64 = a.strands.iter().map(|s| s.count_weight).sum();
        moved += (marked_raw - plain_in_field).abs();
        added_if_ignored += b.hair_count - plain.hair_count;
        println!(
            "seed {seed}: true {truth_all} (in the field {truth_field}); plain {} ({plain_in_field} in the field); \
             marked {}; marked, graphics not handled {}",
            plain.hair_count, a.hair_count, b.hair_count
        );
    }
    println!(
        "sum |count error|: plain {err_plain}, marked {err_marked}; sum |marked - plain in the field| {moved}; \
         hairs added when the graphics are not handled {added_if_ignored}"
    );
    // With the graphics handled, the count is as good as on the plain photos,
    // and stays near the plain photo's count in the same field: 6 hairs apart
    // over the eight photos when this was written (+2, −1, −1, +2), where the
    // new border cuts hairs whose ends the count reads differently, and the
    // photo's blur and noise levels, read without the bar, move a little.
    // Not handled, the graphics add hairs (36 over the eight).
    assert!(err_marked <= err_plain + 1.0, "{err_marked} vs {err_plain}");
    assert!(moved <= 8.0, "{moved}");
    assert!(added_if_ignored >= 8.0, "{added_if_ignored}");
}

/// `image` through a JPEG file of `quality`, as a camera's export would be.
fn through_jpeg(image: &image::RgbImage, quality: u8) -> image::RgbImage {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgb8()
}

#[test]
fn a_bar_is_found_through_jpeg_compression() {
    for seed in 501..=504 {
        let synth = render(&Scenario::ClippedDark.params(), seed).unwrap();
        let cal = Calibration::new(synth.truth.um_per_px).unwrap();
        let mut marked = synth.image.clone();
        let field = burn_in(&mut marked, synth.truth.um_per_px, seed);
        for quality in [90, 70, 50] {
            let jpeg = DynamicImage::ImageRgb8(through_jpeg(&marked, quality));
            let a = analyze(&jpeg, &cal, &Params::default()).unwrap();
            let f = a.field_px.expect("the bar is found");
            assert!(
                (field.y..=field.y + 6).contains(&f.y) && f.x == 0 && f.width == field.width,
                "seed {seed}, quality {quality}: {f:?} for a bar ending at row {}",
                field.y
            );
        }
    }
}

#[test]
fn photos_without_graphics_are_analysed_whole_and_unchanged() {
    let off = Params {
        detect_overlays: false,
        ..Params::default()
    };
    for scenario in [
        Scenario::ClippedDark,
        Scenario::ClippedDarkSkin,
        Scenario::ClippedWhite,
        Scenario::ClippedBlond,
        Scenario::LongCrossing,
        Scenario::BaldVessels,
    ] {
        let synth = render(&scenario.params(), 501).unwrap();
        let cal = Calibration::new(synth.truth.um_per_px).unwrap();
        for img in [synth.image.clone(), through_jpeg(&synth.image, 50)] {
            let img = DynamicImage::ImageRgb8(img);
            let a = analyze(&img, &cal, &Params::default()).unwrap();
            assert_eq!(a.field_px, None, "{scenario:?}");
            assert_eq!(a, analyze(&img, &cal, &off).unwrap(), "{scenario:?}");
        }
    }
}

#[test]
fn a_burned_in_photo_s_truth_counts_the_field_below_the_bar() {
    for scenario in [Scenario::ClippedDark, Scenario::ClippedJpeg] {
        let plain = render(&scenario.params(), 601).unwrap();
        let mut s = plain.clone();
        s.burn_in_overlay().unwrap();
        let f = s.truth.field_px.expect("the truth gives the field");
        assert_eq!((f.x, f.width, f.y + f.height), (0, 640, 512));
        let area = f64::from(f.width) * f64::from(f.height) * s.truth.um_per_px.powi(2) / 1e8;
        assert!((s.truth.field_area_cm2 - area).abs() < 1e-15);
        // A hair counts when it emerges below the bar, and not otherwise.
        for (h, h0) in s.truth.hairs.iter().zip(&plain.truth.hairs) {
            let below = h.emergence_px[1] >= f64::from(f.y);
            assert_eq!(h.emergence_in_field, h0.emergence_in_field && below);
        }
        let n = s
            .truth
            .hairs
            .iter()
            .filter(|h| h.emergence_in_field)
            .count();
        assert_eq!(s.truth.summary.hair_count, n);
        // The bar is in the photo (and in the JPEG file's bytes).
        if let Some(bytes) = &s.jpeg_bytes {
            assert_eq!(image::load_from_memory(bytes).unwrap().to_rgb8(), s.image);
        }
        let bar_row: Vec<_> = (0..640).map(|x| s.image.get_pixel(x, 0).0).collect();
        assert_ne!(
            bar_row,
            (0..640)
                .map(|x| plain.image.get_pixel(x, 0).0)
                .collect::<Vec<_>>()
        );
        // The analysis finds the same field, to its margin.
        let a = analyze(
            &DynamicImage::ImageRgb8(s.image.clone()),
            &Calibration::new(s.truth.um_per_px).unwrap(),
            &Params::default(),
        )
        .unwrap();
        let af = a.field_px.expect("the bar is found");
        assert!((f.y..=f.y + 6).contains(&af.y), "{af:?} vs {f:?}");
    }
}
