//! The generator's truth checked against its own pixels, independently of the
//! rendering code: widths from intensity profiles, polarity of white and dark
//! hair, counting convention, pair geometry, determinism, and parameter errors.

use image::RgbImage;
use trichometry::synth::truth::{DistractorKind, HairColour, TruthHair};
use trichometry::synth::{
    hair_optics, render, render_pair, srgb_to_linear, ColourMix, PairChange, Scenario, SceneParams,
};
use trichometry::{ClassLimits, Error, ThicknessClass};

/// Linear-light value of channel `c` at a real position (bilinear between pixel centres).
fn sample(img: &RgbImage, x: f64, y: f64, c: usize) -> f64 {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let fx = x - 0.5;
    let fy = y - 0.5;
    let x0 = fx.floor();
    let y0 = fy.floor();
    let (tx, ty) = (fx - x0, fy - y0);
    let px = |i: i64, j: i64| {
        let i = i.clamp(0, w - 1) as u32;
        let j = j.clamp(0, h - 1) as u32;
        srgb_to_linear(f64::from(img.get_pixel(i, j)[c]) / 255.0)
    };
    let (i, j) = (x0 as i64, y0 as i64);
    let top = px(i, j) * (1.0 - tx) + px(i + 1, j) * tx;
    let bot = px(i, j + 1) * (1.0 - tx) + px(i + 1, j + 1) * tx;
    top * (1.0 - ty) + bot * ty
}

fn luminance(img: &RgbImage, x: f64, y: f64) -> f64 {
    0.2126 * sample(img, x, y, 0) + 0.7152 * sample(img, x, y, 1) + 0.0722 * sample(img, x, y, 2)
}

