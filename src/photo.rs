//! Loading a photo: the one way every caller (the CLI's `analyze`, [`batch`](crate::batch),
//! the fuzz targets) turns a file or bytes into pixels.
//!
//! * **Format by content.** The format is recognised from the file's first bytes
//!   (PNG, JPEG, TIFF, BMP), never from its name: a JPEG saved as `.png` loads, a
//!   text file saved as `.jpg` is [`Error::NotAnImage`].
//! * **Bounded decoding.** Before any pixel buffer is allocated, the size the image
//!   *declares* is checked against [`PhotoLimits`] (by default
//!   [`DEFAULT_MAX_SIDE_PX`] per side and [`DEFAULT_MAX_DECODE_BYTES`] decoded):
//!   a decompression bomb (a few hundred bytes declaring 60000×60000 px) is
//!   [`Error::DecodeLimit`], not an out-of-memory kill. The same byte limit bounds
//!   the decoders' own buffers (`image::Limits::max_alloc`).
//! * **Truncation.** A truncated PNG, TIFF or BMP fails in its decoder; the JPEG
//!   decoder would fill a truncated scan with grey and succeed, so a JPEG
//!   without its end-of-image marker is refused ([`Error::CorruptImage`]).
//! * **EXIF orientation** (JPEG, TIFF, PNG `eXIf`) is applied, so that the pixels
//!   are upright as the camera meant them. Widths and counts do not depend on the
//!   orientation, but overlays and the pixel coordinates of strands do. An
//!   unreadable EXIF block is ignored (the photo keeps its stored orientation).
//! * **Any pixel type** the decoders produce is returned as is: 8- and 16-bit,
//!   float, grey, grey + alpha, RGB, RGBA; CMYK TIFF is converted to RGB by the
//!   decoder. A float image with NaN samples is [`Error::CorruptImage`];
//!   infinite and out-of-range samples are kept (analysis clips them to 0–1). [`analyze`](crate::analyze) reads any of them (alpha is ignored).

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use image::error::{DecodingError, ImageFormatHint};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Default [`PhotoLimits::max_decode_bytes`]: 512 MiB, enough for a 100 Mpx
/// 8-bit RGB photo (300 MB) or a 40 Mpx 16-bit RGBA one (320 MB), with the
/// decoder's buffers.
pub const DEFAULT_MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Default [`PhotoLimits::max_side_px`]: 16384 px, beyond any trichoscope or
/// camera sensor side (a 100 Mpx sensor is 11648 px wide).
pub const DEFAULT_MAX_SIDE_PX: u32 = 16_384;

/// The formats this crate decodes (the `image` features it enables).
pub const SUPPORTED_FORMATS: &[ImageFormat] = &[
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Tiff,
    ImageFormat::Bmp,
];

/// The path named in errors of [`decode_photo`], which has no file.
pub const IN_MEMORY: &str = "<in memory>";

/// How large a photo may be decoded. Plain data with defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhotoLimits {
    /// Largest decoded size (bytes: width × height × bytes per pixel of the
    /// stored pixel type), and the largest single allocation a decoder may make.
    pub max_decode_bytes: u64,
    /// Largest width or height (px).
    pub max_side_px: u32,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        PhotoLimits {
            max_decode_bytes: DEFAULT_MAX_DECODE_BYTES,
            max_side_px: DEFAULT_MAX_SIDE_PX,
        }
    }
}

impl PhotoLimits {
    /// These limits as the `image` crate's decoder limits.
    pub fn image_limits(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(self.max_decode_bytes);
        limits.max_image_width = Some(self.max_side_px);
        limits.max_image_height = Some(self.max_side_px);
        limits
    }
}

/// Loads the photo at `path` within `limits`: format from the content, EXIF
/// orientation applied. See the [module docs](self).
///
/// # Errors
/// * [`Error::Io`]: the file cannot be opened or read;
/// * [`Error::EmptyFile`]: it has no bytes;
/// * [`Error::NotAnImage`]: its content is no supported format;
/// * [`Error::UnsupportedFormat`]: an image format this crate does not decode;
/// * [`Error::DecodeLimit`]: its declared size exceeds `limits`;
/// * [`Error::CorruptImage`]: truncated or corrupt data;
/// * [`Error::ImageTooSmall`]: a declared size of zero pixels.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// use trichometry::photo::{load_photo, PhotoLimits};
///
/// let image = load_photo(Path::new("fixtures/clipped-dark-11.png"), PhotoLimits::default())?;
/// println!("{}×{} px", image.width(), image.height());
/// # Ok::<(), trichometry::Error>(())
/// ```
pub fn load_photo(path: &Path, limits: PhotoLimits) -> Result<DynamicImage> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() == 0 {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    decode_from(BufReader::new(file), path, limits)
}

/// Decodes a photo held in memory within `limits`, as [`load_photo`] does a
/// file. Errors name the path [`IN_MEMORY`].
///
/// # Errors
/// As [`load_photo`], except that there is no file to open.
pub fn decode_photo(bytes: &[u8], limits: PhotoLimits) -> Result<DynamicImage> {
    let path = Path::new(IN_MEMORY);
    if bytes.is_empty() {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    decode_from(Cursor::new(bytes), path, limits)
}

/// The format's common name: `PNG`, `JPEG`, `TIFF`, `GIF`, `WEBP`, ….
fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_ascii_uppercase()
}

