//! Property tests (#6): invariance to rotation and mirroring, exact scaling
//! with the calibration, monotonicity in added hair, and independence of the
//! thread count. Pinned RNG seed (`RngSeed::Fixed(0)`) and few cases, so that
//! CI runs the same cases in seconds; failures are kept in
//! `proptest-regressions/`.

use image::DynamicImage;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use trichometry::synth::{render, render_pair, PairChange, Scenario};
use trichometry::{analyze, Analysis, Calibration, ClassLimits, Params};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0),
        ..ProptestConfig::default()
    }
}

/// A generated 256×256 photo (square, so that a quarter turn keeps the frame).
fn photo(scenario: Scenario, seed: u64) -> (DynamicImage, f64) {
    let (image, um, _) = photo_and_hairs(scenario, seed);
    (image, um)
}

/// [`photo`] and the centrelines of its true hairs (px).
fn photo_and_hairs(scenario: Scenario, seed: u64) -> (DynamicImage, f64, Vec<Vec<[f64; 2]>>) {
    let mut p = scenario.params();
    p.width_px = 256;
    p.height_px = 256;
    let s = render(&p, seed).unwrap();
    let hairs = s.truth.hairs.into_iter().map(|h| h.centerline_px).collect();
    (DynamicImage::ImageRgb8(s.image), p.um_per_px, hairs)
}

fn run(image: &DynamicImage, um_per_px: f64, params: &Params) -> Analysis {
    analyze(image, &Calibration::new(um_per_px).unwrap(), params).unwrap()
}

/// The eight symmetries of the square but the identity.
fn transformed(image: &DynamicImage, t: u8) -> DynamicImage {
    match t {
        0 => image.rotate90(),
        1 => image.rotate180(),
        2 => image.rotate270(),
        3 => image.fliph(),
        4 => image.flipv(),
        5 => image.rotate90().fliph(),
        _ => image.rotate270().fliph(),
    }
}

fn scenarios() -> impl Strategy<Value = Scenario> {
    prop_oneof![
        Just(Scenario::ClippedDark),
        Just(Scenario::ClippedWhite),
        Just(Scenario::Miniaturised),
        Just(Scenario::ClippedDarkSkin),
    ]
}

