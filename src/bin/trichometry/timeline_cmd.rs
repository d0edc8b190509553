//! `trichometry timeline`: a series of sessions of one zone → table, JSON, plot.

use std::path::PathBuf;

use clap::Args;
use plotters::prelude::*;
use trichometry::session::Session;
use trichometry::timeline::{timeline, Course, Timeline};
use trichometry::{analyze, Error, Params};

use crate::visits::{open_image, write_json};

/// Arguments of `timeline`.
#[derive(Args, Debug)]
pub struct TimelineArgs {
    /// Session files of one zone of one patient (any order).
    #[arg(required = true)]
    pub sessions: Vec<PathBuf>,
    /// Declared treatment course: phases NxD (N sessions at most D days apart),
    /// e.g. `6x11,4x35`; longer gaps between treatment sessions are flagged.
    #[arg(long)]
    pub course: Option<String>,
    /// Write the timeline as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Plot density and mean thickness over time to FILE (`.png` or `.svg`).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSansMono.ttf");

/// Runs `timeline`.
pub fn run(args: TimelineArgs) -> Result<(), Error> {
    let course = args.course.as_deref().map(Course::parse).transpose()?;
    let mut sessions = Vec::new();
    for path in &args.sessions {
        let mut s = Session::load(path)?;
        for i in 0..s.photos.len() {
            if s.photos[i].analysis.is_none() {
                let img = open_image(&s.photos[i].path)?;
                let a = analyze(&img, &s.calibration(i)?, &Params::default())?;
                s.photos[i].analysis = Some(a);
            }
        }
        sessions.push(s);
    }
    let t = timeline(&sessions, course.as_ref())?;
    let to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if !to_stdout {
        print_table(&t);
    }
    if let Some(path) = &args.json {
        write_json(path, &t)?;
    }
    if let Some(path) = &args.plot {
        plot(&t, path)?;
    }
    Ok(())
}

fn print_table(t: &Timeline) {
    println!("patient {}  zone {}", t.patient_id, t.zone);
    println!(
        "  {:<10} {:>5} {:<13} {:>8} {:>15} {:>9} {:>7} {:>9} {:>8} {:>18} {:>18}",
        "date",
        "day",
        "treatment",
        "density",
        "95% CI",
        "terminal",
        "vellus",
        "mean µm",
        "cum.",
        "Δ density vs base",
        "Δ µm vs previous"
    );
    for r in &t.rows {
        let f = &r.figures;
        let db = r.from_baseline.map_or(String::from("—"), |c| {
            format!(
                "{:+.0} ({})",
                c.density_change_per_cm2.value,
                short(c.density_change_per_cm2.verdict.words())
            )
        });
        let dp = r.from_previous.map_or(String::from("—"), |c| {
            format!(
                "{:+.1} ({})",
                c.mean_width_change_um.value,
                short(c.mean_width_change_um.verdict.words())
            )
        });
        println!(
            "  {:<10} {:>5} {:<13} {:>8.0} {:>15} {:>9.0} {:>6.0}% {:>9.1} {:>8.2} {:>18} {:>18}",
            r.date.to_string(),
            r.days_from_baseline,
            r.treatment.as_deref().unwrap_or("—"),
            f.density_per_cm2,
            format!(
                "{:.0}–{:.0}",
                f.density_ci95_per_cm2[0], f.density_ci95_per_cm2[1]
            ),
            f.terminal_density_per_cm2,
            100.0 * f.vellus_fraction,
            f.mean_width_um,
            f.cumulative_thickness_mm_per_cm2,
            db,
            dp
        );
    }
    if let Some(c) = t.density_trend_per_cm2_per_month {
        println!(
            "  density trend     {:+.1} /cm² per month, 95% CI {:+.1} to {:+.1}: {}",
            c.value,
            c.ci95[0],
            c.ci95[1],
            c.verdict.words()
        );
    }
    if let Some(c) = t.mean_width_trend_um_per_month {
        println!(
            "  thickness trend   {:+.2} µm per month, 95% CI {:+.2} to {:+.2}: {}",
            c.value,
            c.ci95[0],
            c.ci95[1],
            c.verdict.words()
        );
    }
    for g in &t.gaps {
        println!(
            "  course broken: {} days between treatment sessions {} ({}) and {} ({}); phase {} allows {}",
            g.gap_days,
            g.treatment_session - 1,
            g.from,
            g.treatment_session,
            g.to,
            g.phase,
            g.max_gap_days
        );
    }
    println!("  changes between visits compare whole fields (independent samples); use `compare` for hair-by-hair change");
}

fn short(v: &str) -> &str {
    match v {
        "no detectable change" => "n.s.",
        other => other,
    }
}

fn plot_err(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("plot: {e}")),
    }
}

/// Density and mean thickness over time, 95% intervals as error bars,
/// treatment sessions as filled markers.
fn plot(t: &Timeline, path: &std::path::Path) -> Result<(), Error> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| plot_err(path, "the shipped font cannot be read"))?;
    let svg = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if svg {
        let root = SVGBackend::new(path, (900, 640)).into_drawing_area();
        draw(t, root).map_err(|e| plot_err(path, e))
    } else {
        let root = BitMapBackend::new(path, (900, 640)).into_drawing_area();
        draw(t, root).map_err(|e| plot_err(path, e))
    }
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(
    t: &Timeline,
    root: DrawingArea<DB, plotters::coord::Shift>,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 1));
    let days: Vec<f64> = t.rows.iter().map(|r| r.days_from_baseline as f64).collect();
    let x_max = days.iter().copied().fold(1.0, f64::max) * 1.05 + 1.0;
    let series = [
        (
            "density (hairs/cm²)",
            t.rows
                .iter()
                .map(|r| (r.figures.density_per_cm2, r.figures.density_ci95_per_cm2))
                .collect::<Vec<_>>(),
        ),
        (
            "mean shaft thickness (µm)",
            t.rows
                .iter()
                .map(|r| (r.figures.mean_width_um, r.figures.mean_width_ci95_um))
                .collect::<Vec<_>>(),
        ),
    ];
    for (panel, (label, values)) in panels.iter().zip(series) {
        let lo = values.iter().map(|v| v.1[0]).fold(f64::INFINITY, f64::min);
        let hi = values
            .iter()
            .map(|v| v.1[1])
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.1).max(1.0);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{} — patient {}, {}", label, t.patient_id, t.zone),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(-1.0..x_max, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("days from baseline")
            .y_desc(label)
            .label_style(("sans-serif", 13))
            .draw()?;
        chart.draw_series(LineSeries::new(
            days.iter().zip(&values).map(|(d, v)| (*d, v.0)),
            BLUE.stroke_width(2),
        ))?;
        for ((d, v), r) in days.iter().zip(&values).zip(&t.rows) {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(*d, v.1[0]), (*d, v.1[1])],
                BLUE.mix(0.6).stroke_width(2),
            )))?;
            let treated = r.treatment.is_some();
            let style = if treated {
                RED.filled()
            } else {
                BLUE.stroke_width(2)
            };
            chart.draw_series(std::iter::once(Circle::new((*d, v.0), 5, style)))?;
        }
    }
    root.draw(&Text::new(
        "● red: treatment session   bars: 95% interval",
        (14, 620),
        ("sans-serif", 13),
    ))?;
    root.present()?;
    Ok(())
}
