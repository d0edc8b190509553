//! Phototrichogram against generator truth (issue #7): clipped hair photographed,
//! then photographed again after the pair generator has grown the anagen hairs.
//! Seeds 230+ were never used for tuning.

use image::DynamicImage;
use trichometry::compare::Photo;
use trichometry::growth::{phototrichogram, GrowthParams};
use trichometry::register::register;
use trichometry::synth::{render_pair, PairChange, Scenario, SyntheticPair, Truth};
use trichometry::{analyze, Analysis, Calibration, Error, Params};

const DAYS: f64 = 3.0;

/// The truth hair whose centreline passes closest to the middle of `line`.
fn truth_hair(truth: &Truth, line: &[[f64; 2]]) -> Option<(usize, f64)> {
    let mid = line.get(line.len() / 2)?;
    truth
        .hairs
        .iter()
        .map(|h| {
            let d = h
                .centerline_px
                .iter()
                .map(|q| (q[0] - mid[0]).hypot(q[1] - mid[1]))
                .fold(f64::INFINITY, f64::min);
            (h.id, d)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// A clipped-hair pair three days apart, its photos and their analyses.
struct Grown {
    pair: SyntheticPair,
    bi: DynamicImage,
    fi: DynamicImage,
    ba: Analysis,
    fa: Analysis,
}

fn grown_pair(seed: u64) -> Grown {
    let mut p = Scenario::ClippedDark.params();
    // Clipped short, as for a phototrichogram.
    p.clipped_length_um = [400.0, 900.0];
    let change = PairChange {
        growth_days: DAYS,
        ..PairChange::none()
    };
    let pair = render_pair(&p, &change, seed).unwrap();
    let bi = DynamicImage::ImageRgb8(pair.baseline.image.clone());
    let fi = DynamicImage::ImageRgb8(pair.followup.image.clone());
    let cal = |u: f64| Calibration::new(u).unwrap();
    let ba = analyze(&bi, &cal(pair.truth.baseline.um_per_px), &Params::default()).unwrap();
    let fa = analyze(&fi, &cal(pair.truth.followup.um_per_px), &Params::default()).unwrap();
    Grown {
        pair,
        bi,
        fi,
        ba,
        fa,
    }
}

/// A phototrichogram's photos differ in most of their hair pixels (anagen hairs
/// lengthen by about 1 mm in three days). A pair must be either aligned within
/// 2 px or refused with a registration error, never registered wrongly.
#[test]
#[ignore = "not met: seed 234 is registered 11.8 px off (its aligned photos correlate at \
            0.35, above the 0.20 check); seeds 230, 232 and 233 are refused, 231 is \
            within 2 px. Seed 233 was registered 511 px off on 18 % of its field until \
            RegisterParams::min_overlap_fraction"]
fn grown_pairs_are_registered_right_or_refused() {
    for seed in 230..=237 {
        let Grown {
            pair,
            bi,
            fi,
            ba,
            fa,
        } = grown_pair(seed);
        let t = &pair.truth;
        match register(
            &ba,
            Some(&bi),
            &fa,
            Some(&fi),
            &GrowthParams::default().compare.register,
        ) {
            Ok(r) => {
                let err = t
                    .transform
                    .max_error_px(&r.transform, ba.image.width, ba.image.height);
                eprintln!("seed {seed}: registered, corner error {err:.2} px, correlation {:?}, overlap {:.4} cm2 of {:.4}", r.correlation, r.overlap_area_cm2, t.overlap_area_cm2);
                assert!(err <= 2.0, "seed {seed}: registered {err:.2} px off");
            }
            Err(Error::Registration { message }) => eprintln!("seed {seed}: refused: {message}"),
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
}

/// Each hair followed across the two photos grows by what the generator grew it
/// (µm of visible length over the days), and is in anagen exactly when the
/// generator grew it.
#[test]
#[ignore = "not met: the grown pairs are refused by registration (their aligned photos \
            correlate at 0.01-0.06); with the constellation alone (branch growth) the \
            followed hairs score a median growth error of 0.127 mm/day and a phase \
            agreement of 9 of 22 on seeds 230-232"]
fn phototrichogram_follows_the_generated_growth() {
    let (mut errors, mut agree, mut n) = (Vec::new(), 0usize, 0usize);
    for seed in [230, 231, 232] {
        let Grown {
            pair,
            bi,
            fi,
            ba,
            fa,
        } = grown_pair(seed);
        let t = &pair.truth;
        let g = phototrichogram(
            Photo {
                analysis: &ba,
                image: Some(&bi),
            },
            Photo {
                analysis: &fa,
                image: Some(&fi),
            },
            DAYS,
            &GrowthParams::default(),
        )
        .unwrap();
        for h in &g.hairs {
            let (Some((bid, db)), Some((fid, df))) = (
                truth_hair(&t.baseline, &ba.strands[h.baseline_strand].centerline),
                truth_hair(&t.followup, &fa.strands[h.followup_strand].centerline),
            ) else {
                continue;
            };
            // Only hairs whose strands lie on one truth hair, the same one.
            if db > 3.0 || df > 3.0 || t.followup_to_baseline[fid] != Some(bid) {
                continue;
            }
            let grew_um =
                t.followup.hairs[fid].visible_length_um - t.baseline.hairs[bid].visible_length_um;
            let truth_mm_per_day = grew_um / 1000.0 / DAYS;
            errors.push((h.growth_mm_per_day - truth_mm_per_day).abs());
            agree += usize::from(h.anagen == (grew_um > 0.0));
            n += 1;
        }
        eprintln!(
            "seed {seed}: {} hairs followed, anagen {} of {}",
            g.hairs.len(),
            g.phases.anagen,
            g.phases.anagen + g.phases.telogen
        );
    }
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    eprintln!(
        "{n} hairs scored: median |growth error| {median:.3} mm/day, p90 {:.3}, phase agrees on {agree}",
        errors[errors.len() * 9 / 10]
    );
    assert!(n >= 20, "only {n} followed hairs could be scored");
    assert!(median <= 0.03, "median growth error {median:.3} mm/day");
    assert!(
        agree as f64 >= 0.9 * n as f64,
        "phase agrees on {agree} of {n}"
    );
}
