//! The `trichometry` command-line tool.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod analyze_cmd;
mod batch_cmd;
mod compare_cmd;
mod growth_cmd;
mod overlay;
mod synth_cmd;
mod timeline_cmd;
mod visits;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "trichometry",
    version,
    about = "Measure hair from trichoscopy photos"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse one photo: hairs, density, shaft widths, follicular units.
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Score many photos into DIR/results.csv and DIR/results.jsonl (parallel,
    /// resumable, shardable). Exit status 2 when some photos failed.
    Batch(batch_cmd::BatchArgs),
    /// Merge finished batch folders (e.g. the shards of a split) into one.
    Merge(batch_cmd::MergeArgs),
    /// Generate synthetic trichoscopy photos with exact ground truth.
    Synth(synth_cmd::SynthArgs),
    /// Compare two visits of one zone (photos, saved analyses or sessions): register
    /// them, follow each hair, report every change with its 95% interval.
    Compare(compare_cmd::CompareArgs),
    /// Phototrichogram: per-hair growth and anagen / telogen from two photos of
    /// clipped hair days apart.
    Growth(growth_cmd::GrowthArgs),
    /// A series of sessions of one zone: figures per visit, changes, trends, course
    /// gaps, and a plot.
    Timeline(timeline_cmd::TimelineArgs),
}

/// Exit status of `batch` when it finished but some photos have error rows. A
/// usage error or a batch that could not run exits with 1.
const SOME_FAILED: u8 = 2;

/// Prints an error and its whole `source()` chain to stderr.
fn report(err: &dyn std::error::Error) {
    eprintln!("error: {err}");
    let mut source = err.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; usage errors exit with
            // 1, leaving 2 to mean "a batch finished with failed photos".
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Analyze(args) => analyze_cmd::run(args).map(|()| batch_cmd::Outcome::AllOk),
        Command::Batch(args) => batch_cmd::run(args),
        Command::Merge(args) => batch_cmd::merge(args),
        Command::Synth(args) => synth_cmd::run(args).map(|()| batch_cmd::Outcome::AllOk),
        Command::Compare(args) => compare_cmd::run(args).map(|()| batch_cmd::Outcome::AllOk),
        Command::Growth(args) => growth_cmd::run(args).map(|()| batch_cmd::Outcome::AllOk),
        Command::Timeline(args) => timeline_cmd::run(args).map(|()| batch_cmd::Outcome::AllOk),
    };
    match result {
        Ok(batch_cmd::Outcome::AllOk) => ExitCode::SUCCESS,
        Ok(batch_cmd::Outcome::SomeFailed) => ExitCode::from(SOME_FAILED),
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
