//! Accuracy against generator ground truth, on seeds the pipeline was not tuned on.
//!
//! Tuning used seeds 1–5; these figures come from seeds 101–108 of each scenario.
//! The thresholds below are **regression guards at the level the pipeline reaches
//! today** (with some margin for the spread between seeds), not the project's
//! targets: the README's accuracy table gives both, and the gap between them.
//! Run `cargo test --release --test accuracy -- --nocapture` to print the figures.

use image::DynamicImage;
use trichometry::eval::score;
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, Calibration, Params};

const SEEDS: std::ops::RangeInclusive<u64> = 101..=108;

/// Pooled figures of one scenario over [`SEEDS`].
struct Card {
    median_abs_count_error_pct: f64,
    precision: f64,
    recall: f64,
    width_median_abs_error_um: f64,
    /// Mean |width error| over the matched hairs (µm): #3's "width MAE".
    width_mae_um: f64,
    false_hairs_per_cm2: f64,
    /// Mean over the photos of `Score::emergence_precision`.
    emergence_precision: f64,
    /// Mean over the photos of `Score::emergence_recall`.
    emergence_recall: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn card(scenario: Scenario) -> Card {
    let params = Params::default();
    let (mut count_err, mut width_err) = (Vec::new(), Vec::new());
    let (mut matched, mut detected, mut recalled, mut detectable) = (0, 0, 0, 0);
    let (mut false_hairs, mut area) = (0.0, 0.0);
    let (mut emergence_precision, mut emergence_recall) = (0.0, 0.0);
    for seed in SEEDS {
        let synth = render(&scenario.params(), seed).unwrap();
        let cal = Calibration::new(synth.truth.um_per_px).unwrap();
        let a = analyze(&DynamicImage::ImageRgb8(synth.image), &cal, &params).unwrap();
        let s = score(&a, &synth.truth, params.min_length_um);
        count_err.push(s.count_error_pct.abs());
        width_err.extend(s.width_pairs_um.iter().map(|p| (p[1] - p[0]).abs()));
        matched += s.matched_strands;
        detected += s.detected_strands;
        recalled += s.recalled_hairs;
        detectable += s.detectable_hairs;
        if s.true_count == 0.0 {
            false_hairs += a.hair_count;
        }
        area += a.field_area_cm2;
        emergence_precision += s.emergence_precision;
        emergence_recall += s.emergence_recall;
    }
    let photos = SEEDS.count() as f64;
    let width_mae_um = width_err.iter().fold(0.0, |a, e| a + e) / width_err.len().max(1) as f64;
    let card = Card {
        median_abs_count_error_pct: median(&mut count_err),
        precision: matched as f64 / detected.max(1) as f64,
        recall: recalled as f64 / detectable.max(1) as f64,
        width_median_abs_error_um: median(&mut width_err),
        width_mae_um,
        false_hairs_per_cm2: false_hairs / area,
        emergence_precision: emergence_precision / photos,
        emergence_recall: emergence_recall / photos,
    };
    eprintln!(
        "{}: median |count error| {:.1}%, precision {:.3}, recall {:.3}, median |width error| {:.2} µm, width MAE {:.2} µm, false hairs {:.1}/cm², emergence precision {:.2} recall {:.2}",
        scenario.name(),
        card.median_abs_count_error_pct,
        card.precision,
        card.recall,
        card.width_median_abs_error_um,
        card.width_mae_um,
        card.false_hairs_per_cm2,
        card.emergence_precision,
        card.emergence_recall
    );
    card
}

#[test]
fn clipped_dark_hair() {
    let c = card(Scenario::ClippedDark);
    assert!(
        c.median_abs_count_error_pct <= 30.0,
        "{}",
        c.median_abs_count_error_pct
    );
    assert!(c.precision >= 0.85, "{}", c.precision);
    assert!(c.recall >= 0.55, "{}", c.recall);
    assert!(c.emergence_precision >= 0.5, "{}", c.emergence_precision);
    assert!(c.emergence_recall >= 0.65, "{}", c.emergence_recall);
    assert!(
        c.width_median_abs_error_um <= 5.5,
        "{}",
        c.width_median_abs_error_um
    );
    // The mean is set by strands that hold two hairs side by side (8.75 µm
    // since a merged strand reports the width past its last step; 9.90 before).
    assert!(c.width_mae_um <= 11.0, "{}", c.width_mae_um);
}

#[test]
fn clipped_dark_hair_on_dark_skin() {
    let c = card(Scenario::ClippedDarkSkin);
    assert!(
        c.median_abs_count_error_pct <= 20.0,
        "{}",
        c.median_abs_count_error_pct
    );
    assert!(c.precision >= 0.85, "{}", c.precision);
    assert!(c.recall >= 0.6, "{}", c.recall);
}

#[test]
fn clipped_white_hair() {
    let c = card(Scenario::ClippedWhite);
    assert!(
        c.median_abs_count_error_pct <= 30.0,
        "{}",
        c.median_abs_count_error_pct
    );
    assert!(c.precision >= 0.75, "{}", c.precision);
    assert!(c.recall >= 0.5, "{}", c.recall);
}

#[test]
fn miniaturised_scalp() {
    let c = card(Scenario::Miniaturised);
    assert!(
        c.median_abs_count_error_pct <= 30.0,
        "{}",
        c.median_abs_count_error_pct
    );
    assert!(c.precision >= 0.75, "{}", c.precision);
    assert!(
        c.width_median_abs_error_um <= 3.0,
        "{}",
        c.width_median_abs_error_um
    );
    assert!(c.width_mae_um <= 4.5, "{}", c.width_mae_um);
}

#[test]
fn bald_scalp_with_vessels_flakes_and_furrows() {
    let c = card(Scenario::BaldVessels);
    // 4.7 /cm² on seeds 101-108 since a light ridge standing on a bright
    // patch is not a shaft (8.2 before; 10.5 before a light strand had to be
    // brighter than the skin). One false hair more over the eight photos adds
    // 1.06 /cm².
    assert!(c.false_hairs_per_cm2 <= 7.0, "{}", c.false_hairs_per_cm2);
}

#[test]
fn long_crossing_hair() {
    let c = card(Scenario::LongCrossing);
    // 78 % before a hair's pieces were linked through X crossings (62 % after);
    // 34 % since a strand leaving the photo has no end at the edge.
    assert!(
        c.median_abs_count_error_pct <= 50.0,
        "{}",
        c.median_abs_count_error_pct
    );
    assert!(c.precision >= 0.9, "{}", c.precision);
    // Shafts cover most of these photos: a noise level read from them hid
    // most shafts (recall 0.68, one photo 0.13).
    assert!(c.recall >= 0.8, "{}", c.recall);
}

#[test]
fn clipped_blond_hair() {
    let c = card(Scenario::ClippedBlond);
    // Many of these shafts have almost no contrast in the mean of R, G and B
    // (darker in blue, lighter in green): the yellow channel finds them
    // (recall 0.59 with the mean alone).
    assert!(c.recall >= 0.62, "{}", c.recall);
    assert!(c.precision >= 0.85, "{}", c.precision);
    // 21.8 % on seeds 101-108 since hairs parting from a sibling's opening
    // count (32.5 % before); 33.9 % since a light strand must be brighter than
    // the skin: the light fringes beside faint blond shafts had been counted in
    // their place (precision 0.938 -> 0.972, recall 0.656 -> 0.645), and the
    // count, short of the truth, lost them.
    assert!(
        c.median_abs_count_error_pct <= 40.0,
        "{}",
        c.median_abs_count_error_pct
    );
}
