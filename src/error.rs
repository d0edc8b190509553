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
    /// A photo file with no bytes at all.
    #[error("{}: the file is empty (0 bytes)", path.display())]
    EmptyFile {
        /// The file concerned.
        path: PathBuf,
    },
    /// Content that is no image format this crate reads, whatever the file's
    /// extension says (formats are recognised by their content, never by name).
    #[error(
        "{}: not an image: the content is not PNG, JPEG, TIFF or BMP (the file name's \
         extension is not trusted)",
        path.display()
    )]
    NotAnImage {
        /// The file concerned.
        path: PathBuf,
    },
    /// An image in a format this crate was built without (GIF, WebP, …).
    #[error(
        "{}: {format} images are not supported: convert it to PNG, JPEG, TIFF or BMP",
        path.display()
    )]
    UnsupportedFormat {
        /// The file concerned.
        path: PathBuf,
        /// The format recognised from the content.
        format: String,
    },
    /// A recognised image whose data is cut short or corrupt, or that uses a
    /// feature of its format the decoder does not support (e.g. planar CMYK TIFF).
    #[error("{}: corrupt, truncated or unsupported {format} data", path.display())]
    CorruptImage {
        /// The file concerned.
        path: PathBuf,
        /// The format recognised from the content.
        format: String,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// An image that would decode to more pixels or bytes than the decoding limits
    /// allow ([`PhotoLimits`](crate::photo::PhotoLimits)): a decompression bomb (a
    /// small file declaring an enormous size), or a photo beyond any trichoscope.
    /// Checked on the declared size, before any pixel buffer is allocated.
    #[error(
        "{}: exceeds the decoding limits of {max_side_px} px per side and {max_decode_bytes} \
         bytes: {detail}",
        path.display()
    )]
    DecodeLimit {
        /// The file concerned.
        path: PathBuf,
        /// What the image declares (size, decoded bytes) or the decoder's message.
        detail: String,
        /// Largest accepted width or height (px).
        max_side_px: u32,
        /// Largest accepted decoded size (bytes).
        max_decode_bytes: u64,
    },
    /// A photo with no calibration: none of its own and no default.
    #[error("{}: no calibration: give the photo a µm/px value", path.display())]
    MissingCalibration {
        /// The photo concerned.
        path: PathBuf,
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
    /// Reading or writing a CSV file (a batch manifest or `results.csv`) failed.
    #[error("{}: CSV error", path.display())]
    Csv {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error (it carries the line and byte position).
        #[source]
        source: csv::Error,
    },
    /// A batch manifest that cannot be used as a whole (missing `path` column, a
    /// photo listed twice, a column named like a result column).
    #[error("{}, line {line}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// 1-based line of the offending record (1 is the header).
        line: u64,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A `--shard` specification that is not `I/N` with `0 ≤ I < N`.
    #[error("shard `{spec}` is invalid: expected I/N with 0 ≤ I < N, e.g. 3/16")]
    InvalidShard {
        /// The specification given.
        spec: String,
    },
    /// A batch output folder that already holds results, without `resume`.
    #[error(
        "{}: already holds batch results; resume them, or choose another output folder",
        path.display()
    )]
    ResultsExist {
        /// The file found.
        path: PathBuf,
    },
    /// A batch folder that cannot be resumed with the inputs given: it holds
    /// another shard, or a shard of another input list.
    #[error("{}: cannot resume: {message}", path.display())]
    ResumeMismatch {
        /// The folder's `batch.json`.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// A batch results file that cannot be trusted: a line that is not a result row
    /// (other than a cut-off last line), rows out of order or listed twice.
    #[error("{}, line {line}: {message}", path.display())]
    CorruptResults {
        /// The results file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// Batch outputs that cannot be merged: a photo in two of them, shards of
    /// different input lists, a shard missing or unfinished.
    #[error("cannot merge: {message}")]
    Merge {
        /// What is wrong, naming the folders concerned.
        message: String,
    },
    /// Two photos of a zone that cannot be registered onto each other (too few
    /// strands, no agreeing transform, or aligned photos that do not correlate).
    #[error("cannot register the two photos: {message}")]
    Registration {
        /// Why, with the figures that fell short.
        message: String,
    },
    /// A session or timeline file that is not usable (missing field, bad date,
    /// no photo, photos of different zones or patients).
    #[error("{}: invalid session: {message}", path.display())]
    Session {
        /// The file concerned (empty for sessions built in memory).
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Ok` when parameter `name`'s `value` is positive and finite, else
/// [`Error::InvalidParameter`] naming it.
pub(crate) fn require_positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected: "a positive finite number",
        })
    }
}
