//! `trichometry analyze`: one photo → summary, JSON and overlay.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use trichometry::{analyze, load_photo, Analysis, Calibration, Error, Params, PhotoLimits};

use crate::overlay;

/// Arguments of `analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// The photo (PNG, JPEG, TIFF, BMP).
    pub image: PathBuf,
    /// Calibration: micrometres per pixel of this photo.
    #[arg(long)]
    pub um_per_px: f64,
    /// Write the full result as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw the strands over the photo and save it as FILE (PNG).
    #[arg(long, value_name = "FILE")]
    pub overlay: Option<PathBuf>,
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `analyze`.
pub fn run(args: AnalyzeArgs) -> Result<(), Error> {
    let calibration = Calibration::new(args.um_per_px)?;
    let image = load_photo(&args.image, PhotoLimits::default())?;
    let analysis = analyze(&image, &calibration, &Params::default())?;
    let to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if !to_stdout {
        print_summary(&args.image, &analysis);
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&analysis).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        if to_stdout {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}").map_err(io_err(path))?;
        } else {
            std::fs::write(path, text).map_err(io_err(path))?;
        }
    }
    if let Some(path) = &args.overlay {
        overlay::draw(&image, &analysis)
            .save(path)
            .map_err(|source| Error::Image {
                path: path.clone(),
                source,
            })?;
    }
    Ok(())
}

fn print_summary(path: &std::path::Path, a: &Analysis) {
    println!("{}", path.display());
    match a.field_px {
        None => println!(
            "  field             {} × {} px at {} µm/px = {:.4} cm²",
            a.image.width, a.image.height, a.um_per_px, a.field_area_cm2
        ),
        Some(f) => println!(
            "  field             {} × {} px from ({}, {}) at {} µm/px = {:.4} cm² \
             (bars burned in along the edges left out)",
            f.width, f.height, f.x, f.y, a.um_per_px, a.field_area_cm2
        ),
    }
    println!(
        "  hairs             {:.1}  ({} strands traced; {:.1} emerging in the counting frame, \
         the field less {:.1} px at each edge, {:.4} cm²)",
        a.hair_count,
        a.strands.len(),
        a.frame_hair_count(),
        a.count_guard_px,
        a.count_frame_area_cm2()
    );
    println!(
        "  density           {:.0} /cm²   95% CI {:.0}–{:.0}",
        a.density_per_cm2, a.density_ci95_per_cm2[0], a.density_ci95_per_cm2[1]
    );
    println!(
        "  shaft width       mean {:.1} µm, median {:.1} µm, CV {:.0}%",
        a.mean_width_um,
        a.median_width_um,
        100.0 * a.width_cv
    );
    println!(
        "  classes           vellus {:.0}%  intermediate {:.0}%  terminal {:.0}%",
        100.0 * a.vellus_fraction,
        100.0 * a.intermediate_fraction,
        100.0 * a.terminal_fraction
    );
    println!(
        "  cumulative        {:.2} mm/cm²",
        a.cumulative_thickness_mm_per_cm2
    );
    println!(
        "  follicular units  {} ({:.0} /cm²), {:.2} hairs/unit, 1/2/3/4+: {:?}",
        a.follicular_units,
        a.follicular_unit_density_per_cm2,
        a.hairs_per_follicular_unit,
        a.follicular_unit_histogram
    );
    if let Some(b) = a.blur_sigma_um {
        println!("  optical blur      σ = {b:.1} µm");
    }
}