proptest! {
    #![proptest_config(config(8))]

    /// Tolerance: one hair, counted in the counting frame and scaled to the
    /// field as `hair_count` is. Detection is made of isotropic Gaussian filters and a
    /// symmetric border rule, so a symmetry of the pixel grid changes no
    /// strand's measurements beyond rounding; but the separable passes of a
    /// transposed photo run in the other order, and a strand at a threshold can
    /// flip. ClippedWhite seed 93 turned 90°: a faint white hair 40 px long is
    /// traced whole, and as two 19.9 px pieces (each just under the 120 µm
    /// minimum length) as rendered.
    #[test]
    fn rotating_or_mirroring_keeps_the_count(scenario in scenarios(), seed in 1u64..200, t in 0u8..7) {
        let (image, um) = photo(scenario, seed);
        let a = run(&image, um, &Params::default());
        let b = run(&transformed(&image, t), um, &Params::default());
        let one_hair = a.field_area_cm2 / a.count_frame_area_cm2();
        prop_assert!((a.hair_count - b.hair_count).abs() <= one_hair + 1e-9, "{} vs {}", a.hair_count, b.hair_count);
    }

    /// The reported figures are their definitions in physical units, at any
    /// calibration: density = count / area, area = w·h·(µm/px)²/10⁸, class
    /// densities = class counts / area, cumulative thickness = Σ widths / area.
    #[test]
    fn figures_follow_the_unit_definitions_at_any_calibration(seed in 1u64..200, um in 0.5f64..50.0) {
        let (image, _) = photo(Scenario::ClippedDark, seed);
        let a = run(&image, um, &Params::default());
        let area = 256.0 * 256.0 * um * um / 1e8;
        prop_assert!((a.field_area_cm2 - area).abs() <= 1e-12 * area);
        prop_assert!((a.density_per_cm2 - a.hair_count / area).abs() <= 1e-9 * (1.0 + a.density_per_cm2));
        let c = a.class_counts;
        let d = a.class_density_per_cm2;
        for (n, dn) in [(c.vellus, d.vellus), (c.intermediate, d.intermediate), (c.terminal, d.terminal)] {
            prop_assert!((dn - n / area).abs() <= 1e-9 * (1.0 + dn));
        }
        // The counting frame's hairs, scaled to the field by the areas.
        let frame = a.count_frame_area_cm2();
        let in_frame: f64 = a.strands.iter().map(|s| s.count_weight * s.frame_share).sum();
        prop_assert!((a.hair_count - in_frame * area / frame).abs() <= 1e-9 * (1.0 + a.hair_count));
        let sum: f64 = a.strands.iter().map(|s| s.count_weight * s.frame_share * s.width_um).sum();
        prop_assert!((a.cumulative_thickness_mm_per_cm2 - sum / 1000.0 / frame).abs() <= 1e-9 * (1.0 + sum));
        for s in &a.strands {
            let len_px: f64 = s.centerline.windows(2).map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1])).sum();
            // One point per pixel of length: the length in µm is within a pixel
            // or two of the polyline's, converted.
            prop_assert!((s.length_um - len_px * um).abs() <= 2.0 * um + 1e-9, "{} vs {}", s.length_um, len_px * um);
        }
    }

    /// Results are bit-identical with 1, 2 and 8 rayon threads (compared as the
    /// serialised JSON).
    #[test]
    fn results_are_bit_identical_for_1_2_and_8_threads(scenario in scenarios(), seed in 1u64..200) {
        let (image, um) = photo(scenario, seed);
        let json = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| serde_json::to_string(&run(&image, um, &Params::default())).unwrap())
        };
        let one = json(1);
        prop_assert_eq!(&one, &json(2));
        prop_assert_eq!(&one, &json(8));
    }

    /// Adding hair to a scalp does not lower the count. The follow-up of a
    /// generated pair with the camera held still, no loss, no thickening, no
    /// noise and no lighting change is the baseline plus the new hairs (and a
    /// white balance within 3 %, which the generator draws per photo; see the
    /// control test below).
    ///
    /// Tolerance: one hair. The optical blur is measured once per photo from its
    /// shafts, and every width is refitted with it, so a new hair moves every
    /// width a little; a strand at a threshold can then flip. Seed 199: a
    /// 124 µm strand (the minimum is 120 µm) counted in the baseline is not in
    /// the follow-up, whose blur estimate moved from 10.6 to 8.6 µm with the two
    /// new hairs.
    #[test]
    fn adding_hair_does_not_lower_the_count(seed in 1u64..200, new in 0.1f64..0.5) {
        let p = still_params();
        let still = PairChange {
            max_shift_frac: 0.0,
            max_rotation_deg: 0.0,
            max_scale_change: 0.0,
            new_hair_fraction: new,
            lost_hair_fraction: 0.0,
            thickened_fraction: 0.0,
            ..PairChange::none()
        };
        let pair = render_pair(&p, &still, seed).unwrap();
        prop_assume!(pair.followup.truth.hairs.len() > pair.baseline.truth.hairs.len());
        let a = run(&DynamicImage::ImageRgb8(pair.baseline.image.clone()), p.um_per_px, &Params::default());
        let b = run(&DynamicImage::ImageRgb8(pair.followup.image.clone()), p.um_per_px, &Params::default());
        // One hair of the counting frame, scaled to the field.
        let one = a.field_area_cm2 / a.count_frame_area_cm2();
        prop_assert!(b.hair_count >= a.hair_count - one, "{} hairs, then {} with {} more", a.hair_count, b.hair_count,
            pair.followup.truth.hairs.len() - pair.baseline.truth.hairs.len());
    }
}

