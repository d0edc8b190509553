//! `trichometry synth`: write synthetic photos with their ground truth.

use std::path::PathBuf;

use clap::Args;
use trichometry::synth::{self, PairChange, Scenario};

/// Arguments of `trichometry synth`.
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Scenario name, or `all` for every scenario.
    #[arg(long)]
    scenario: String,
    /// Seed (the same seed gives the same bytes).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Image width (px); default: the scenario's.
    #[arg(long)]
    width: Option<u32>,
    /// Image height (px); default: the scenario's.
    #[arg(long)]
    height: Option<u32>,
    /// Calibration (µm/px); default: the scenario's.
    #[arg(long)]
    um_per_px: Option<f64>,
    /// Save as JPEG of this quality (1–100) instead of the scenario's format.
    #[arg(long)]
    jpeg_quality: Option<u8>,
    /// Burn a header bar with text and a 1 mm scale bar into the photo, as a
    /// dermatoscope's export does (the truth counts the field below the bar;
    /// single-photo scenarios only).
    #[arg(long)]
    burn_in: bool,
}

/// Renders the requested scenario(s) into `--out`: `NAME-SEED.png` + `.json`, or for
/// `pair` `NAME-SEED-baseline.*`, `NAME-SEED-followup.*` and `NAME-SEED-pair.json`.
pub fn run(args: SynthArgs) -> Result<(), trichometry::Error> {
    let scenarios: Vec<Scenario> = if args.scenario == "all" {
        Scenario::all().to_vec()
    } else {
        vec![Scenario::from_name(&args.scenario)?]
    };
    for sc in scenarios {
        let mut p = sc.params();
        if let Some(w) = args.width {
            p.width_px = w;
        }
        if let Some(h) = args.height {
            p.height_px = h;
        }
        if let Some(u) = args.um_per_px {
            p.um_per_px = u;
        }
        if args.jpeg_quality.is_some() {
            p.jpeg_quality = args.jpeg_quality;
        }
        let stem = format!("{}-{}", sc.name(), args.seed);
        if sc == Scenario::Pair {
            if args.burn_in {
                if args.scenario != "all" {
                    return Err(trichometry::Error::InvalidParameter {
                        name: "burn_in",
                        value: 1.0,
                        expected: "a single-photo scenario (`pair` has none burned in)",
                    });
                }
                eprintln!("{stem}: a pair is written without burned-in graphics");
            }
            let pair = synth::render_pair(&p, &PairChange::default(), args.seed)?;
            pair.write(&args.out, &stem)?;
            println!(
                "{}: baseline {} hairs, follow-up {} hairs, density change {:+.1} /cm²",
                stem,
                pair.truth.baseline.summary.hair_count,
                pair.truth.followup.summary.hair_count,
                pair.truth.density_change_per_cm2
            );
        } else {
            let mut s = synth::render(&p, args.seed)?;
            if args.burn_in {
                s.burn_in_overlay()?;
            }
            s.write(&args.out, &stem)?;
            println!(
                "{}: {} hairs, {:.0} hairs/cm², mean width {:.1} µm",
                stem,
                s.truth.summary.hair_count,
                s.truth.summary.density_per_cm2,
                s.truth.summary.mean_width_um
            );
        }
    }
    Ok(())
}