fn dist_to_polyline(p: [f64; 2], line: &[[f64; 2]]) -> f64 {
    let mut best = f64::INFINITY;
    for s in line.windows(2) {
        let (a, b) = (s[0], s[1]);
        let d = [b[0] - a[0], b[1] - a[1]];
        let l2 = d[0] * d[0] + d[1] * d[1];
        let t = if l2 > 0.0 {
            (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / l2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        best = best.min((p[0] - a[0] - t * d[0]).hypot(p[1] - a[1] - t * d[1]));
    }
    best
}

/// Distance from `p` to the nearest hair other than `skip`.
fn dist_to_others(p: [f64; 2], hairs: &[TruthHair], skip: usize) -> f64 {
    hairs
        .iter()
        .filter(|h| h.id != skip)
        .map(|h| dist_to_polyline(p, &h.centerline_px))
        .fold(f64::INFINITY, f64::min)
}

fn inside(img: &RgbImage, p: [f64; 2], margin: f64) -> bool {
    p[0] > margin
        && p[1] > margin
        && p[0] < f64::from(img.width()) - margin
        && p[1] < f64::from(img.height()) - margin
}

/// A clean scene: straight dark single hairs, no blur, noise, texture, gloss or
/// lighting variation, so the profile across a shaft is the optics alone.
fn clean_params() -> SceneParams {
    SceneParams {
        hair_colours: ColourMix {
            dark: 1.0,
            brown: 0.0,
            blond: 0.0,
            grey: 0.0,
            white: 0.0,
        },
        follicular_units_per_cm2: 30.0,
        empty_unit_fraction: 0.0,
        hairs_per_unit: [1.0, 0.0, 0.0, 0.0],
        clipped_length_um: [900.0, 1500.0],
        curvature_sd_per_mm: 0.0,
        curvature_walk_per_mm: 0.0,
        pigment_variation: 0.0,
        gloss: 0.0,
        skin_texture: 0.0,
        perifollicular_pigmentation: 0.0,
        pores_per_cm2: 0.0,
        furrows_per_cm2: 0.0,
        flakes: 0,
        vessels: 0,
        blur_sigma_px: 0.0,
        shot_noise: 0.0,
        read_noise: 0.0,
        illumination_gradient: 0.0,
        vignetting: 0.0,
        exposure_jitter: 0.0,
        ..SceneParams::default()
    }
}

/// ∫ (1 − T(d)) dd across a cylinder of radius `r_px` with absorption `k_per_um`.
fn predicted_opacity_area_px(r_px: f64, k_per_um: f64, um_per_px: f64) -> f64 {
    let n = 2000;
    let mut s = 0.0;
    for i in 0..n {
        let d = -r_px + (i as f64 + 0.5) * 2.0 * r_px / n as f64;
        let chord_um = 2.0 * (r_px * r_px - d * d).max(0.0).sqrt() * um_per_px;
        s += 1.0 - (-k_per_um * chord_um).exp();
    }
    s * 2.0 * r_px / n as f64
}

#[test]
fn profile_across_a_dark_hair_gives_its_width() {
    let p = clean_params();
    let k_green = hair_optics(HairColour::Dark).absorption_per_um[1];
    let mut checked = 0;
    for seed in 0..6 {
        let s = render(&p, seed).unwrap();
        let img = &s.image;
        let upp = s.truth.um_per_px;
        for h in &s.truth.hairs {
            let n = h.centerline_px.len();
            let mid = h.centerline_px[n / 2];
            let a = h.centerline_px[n / 2 - 2];
            let b = h.centerline_px[n / 2 + 2];
            let t = [b[0] - a[0], b[1] - a[1]];
            let tl = t[0].hypot(t[1]);
            let nrm = [-t[1] / tl, t[0] / tl];
            let r_px = h.width_um / 2.0 / upp;
            let reach = r_px + 5.0;
            if !inside(img, mid, reach + 2.0)
                || dist_to_others(mid, &s.truth.hairs, h.id) < 2.0 * reach
            {
                continue;
            }
            // Opacity profile along the normal, skin level from both ends.
            let at = |d: f64| sample(img, mid[0] + d * nrm[0], mid[1] + d * nrm[1], 1);
            let skin = (at(-reach) + at(-reach + 1.0) + at(reach) + at(reach - 1.0)) / 4.0;
            let step = 0.05;
            let mut area = 0.0;
            let mut above_half = 0.0;
            let mut d = -reach;
            while d <= reach {
                let opacity = 1.0 - at(d) / skin;
                area += opacity * step;
                if opacity > 0.5 {
                    above_half += step;
                }
                d += step;
            }
            // Solve the Beer–Lambert model for the radius that explains the area.
            let (mut lo, mut hi) = (0.05, 60.0);
            for _ in 0..60 {
                let m = 0.5 * (lo + hi);
                if predicted_opacity_area_px(m, k_green, upp) < area {
                    lo = m;
                } else {
                    hi = m;
                }
            }
            let width_est_px = lo + hi;
            let width_px = 2.0 * r_px;
            assert!(
                (width_est_px - width_px).abs() < 0.2,
                "seed {seed} hair {}: profile width {width_est_px:.3} px, truth {width_px:.3} px",
                h.id
            );
            if h.width_um >= 40.0 {
                // An opaque shaft: its half-opacity width is its diameter within 1 px.
                assert!(
                    (above_half - width_px).abs() < 1.0,
                    "seed {seed} hair {}: FWHM {above_half:.2} px, truth {width_px:.2} px",
                    h.id
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} hairs checked");
}

#[test]
fn same_seed_same_bytes_different_seed_different() {
    let p = Scenario::ClippedDark.params();
    let a = render(&p, 11).unwrap();
    let b = render(&p, 11).unwrap();
    let c = render(&p, 12).unwrap();
    assert_eq!(a.image.as_raw(), b.image.as_raw());
    assert_eq!(a.truth, b.truth);
    assert_ne!(a.image.as_raw(), c.image.as_raw());
}

#[test]
fn same_bytes_on_any_thread_count() {
    let p = Scenario::LongCrossing.params();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| render(&p, 5).unwrap())
    };
    let one = run(1);
    for threads in [2, 3, 4] {
        let other = run(threads);
        assert_eq!(
            one.image.as_raw(),
            other.image.as_raw(),
            "{threads} threads"
        );
        assert_eq!(one.truth, other.truth);
    }
}

#[test]
fn adding_a_distractor_does_not_reshuffle_the_hairs() {
    let p = Scenario::ClippedDark.params();
    let q = SceneParams {
        vessels: 5,
        flakes: 7,
        ..p.clone()
    };
    let a = render(&p, 21).unwrap();
    let b = render(&q, 21).unwrap();
    assert_eq!(a.truth.hairs, b.truth.hairs);
    assert_eq!(a.truth.follicular_units, b.truth.follicular_units);
}

#[test]
fn counting_convention_and_summary() {
    for sc in Scenario::all() {
        if *sc == Scenario::Pair {
            continue;
        }
        let p = sc.params();
        for seed in [1, 2] {
            let s = render(&p, seed).unwrap();
            let t = &s.truth;
            let (w, h) = (f64::from(t.image.width), f64::from(t.image.height));
            let area = w * h * t.um_per_px * t.um_per_px / 1e8;
            assert!((t.field_area_cm2 - area).abs() < 1e-12);
            let mut counted = 0;
            for hr in &t.hairs {
                let e = hr.emergence_px;
                let inside = e[0] >= 0.0 && e[1] >= 0.0 && e[0] < w && e[1] < h;
                assert_eq!(
                    hr.emergence_in_field,
                    inside,
                    "{} hair {}",
                    sc.name(),
                    hr.id
                );
                assert_eq!(hr.centerline_px[0], hr.emergence_px);
                assert_eq!(*hr.centerline_px.last().unwrap(), hr.tip_px);
                for seg in hr.centerline_px.windows(2) {
                    let d = (seg[1][0] - seg[0][0]).hypot(seg[1][1] - seg[0][1]);
                    assert!(d <= 1.0 + 1e-9, "samples {d} px apart");
                }
                assert!(hr.visible_length_um <= hr.length_um + 1e-6);
                counted += usize::from(inside);
            }
            assert_eq!(t.summary.hair_count, counted);
            assert!((t.summary.density_per_cm2 - counted as f64 / area).abs() < 1e-9);
            let hist_hairs: usize = t.summary.follicular_unit_histogram.iter().sum();
            assert_eq!(hist_hairs, t.summary.follicular_units);
            if counted > 0 {
                let f = t.summary.vellus_fraction
                    + t.summary.intermediate_fraction
                    + t.summary.terminal_fraction;
                assert!((f - 1.0).abs() < 1e-9);
                let cum: f64 = t
                    .hairs
                    .iter()
                    .filter(|h| h.emergence_in_field)
                    .map(|h| h.width_um / 1000.0)
                    .sum::<f64>()
                    / area;
                assert!((t.summary.cumulative_thickness_mm_per_cm2 - cum).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn long_hairs_enter_from_outside_the_field() {
    let s = render(&Scenario::LongCrossing.params(), 3).unwrap();
    let entering = s
        .truth
        .hairs
        .iter()
        .filter(|h| !h.emergence_in_field && h.visible_length_um > 0.0)
        .count();
    let leaving = s
        .truth
        .hairs
        .iter()
        .filter(|h| h.emergence_in_field && h.visible_length_um < h.length_um - 1.0)
        .count();
    assert!(entering >= 3, "{entering} hairs enter from outside");
    assert!(leaving >= 3, "{leaving} hairs leave the field");
}

#[test]
fn every_scenario_renders_with_its_size_and_class_ranges() {
    let limits = ClassLimits::default();
    for sc in Scenario::all() {
        let mut p = sc.params();
        p.width_px = 300;
        p.height_px = 200;
        if *sc == Scenario::Pair {
            let pair = render_pair(&p, &PairChange::default(), 4).unwrap();
            assert_eq!(pair.followup.image.dimensions(), (300, 200));
            continue;
        }
        let s = render(&p, 4).unwrap();
        assert_eq!(s.image.dimensions(), (300, 200), "{}", sc.name());
        for h in &s.truth.hairs {
            assert_eq!(h.class, limits.classify(h.width_um));
            let range = match h.class {
                ThicknessClass::Vellus => p.vellus_width_um,
                ThicknessClass::Intermediate => p.intermediate_width_um,
                ThicknessClass::Terminal => p.terminal_width_um,
            };
            assert!(
                h.width_um >= range[0] && h.width_um <= range[1],
                "{}",
                h.width_um
            );
        }
    }
}

#[test]
fn bald_scene_has_no_hair_but_distractors() {
    let s = render(&Scenario::BaldVessels.params(), 8).unwrap();
    assert!(s.truth.hairs.is_empty());
    assert_eq!(s.truth.summary.hair_count, 0);
    let has = |k: DistractorKind| s.truth.distractors.iter().any(|d| d.kind == k);
    assert!(has(DistractorKind::Vessel));
    assert!(has(DistractorKind::Flake));
    assert!(has(DistractorKind::Furrow));
    // Openings are there (pigmented, empty).
    assert!(s.truth.follicular_units.iter().any(|u| u.in_field));
}

/// Median luminance along the interior of each hair of `colour` and beside it.
fn hair_and_skin_levels(colour: HairColour, scenario: Scenario, seeds: &[u64]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for &seed in seeds {
        let s = render(&scenario.params(), seed).unwrap();
        let img = &s.image;
        let upp = s.truth.um_per_px;
        for h in s
            .truth
            .hairs
            .iter()
            .filter(|h| h.colour == colour && h.width_um >= 35.0)
        {
            let r = h.width_um / 2.0 / upp;
            let n = h.centerline_px.len();
            let mut on = Vec::new();
            let mut off = Vec::new();
            let skip = (200.0 / upp) as usize;
            for i in (skip..n.saturating_sub(skip)).step_by(5) {
                let p = h.centerline_px[i];
                let q = h.centerline_px[(i + 1).min(n - 1)];
                let t = [q[0] - p[0], q[1] - p[1]];
                let tl = t[0].hypot(t[1]).max(1e-9);
                let nrm = [-t[1] / tl, t[0] / tl];
                let side = r + 8.0;
                if !inside(img, p, side + 2.0)
                    || dist_to_others(p, &s.truth.hairs, h.id) < side + r + 10.0
                {
                    continue;
                }
                on.push(luminance(img, p[0], p[1]));
                off.push(luminance(img, p[0] + side * nrm[0], p[1] + side * nrm[1]));
                off.push(luminance(img, p[0] - side * nrm[0], p[1] - side * nrm[1]));
            }
            if on.len() >= 4 {
                on.sort_by(f64::total_cmp);
                off.sort_by(f64::total_cmp);
                out.push((on[on.len() / 2], off[off.len() / 2]));
            }
        }
    }
    out
}

#[test]
fn white_hair_is_brighter_than_skin_and_dark_hair_darker() {
    let white = hair_and_skin_levels(HairColour::White, Scenario::ClippedWhite, &[1, 2, 3, 4]);
    assert!(white.len() >= 5, "{} white hairs", white.len());
    for (hair, skin) in &white {
        assert!(hair > skin, "white hair {hair:.3} vs skin {skin:.3}");
    }
    let dark = hair_and_skin_levels(HairColour::Dark, Scenario::ClippedDark, &[1, 2, 3]);
    assert!(dark.len() >= 5, "{} dark hairs", dark.len());
    for (hair, skin) in &dark {
        assert!(*hair < 0.5 * skin, "dark hair {hair:.3} vs skin {skin:.3}");
    }
}

#[test]
fn pair_transform_maps_baseline_emergence_to_followup() {
    let p = Scenario::Pair.params();
    for seed in [1, 2, 3] {
        let pair = render_pair(&p, &PairChange::default(), seed).unwrap();
        let t = &pair.truth;
        let (w, h) = (t.baseline.image.width, t.baseline.image.height);
        assert_eq!(t.followup_to_baseline.len(), t.followup.hairs.len());
        let mut matched = 0;
        for (fid, b) in t.followup_to_baseline.iter().enumerate() {
            let f = &t.followup.hairs[fid];
            match b {
                Some(bid) => {
                    let bh = &t.baseline.hairs[*bid];
                    let q = t.transform.apply(bh.emergence_px, w, h);
                    assert!(
                        (q[0] - f.emergence_px[0]).abs() < 1e-6
                            && (q[1] - f.emergence_px[1]).abs() < 1e-6,
                        "seed {seed}: {q:?} vs {:?}",
                        f.emergence_px
                    );
                    assert!(f.width_um >= bh.width_um);
                    matched += 1;
                }
                None => assert!(t.new_followup_ids.contains(&fid)),
            }
        }
        assert!(matched > 5);
        for lid in &t.lost_baseline_ids {
            assert!(!t.followup_to_baseline.contains(&Some(*lid)));
        }
        for fid in &t.thickened_followup_ids {
            let bid = t.followup_to_baseline[*fid].unwrap();
            assert!(t.followup.hairs[*fid].width_um - t.baseline.hairs[bid].width_um >= 5.0 - 1e-9);
        }
        // The transform stays within the stated limits.
        assert!(t.transform.dx_px.abs() <= 0.1 * f64::from(w) + 1e-9);
        assert!(t.transform.rotation_deg.abs() <= 5.0 + 1e-9);
        assert!(t.overlap_area_cm2 > 0.5 * t.baseline.field_area_cm2);
        assert!(t.overlap_area_cm2 <= t.baseline.field_area_cm2 + 1e-12);
        // The follow-up really is a different photo.
        assert_ne!(pair.baseline.image.as_raw(), pair.followup.image.as_raw());
    }
}

#[test]
fn pair_without_change_has_no_true_change() {
    let p = Scenario::Pair.params();
    let pair = render_pair(&p, &PairChange::none(), 9).unwrap();
    let t = &pair.truth;
    assert!(t.lost_baseline_ids.is_empty());
    assert!(t.new_followup_ids.is_empty());
    assert!(t.thickened_followup_ids.is_empty());
    assert_eq!(t.density_change_per_cm2, 0.0);
    assert_eq!(t.mean_width_change_um, 0.0);
    assert_eq!(t.baseline.hairs.len(), t.followup.hairs.len());
}

#[test]
fn jpeg_image_equals_the_written_file_and_truth_round_trips() {
    let dir = std::env::temp_dir().join(format!("trichometry-synth-{}", std::process::id()));
    let s = render(&Scenario::ClippedJpeg.params(), 2).unwrap();
    s.write(&dir, "jpeg").unwrap();
    let back = image::open(dir.join("jpeg.jpg")).unwrap().to_rgb8();
    assert_eq!(back.as_raw(), s.image.as_raw());
    let p = render(&Scenario::ClippedDark.params(), 2).unwrap();
    p.write(&dir, "png").unwrap();
    let back = image::open(dir.join("png.png")).unwrap().to_rgb8();
    assert_eq!(back.as_raw(), p.image.as_raw());
    let json = std::fs::read_to_string(dir.join("png.json")).unwrap();
    let truth: trichometry::synth::Truth = serde_json::from_str(&json).unwrap();
    // serde_json parses floats to within 1 ULP (exact only with its
    // `float_roundtrip` feature): compare with a tolerance.
    assert_eq!(truth.hairs.len(), p.truth.hairs.len());
    assert_eq!(truth.summary.hair_count, p.truth.summary.hair_count);
    for (a, b) in truth.hairs.iter().zip(&p.truth.hairs) {
        assert_eq!(a.centerline_px.len(), b.centerline_px.len());
        assert!((a.width_um - b.width_um).abs() < 1e-9);
        assert!((a.emergence_px[0] - b.emergence_px[0]).abs() < 1e-9);
        assert_eq!(a.emergence_in_field, b.emergence_in_field);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_params_are_errors_not_panics() {
    let ok = Scenario::ClippedDark.params();
    let bad: Vec<SceneParams> = vec![
        SceneParams {
            width_px: 0,
            ..ok.clone()
        },
        SceneParams {
            height_px: 3,
            ..ok.clone()
        },
        SceneParams {
            width_px: 100_000,
            height_px: 100_000,
            ..ok.clone()
        },
        SceneParams {
            um_per_px: f64::NAN,
            ..ok.clone()
        },
        SceneParams {
            um_per_px: -1.0,
            ..ok.clone()
        },
        SceneParams {
            hairs_per_unit: [0.5, 0.5, 0.5, 0.0],
            ..ok.clone()
        },
        SceneParams {
            class_mix: trichometry::synth::ClassMix {
                vellus: f64::NAN,
                intermediate: 0.5,
                terminal: 0.5,
            },
            ..ok.clone()
        },
        SceneParams {
            vellus_width_um: [30.0, 10.0],
            ..ok.clone()
        },
        SceneParams {
            clipped_length_um: [100.0, f64::INFINITY],
            ..ok.clone()
        },
        SceneParams {
            blur_sigma_px: -1.0,
            ..ok.clone()
        },
        SceneParams {
            jpeg_quality: Some(0),
            ..ok.clone()
        },
        SceneParams {
            follicular_units_per_cm2: 1e9,
            ..ok.clone()
        },
        SceneParams {
            skin_tone_range: [0.2, 1.5],
            ..ok.clone()
        },
        SceneParams {
            stream_angle_deg: Some(f64::NAN),
            ..ok.clone()
        },
    ];
    for (i, p) in bad.iter().enumerate() {
        assert!(render(p, 1).is_err(), "case {i} accepted");
        assert!(
            render_pair(p, &PairChange::default(), 1).is_err(),
            "pair case {i} accepted"
        );
    }
    let change = PairChange {
        lost_hair_fraction: 1.5,
        ..PairChange::default()
    };
    assert!(matches!(
        render_pair(&ok, &change, 1),
        Err(Error::InvalidParameter {
            name: "lost_hair_fraction",
            ..
        })
    ));
}

/// Render timings (run with `cargo test --test synth_truth timings -- --ignored --nocapture`).
#[test]
#[ignore]
fn timings() {
    for (sc, w, h) in [
        (Scenario::ClippedDark, 640, 512),
        (Scenario::LongCrossing, 640, 512),
        (Scenario::ClippedDark, 1280, 1024),
        (Scenario::LongCrossing, 1280, 1024),
    ] {
        let p = SceneParams {
            width_px: w,
            height_px: h,
            ..sc.params()
        };
        let _ = render(&p, 0).unwrap();
        let t0 = std::time::Instant::now();
        let n = 5;
        for seed in 0..n {
            let _ = render(&p, seed).unwrap();
        }
        println!(
            "{} {w}x{h}: {:.1} ms",
            sc.name(),
            t0.elapsed().as_secs_f64() * 1e3 / n as f64
        );
    }
    let p = Scenario::Pair.params();
    let t0 = std::time::Instant::now();
    let _ = render_pair(&p, &PairChange::default(), 0).unwrap();
    println!("pair 640x512: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
}
