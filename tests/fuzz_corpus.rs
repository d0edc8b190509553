//! Replays the fuzz corpus (`fuzz/corpus/*`: the seeds and a size-limited part
//! of the minimised corpus of the fuzz runs) and the inputs of past findings
//! (`fuzz/regressions/*`) through the functions the fuzz targets call, on the
//! stable toolchain, so that CI exercises them without nightly or cargo-fuzz.
//! `REGENERATE=1 cargo test --release --test fuzz_corpus` rewrites the seeds
//! (`fuzz/corpus/*/seed-*`) from small crops of the fixtures (#6).

mod common;
#[path = "../fuzz/src/lib.rs"]
mod fuzz_support;

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file of `fuzz/corpus/TARGET` and `fuzz/regressions/TARGET`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The bytes of `path`, or `None` when a fuzzer running beside the test has just
/// replaced it by a smaller input.
fn read(path: &Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, (stem, x, y)) in [
        ("clipped-dark-11", 200, 150),
        ("clipped-white-13", 300, 200),
        ("long-crossing-14", 100, 100),
    ]
    .into_iter()
    .enumerate()
    {
        let crop = common::fixture_crop(stem, x, y, 64, 48);
        out.push((
            format!("seed-{i}-rgb8.png"),
            common::encode(&crop, ImageFormat::Png),
        ));
        if i == 0 {
            let rgb16 = DynamicImage::ImageRgb16(crop.to_rgb16());
            let grey = DynamicImage::ImageLuma8(crop.to_luma8());
            let rgba = DynamicImage::ImageRgba8(crop.to_rgba8());
            let float = DynamicImage::ImageRgb32F(crop.to_rgb32f());
            out.push((
                format!("seed-{i}-rgb16.png"),
                common::encode(&rgb16, ImageFormat::Png),
            ));
            out.push((
                format!("seed-{i}-grey.png"),
                common::encode(&grey, ImageFormat::Png),
            ));
            out.push((
                format!("seed-{i}-rgba.png"),
                common::encode(&rgba, ImageFormat::Png),
            ));
            out.push((
                format!("seed-{i}.bmp"),
                common::encode(&crop, ImageFormat::Bmp),
            ));
            out.push((
                format!("seed-{i}.tif"),
                common::encode(&crop, ImageFormat::Tiff),
            ));
            out.push((
                format!("seed-{i}-f32.tif"),
                common::encode(&float, ImageFormat::Tiff),
            ));
            out.push((
                format!("seed-{i}-exif6.jpg"),
                common::jpeg_with_orientation(&crop, 6),
            ));
        }
        out.push((
            format!("seed-{i}.jpg"),
            common::encode(&crop, ImageFormat::Jpeg),
        ));
    }
    out
}

fn json_seeds() -> Vec<(String, Vec<u8>)> {
    let crop = common::fixture_crop("clipped-white-13", 300, 200, 80, 64);
    let a = trichometry::analyze(
        &crop,
        &trichometry::Calibration::new(6.0).unwrap(),
        &trichometry::Params::default(),
    )
    .unwrap();
    vec![
        ("seed-0.json".into(), serde_json::to_vec(&a).unwrap()),
        (
            "seed-0-pretty.json".into(),
            serde_json::to_vec_pretty(&a).unwrap(),
        ),
    ]
}

#[test]
fn regenerate_seeds_on_request() {
    if std::env::var_os("REGENERATE").is_none() {
        return;
    }
    for (target, files) in [("decode_analyze", seeds()), ("analysis_json", json_seeds())] {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

#[test]
fn decode_analyze_corpus_replays_without_a_finding() {
    let files = inputs("decode_analyze");
    assert!(files.len() >= 10, "corpus missing: {} files", files.len());
    let mut analysed = 0;
    for path in &files {
        let Some(bytes) = read(path) else { continue };
        // A panic (a finding) fails the test and names the file.
        let result = std::panic::catch_unwind(|| fuzz_support::decode_and_analyze(&bytes));
        match result {
            Ok(Ok(_)) => analysed += 1,
            Ok(Err(_)) => {}
            Err(_) => panic!("{}: the fuzz target panicked", path.display()),
        }
    }
    // The seeds are valid photos: at least they must get through to an analysis.
    assert!(analysed >= 8, "only {analysed} of {} analysed", files.len());
}

#[test]
fn analysis_json_corpus_replays_without_a_finding() {
    let files = inputs("analysis_json");
    assert!(!files.is_empty(), "corpus missing");
    let mut loaded = 0;
    for path in &files {
        let Some(bytes) = read(path) else { continue };
        let result = std::panic::catch_unwind(|| fuzz_support::load_analysis_json(&bytes));
        match result {
            Ok(Some(_)) => loaded += 1,
            Ok(None) => {}
            Err(_) => panic!("{}: the fuzz target panicked", path.display()),
        }
    }
    assert!(loaded >= 2, "the seeds must load: {loaded} did");
}
