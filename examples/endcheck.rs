//! Where the count's emergences lie (development diagnostic):
//! `cargo run --release --example endcheck -- SCENARIO SEED...`
//!
//! Each counted strand is given to the true hair under most of its points (as in
//! the `unitcheck` example), and the point where the analysis says that hair
//! emerged is placed against the truth: at the hair's true emergence, at its tip,
//! more than 6 px off its centreline, on it where another true hair passes (a
//! crossing or a touching neighbour), or elsewhere along its shaft. The count
//! weight is summed per place, split by whether the hair emerges in the field
//! (IN) or outside it (OUT); "no emergence" is a strand counted with no end told.
//! `VERBOSE=1` lists every counted point. `UM_PER_PX` and `SIZE=WxH` set another
//! camera, as in the `tune` example.
mod common;
use common::{distance, hair_under};
use std::collections::BTreeMap;

use trichometry::synth::truth::{Truth, TruthHair};
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, Calibration, Params};

/// Distance (px) within which a counted point is at a true emergence or tip.
const AT_END_PX: f64 = 15.0;
/// Distance (px) beyond which a counted point is off its hair's centreline, and
/// within which it touches another hair's edge.
const NEAR_PX: f64 = 6.0;

/// Where `p`, said to be the emergence of true hair `h`, lies.
fn place(p: [f64; 2], h: &TruthHair, truth: &Truth) -> &'static str {
    let other_edge = truth
        .hairs
        .iter()
        .filter(|o| o.id != h.id)
        .map(|o| distance(&o.centerline_px, p) - 0.5 * o.width_um / truth.um_per_px)
        .fold(f64::INFINITY, f64::min);
    if distance(&[h.emergence_px], p) < AT_END_PX {
        "at its emergence"
    } else if distance(&[h.tip_px], p) < AT_END_PX {
        "at its tip"
    } else if distance(&h.centerline_px, p) > NEAR_PX {
        "off its centreline"
    } else if other_edge < NEAR_PX {
        "against another hair"
    } else {
        "along its shaft"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().ok_or("usage: endcheck SCENARIO SEED...")?;
    let scenario = Scenario::from_name(name)?;
    let verbose = std::env::var("VERBOSE").is_ok();
    let params = Params::default();
    let mut tally: BTreeMap<String, f64> = BTreeMap::new();
    let mut counted = 0.0;
    for seed in args[1..].iter().map(|s| s.parse::<u64>()) {
        let seed = seed?;
        let mut scene = scenario.params();
        common::camera_from_env(&mut scene)?;
        let synth = render(&scene, seed)?;
        let truth = &synth.truth;
        let cal = Calibration::new(truth.um_per_px)?;
        let analysis = analyze(&image::DynamicImage::ImageRgb8(synth.image), &cal, &params)?;
        for s in analysis.strands.iter().filter(|s| s.count_weight > 0.0) {
            counted += s.count_weight;
            let key = match hair_under(&s.centerline, truth) {
                None => "on no hair".to_string(),
                Some(h) => {
                    let hair = &truth.hairs[h];
                    let field = if hair.emergence_in_field {
                        "IN "
                    } else {
                        "OUT"
                    };
                    let at = s
                        .emergence
                        .map_or("no emergence", |p| place(p, hair, truth));
                    if verbose {
                        if let Some(p) = s.emergence {
                            println!(
                                "seed {seed}: {field} {at} at ({:.0}, {:.0}), width {:.0} µm, weight {}",
                                p[0], p[1], s.width_um, s.count_weight
                            );
                        }
                    }
                    format!("{field} {at}")
                }
            };
            *tally.entry(key).or_default() += s.count_weight;
        }
    }
    println!("{}: {counted:.0} counted", scenario.name());
    for (key, weight) in tally {
        println!("  {key:<28} {weight:>6.0}");
    }
    Ok(())
}
