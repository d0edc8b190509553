//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `trichometry`.
///
/// Messages carry the offending value, the expected range and, where there is one,
/// the file path or stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A calibration outside the range any trichoscope produces.
    #[error("calibration of {um_per_px} µm/px is outside the supported range {min}–{max} µm/px")]
    InvalidCalibration {
        /// The value given.
        um_per_px: f64,
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// A parameter outside its valid range.
    #[error("parameter `{name}` = {value} is invalid: expected {expected}")]
    InvalidParameter {
        /// Parameter name, as in the params struct.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// An image too small to analyse (or with no pixels at all).
    #[error(
        "image of {width}×{height} px is too small: at least {min_side} px per side is needed"
    )]
    ImageTooSmall {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Smallest accepted side length.
        min_side: u32,
    },
    /// An image too large to analyse within the memory limits.
    #[error("image of {width}×{height} px exceeds the limit of {max_pixels} pixels")]
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Largest accepted pixel count.
        max_pixels: u64,
    },
    /// A scenario name the generator does not know.
    #[error("unknown scenario `{name}`; known scenarios: {known}")]
    UnknownScenario {
        /// The name given.
        name: String,
        /// Comma-separated list of valid names.
        known: String,
    },
    /// Decoding or encoding an image failed.
    #[error("{}: image error", path.display())]
    Image {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: image::ImageError,
    },
    /// Reading or writing a file failed.
    #[error("{}: I/O error", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing JSON failed.
    #[error("{}: JSON error", path.display())]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