fn decode_from<R: BufRead + Seek>(
    mut reader: R,
    path: &Path,
    limits: PhotoLimits,
) -> Result<DynamicImage> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut start = Vec::with_capacity(16);
    reader
        .by_ref()
        .take(16)
        .read_to_end(&mut start)
        .map_err(io)?;
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    let format = match image::guess_format(&start) {
        Err(_) => {
            return Err(Error::NotAnImage {
                path: path.to_path_buf(),
            })
        }
        Ok(f) if !SUPPORTED_FORMATS.contains(&f) => {
            return Err(Error::UnsupportedFormat {
                path: path.to_path_buf(),
                format: format_name(f),
            })
        }
        Ok(f) => f,
    };
    if format == ImageFormat::Jpeg {
        // The JPEG decoder reads the whole file into memory anyway; reading it
        // here lets a truncated file be told (see `jpeg_is_complete`). A JPEG
        // larger than the decoded-size limit is refused unread.
        let mut bytes = Vec::new();
        reader
            .take(limits.max_decode_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > limits.max_decode_bytes {
            return Err(Error::DecodeLimit {
                path: path.to_path_buf(),
                detail: "the file itself is larger than the decoded-size limit".to_string(),
                max_side_px: limits.max_side_px,
                max_decode_bytes: limits.max_decode_bytes,
            });
        }
        if !jpeg_is_complete(&bytes) {
            return Err(Error::CorruptImage {
                path: path.to_path_buf(),
                format: format_name(format),
                source: ImageError::Decoding(DecodingError::new(
                    ImageFormatHint::Exact(format),
                    "no end-of-image marker after the image data: the file is truncated",
                )),
            });
        }
        return decode_known(Cursor::new(bytes), format, path, limits);
    }
    decode_known(reader, format, path, limits)
}

/// Whether a JPEG stream holds an end-of-image marker (`FF D9`) after its first
/// start-of-scan (`FF DA`). The decoder fills whatever a truncated file lacks
/// with grey and reports success; the file would then be measured on a photo
/// that is partly invented. In entropy-coded data a literal `FF` is stuffed as
/// `FF 00`, so `FF D9` there is the real end (an EXIF thumbnail's own end marker
/// comes before the first scan). Trailing bytes after the marker (padding, the
/// extra images of an MPF file) are allowed.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn decode_known<R: BufRead + Seek>(
    reader: R,
    format: ImageFormat,
    path: &Path,
    limits: PhotoLimits,
) -> Result<DynamicImage> {
    let limit_err = |detail: String| Error::DecodeLimit {
        path: path.to_path_buf(),
        detail,
        max_side_px: limits.max_side_px,
        max_decode_bytes: limits.max_decode_bytes,
    };
    let classify = |source: ImageError| match source {
        ImageError::Limits(e) => limit_err(e.to_string()),
        ImageError::IoError(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => Error::Io {
            path: path.to_path_buf(),
            source: e,
        },
        source => Error::CorruptImage {
            path: path.to_path_buf(),
            format: format_name(format),
            source,
        },
    };
    // The side limits are checked below, on the declared size, so that the error
    // can say what the file declares; the byte limit also bounds the decoder's
    // own allocations.
    let mut decoder_limits = limits.image_limits();
    decoder_limits.max_image_width = None;
    decoder_limits.max_image_height = None;
    let mut reader = ImageReader::with_format(reader, format);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (width, height) = decoder.dimensions();
    let bytes = decoder.total_bytes();
    if width > limits.max_side_px || height > limits.max_side_px || bytes > limits.max_decode_bytes
    {
        return Err(limit_err(format!(
            "it declares {width}×{height} px of {:?}, {bytes} bytes decoded",
            decoder.color_type()
        )));
    }
    if width == 0 || height == 0 {
        return Err(Error::ImageTooSmall {
            width,
            height,
            min_side: 1,
        });
    }
    // A malformed EXIF block must not cost the photo: keep the stored orientation.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    let nan = match &image {
        DynamicImage::ImageRgb32F(i) => i.as_raw().iter().filter(|v| v.is_nan()).count(),
        DynamicImage::ImageRgba32F(i) => i.as_raw().iter().filter(|v| v.is_nan()).count(),
        _ => 0,
    };
    if nan > 0 {
        return Err(Error::CorruptImage {
            path: path.to_path_buf(),
            format: format_name(format),
            source: ImageError::Decoding(DecodingError::new(
                ImageFormatHint::Exact(format),
                format!("{nan} samples are NaN (not a number)"),
            )),
        });
    }
    image.apply_orientation(orientation);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(image: &DynamicImage) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        image.write_to(&mut buf, ImageFormat::Png).unwrap();
        buf.into_inner()
    }

    #[test]
    fn round_trips_a_png_whatever_its_name() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(20, 10, |x, y| {
            image::Rgb([x as u8 * 10, y as u8 * 20, 7])
        }));
        let bytes = png(&img);
        assert_eq!(decode_photo(&bytes, PhotoLimits::default()).unwrap(), img);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photo.jpg");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(load_photo(&path, PhotoLimits::default()).unwrap(), img);
    }

    #[test]
    fn limits_are_checked_on_the_declared_size() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::new(40, 30));
        let bytes = png(&img);
        let tight = PhotoLimits {
            max_decode_bytes: 40 * 30 * 3 - 1,
            ..PhotoLimits::default()
        };
        match decode_photo(&bytes, tight) {
            Err(Error::DecodeLimit { detail, .. }) => {
                assert!(detail.contains("40×30"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
        let narrow = PhotoLimits {
            max_side_px: 39,
            ..PhotoLimits::default()
        };
        assert!(matches!(
            decode_photo(&bytes, narrow),
            Err(Error::DecodeLimit { .. })
        ));
        let exact = PhotoLimits {
            max_decode_bytes: 40 * 30 * 3,
            max_side_px: 40,
        };
        assert!(decode_photo(&bytes, exact).is_ok());
    }
}
