//! Helpers shared by the robustness, batch and fuzz-corpus tests: encoders for every
//! pixel type and container the loader must read, and hand-written EXIF.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat};

/// Encodes `image` in `format`.
pub fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    image.write_to(&mut buf, format).unwrap();
    buf.into_inner()
}

/// A JPEG of `image` (quality 95) carrying an EXIF APP1 segment whose only
/// entry is the orientation tag (0x0112) = `orientation` (1–8), written by
/// hand: big-endian TIFF header, one IFD entry of type SHORT.
pub fn jpeg_with_orientation(image: &DynamicImage, orientation: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
    image.to_rgb8().write_with_encoder(enc).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(b"MM\0\x2a"); // TIFF header, big-endian
    exif.extend(8u32.to_be_bytes()); // offset of IFD0
    exif.extend(1u16.to_be_bytes()); // one entry
    exif.extend(0x0112u16.to_be_bytes()); // Orientation
    exif.extend(3u16.to_be_bytes()); // SHORT
    exif.extend(1u32.to_be_bytes()); // count
    exif.extend(orientation.to_be_bytes());
    exif.extend([0, 0]); // value padded to 4 bytes
    exif.extend(0u32.to_be_bytes()); // no next IFD
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((exif.len() + 2) as u16).to_be_bytes());
    out.extend(exif);
    out.extend(&jpeg[2..]);
    out
}

/// A `w`×`h` crop of a shipped fixture photo at (`x`, `y`).
pub fn fixture_crop(stem: &str, x: u32, y: u32, w: u32, h: u32) -> DynamicImage {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{stem}.png"));
    image::open(path).unwrap().crop_imm(x, y, w, h)
}

/// CRC-32 (IEEE), for hand-made PNG chunks.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims `width`×`height` pixels of 16-bit RGB, followed by
/// one tiny IDAT: a decompression bomb of a few dozen bytes.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([16, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

/// A BMP whose header claims `width`×`height` pixels of 24-bit RGB, with 16
/// bytes of pixel data.
pub fn bmp_claiming(width: i32, height: i32) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend(70u32.to_le_bytes()); // file size (a lie too)
    out.extend([0u8; 4]);
    out.extend(54u32.to_le_bytes()); // pixel data offset
    out.extend(40u32.to_le_bytes()); // BITMAPINFOHEADER
    out.extend(width.to_le_bytes());
    out.extend(height.to_le_bytes());
    out.extend(1u16.to_le_bytes()); // planes
    out.extend(24u16.to_le_bytes()); // bits per pixel
    out.extend([0u8; 24]); // no compression, sizes and palette zero
    out.extend([0x80u8; 16]);
    out
}

/// A little-endian TIFF whose one IFD claims `width`×`height` 8-bit grey pixels
/// in one strip of 16 bytes.
pub fn tiff_claiming(width: u32, height: u32) -> Vec<u8> {
    let entries: [(u16, u16, u32); 9] = [
        (256, 4, width),  // ImageWidth, LONG
        (257, 4, height), // ImageLength
        (258, 3, 8),      // BitsPerSample, SHORT
        (259, 3, 1),      // Compression: none
        (262, 3, 1),      // PhotometricInterpretation: black is zero
        (273, 4, 0),      // StripOffsets (patched below)
        (277, 3, 1),      // SamplesPerPixel
        (278, 4, height), // RowsPerStrip
        (279, 4, 16),     // StripByteCounts
    ];
    let ifd_len = 2 + entries.len() * 12 + 4;
    let data_offset = (8 + ifd_len) as u32;
    let mut out = b"II\x2a\x00".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        let value = if tag == 273 { data_offset } else { value };
        if kind == 3 {
            out.extend((value as u16).to_le_bytes());
            out.extend([0, 0]);
        } else {
            out.extend(value.to_le_bytes());
        }
    }
    out.extend(0u32.to_le_bytes());
    out.extend([0x80u8; 16]);
    out
}

/// `jpeg` with the size in its SOF0 header replaced by `width`×`height` (the
/// scan data is left as it is).
pub fn jpeg_claiming(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG has a SOF0 segment");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}
