//! Where the count goes, follicular unit by unit (development diagnostic):
//! `cargo run --release --example unitcheck -- SCENARIO SEED...`
//!
//! Each counted strand is given to the true hair whose centreline lies within
//! 3 px of most of its points; its count weight goes to that hair's follicular
//! unit, or to "emerged outside" when that hair emerges outside the field, or to
//! "on no hair" when no true hair lies under it. The table crosses the number
//! of hairs emerging in the field per unit (visible for at least the analysis'
//! minimum length) with the count its strands carry, summed over the seeds.
//! `UM_PER_PX` and `SIZE=WxH` set another camera, as in the `tune` example.
//! `VERBOSE=1` lists each under-counted unit, `VERBOSE=2` every unit: its true
//! hairs and the strands given to each.
mod common;
use common::hair_under;
use std::collections::BTreeMap;

use trichometry::synth::truth::Truth;
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, Analysis, Calibration, Params};

/// Which units to list, from `VERBOSE`: none (unset), the under-counted ones
/// (any value), or all (`2`).
#[derive(Default, PartialEq, Clone, Copy)]
enum Verbose {
    #[default]
    None,
    Under,
    All,
}

#[derive(Default)]
struct Tally {
    verbose: Verbose,
    /// (hairs in the unit, count carried rounded) → units.
    units: BTreeMap<(usize, i64), usize>,
    outside: f64,
    on_no_hair: f64,
    true_count: usize,
    counted: f64,
}

impl Tally {
    fn add(&mut self, analysis: &Analysis, truth: &Truth, min_length_um: f64) {
        let mut carried: BTreeMap<usize, f64> = BTreeMap::new();
        for s in analysis.strands.iter().filter(|s| s.count_weight > 0.0) {
            self.counted += s.count_weight;
            match hair_under(&s.centerline, truth) {
                None => self.on_no_hair += s.count_weight,
                Some(h) if !truth.hairs[h].emergence_in_field => self.outside += s.count_weight,
                Some(h) => {
                    *carried.entry(truth.hairs[h].follicular_unit).or_default() += s.count_weight
                }
            }
        }
        let mut size: BTreeMap<usize, usize> = BTreeMap::new();
        for h in &truth.hairs {
            if h.emergence_in_field && h.visible_length_um >= min_length_um {
                *size.entry(h.follicular_unit).or_default() += 1;
                self.true_count += 1;
            }
        }
        for (unit, n) in size {
            let got = carried.get(&unit).copied().unwrap_or(0.0).round() as i64;
            if self.verbose == Verbose::All || (self.verbose == Verbose::Under && got < n as i64) {
                describe(unit, n, got, analysis, truth, min_length_um);
            }
            *self.units.entry((n, got)).or_default() += 1;
        }
    }
}

/// One unit: its hairs (emergence, visible length, width, direction over the
/// first 20 px) and the strands given to each (width, length, count weight,
/// ends, emergence point).
fn describe(
    unit: usize,
    n: usize,
    got: i64,
    analysis: &Analysis,
    truth: &Truth,
    min_length_um: f64,
) {
    println!("unit {unit}: {n} hairs, counted {got}");
    for (i, h) in truth.hairs.iter().enumerate() {
        if h.follicular_unit != unit || !h.emergence_in_field || h.visible_length_um < min_length_um
        {
            continue;
        }
        let c = &h.centerline_px;
        let Some(k) = c.len().min(20).checked_sub(1) else {
            continue;
        };
        let dir = (c[k][1] - c[0][1]).atan2(c[k][0] - c[0][0]).to_degrees();
        println!(
            "  hair {i}: at ({:.0},{:.0}) len {:.0} um width {:.0} um dir {dir:.0}",
            h.emergence_px[0], h.emergence_px[1], h.visible_length_um, h.width_um
        );
        for s in &analysis.strands {
            if hair_under(&s.centerline, truth) == Some(i) {
                let (a, b) = (s.centerline[0], s.centerline[s.centerline.len() - 1]);
                println!(
                    "    strand {}: w {:.0} um len {:.0} um count {} ({:.0},{:.0})-({:.0},{:.0}) em {:?}",
                    s.id, s.width_um, s.length_um, s.count_weight, a[0], a[1], b[0], b[1],
                    s.emergence.map(|e| [e[0].round(), e[1].round()])
                );
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().ok_or("usage: unitcheck SCENARIO SEED...")?;
    let scenario = Scenario::from_name(name)?;
    let params = Params::default();
    let mut tally = Tally {
        verbose: match std::env::var("VERBOSE").as_deref() {
            Err(_) => Verbose::None,
            Ok("2") => Verbose::All,
            Ok(_) => Verbose::Under,
        },
        ..Tally::default()
    };
    for seed in args[1..].iter().map(|s| s.parse::<u64>()) {
        let mut scene = scenario.params();
        common::camera_from_env(&mut scene)?;
        let seed = seed?;
        if tally.verbose != Verbose::None {
            println!("seed {seed}");
        }
        let synth = render(&scene, seed)?;
        let cal = Calibration::new(synth.truth.um_per_px)?;
        let analysis = analyze(&image::DynamicImage::ImageRgb8(synth.image), &cal, &params)?;
        tally.add(&analysis, &synth.truth, params.min_length_um);
    }
    println!(
        "{}: {} true hairs, {:.1} counted; of the count, {:.1} on hairs emerging outside, {:.1} on no hair",
        scenario.name(),
        tally.true_count,
        tally.counted,
        tally.outside,
        tally.on_no_hair
    );
    println!("hairs in unit  counted  units");
    for ((n, got), units) in &tally.units {
        println!("{n:>13}  {got:>7}  {units:>5}");
    }
    Ok(())
}
