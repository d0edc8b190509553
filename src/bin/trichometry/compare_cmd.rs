//! `trichometry compare`: two visits of one zone → change, hair by hair.

use std::path::PathBuf;

use clap::Args;
use trichometry::compare::{compare, Change, CompareParams, Comparison, HairCount, Photo};
use trichometry::Error;

use crate::visits::{load, write_json};

/// Arguments of `compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Baseline: a photo, a saved analysis (`analyze --json`) or a session file.
    pub baseline: PathBuf,
    /// Follow-up: a photo, a saved analysis or a session file.
    pub followup: PathBuf,
    /// Calibration of both photos (µm/px), when photos are given.
    #[arg(long)]
    pub um_per_px: Option<f64>,
    /// Calibration of the baseline photo, when it differs (µm/px).
    #[arg(long)]
    pub baseline_um_per_px: Option<f64>,
    /// Calibration of the follow-up photo, when it differs (µm/px).
    #[arg(long)]
    pub followup_um_per_px: Option<f64>,
    /// Write the full comparison as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Runs `compare`.
pub fn run(args: CompareArgs) -> Result<(), Error> {
    let b = load(&args.baseline, args.baseline_um_per_px.or(args.um_per_px))?;
    let f = load(&args.followup, args.followup_um_per_px.or(args.um_per_px))?;
    if b.analyses.len() != f.analyses.len() {
        return Err(Error::Session {
            path: args.followup.clone(),
            message: format!(
                "the follow-up has {} photos, the baseline {}: photos are compared pair by pair",
                f.analyses.len(),
                b.analyses.len()
            ),
        });
    }
    if let (Some(sb), Some(sf)) = (&b.session, &f.session) {
        if sb.patient_id != sf.patient_id || sb.zone != sf.zone {
            return Err(Error::Session {
                path: args.followup.clone(),
                message: format!(
                    "patient `{}` zone `{}` is not patient `{}` zone `{}` of the baseline",
                    sf.patient_id, sf.zone, sb.patient_id, sb.zone
                ),
            });
        }
    }
    let pairs: Vec<(Photo, Photo)> = (0..b.analyses.len())
        .map(|i| {
            (
                Photo {
                    analysis: &b.analyses[i],
                    image: b.images[i].as_ref(),
                },
                Photo {
                    analysis: &f.analyses[i],
                    image: f.images[i].as_ref(),
                },
            )
        })
        .collect();
    let c = compare(&pairs, &CompareParams::default())?;
    let to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if !to_stdout {
        print_table(&args, &c);
    }
    if let Some(path) = &args.json {
        write_json(path, &c)?;
    }
    Ok(())
}

fn row(
    name: &str,
    unit: &str,
    base: f64,
    follow: f64,
    c: &Change,
    pct: Option<&Change>,
    prec: usize,
) {
    let pct_text = pct.map_or(String::new(), |p| format!(" ({:+.1}%)", p.value));
    println!(
        "  {:<24} {:>9.prec$} {:>9.prec$}  {:>+9.prec$}{:<10} [{:+.prec$}, {:+.prec$}] {unit:<7} {}",
        name,
        base,
        follow,
        c.value,
        pct_text,
        c.ci95[0],
        c.ci95[1],
        c.verdict.words(),
    );
}

fn count_row(name: &str, c: &HairCount) {
    println!(
        "  {:<24} {:>6.1}  95% CI {:.1}–{:.1}   ({:.1}% of baseline hairs, {:.1}–{:.1}%)",
        name, c.count, c.ci95[0], c.ci95[1], c.pct, c.pct_ci95[0], c.pct_ci95[1]
    );
}

fn print_table(args: &CompareArgs, c: &Comparison) {
    println!(
        "baseline  {}\nfollow-up {}",
        args.baseline.display(),
        args.followup.display()
    );
    for (i, r) in c.registrations.iter().enumerate() {
        let t = r.transform;
        println!(
            "  registration {}: shift ({:+.1}, {:+.1}) px, rotation {:+.2}°, scale {:.4} \
             (calibrations {:.4}); {} strands agree, correlation {}, confidence {:.2}",
            i + 1,
            t.dx_px,
            t.dy_px,
            t.rotation_deg,
            t.scale,
            r.calibration_scale,
            r.inliers,
            r.correlation.map_or("n/a".into(), |c| format!("{c:.2}")),
            r.confidence
        );
    }
    println!("  overlap compared          {:.4} cm²", c.overlap_area_cm2);
    println!(
        "\n  {:<24} {:>9} {:>9}  {:>9}{:<10} {:<18} {:<7} verdict",
        "", "baseline", "follow-up", "change", "", "95% interval", "unit"
    );
    let (b, f) = (&c.baseline, &c.followup);
    row(
        "density",
        "/cm²",
        b.density_per_cm2,
        f.density_per_cm2,
        &c.density_change_per_cm2,
        Some(&c.density_change_pct),
        1,
    );
    row(
        "terminal density",
        "/cm²",
        b.terminal_density_per_cm2,
        f.terminal_density_per_cm2,
        &c.terminal_density_change_per_cm2,
        Some(&c.terminal_density_change_pct),
        1,
    );
    row(
        "vellus fraction",
        "",
        b.vellus_fraction,
        f.vellus_fraction,
        &c.vellus_fraction_change,
        None,
        3,
    );
    row(
        "mean thickness",
        "µm",
        b.mean_width_um,
        f.mean_width_um,
        &c.mean_width_change_um,
        Some(&c.mean_width_change_pct),
        1,
    );
    row(
        "median thickness",
        "µm",
        b.median_width_um,
        f.median_width_um,
        &c.median_width_change_um,
        Some(&c.median_width_change_pct),
        1,
    );
    row(
        "cumulative thickness",
        "mm/cm²",
        b.cumulative_thickness_mm_per_cm2,
        f.cumulative_thickness_mm_per_cm2,
        &c.cumulative_thickness_change_mm_per_cm2,
        Some(&c.cumulative_thickness_change_pct),
        2,
    );
    println!();
    count_row("hairs gained", &c.hairs_gained);
    count_row("hairs lost", &c.hairs_lost);
    count_row("hairs thickened", &c.hairs_thickened);
    count_row("hairs thinned", &c.hairs_thinned);
    let k = &c.bookkeeping;
    println!(
        "  followed in both visits  {}  (missed by the detector at baseline {}, at follow-up {}; \
         estimated recall {:.2} / {:.2})",
        k.followed,
        k.missed_at_baseline,
        k.missed_at_followup,
        k.baseline_recall,
        k.followup_recall
    );
    for w in &c.warnings {
        println!("  warning: {w}");
    }
    println!("  {}", c.intervals);
}
