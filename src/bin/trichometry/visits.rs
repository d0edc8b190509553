//! Loading what `compare`, `growth` and `timeline` take: photos, saved analyses
//! or session files.

use std::path::Path;

use image::DynamicImage;
use trichometry::session::Session;
use trichometry::{analyze, Analysis, Calibration, Error, Params};

/// The photos of one visit, analysed.
pub struct Visit {
    /// One analysis per photo.
    pub analyses: Vec<Analysis>,
    /// The photos, where they could be read.
    pub images: Vec<Option<DynamicImage>>,
    /// The session, when a session file was given.
    pub session: Option<Session>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Decodes a photo.
pub fn open_image(path: &Path) -> Result<DynamicImage, Error> {
    image::ImageReader::open(path)
        .map_err(io_err(path))?
        .with_guessed_format()
        .map_err(io_err(path))?
        .decode()
        .map_err(|source| Error::Image {
            path: path.to_path_buf(),
            source,
        })
}

/// Loads a photo (calibrated by `um_per_px`), a saved analysis (`analyze --json`)
/// or a session file.
pub fn load(path: &Path, um_per_px: Option<f64>) -> Result<Visit, Error> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        let um = um_per_px.ok_or(Error::InvalidParameter {
            name: "um_per_px",
            value: f64::NAN,
            expected: "a calibration (--um-per-px) for a photo",
        })?;
        let image = open_image(path)?;
        let analysis = analyze(&image, &Calibration::new(um)?, &Params::default())?;
        return Ok(Visit {
            analyses: vec![analysis],
            images: vec![Some(image)],
            session: None,
        });
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
    if value.get("patient_id").is_some() {
        let session = Session::load(path)?;
        let mut analyses = Vec::new();
        let mut images = Vec::new();
        for (i, p) in session.photos.iter().enumerate() {
            let (analysis, image) = match &p.analysis {
                // A saved analysis: the photo only refines registration and the
                // look-back, so a missing photo is not an error.
                Some(a) => (a.clone(), open_image(&p.path).ok()),
                None => {
                    let img = open_image(&p.path)?;
                    let a = analyze(&img, &session.calibration(i)?, &Params::default())?;
                    (a, Some(img))
                }
            };
            analyses.push(analysis);
            images.push(image);
        }
        return Ok(Visit {
            analyses,
            images,
            session: Some(session),
        });
    }
    let analysis: Analysis = serde_json::from_value(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Visit {
        analyses: vec![analysis],
        images: vec![None],
        session: None,
    })
}

/// Writes `value` as pretty JSON to `path` (`-` for standard output).
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    if path.as_os_str() == "-" {
        println!("{text}");
        Ok(())
    } else {
        std::fs::write(path, text).map_err(io_err(path))
    }
}