/// A scene shot without noise, exposure jitter, light gradient or vignetting.
fn still_params() -> trichometry::synth::SceneParams {
    let mut p = Scenario::ClippedDark.params();
    p.width_px = 256;
    p.height_px = 256;
    p.shot_noise = 0.0;
    p.read_noise = 0.0;
    p.exposure_jitter = 0.0;
    p.illumination_gradient = 0.0;
    p.vignetting = 0.0;
    p
}

/// The control of `adding_hair_does_not_lower_the_count`: with no new hair, the
/// follow-up is the baseline with only its red and blue gains changed (the
/// generator's per-photo white balance, σ 2–3 %): green is identical pixel for
/// pixel, red and blue within 4 codes or 8 %. So what differs in that test is
/// the added hair.
#[test]
fn a_still_pair_without_change_is_one_photo_twice() {
    let p = still_params();
    let still = PairChange {
        max_shift_frac: 0.0,
        max_rotation_deg: 0.0,
        max_scale_change: 0.0,
        new_hair_fraction: 0.0,
        lost_hair_fraction: 0.0,
        thickened_fraction: 0.0,
        ..PairChange::none()
    };
    for seed in [3, 17] {
        let pair = render_pair(&p, &still, seed).unwrap();
        for (a, b) in pair
            .baseline
            .image
            .pixels()
            .zip(pair.followup.image.pixels())
        {
            assert_eq!(a[1], b[1], "green");
            for c in [0, 2] {
                let (x, y) = (f64::from(a[c]), f64::from(b[c]));
                assert!((x - y).abs() <= (0.08 * x).max(4.0), "{a:?} {b:?}");
            }
        }
    }
}

proptest! {
    #![proptest_config(config(6))]

    /// Doubling (or halving) the calibration together with every µm-denominated
    /// parameter leaves the pixel-domain analysis unchanged, so every figure
    /// scales exactly: widths and lengths by k, areas by k², densities by 1/k²,
    /// cumulative thickness by 1/k. k is a power of two, so every conversion is
    /// exact in floating point and the comparison is bit-for-bit.
    #[test]
    fn scaling_calibration_and_um_parameters_scales_every_figure(seed in 1u64..200, up in any::<bool>()) {
        let k = if up { 2.0 } else { 0.5 };
        let (image, um) = photo(Scenario::ClippedDark, seed);
        let p = Params::default();
        let scaled = Params {
            min_width_um: p.min_width_um * k,
            max_width_um: p.max_width_um * k,
            min_length_um: p.min_length_um * k,
            end_trim_um: p.end_trim_um * k,
            follicular_unit_radius_um: p.follicular_unit_radius_um * k,
            fade_min_um: p.fade_min_um * k,
            background_block_um: p.background_block_um * k,
            end_surround_um: p.end_surround_um * k,
            count_guard_um: p.count_guard_um * k,
            class_limits: ClassLimits {
                vellus_below_um: p.class_limits.vellus_below_um * k,
                terminal_from_um: p.class_limits.terminal_from_um * k,
            },
            ..p
        };
        let a = run(&image, um, &p);
        let b = run(&image, um * k, &scaled);
        prop_assert_eq!(a.strands.len(), b.strands.len());
        prop_assert_eq!(a.hair_count, b.hair_count);
        prop_assert_eq!(a.field_area_cm2 * k * k, b.field_area_cm2);
        prop_assert_eq!(a.density_per_cm2 / (k * k), b.density_per_cm2);
        prop_assert_eq!(a.mean_width_um * k, b.mean_width_um);
        prop_assert_eq!(a.median_width_um * k, b.median_width_um);
        prop_assert_eq!(a.width_cv, b.width_cv);
        prop_assert_eq!(a.cumulative_thickness_mm_per_cm2 / k, b.cumulative_thickness_mm_per_cm2);
        prop_assert_eq!(a.follicular_units, b.follicular_units);
        for (s, t) in a.strands.iter().zip(&b.strands) {
            prop_assert_eq!(&s.centerline, &t.centerline);
            prop_assert_eq!(s.width_um * k, t.width_um);
            prop_assert_eq!(s.length_um * k, t.length_um);
            prop_assert_eq!(s.class, t.class);
        }
    }
}

