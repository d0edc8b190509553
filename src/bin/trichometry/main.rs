//! The `trichometry` command-line tool.
#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::error::Error as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod synth_cmd;

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
    /// Generate synthetic trichoscopy photos with exact ground truth.
    Synth(synth_cmd::SynthArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Synth(args) => synth_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
