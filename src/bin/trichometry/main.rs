//! The `trichometry` command-line tool.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod analyze_cmd;
mod overlay;
mod synth_cmd;

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
    /// Generate synthetic trichoscopy photos with exact ground truth.
    Synth(synth_cmd::SynthArgs),
}

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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze_cmd::run(args),
        Command::Synth(args) => synth_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
