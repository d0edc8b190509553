#![doc = include_str!("../README.md")]
//!
//! # Pipeline
//!
//! [`load_photo`] decodes a file within [`PhotoLimits`] (format by content, EXIF
//! orientation applied); [`analyze`] takes the decoded photo, a [`Calibration`] and [`Params`] to an [`Analysis`]:
//!
//! 1. `preprocess`: undo sRGB; absorbance channel `−ln(mean RGB)`, read by the
//!    detector against the local skin level with a specular floor,
//!    `−ln(mean/skin + 0.1)`; and the yellow channel `R − G + B` for shafts the
//!    mean cannot see (blond, red).
//! 2. `ridge`: multi-scale Hessian line detection, both polarities, Steger sub-pixel centres.
//! 3. `trace`: hysteresis linking; strand ends across a crossing joined by continuity.
//! 4. `measure`: blurred-cylinder fit of the median cross-section → shaft width in µm.
//! 5. [`quality`]: blur (edge re-blur ratio), exposure and contrast → a
//!    reliability verdict.
//! 6. [`analysis`]: border-unbiased count weights, density with its 95% interval,
//!    classes, follicular units.
//!
//! [`batch`] scores many photos into `results.jsonl` / `results.csv` (in parallel,
//! resumable, shardable over a cluster).
//!
//! Between visits: a [`Session`] is a dated photo (or photos) of one zone; [`register`]
//! finds the shift, rotation and scale between two photos of the zone; [`compare()`]
//! follows each hair across them (gained, lost, thickened) and reports every change
//! with its 95% interval and a verdict; [`growth`] reads hair growth and the
//! anagen share from a phototrichogram; [`timeline()`] tabulates a series of
//! sessions with trends and gaps in a treatment course.
//!
//! [`synth`] renders photos with exact ground truth and [`eval`] scores an
//! [`Analysis`] against it.
//!
//! # Conventions
//!
//! * Calibration is µm/px, given by the caller ([`Calibration`]); every figure is reported
//!   in µm, cm², hairs/cm² or mm/cm², never in pixels alone.
//! * Thickness classes ([`ClassLimits`]): vellus < 30 µm, intermediate 30–40 µm,
//!   terminal ≥ 40 µm by default.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod analysis;
pub mod batch;
pub mod calibration;
pub mod classes;
pub mod compare;
pub mod error;
pub mod eval;
mod filter;
pub mod growth;
mod measure;
pub mod overlay;
pub mod photo;
mod preprocess;
pub mod quality;
pub mod register;
mod ridge;
pub mod session;
#[doc(hidden)]
pub mod stages;
mod stats;
pub mod synth;
pub mod timeline;
mod trace;

pub use analysis::{analyze, Analysis, Params};
pub use calibration::Calibration;
pub use classes::{ClassLimits, ThicknessClass};
pub use compare::{compare, CompareParams, Comparison};
pub use error::{Error, Result};
pub use photo::{load_photo, PhotoLimits};
pub use quality::Quality;
pub use register::{register, Registration, Similarity};
pub use session::{Session, Zone};
pub use timeline::{timeline, Timeline};
