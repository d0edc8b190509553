//! `trichometry batch` and `trichometry merge`: thin wrappers over
//! [`trichometry::batch`], adding glob patterns, overlays and a progress bar.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use image::DynamicImage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trichometry::batch::{self, BatchConfig, Input, Observer, Row, Shard, Start, Status};
use trichometry::{Analysis, Error};

use crate::overlay;

/// Arguments of `trichometry batch`.
#[derive(Args, Debug)]
pub struct BatchArgs {
    /// Photos, folders (searched recursively for .png .jpg .jpeg .tif .tiff .bmp,
    /// hidden entries skipped) and glob patterns (quoted, e.g. 'photos/**/*.jpg').
    #[arg(required_unless_present = "manifest", conflicts_with = "manifest")]
    inputs: Vec<PathBuf>,
    /// CSV of photos: columns `path` (relative to the manifest's folder),
    /// `um_per_px` (optional), and any others (patient, zone, date, ...) kept as
    /// metadata.
    #[arg(long, value_name = "FILE.csv")]
    manifest: Option<PathBuf>,
    /// Output folder: results.csv, results.jsonl, batch.json (and overlays/).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Calibration (µm/px) of every photo the manifest does not calibrate.
    #[arg(long)]
    um_per_px: Option<f64>,
    /// Also draw each measured photo's strands into DIR/overlays/ (PNG, the photo's
    /// path mirrored below that folder).
    #[arg(long)]
    overlay: bool,
    /// Continue the results in DIR: photos that already have a row are skipped
    /// (a folder with no results starts afresh).
    #[arg(long)]
    resume: bool,
    /// With --resume, score again the photos whose rows are errors (e.g. after
    /// fixing a calibration or a mount).
    #[arg(long, requires = "resume")]
    retry_errors: bool,
    /// Score only shard I of N (0 ≤ I < N): the photos at positions p of the
    /// sorted input list with p mod N = I. Every shard must get the same inputs.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Worker threads (default: one per CPU, or RAYON_NUM_THREADS).
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
    /// No progress bar or summary (errors are still reported).
    #[arg(long, short)]
    quiet: bool,
}

/// Arguments of `trichometry merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Finished batch folders, e.g. the shards of one split.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Output folder for the merged results.csv and results.jsonl.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// No summary.
    #[arg(long, short)]
    quiet: bool,
}

/// What a batch left behind.
pub enum Outcome {
    /// Every photo was measured.
    AllOk,
    /// Some photos have error rows.
    SomeFailed,
}

/// Runs `trichometry batch`.
pub fn run(args: BatchArgs) -> Result<Outcome, Error> {
    let config = BatchConfig {
        um_per_px: args.um_per_px,
        resume: args.resume,
        retry_errors: args.retry_errors,
        ..BatchConfig::default()
    };
    config.validate()?;
    let inputs = match &args.manifest {
        Some(manifest) => batch::read_manifest(manifest)?,
        None => {
            let (paths, mut unmatched) = expand_patterns(&args.inputs);
            let mut inputs = batch::discover(&paths);
            inputs.append(&mut unmatched);
            inputs
        }
    };
    let plan = batch::plan(inputs, args.shard.unwrap_or_default());
    let mut progress = Progress::new(&args);
    let result = match args.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.get())
            .build()
            .map_err(|_| Error::InvalidParameter {
                name: "threads",
                value: n.get() as f64,
                expected: "a thread count the system can start",
            })?
            .install(|| batch::run(&plan, &args.out, &config, &mut progress)),
        None => batch::run(&plan, &args.out, &config, &mut progress),
    };
    progress.bar.finish_and_clear();
    let summary = result?;
    if !args.quiet {
        eprintln!(
            "{} photos: {} ok, {} failed ({} scored now, {} from an earlier run) → {}",
            summary.rows,
            summary.ok,
            summary.failed,
            summary.scored,
            summary.skipped,
            args.out.join(batch::RESULTS_CSV).display()
        );
    }
    Ok(if summary.failed > 0 {
        Outcome::SomeFailed
    } else {
        Outcome::AllOk
    })
}

/// Runs `trichometry merge`.
pub fn merge(args: MergeArgs) -> Result<Outcome, Error> {
    let summary = batch::merge(&args.dirs, &args.out)?;
    if !args.quiet {
        eprintln!(
            "merged {} folders: {} photos, {} ok, {} failed → {}",
            args.dirs.len(),
            summary.rows,
            summary.ok,
            summary.failed,
            args.out.join(batch::RESULTS_CSV).display()
        );
    }
    Ok(Outcome::AllOk)
}

/// Expands glob patterns that are not existing paths. A pattern that is
/// invalid or matches nothing becomes an input with a problem (an error row).
fn expand_patterns(args: &[PathBuf]) -> (Vec<PathBuf>, Vec<Input>) {
    let mut paths = Vec::new();
    let mut unmatched = Vec::new();
    for arg in args {
        let text = arg.to_string_lossy();
        if arg.exists() || !text.contains(['*', '?', '[']) {
            paths.push(arg.clone());
            continue;
        }
        match glob::glob(&text) {
            Ok(matches) => {
                let before = paths.len();
                // A match that cannot be read is kept as a path: discovery gives
                // it an error row.
                paths.extend(matches.map(|p| p.unwrap_or_else(|e| e.path().to_path_buf())));
                if paths.len() == before {
                    unmatched.push(Input::with_problem(arg, "no file matches this pattern"));
                }
            }
            Err(e) => unmatched.push(Input::with_problem(arg, format!("invalid pattern: {e}"))),
        }
    }
    (paths, unmatched)
}

/// The progress bar (hidden unless stderr is a terminal outside CI), per-photo
/// error messages, and overlays.
struct Progress {
    bar: ProgressBar,
    overlays: Option<PathBuf>,
}

impl Progress {
    fn new(args: &BatchArgs) -> Progress {
        let visible = !args.quiet
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none_or(|v| v.is_empty());
        let bar = if visible {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} photos  {per_sec}  ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress {
            bar,
            overlays: args.overlay.then(|| args.out.join(OVERLAY_DIR)),
        }
    }
}

/// Folder of the overlays inside the output folder.
const OVERLAY_DIR: &str = "overlays";

fn overlay_path(dir: &Path, photo: &Path) -> PathBuf {
    let mut path = dir.join(batch::mirrored(photo)).into_os_string();
    path.push(".overlay.png");
    PathBuf::from(path)
}

impl Observer for Progress {
    fn started(&mut self, start: &Start) {
        if let Some(line) = start.dropped_line {
            self.bar.suspend(|| {
                eprintln!("note: dropped line {line} of the earlier rows (cut off by a crash)")
            });
        }
        self.bar.set_length(start.total - start.skipped);
        self.bar.enable_steady_tick(Duration::from_millis(500));
    }

    fn analysed(
        &self,
        input: &Input,
        image: &DynamicImage,
        analysis: &Analysis,
    ) -> Result<(), String> {
        let Some(dir) = &self.overlays else {
            return Ok(());
        };
        let path = overlay_path(dir, &input.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("overlay {}: {e}", path.display()))?;
        }
        overlay::draw(image, analysis)
            .save(&path)
            .map_err(|e| format!("overlay {}: {e}", path.display()))
    }

    fn written(&mut self, row: &Row) {
        if row.status == Status::Error {
            let message = row.error.as_deref().unwrap_or("failed");
            self.bar
                .suspend(|| eprintln!("error: {}: {message}", row.path));
        }
        self.bar.inc(1);
    }
}