/// Where the symmetry `t` of [`transformed`] takes the point `p` (px, pixel
/// centres at +0.5) of a square photo of side `n` px.
fn map_point(t: u8, p: [f64; 2], n: f64) -> [f64; 2] {
    let [x, y] = p;
    match t {
        0 => [n - y, x],
        1 => [n - x, n - y],
        2 => [y, n - x],
        3 => [n - x, y],
        4 => [x, n - y],
        5 => [y, x],
        _ => [n - y, n - x],
    }
}

/// Tolerance: each counted hair found again at its place in the turned or
/// mirrored photo has its width within 1.5 µm (half the #3 width target of
/// 3 µm MAE), and most counted hairs are found again. The filters are
/// isotropic but not bit-for-bit equivariant (a transposed photo runs its
/// separable passes in the other order), so a strand at a threshold may be
/// traced whole in one orientation and in two short pieces in another: the
/// count may differ by one such strand (see `rotating_or_mirroring_keeps_the_count`),
/// and the median of a few widths with it; the width of one hair may not. A
/// width is the fit of the median cross-section over the shaft's middle, whose
/// noise grows as fewer sections enter it: under 300 µm of strand (a stub cut by
/// the border) the tolerance grows as √(300 µm ÷ length). Only strands on a
/// true hair (most of their points within 3 px of its centreline) are hairs:
/// a false strand (a flake's rim) has no cylinder profile, and its fitted width
/// drifts with the photo's blur estimate, which the few shafts of a small photo
/// set orientation by orientation. Nor are stubs that run out of the photo
/// (an end within 3 px of its edge) compared: the sections their width is read
/// from end where the trace stopped at the edge, which an orientation moves
/// (a 162 µm stub read 85 and 92 µm turned by 90°).
#[test]
fn rotating_or_mirroring_keeps_each_hairs_width() {
    let (mut matched, mut counted) = (0usize, 0usize);
    for seed in 1..=6 {
        let (image, um, hairs) = photo_and_hairs(Scenario::ClippedDark, seed);
        let on_a_hair = |line: &[[f64; 2]]| {
            hairs.iter().any(|h| {
                let near = line
                    .iter()
                    .filter(|p| h.iter().any(|q| (q[0] - p[0]).hypot(q[1] - p[1]) <= 3.0))
                    .count();
                2 * near > line.len()
            })
        };
        let at_edge = |line: &[[f64; 2]]| {
            [line[0], line[line.len() - 1]]
                .iter()
                .any(|p| p[0].min(p[1]) <= 3.0 || p[0].max(p[1]) >= 253.0)
        };
        let a = run(&image, um, &Params::default());
        for t in 0..7 {
            let b = run(&transformed(&image, t), um, &Params::default());
            for s in a.strands.iter().filter(|s| {
                s.count_weight > 0.0 && on_a_hair(&s.centerline) && !at_edge(&s.centerline)
            }) {
                counted += 1;
                let mid = map_point(t, s.centerline[s.centerline.len() / 2], 256.0);
                let near = |q: &[f64; 2]| (q[0] - mid[0]).hypot(q[1] - mid[1]) <= 2.0;
                let Some(twin) = b
                    .strands
                    .iter()
                    .find(|u| u.count_weight > 0.0 && u.centerline.iter().any(near))
                else {
                    continue;
                };
                matched += 1;
                let tolerance_um = 1.5 * (300.0 / s.length_um).max(1.0).sqrt();
                assert!(
                    (s.width_um - twin.width_um).abs() <= tolerance_um,
                    "seed {seed}, symmetry {t}, hair at {mid:?} ({} µm long): {} vs {} µm",
                    s.length_um,
                    s.width_um,
                    twin.width_um
                );
            }
        }
    }
    assert!(
        matched * 10 >= counted * 9,
        "{matched} of {counted} counted hairs found again"
    );
}
