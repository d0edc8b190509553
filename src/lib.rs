#![doc = include_str!("../README.md")]
//!
//! # Pipeline
//!
//! (filled in as the stages land)
//!
//! # Conventions
//!
//! * Calibration is µm/px, given by the caller ([`Calibration`]); every figure is reported
//!   in µm, cm², hairs/cm² or mm/cm², never in pixels alone.
//! * Thickness classes ([`ClassLimits`]): vellus < 30 µm, intermediate 30–40 µm,
//!   terminal ≥ 40 µm by default.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod analysis;
pub mod calibration;
pub mod classes;
pub mod error;
pub mod eval;
mod filter;
mod measure;
mod preprocess;
mod ridge;
mod stats;
pub mod synth;
mod trace;

pub use analysis::{analyze, Analysis, Params};
pub use calibration::Calibration;
pub use classes::{ClassLimits, ThicknessClass};
pub use error::{Error, Result};
