//! `trichometry growth`: a phototrichogram (two photos of clipped hair days apart).

use std::path::PathBuf;

use clap::Args;
use trichometry::compare::Photo;
use trichometry::growth::{phototrichogram, GrowthParams};
use trichometry::Error;

use crate::visits::{load, write_json};

/// Arguments of `growth`.
#[derive(Args, Debug)]
pub struct GrowthArgs {
    /// First photo (just after clipping), or its saved analysis.
    pub first: PathBuf,
    /// Second photo, `--days` later, or its saved analysis.
    pub second: PathBuf,
    /// Days between the photos.
    #[arg(long)]
    pub days: f64,
    /// Calibration of both photos (µm/px).
    #[arg(long)]
    pub um_per_px: Option<f64>,
    /// Write the result as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Runs `growth`.
pub fn run(args: GrowthArgs) -> Result<(), Error> {
    let a = load(&args.first, args.um_per_px)?;
    let b = load(&args.second, args.um_per_px)?;
    let (Some(aa), Some(ba)) = (a.analyses.first(), b.analyses.first()) else {
        return Err(Error::Session {
            path: args.first.clone(),
            message: "no photo to measure".into(),
        });
    };
    let g = phototrichogram(
        Photo {
            analysis: aa,
            image: a.images.first().and_then(|i| i.as_ref()),
        },
        Photo {
            analysis: ba,
            image: b.images.first().and_then(|i| i.as_ref()),
        },
        args.days,
        &GrowthParams::default(),
    )?;
    let to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if !to_stdout {
        let p = &g.phases;
        println!(
            "{} → {} ({} days)",
            args.first.display(),
            args.second.display(),
            g.days
        );
        println!("  hairs followed    {}", g.hairs.len());
        println!(
            "  anagen            {} ({:.0}%, 95% CI {:.0}–{:.0}%)",
            p.anagen,
            100.0 * p.anagen_fraction,
            100.0 * p.anagen_fraction_ci95[0],
            100.0 * p.anagen_fraction_ci95[1]
        );
        println!("  telogen           {}", p.telogen);
        if let Some(r) = p.anagen_telogen_ratio {
            println!("  anagen : telogen  {r:.2}");
        }
        println!(
            "  median growth     {:.2} mm/day (anagen hairs)",
            g.median_anagen_growth_mm_per_day
        );
    }
    if let Some(path) = &args.json {
        write_json(path, &g)?;
    }
    Ok(())
}
