//! The pipeline's stages one at a time, for the per-stage benchmarks
//! (`benches/stages.rs`). Not a stable API: the types are opaque and the
//! functions do exactly what [`crate::analyze`] does at each step, with the
//! same parameters, so a stage's time here is its time inside `analyze`.

use crate::analysis::{self, background_block_px, Params};
use crate::calibration::Calibration;
use crate::measure::measure;
use crate::preprocess::{prepare, Background, ContrastChannel};
use crate::ridge::RidgeMap;
use crate::trace::Strand;
use image::DynamicImage;
use rayon::prelude::*;

/// Working planes of one photo and its skin level (output of [`preprocess`]).
#[derive(Debug)]
pub struct Planes<'a>(crate::preprocess::Prepared<'a>, Background);

/// Per-pixel line response (output of [`ridge`]).
#[derive(Debug)]
pub struct Ridges(RidgeMap);

/// Traced, bridged strands (output of [`trace_strands`]).
#[derive(Debug)]
pub struct Strands(Vec<Strand>);

impl Strands {
    /// Number of strands.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no strand was traced.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Stage 1: colour planes, mean level and the skin-level map.
pub fn preprocess<'a>(
    image: &'a DynamicImage,
    calibration: &Calibration,
    params: &Params,
) -> Planes<'a> {
    let prep = prepare(image, params.assume_srgb);
    let block = background_block_px(params.background_block_um, calibration.um_per_px());
    let skin = Background::new(&prep.mean, block);
    Planes(prep, skin)
}

/// Stage 2: the detector's absorbance plane (with its specular floor) and the
/// multi-scale Hessian line detector over the calibration's widths.
pub fn ridge(planes: &Planes, calibration: &Calibration, params: &Params) -> Ridges {
    let absorbance = planes.0.detector_absorbance(&planes.1);
    Ridges(analysis::detect_ridges(
        &absorbance,
        params,
        calibration.um_per_px(),
    ))
}

/// Stage 3: hysteresis tracing of centrelines and bridging of gaps.
pub fn trace_strands(ridges: &Ridges, params: &Params) -> Strands {
    Strands(analysis::trace_strands(&ridges.0, params))
}

/// Stage 4: length and cross-sections of every strand, and the free profile fit
/// of those long enough to tell the photo's blur (as in `analyze`, before its
/// blur refit); returns how many strands gave a width.
pub fn measure_strands(
    planes: &Planes,
    strands: &Strands,
    calibration: &Calibration,
    params: &Params,
) -> usize {
    let trim_px = params.end_trim_um / calibration.um_per_px();
    strands
        .0
        .par_iter()
        .filter_map(|s| {
            let mut m = measure(&planes.0, ContrastChannel::Mean, s, trim_px)?;
            if m.length_px * calibration.um_per_px() >= params.min_length_um {
                m.fit_free();
            }
            m.diameter_px
        })
        .count()
}
