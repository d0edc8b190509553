//! The whole pipeline: [`analyze`] a photo into an [`Analysis`].

use std::collections::BTreeMap;

use image::DynamicImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::classes::{ClassLimits, ThicknessClass};
use crate::error::{Error, Result};
use crate::filter::Plane;
use crate::measure::{centerline_of, measure, Measured, MIN_FIT_BLUR_PX};
use crate::overlay::{self, FieldRect};
use crate::preprocess::{prepare, Background, ContrastChannel};
use crate::quality::{assess_planes, Quality};
use crate::ridge::{detect, scale_ladder, RidgeMap};
use crate::stats::{median, poisson_ci95};
use crate::trace::{bridge, split_at_corners, trace, Strand, TraceParams};

/// Smallest side accepted by [`analyze`] (px): a few shaft widths plus filter support.
pub const MIN_SIDE_PX: u32 = 16;

/// Analysis settings. Plain data with defaults; checked by [`Params::validate`]
/// (which [`analyze`] calls).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Thinnest shaft searched for (µm).
    pub min_width_um: f64,
    /// Thickest shaft searched for (µm).
    pub max_width_um: f64,
    /// A strand must reach this signal-to-noise ratio somewhere (hysteresis high).
    pub snr_high: f64,
    /// Strands are followed down to this signal-to-noise ratio (hysteresis low).
    pub snr_low: f64,
    /// Strands shorter than this are not hairs (µm).
    pub min_length_um: f64,
    /// Length left out at each end of a shaft when measuring its diameter (µm):
    /// the emergence zone fades over ~100 µm.
    pub end_trim_um: f64,
    /// A dark strand whose red-channel occlusion is below this fraction of its
    /// green-channel occlusion is a blood vessel, not a hair (haemoglobin absorbs
    /// green tens of times more than red; melanin absorbs both).
    pub vessel_red_green_ratio: f64,
    /// Emergence points closer than this belong to one follicular unit (µm).
    pub follicular_unit_radius_um: f64,
    /// A shaft end counts as fading into the skin (an emergence) when its
    /// contrast falls from 80 % to 30 % over at least this length (µm), and over
    /// more than the optical blur can spread a crisp cut tip.
    pub fade_min_um: f64,
    /// Side of the square blocks over which the skin level is taken (µm): wider
    /// than a follicular unit, so hair covers a minority of any block, and
    /// narrower than the photo's vignetting and uneven light.
    pub background_block_um: f64,
    /// How far past a shaft's edge (µm) the surroundings of its end are read, to
    /// tell an end in a follicle opening shared with other shafts.
    pub end_surround_um: f64,
    /// Thickness class limits.
    pub class_limits: ClassLimits,
    /// Undo the sRGB transfer curve (true for camera JPEG/PNG files).
    pub assume_srgb: bool,
    /// Largest image accepted (pixels).
    pub max_pixels: u64,
    /// Leave burned-in bars along the photo's edges out of the field, and fill
    /// in graphics drawn inside it (a scale bar) from the skin around them
    /// (see [`crate::overlay`]).
    pub detect_overlays: bool,
    /// Guard band (µm) along each edge of the field, left out of the counting
    /// frame: hairs are counted where they emerge inside the frame and the
    /// count is scaled to the field by the ratio of the areas (see [`analyze`],
    /// "Counting frame"). Near the edge an emergence cannot be told from a shaft
    /// leaving the field (an end within 1.5 detection σ + 1.5 px, about 0.75 of
    /// a shaft's width, of the edge is read as leaving it). 0 counts in the
    /// whole field.
    pub count_guard_um: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_width_um: 8.0,
            max_width_um: 130.0,
            snr_high: 8.0,
            snr_low: 3.5,
            min_length_um: 120.0,
            end_trim_um: 120.0,
            vessel_red_green_ratio: 0.3,
            follicular_unit_radius_um: 100.0,
            fade_min_um: FADE_MIN_UM,
            background_block_um: 400.0,
            end_surround_um: 25.0,
            class_limits: ClassLimits::default(),
            assume_srgb: true,
            max_pixels: 100_000_000,
            detect_overlays: true,
            count_guard_um: 80.0,
        }
    }
}

impl Params {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        let positive = crate::error::require_positive;
        positive("min_width_um", self.min_width_um)?;
        positive("max_width_um", self.max_width_um)?;
        if self.max_width_um < self.min_width_um {
            return Err(Error::InvalidParameter {
                name: "max_width_um",
                value: self.max_width_um,
                expected: "at least min_width_um",
            });
        }
        positive("snr_high", self.snr_high)?;
        positive("snr_low", self.snr_low)?;
        if self.snr_low > self.snr_high {
            return Err(Error::InvalidParameter {
                name: "snr_low",
                value: self.snr_low,
                expected: "at most snr_high",
            });
        }
        positive("min_length_um", self.min_length_um)?;
        if !(self.end_trim_um.is_finite() && self.end_trim_um >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "end_trim_um",
                value: self.end_trim_um,
                expected: "a finite length ≥ 0 µm",
            });
        }
        if !(0.0..=1.0).contains(&self.vessel_red_green_ratio) {
            return Err(Error::InvalidParameter {
                name: "vessel_red_green_ratio",
                value: self.vessel_red_green_ratio,
                expected: "a fraction in [0, 1]",
            });
        }
        positive("follicular_unit_radius_um", self.follicular_unit_radius_um)?;
        positive("fade_min_um", self.fade_min_um)?;
        positive("background_block_um", self.background_block_um)?;
        positive("end_surround_um", self.end_surround_um)?;
        self.class_limits.validate()?;
        if !(self.count_guard_um.is_finite() && self.count_guard_um >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "count_guard_um",
                value: self.count_guard_um,
                expected: "a finite length ≥ 0 µm",
            });
        }
        if self.max_pixels == 0 {
            return Err(Error::InvalidParameter {
                name: "max_pixels",
                value: 0.0,
                expected: "at least 1",
            });
        }
        Ok(())
    }
}

/// Which way a shaft differs from the skin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    /// Darker than skin (pigmented hair).
    Dark,
    /// Brighter than skin (grey or white hair).
    Light,
}

/// One detected hair strand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrandResult {
    /// Index in [`Analysis::strands`].
    pub id: usize,
    /// Sub-pixel centreline, one point per pixel of length (px; pixel centres at +0.5).
    pub centerline: Vec<[f64; 2]>,
    /// Visible length (µm).
    pub length_um: f64,
    /// Shaft diameter (µm): blurred-cylinder fit of the median cross-section over
    /// the shaft without its end zones.
    pub width_um: f64,
    /// Thickness class of `width_um`.
    pub class: ThicknessClass,
    /// Dark or light shaft.
    pub polarity: Polarity,
    /// The end taken as the emergence from the skin (px), when one could be told.
    pub emergence: Option<[f64; 2]>,
    /// Share of this strand in the hair count: 1 when it emerges in the field (or
    /// both its ends lie in it), 0 otherwise; 1 more for each hair that ran merged
    /// with it from the opening and ended inside it (a step down in its width).
    /// See [`analyze`] for the rule.
    pub count_weight: f64,
    /// Share of this strand's hairs that emerged inside the counting frame
    /// ([`Analysis::count_guard_px`]): 1 or 0 by its emergence point; with none
    /// told, ½ for each of its two ends inside. The strand adds `count_weight` ×
    /// `frame_share` hairs to the frame's count. 1 in saved analyses from before
    /// the frame.
    #[serde(default = "one")]
    pub frame_share: f64,
}

fn one() -> f64 {
    1.0
}

impl StrandResult {
    /// Hairs this strand adds to the counting frame's count: `count_weight` ×
    /// `frame_share`.
    pub fn hairs_in_frame(&self) -> f64 {
        self.count_weight * self.frame_share
    }
}

/// Image size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDims {
    /// Width (px).
    pub width: u32,
    /// Height (px).
    pub height: u32,
}

/// Counts per thickness class (weighted by `count_weight`, so may be fractional).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// Vellus hairs.
    pub vellus: f64,
    /// Intermediate hairs.
    pub intermediate: f64,
    /// Terminal hairs.
    pub terminal: f64,
}

/// A histogram of shaft widths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WidthHistogram {
    /// Bin edges (µm), one more than `counts`.
    pub edges_um: Vec<f64>,
    /// Weighted hair count per bin.
    pub counts: Vec<f64>,
}

/// Everything [`analyze`] measures on one photo. This is the JSON contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Crate version that produced it.
    pub version: String,
    /// Image size.
    pub image: ImageDims,
    /// The part of the photo analysed (px) when it is not all of it: the photo
    /// without the bars burned in along its edges (see [`crate::overlay`]).
    /// Field area, counts and densities are those of this rectangle. `None`
    /// (and in saved analyses from before this field): the whole photo.
    #[serde(default)]
    pub field_px: Option<FieldRect>,
    /// Calibration used (µm/px).
    pub um_per_px: f64,
    /// Field area (cm²).
    pub field_area_cm2: f64,
    /// Width (px) of the guard band along each edge of the field that the
    /// counting frame leaves out ([`Params::count_guard_um`], at most a quarter
    /// of the field's shorter side); 0 in saved analyses from before the frame.
    #[serde(default)]
    pub count_guard_px: f64,
    /// Hairs emerging in the field, estimated from those emerging in the
    /// counting frame: Σ `count_weight` × `frame_share` × field area ÷ frame area
    /// (so it may be fractional).
    pub hair_count: f64,
    /// Hairs per cm².
    pub density_per_cm2: f64,
    /// Exact Poisson 95 % interval of the density (hairs/cm²): the counting and
    /// sampling error of this field, not the variation across a scalp.
    pub density_ci95_per_cm2: [f64; 2],
    /// Weighted counts per class.
    pub class_counts: ClassCounts,
    /// Densities per class (hairs/cm²).
    pub class_density_per_cm2: ClassCounts,
    /// Mean shaft width of counted hairs (µm; 0 when none).
    pub mean_width_um: f64,
    /// Median shaft width of counted hairs (µm; 0 when none).
    pub median_width_um: f64,
    /// Coefficient of variation of widths (fraction; > 0.2 suggests miniaturisation).
    pub width_cv: f64,
    /// Fraction of counted hairs that are vellus.
    pub vellus_fraction: f64,
    /// Fraction that are intermediate.
    pub intermediate_fraction: f64,
    /// Fraction that are terminal.
    pub terminal_fraction: f64,
    /// Sum of counted widths per field area (mm/cm²).
    pub cumulative_thickness_mm_per_cm2: f64,
    /// Follicular units: clusters of emergence points within the configured radius.
    pub follicular_units: usize,
    /// Follicular units per cm².
    pub follicular_unit_density_per_cm2: f64,
    /// Mean hairs per follicular unit.
    pub hairs_per_follicular_unit: f64,
    /// Units with 1, 2, 3 and 4+ hairs.
    pub follicular_unit_histogram: [usize; 4],
    /// Width histogram of counted hairs (10 µm bins).
    pub width_histogram: WidthHistogram,
    /// Optical blur measured from the shafts (Gaussian σ, µm); `None` when no shaft
    /// was wide enough to measure it.
    pub blur_sigma_um: Option<f64>,
    /// Image-quality verdict: blur, exposure, contrast, and whether the figures
    /// above can be relied on (see [`crate::quality`]).
    pub quality: Quality,
    /// Every strand found (including those weighted 0).
    pub strands: Vec<StrandResult>,
}

impl Analysis {
    /// The rectangle analysed (px): [`Analysis::field_px`], or the whole photo.
    pub fn field(&self) -> FieldRect {
        self.field_px
            .unwrap_or_else(|| FieldRect::whole(self.image.width, self.image.height))
    }

    /// Hairs emerging in the counting frame (the sum of
    /// [`StrandResult::hairs_in_frame`]), before [`Analysis::hair_count`]
    /// scales them to the field.
    pub fn frame_hair_count(&self) -> f64 {
        frame_hairs(&self.strands)
    }

    /// Area of the counting frame (cm²): the field less its guard band
    /// ([`Analysis::count_guard_px`]).
    pub fn count_frame_area_cm2(&self) -> f64 {
        let f = self.field();
        frame_area_cm2(f.width, f.height, self.count_guard_px, self.um_per_px)
    }
}

/// The sum of the strands' [`StrandResult::hairs_in_frame`], folded from +0.0:
/// `Iterator::sum` of no f64 is −0.0, which a bald scalp's JSON and CSV would
/// show as a count of "-0" (#6).
fn frame_hairs<'a>(strands: impl IntoIterator<Item = &'a StrandResult>) -> f64 {
    strands
        .into_iter()
        .map(StrandResult::hairs_in_frame)
        .fold(0.0, |a, b| a + b)
}

/// Area (cm²) of a `width` × `height` px field less a guard band of `guard_px`
/// along each edge, at `um_per_px`.
fn frame_area_cm2(width: u32, height: u32, guard_px: f64, um_per_px: f64) -> f64 {
    let w = (f64::from(width) - 2.0 * guard_px).max(0.0);
    let h = (f64::from(height) - 2.0 * guard_px).max(0.0);
    w * h * um_per_px * um_per_px / 1e8
}

/// The guard band (px) of a `width` × `height` px field: `guard_um`, at most a
/// quarter of the shorter side.
fn guard_px(width: u32, height: u32, guard_um: f64, um_per_px: f64) -> f64 {
    (guard_um / um_per_px).min(0.25 * f64::from(width.min(height)))
}

/// [`StrandResult::frame_share`] of a strand that counts, in field pixels: by
/// its emergence point, or ½ per end inside the frame when none was told.
fn frame_share(s: &StrandResult, field: &FieldRect, guard_px: f64) -> f64 {
    let inside = |p: [f64; 2]| f64::from(u8::from(field.contains(p, guard_px)));
    match (s.emergence, s.centerline.first(), s.centerline.last()) {
        (Some(e), _, _) => inside(e),
        (None, Some(&a), Some(&b)) => 0.5 * (inside(a) + inside(b)),
        _ => 0.0,
    }
}

/// Analyses one trichoscopy photo.
///
/// # Counting convention
/// A hair belongs to the field when its emergence point does (emergence-end
/// detection). Each end of a strand is classified:
/// * **border**: within the border margin, the strand leaves the field; unless its
///   contrast fades (as below) and that whole fall, with the skin beside it, is
///   seen inside the photo: then the hair emerged in the field, near its edge, and
///   the end is a fade (a shaft that leaves the field keeps its contrast to the
///   edge). An end inside the margin whose contrast, read on along its direction,
///   never falls to 30 % before the photo's edge (within 40 px) is a border end
///   too: its trace stopped short (where another hair crosses it, or two run
///   together out of the field), but the shaft runs on out of the field;
/// * **fade**: the centre contrast falls from 80 % to 30 % over at least
///   [`Params::fade_min_um`] (and more than the optical blur can spread a cut tip): the
///   shaft enters the skin;
/// * **unresolved**: the contrast never falls, the end runs into something as dark
///   as the shaft (an opening shared with other shafts);
/// * **crisp**: full contrast up to the end: a clipped tip, unless the skin around
///   it is darker than [`OPENING_SURROUND_MAX`] of the skin level (an opening);
/// * **crossing**: the end stops against the middle of another strand (at least
///   two of its diameters plus 3 px from its ends in the field: a shaft that
///   leaves the photo has no end there), at least 30° across it: the hair passes
///   under or over that one there; or another
///   strand of the same polarity continues it: its end faces this one within 30°,
///   in line, across a gap no longer than the widest shaft over sin 10° (a hair
///   crossing at 10° or more hides no more), and at least three quarters of the
///   gap differ from the skin by half the fainter strand's contrast. The trace of a
///   hair breaks where it passes under or over another even when the other's
///   trace breaks there too; between a clipped tip and the next hair's opening
///   lies skin.
///
/// A strand's `count_weight` is 1 when one of its ends is an emergence (fade,
/// unresolved, or crisp in a dark opening) or when both ends lie inside the field
/// and neither is a crossing, and 0 otherwise: a strand cut by the border whose
/// inside end is a crisp tip emerged outside the field, one crossing the whole
/// field has no end in it, and a fragment between crossings is part of a hair
/// counted (or not) where it emerges.
///
/// Hairs of one follicular unit often leave their opening side by side and read
/// as one strand until they part. A counted strand whose width steps down (by 30 %
/// and 2 px, over runs at least 8 px and a width long, away from both end zones),
/// wide on its emergence side, where no other strand ends, carries one more hair
/// per step: a shorter hair ended there. Its `count_weight` is then above 1,
/// and its `width_um` is that of the hair running on alone past the last step
/// (for nearly opaque shafts; see the README, "width MAE"). Where they part,
/// the merged run is one strand and each hair's trace branches off its end:
/// each branch counts once, its `emergence` at the run's far end (when that
/// end looks like an emergence), and the run itself counts for none. Where
/// they part at once, each trace ends against the others': two or more
/// uncounted traces, each with a cut tip in the field, whose other ends meet and
/// which leave the meeting point 10–60° apart, are each a hair that emerged
/// there. A trace
/// that turns more than 45° within about 1.5 widths, between two straight
/// pieces, is two shafts meeting at an angle and is split there.
///
/// # Counting frame
/// Near the field's edge an emergence cannot be told from a shaft leaving the
/// field: an end within its strand's border margin is read as leaving it, so
/// hairs that emerge there would go uncounted, a bias of a few per cent on a
/// photo of 640 × 512 px. The count is therefore made in a counting frame, the
/// field less a guard band of [`Params::count_guard_um`] (80 µm; at most a
/// quarter of the shorter side) along each edge, which no end classification
/// reaches into: a hair counts in the frame when its emergence point (where
/// the rules above put it) lies inside it; a hair counted with no emergence
/// told (both its ends inside the field) counts ½ for each end inside the
/// frame ([`StrandResult::frame_share`]). [`Analysis::hair_count`] is the
/// frame's count times the field's area over the frame's (a fraction, as an
/// estimate of the field's hairs), and the densities, class counts, widths and
/// cumulative thickness are the frame's hairs'. Follicular units are still
/// formed from every counted hair of the field. A guard of 0 counts in the
/// whole field.
///
/// A hair strand is at least [`Params::min_length_um`] long and three times
/// longer than both its fitted width and its widest part (the 90th percentile of
/// its half-contrast run width over the middle three fifths): a flake, or the
/// skin between two, traced along its long axis is a shaft's width in places
/// only. A strand cut by the border need only reach half the length and aspect
/// limits of a hair: the border may hide most of a hair that emerges near it.
/// A light strand away from the border must lie on skin: one whose flanks
/// stand above the skin level by more than 0.4 of its own rise above them is a
/// bright ridge on a bright patch (a scale flake, a glare), not a shaft.
///
/// # Overlays
/// With [`Params::detect_overlays`] (the default), bars burned in along the
/// photo's edges are left out of the field and graphics drawn inside it are
/// filled in first (see [`crate::overlay`]); [`Analysis::field_px`] then gives
/// the rectangle analysed, and the field area, count and densities are its.
///
/// # Units
/// Widths and lengths in µm, areas in cm², densities in hairs/cm².
///
/// # Errors
/// [`Error::InvalidParameter`] for bad `params`, [`Error::ImageTooSmall`] for an
/// image with a side under [`MIN_SIDE_PX`] (or a field under it once the bars
/// are left out), [`Error::ImageTooLarge`] above `params.max_pixels`.
pub fn analyze(
    image: &DynamicImage,
    calibration: &Calibration,
    params: &Params,
) -> Result<Analysis> {
    params.validate()?;
    let (width, height) = (image.width(), image.height());
    if width < MIN_SIDE_PX || height < MIN_SIDE_PX {
        return Err(Error::ImageTooSmall {
            width,
            height,
            min_side: MIN_SIDE_PX,
        });
    }
    if u64::from(width) * u64::from(height) > params.max_pixels {
        return Err(Error::ImageTooLarge {
            width,
            height,
            max_pixels: params.max_pixels,
        });
    }
    let field = if params.detect_overlays {
        overlay::field_of(image)
    } else {
        FieldRect::whole(width, height)
    };
    let whole = field.is_whole(width, height);
    if !whole && (field.width < MIN_SIDE_PX || field.height < MIN_SIDE_PX) {
        return Err(Error::ImageTooSmall {
            width: field.width,
            height: field.height,
            min_side: MIN_SIDE_PX,
        });
    }
    // The field without the bars is analysed as a photo of its own (its
    // coordinates are moved back into the photo's below), its drawn graphics
    // filled in first from the skin around them: each step copies the photo
    // only when it has bars or graphics.
    let cropped = (!whole).then(|| image.crop_imm(field.x, field.y, field.width, field.height));
    let image = cropped.as_ref().unwrap_or(image);
    let erased = if params.detect_overlays {
        overlay::erase_drawn(image)
    } else {
        None
    };
    let mut a = analyze_field(erased.as_ref().unwrap_or(image), calibration, params);
    if whole {
        return Ok(a);
    }
    let (dx, dy) = (f64::from(field.x), f64::from(field.y));
    for s in &mut a.strands {
        for p in s.centerline.iter_mut().chain(s.emergence.as_mut()) {
            p[0] += dx;
            p[1] += dy;
        }
    }
    a.image = ImageDims { width, height };
    a.field_px = Some(field);
    Ok(a)
}

/// [`analyze`] of a photo whose every pixel is field (checked parameters and
/// size).
fn analyze_field(image: &DynamicImage, calibration: &Calibration, params: &Params) -> Analysis {
    let (width, height) = (image.width(), image.height());
    let um = calibration.um_per_px();
    let prep = prepare(image, params.assume_srgb);
    let quality = assess_planes(&prep.rgb, &prep.mean, um);
    let background = Background::new(
        &prep.mean,
        background_block_px(params.background_block_um, um),
    );
    // Neither the absorbance nor the ridge map is read past the stage that needs
    // it: freed at once, they keep the peak memory down (see README, "Memory").
    let ridge = {
        let absorbance = prep.detector_absorbance(&background);
        detect_ridges(&absorbance, params, um)
    };
    let strands: Vec<Strand> = trace_strands(&ridge, params);
    drop(ridge);
    // A second look in the yellow channel, for the shafts the mean misses (blond,
    // red): its dark strands (those that repeat a hair of the mean channel are
    // left out once that hair is measured, below, before they are measured).
    let yellow: Vec<Strand> = {
        let absorbance = prep.yellow_absorbance();
        let ridge = detect_ridges(&absorbance, params, um);
        drop(absorbance);
        trace_strands(&ridge, params)
    }
    .into_iter()
    .filter(|s| s.polarity > 0)
    .collect();
    let trim_px = params.end_trim_um / um;
    let long_enough = |m: &Measured| m.length_px * um >= params.min_length_um;
    let mut measured: Vec<(i8, Measured)> = strands
        .par_iter()
        .filter_map(|s| {
            let mut m = measure(&prep, ContrastChannel::Mean, s, trim_px)?;
            // Only a strand of the mean channel long enough to be a hair can tell
            // the blur (below); the others need the free fit only if the blur
            // refit fails. (The yellow channel mixes channels of opposite
            // contrast across a scattering shaft: its profile is no blurred
            // cylinder. Its strands are fitted once the mask below has kept them.)
            if long_enough(&m) {
                m.fit_free();
            }
            Some((s.polarity, m))
        })
        .collect();

    // The photo's blur, from shafts wide enough (≥ 3σ) that blur and width
    // separate, long enough to be hairs, and whose profile the model fits: first
    // those fitted closely, with their middle sections whole inside the photo
    // and not at the fit's lower bound of blur (where it traded blur for
    // opacity); a strand along the photo's edge, a blob or two merged shafts fit
    // loosely and pull the blur anywhere. Where no shaft is that clean, any
    // fitted one.
    let blur_of = |strict: bool| -> Vec<f64> {
        measured
            .iter()
            .filter_map(|(_, m)| {
                let s = m.free_sigma_px?;
                let d = m.diameter_px?;
                let mid = m.centerline[m.centerline.len() / 2];
                let reach = 3.0 * m.sigma_det_px + 4.0;
                let clean = m.fit_residual < BLUR_FIT_MAX_RESIDUAL
                    && s > 1.05 * MIN_FIT_BLUR_PX
                    && mid[0] > reach
                    && mid[1] > reach
                    && mid[0] < f64::from(width) - reach
                    && mid[1] < f64::from(height) - reach;
                (d >= 3.0 * s
                    && m.fit_residual < BLUR_FIT_LOOSE_RESIDUAL
                    && (clean || !strict)
                    && long_enough(m))
                .then_some(s)
            })
            .collect()
    };
    let mut blur = blur_of(true);
    if blur.is_empty() {
        blur = blur_of(false);
    }
    let blur_px = median(&mut blur);
    let fit = |m: &mut Measured| match blur_px {
        Some(b) => m.refit_with_blur(b),
        None => m.fit_free(),
    };
    measured
        .par_iter_mut()
        .filter(|(_, m)| m.channel == ContrastChannel::Mean)
        .for_each(|(_, m)| fit(m));

    let margin_of = |m: &Measured| (1.5 * m.sigma_det_px + 1.5).max(2.0);
    let inside = |p: [f64; 2], margin: f64| {
        p[0] > margin
            && p[1] > margin
            && p[0] < f64::from(width) - margin
            && p[1] < f64::from(height) - margin
    };
    // A dark strand whose colour is a vessel's (it takes little red away against
    // green: haemoglobin), or shading's: a faint dark line with the skin's own
    // colour (a furrow, the edge of a fold) is not a shaft, as hair is another
    // material, so what it takes away from the skin's light differs between
    // channels unless it is nearly opaque.
    let colour_says_no_hair = |polarity: i8, m: &Measured| {
        let [r, g, _] = m.colour_occlusion;
        polarity > 0
            && ((g > 0.0 && r < params.vessel_red_green_ratio * g)
                || is_shading(m.amplitude, m.colour_occlusion))
    };
    // Pass 1: keep the strands that are hair-shaped; the width (px) of each.
    let hair_shaped = |polarity: i8, m: &Measured| -> Option<f64> {
        let d_px = m.diameter_px?;
        let length_um = m.length_px * um;
        let width_um = d_px * um;
        // A strand cut by the border is shorter than its hair by an unknown
        // length (a hair emerging near the border shows only its first few
        // widths): its length and aspect are only lower bounds, held to
        // BORDER_CUT_SHORTENING of the limits.
        let margin = margin_of(m);
        let cut = !inside(m.centerline[0], margin)
            || !inside(m.centerline[m.centerline.len() - 1], margin);
        let shortening = if cut { BORDER_CUT_SHORTENING } else { 1.0 };
        if length_um < shortening * params.min_length_um
            || length_um < shortening * MIN_ASPECT * width_um
        {
            return None;
        }
        // The aspect again against the strand's widest part: a flake, or the skin
        // between two, traced along its long axis has the width of a shaft in
        // places and of the blob elsewhere; a shaft keeps its width.
        if widest_run_px(&m.station_width_px)
            .is_some_and(|w| m.length_px < shortening * MIN_ASPECT * w)
        {
            return None;
        }
        if !(width_um >= 0.5 * params.min_width_um && width_um <= 1.5 * params.max_width_um) {
            return None;
        }
        // A dark strand must have the sign of its fitted amplitude, and any strand
        // must take away (or add) more light than skin texture does.
        if (polarity > 0) != (m.amplitude > 0.0) || m.amplitude.abs() < MIN_AMPLITUDE {
            return None;
        }
        if colour_says_no_hair(polarity, m) {
            return None;
        }
        let mid = m.centerline[m.centerline.len() / 2];
        // A light strand must be brighter than the skin, not only than its flanks:
        // the skin showing between two dark shafts is a light line between dark
        // ones. Where the shafts part from one opening, the skin between them is
        // a widening wedge whose flanks, read past the shafts, are skin too; but
        // its centre is no brighter than the skin around. And it lies on skin:
        // one whose flanks stand above the skin by more than LIGHT_PLATEAU_MAX of
        // its own rise above them is a ridge on a bright patch (the texture
        // inside a scale flake, a glare), not a shaft. (Along the photo's edge
        // the flanks are read partly past it, on repeated pixels.)
        if polarity < 0 {
            let skin = background.at(mid[0], mid[1]);
            let on_plateau =
                !cut && m.flank_level - skin > LIGHT_PLATEAU_MAX * m.amplitude.abs() * skin;
            if m.flank_level < LIGHT_FLANK_MIN * skin
                || on_plateau
                || !brighter_than_skin(&prep.mean, &background, &m.centerline)
            {
                return None;
            }
        }
        // Hair shafts bend gently; a strand that curls back on itself (the rim of a
        // yellow dot or a flake, a vessel loop) is not one.
        let chord = {
            let (a, b) = (m.centerline[0], m.centerline[m.centerline.len() - 1]);
            (a[0] - b[0]).hypot(a[1] - b[1])
        };
        if chord < MIN_STRAIGHTNESS * m.length_px {
            return None;
        }
        Some(d_px)
    };
    // A strand of the yellow channel is kept only where the mean channel neither
    // found a hair (the yellow channel sees dark shafts too) nor saw a strand
    // plainly (at least MIN_AMPLITUDE) and judged it by its colour no hair (a
    // vessel, shading): the second look adds what the mean cannot see, and does
    // not overrule the colour it saw. (A furrow has the skin's colour in R, G
    // and B, yet the yellow channel's own weighting reads a tint on it.)
    let judged = StrandMask::new(
        width as usize,
        height as usize,
        measured.iter().filter_map(|(p, m)| {
            if m.channel != ContrastChannel::Mean {
                return None;
            }
            let r = match hair_shaped(*p, m) {
                Some(d_px) => 0.5 * d_px + 2.0,
                None if m.amplitude.abs() >= MIN_AMPLITUDE && colour_says_no_hair(*p, m) => {
                    2.0 * m.sigma_det_px + 2.0
                }
                None => return None,
            };
            Some((m.centerline.as_slice(), r))
        }),
    );
    // Only the yellow strands the mask keeps are measured (most repeat a hair
    // of the mean channel), on the centreline `measure` resamples.
    let yellow: Vec<(i8, Measured)> = yellow
        .par_iter()
        .filter(|s| !judged.covers_most_of(&centerline_of(s)))
        .filter_map(|s| {
            let mut m = measure(&prep, ContrastChannel::Yellow, s, trim_px)?;
            fit(&mut m);
            Some((s.polarity, m))
        })
        .collect();
    measured.extend(yellow);
    // Pass 2: the hairs (hair-shaped strands, with their width in px), and the
    // pieces a hair's trace broke into where it passes under or over another:
    // a piece too short to be kept on its own may still continue a hair, and its
    // far end may be where that hair emerged.
    let shape: Vec<Option<f64>> = measured.iter().map(|(p, m)| hair_shaped(*p, m)).collect();
    let linkable: Vec<bool> = measured
        .iter()
        .zip(&shape)
        .map(|((p, m), d)| {
            d.is_some()
                || ((*p > 0) == (m.amplitude > 0.0)
                    && m.amplitude.abs() >= MIN_AMPLITUDE
                    && !colour_says_no_hair(*p, m))
        })
        .collect();
    let diameter_of = |i: usize| {
        let m = &measured[i].1;
        shape[i].unwrap_or_else(|| m.diameter_px.unwrap_or(2.0 * m.sigma_det_px))
    };
    let all_ends = strand_ends(
        measured
            .iter()
            .enumerate()
            .map(|(i, (p, m))| (*p, m.centerline.as_slice(), diameter_of(i), m.amplitude)),
    );
    // Index in `all_ends` of each strand's `[head, tail]`.
    let mut end_index: Vec<[Option<usize>; 2]> = vec![[None; 2]; measured.len()];
    for (j, e) in all_ends.iter().enumerate() {
        end_index[e.strand][usize::from(e.tail)] = Some(j);
    }
    let kept: Vec<usize> = (0..measured.len())
        .filter(|&i| shape[i].is_some())
        .collect();
    let mut kept_index: Vec<Option<usize>> = vec![None; measured.len()];
    for (k, &i) in kept.iter().enumerate() {
        kept_index[i] = Some(k);
    }

    // Ends continued by another strand of the same channel and polarity across a
    // short gap, facing it: the same hair, its trace broken where it passes under
    // or over another. Each end is linked to the nearest of those that continue
    // it, when that is mutual and both strands could be shafts; strands so linked
    // are one hair.
    let blur_margin = 2.0 * blur_px.unwrap_or(1.0) + 3.0;
    let max_gap_px =
        params.max_width_um / um / CONTINUATION_MIN_CROSSING_DEG.to_radians().sin() + blur_margin;
    // Per end: the ends of other strands of its channel that `pair` accepts
    // (called with this end first).
    let ends_paired = |pair: &(dyn Fn(&StrandEnd, &StrandEnd) -> bool + Sync)| -> Vec<Vec<usize>> {
        all_ends
            .par_iter()
            .map(|e| {
                all_ends
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| {
                        o.strand != e.strand
                            && measured[o.strand].1.channel == measured[e.strand].1.channel
                            && pair(e, o)
                    })
                    .map(|(j, _)| j)
                    .collect()
            })
            .collect()
    };
    // The ends of strands at least as long as they are wide: a shorter trace is
    // a spot's response (the dark of an opening, a crumb), not a hair crossing.
    let trace_ends: Vec<StrandEnd> = all_ends
        .iter()
        .filter(|e| measured[e.strand].1.length_px >= e.d_px)
        .copied()
        .collect();
    let facing = ends_paired(&|e, o| match continues(e, o, max_gap_px) {
        None => false,
        Some(Continuation::AcrossGap) => gap_covered(&prep.mean, &background, e, o),
        Some(Continuation::Touching) => {
            gap_covered(&prep.mean, &background, e, o) && x_junction(e, o, &trace_ends)
        }
    });
    // Per end: the ends of wider strands it branches off (see `branches_off`).
    let branching = ends_paired(&|b, t| {
        branches_off(t, b, blur_margin) && gap_covered(&prep.mean, &background, t, b)
    });
    let gap = |a: usize, b: usize| {
        let (p, q) = (all_ends[a].pos, all_ends[b].pos);
        (p[0] - q[0]).hypot(p[1] - q[1])
    };
    let nearest_link = |a: usize| {
        if !linkable[all_ends[a].strand] {
            return None;
        }
        facing[a]
            .iter()
            .copied()
            .filter(|&b| linkable[all_ends[b].strand])
            .min_by(|&x, &y| gap(a, x).total_cmp(&gap(a, y)))
    };
    let nearest: Vec<Option<usize>> = (0..all_ends.len()).map(nearest_link).collect();
    let mut linked: Vec<Option<usize>> = (0..all_ends.len())
        .map(|a| nearest[a].filter(|&b| nearest[b] == Some(a)))
        .collect();

    // An end within the border margin is inside the field when the whole fade past
    // it lies in the photo: the hair emerged in the field, close to its edge. A
    // shaft that leaves the field keeps its contrast up to the edge (the photo's
    // last row or column repeats past it), so it never fades there; and one whose
    // contrast runs on to the edge leaves the field there, even where its trace
    // stopped short of the edge (where another hair crosses it, or two run
    // together out of the field).
    let fade_min_px = (params.fade_min_um / um).max(3.0 * blur_px.unwrap_or(0.0) + 2.5);
    let leaves_photo = |i: usize, k: usize| {
        let m = &measured[i].1;
        let end = [m.centerline[0], m.centerline[m.centerline.len() - 1]][k];
        let fading = m.end_fade_in_photo[k] && m.end_transition_px[k] >= fade_min_px;
        !(inside(end, margin_of(m)) || fading) || m.end_dark_to_edge[k]
    };
    // An end that stops against the middle of another kept strand, across it, is
    // where this hair passes under (or over) the other: it says nothing of where
    // the hair emerged. The strands of the yellow channel take no part in the
    // ends of the mean's: where it traces the edge of a dark shaft the mask left
    // (a sibling's side), that trace would read as a hair crossing it.
    // `mean_shafts` blanks them.
    let shafts: Vec<Shaft> = kept
        .iter()
        .map(|&i| {
            Shaft::new(
                measured[i].1.centerline.as_slice(),
                diameter_of(i),
                [leaves_photo(i, 0), leaves_photo(i, 1)],
            )
        })
        .collect();
    let mean_shafts: Vec<Shaft> = kept
        .iter()
        .zip(&shafts)
        .map(|(&i, &shaft)| match measured[i].1.channel {
            ContrastChannel::Mean => shaft,
            ContrastChannel::Yellow => Shaft::new(&[], shaft.d_px, shaft.leaves),
        })
        .collect();
    // End `k` (0 the head, 1 the tail) of strand `i`: at the border, where it
    // passes another hair, a crisp tip, a fade into the skin (emergence), or
    // unresolved (it runs into something as dark as the shaft); and the skin
    // darkness around it.
    let end_kind = |i: usize, k: usize| -> (EndKind, f64) {
        let m = &measured[i].1;
        let n = m.centerline.len();
        let j = 4.min(n - 1);
        let (end, inner) = if k == 0 {
            (m.centerline[0], m.centerline[j])
        } else {
            (m.centerline[n - 1], m.centerline[n - 1 - j])
        };
        if leaves_photo(i, k) {
            return (EndKind::Border, 1.0);
        }
        let d_px = diameter_of(i);
        let others = match m.channel {
            ContrastChannel::Mean => &mean_shafts,
            ContrastChannel::Yellow => &shafts,
        };
        let continued = end_index[i][k].is_some_and(|e| !facing[e].is_empty());
        if continued
            || ends_across_another(
                kept_index[i].unwrap_or(usize::MAX),
                end,
                inner,
                d_px,
                others,
                blur_margin,
            )
        {
            return (EndKind::Crossing, 1.0);
        }
        let t = m.end_transition_px[k];
        let kind = if t.is_infinite() {
            EndKind::Unresolved
        } else if t >= fade_min_px {
            EndKind::Fade
        } else {
            EndKind::Crisp
        };
        let inward = {
            let v = [inner[0] - end[0], inner[1] - end[1]];
            let l = v[0].hypot(v[1]).max(1e-9);
            [v[0] / l, v[1] / l]
        };
        let r = 0.5 * d_px + (params.end_surround_um / um).max(2.0);
        (kind, end_surround(&prep.mean, &background, end, inward, r))
    };
    // The count, hair by hair: a hair belongs to the field where it emerges. It
    // counts when a free end (one not linked to another of its pieces) of a
    // hair-shaped piece lies inside the field and looks like an emergence: it
    // fades into the skin, or runs into the dark of an opening shared with
    // other shafts (unresolved, or dark skin around it). The free end of a piece
    // that is no hair on its own (a fragment where traces meet at a crossing,
    // the pigment of an opening) tells nothing. A hair whose two free ends lie
    // inside the field counts even when neither could be told (an opaque shaft
    // can enter the skin without a visible fade). A hair cut by the border whose
    // inside end is a crisp tip emerged outside: it does not count.
    let emergence_like = |k: EndKind, sur: f64| match k {
        EndKind::Fade | EndKind::Unresolved => true,
        EndKind::Crisp => sur < OPENING_SURROUND_MAX,
        EndKind::Border | EndKind::Crossing => false,
    };
    // Forks: hairs of one opening that ran merged and parted. Their merged
    // trunk is one strand (often too wide for its length to be kept as a
    // hair), and the hairs' traces past the parting are strands whose ends
    // branch off the trunk's end (`branches_off`). An end that two or more
    // kept strands branch off, each off no other end, is such a trunk's end
    // (where two hairs cross at a narrow angle, each arm beyond the crossing
    // heads on the way of both arms before it); when the trunk's other end
    // looks like an emergence, each branch is a hair that emerged there, and
    // the trunk is none of its own.
    let mut branched_by: Vec<Vec<usize>> = vec![Vec::new(); all_ends.len()];
    for (e, f) in branching.iter().enumerate() {
        for &f in f {
            branched_by[f].push(e);
        }
    }
    // Per end: the trunk end (strand, end) of the fork it branches from.
    let mut fork_root: Vec<Option<(usize, usize)>> = vec![None; all_ends.len()];
    // Per end: whether it is the trunk end of such a fork.
    let mut fork_trunk = vec![false; all_ends.len()];
    for (f, by) in branched_by.iter().enumerate() {
        let trunk = all_ends[f].strand;
        if !linkable[trunk] {
            continue;
        }
        let mut branches: Vec<usize> = by
            .iter()
            .copied()
            .filter(|&e| shape[all_ends[e].strand].is_some() && branching[e] == [f])
            .collect();
        branches.sort_by_key(|&e| all_ends[e].strand);
        branches.dedup_by_key(|e| all_ends[*e].strand);
        if branches.len() < 2 {
            continue;
        }
        // Where two hairs cross at a narrow angle, their merged run has two
        // arms at each end: no fork.
        let far = usize::from(!all_ends[f].tail);
        let far_arms = end_index[trunk][far].is_some_and(|g| {
            branched_by[g]
                .iter()
                .any(|&e| shape[all_ends[e].strand].is_some())
        });
        let (kind, surround) = end_kind(trunk, far);
        if far_arms || !emergence_like(kind, surround) {
            continue;
        }
        fork_trunk[f] = true;
        for e in branches {
            fork_root[e] = Some((trunk, far));
        }
    }
    // The trunk is no hair of its own, nor one with a branch: its end and the
    // branches' ends are free.
    for (f, &trunk) in fork_trunk.iter().enumerate() {
        if trunk {
            if let Some(g) = linked[f].take() {
                linked[g] = None;
            }
            for &e in &branched_by[f] {
                if fork_root[e].is_some() && linked[e] == Some(f) {
                    linked[e] = None;
                }
            }
        }
    }
    let mut hair_of: Vec<usize> = (0..measured.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (a, b) in linked.iter().enumerate() {
        if let Some(b) = *b {
            let (ra, rb) = (
                root(&mut hair_of, all_ends[a].strand),
                root(&mut hair_of, all_ends[b].strand),
            );
            hair_of[ra.max(rb)] = ra.min(rb);
        }
    }
    for i in 0..hair_of.len() {
        hair_of[i] = root(&mut hair_of, i);
    }

    let mut pieces_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in &kept {
        pieces_of.entry(hair_of[i]).or_default();
    }
    for (i, &h) in hair_of.iter().enumerate() {
        if let Some(v) = pieces_of.get_mut(&h) {
            v.push(i);
        }
    }
    // Per kept strand: its count weight before hidden shafts, and the end (0 the
    // head, 1 the tail) where its hair emerged.
    let mut weight = vec![0.0; kept.len()];
    let mut emergence_end: Vec<Option<usize>> = vec![None; kept.len()];
    // Per kept strand: where its hair emerged, when not at one of its own ends
    // (a fork's branch emerged where the trunk did).
    let mut emerged_at: Vec<Option<[f64; 2]>> = vec![None; kept.len()];
    // Per strand: whether its hair leaves the photo (a free end at the border).
    let mut hair_at_border = vec![false; measured.len()];
    // Uncounted hairs that may have left a sibling's opening: (strand, end).
    let mut fork_candidates: Vec<(usize, usize)> = Vec::new();
    for pieces in pieces_of.values() {
        // The free ends: (strand, end, kind, whether the hair may have emerged there).
        let free: Vec<(usize, usize, EndKind, bool)> = pieces
            .iter()
            .flat_map(|&i| [(i, 0), (i, 1)])
            .filter(|&(i, k)| end_index[i][k].is_none_or(|e| linked[e].is_none()))
            .map(|(i, k)| {
                let (kind, surround) = end_kind(i, k);
                let forked = end_index[i][k].is_some_and(|e| fork_root[e].is_some());
                (
                    i,
                    k,
                    kind,
                    shape[i].is_some() && (forked || emergence_like(kind, surround)),
                )
            })
            .collect();
        let end_of = |i: usize, k: usize| end_index[i][k];
        let trunk = free
            .iter()
            .any(|f| end_of(f.0, f.1).is_some_and(|e| fork_trunk[e]));
        // Of the ends where it may have emerged, the one that fades longest.
        let fade = |&(i, k, kind, _): &(usize, usize, EndKind, bool)| match end_of(i, k)
            .and_then(|e| fork_root[e])
        {
            Some((t, far)) => measured[t].1.end_transition_px[far],
            None if kind == EndKind::Fade => measured[i].1.end_transition_px[k],
            None => 0.0,
        };
        let emerged = free.iter().filter(|f| f.3).fold(
            None,
            |best: Option<&(usize, usize, EndKind, bool)>, f| match best {
                Some(b) if fade(b) >= fade(f) => Some(b),
                _ => Some(f),
            },
        );
        let at_border = free.iter().any(|f| matches!(f.2, EndKind::Border));
        for &i in pieces {
            hair_at_border[i] = at_border;
        }
        let told_nothing = free.len() == 2
            && free
                .iter()
                .all(|f| !matches!(f.2, EndKind::Border | EndKind::Crossing));
        // The count goes to the piece where the hair emerged; with no emergence
        // told, to its longest hair-shaped piece.
        let carrier = match emerged {
            _ if trunk => None,
            Some(&(i, k, _, _)) => Some((i, Some(k))),
            None if told_nothing => pieces
                .iter()
                .copied()
                .filter(|&i| shape[i].is_some())
                .max_by(|&a, &b| measured[a].1.length_px.total_cmp(&measured[b].1.length_px))
                .map(|i| (i, None)),
            // A hair of the mean channel with a cut tip in the field and its
            // other end against another strand may have left the opening of
            // that strand's hair (see the forks below).
            None if free.len() == 2
                && free.iter().any(|f| f.2 == EndKind::Crisp)
                && measured[free[0].0].1.channel == ContrastChannel::Mean =>
            {
                if let Some(f) = free
                    .iter()
                    .find(|f| f.2 == EndKind::Crossing && shape[f.0].is_some())
                {
                    fork_candidates.push((f.0, f.1));
                }
                None
            }
            None => None,
        };
        if let Some((i, end)) = carrier {
            if let Some(k) = kept_index[i] {
                weight[k] = 1.0;
                emergence_end[k] = end;
                emerged_at[k] = end
                    .and_then(|e| end_of(i, e))
                    .and_then(|e| fork_root[e])
                    .map(|(t, far)| measured[t].1.end_fall_at[far]);
            }
        }
    }
    drop((shafts, mean_shafts));
    // Forks: hairs of one opening leave it side by side and part where their
    // directions have carried them a width apart. The trace of the one that
    // parts from the strand of the others then ends against that strand, and
    // reads as passing under it. Such a hair, uncounted, with its other end a cut
    // tip in the field (it emerged in the field), whose end lies on a counted
    // strand within FORK_MAX_REACH diameters of that strand's emergence and
    // leaves it within FORK_MAX_DEG of its direction, emerged there. (A hair
    // that passes under another does so at any angle, mostly far from where
    // that one emerged.)
    // An end's position and its unit direction into the strand (`all_ends`
    // holds the outward one).
    let end_and_direction = |i: usize, end: usize| {
        let e = &all_ends[end_index[i][end]?];
        Some((e.pos, [-e.out[0], -e.out[1]]))
    };
    let emerged: Vec<(usize, [f64; 2], [f64; 2])> = kept
        .iter()
        .enumerate()
        .filter_map(|(k, &i)| {
            let (p, u) = end_and_direction(i, emergence_end[k]?)?;
            Some((i, p, u))
        })
        .collect();
    for &(i, end) in &fork_candidates {
        let Some((p, v)) = end_and_direction(i, end) else {
            continue;
        };
        let d = diameter_of(i);
        let parted = emerged.iter().find(|&&(j, q, u)| {
            j != i
                && parts_from(
                    (p, v, d),
                    (&measured[j].1.centerline, q, u, diameter_of(j)),
                    blur_margin,
                )
        });
        if let (Some(&(j, q, _)), Some(k)) = (parted, kept_index[i]) {
            weight[k] = 1.0;
            emergence_end[k] = Some(end);
            // It emerged where the hair it parted from did.
            emerged_at[k] = kept_index[j]
                .and_then(|kj| {
                    emerged_at[kj]
                        .or_else(|| emergence_end[kj].map(|e| measured[j].1.end_fall_at[e]))
                })
                .or(Some(q));
        }
    }
    // An opening that no counted strand leaves: fork candidates still
    // uncounted whose ends against another meet (`leave_one_opening`) are the
    // hairs of one opening that part at once, each ending against the others'
    // traces there. Each emerged at the middle of their ends.
    // (strand, its kept index, the end, that end)
    let lonely: Vec<(usize, usize, usize, TraceEnd)> = fork_candidates
        .iter()
        .filter_map(|&(i, end)| {
            let k = kept_index[i].filter(|&k| weight[k] == 0.0)?;
            let (p, v) = end_and_direction(i, end)?;
            Some((i, k, end, (p, v, diameter_of(i))))
        })
        .collect();
    for &(i, k, end, a) in &lonely {
        // The number of ends that meet there, this one included, and their sum.
        let (n, sum) = lonely
            .iter()
            .filter(|&&(j, _, _, b)| j != i && leave_one_opening(a, b, blur_margin + 4.0))
            .fold((1.0, a.0), |(n, s), &(_, _, _, b)| {
                (n + 1.0, [s[0] + b.0[0], s[1] + b.0[1]])
            });
        if n > 1.0 {
            weight[k] = 1.0;
            emergence_end[k] = Some(end);
            emerged_at[k] = Some([sum[0] / n, sum[1] / n]);
        }
    }
    // Per kept strand: whether its hair counts elsewhere, by one of its pieces,
    // or where it entered the photo.
    let counted_elsewhere: Vec<bool> = {
        let counted: std::collections::BTreeSet<usize> = kept
            .iter()
            .zip(&weight)
            .filter(|(_, &w)| w > 0.0)
            .map(|(&i, _)| hair_of[i])
            .collect();
        kept.iter()
            .map(|&i| counted.contains(&hair_of[i]) || hair_at_border[i])
            .collect()
    };

    let other_ends: Vec<(usize, [f64; 2])> = kept
        .iter()
        .enumerate()
        .flat_map(|(j, &i)| {
            let c = &measured[i].1.centerline;
            [(j, c[0]), (j, c[c.len() - 1])]
        })
        .collect();
    let kept_d_px: Vec<f64> = kept.iter().map(|&i| diameter_of(i)).collect();
    // A cut tip's width falls over the blur on either side of it.
    let tip_fall_px = 3.0 * blur_px.unwrap_or(1.0) + 2.0;
    // The kept strands' centrelines move into the results.
    let mut measured: Vec<Option<(i8, Measured)>> = measured.into_iter().map(Some).collect();
    let mut results: Vec<StrandResult> = Vec::new();
    for (index, &i) in kept.iter().enumerate() {
        let Some((polarity, m)) = measured[i].take() else {
            continue;
        };
        let d_px = kept_d_px[index];
        let emergence_end = emergence_end[index];
        // Hairs of one follicular unit that leave their opening side by side
        // read as one strand until they part; one that ends before they part (a
        // shorter clipped hair) leaves only a step down in the strand's width.
        let steps = if weight[index] > 0.0 {
            width_steps(&m.station_width_px, emergence_end, trim_px, tip_fall_px)
        } else {
            Vec::new()
        };
        let hidden_shafts = {
            let near = 2.0 * d_px + blur_margin + 8.0;
            steps
                .iter()
                .copied()
                .filter(|&k| {
                    // A step where another strand ends is that strand leaving
                    // this one: a strand of its own, counted by its own ends, or
                    // by where it entered the photo. Where that strand's hair
                    // is not counted and lies in the field, it emerged here.
                    let p = m.centerline[k];
                    !other_ends.iter().any(|&(j, e)| {
                        j != index
                            && counted_elsewhere[j]
                            && (e[0] - p[0]).hypot(e[1] - p[1]) < near
                    })
                })
                .count()
        };
        // Where hairs ran merged up to a step, the strand's width is theirs
        // together: each hair's is the one left past the last step.
        // (Translucent shafts darken where they overlap more than they widen.)
        let d_px = if m.amplitude.abs() >= MERGED_WIDTH_MIN_AMPLITUDE {
            width_past_steps(&m.station_width_px, &steps, emergence_end, trim_px, d_px)
        } else {
            d_px
        };
        let width_um = d_px * um;
        // Where the shaft's contrast falls into the skin: past the trace's end
        // where it stopped short, in the dark of a unit's merged shafts.
        let emergence = emerged_at[index].or_else(|| emergence_end.map(|k| m.end_fall_at[k]));
        results.push(StrandResult {
            id: results.len(),
            centerline: m.centerline,
            length_um: m.length_px * um,
            width_um,
            class: params.class_limits.classify(width_um),
            polarity: if polarity > 0 {
                Polarity::Dark
            } else {
                Polarity::Light
            },
            emergence,
            count_weight: weight[index] + hidden_shafts as f64,
            frame_share: 1.0,
        });
    }
    // The counting frame: the field less a guard band along its edges.
    let guard = guard_px(width, height, params.count_guard_um, um);
    let field = FieldRect::whole(width, height);
    for s in results.iter_mut() {
        s.frame_share = frame_share(s, &field, guard);
    }
    summarise(
        results,
        (width, height, guard),
        calibration,
        params,
        blur_px.map(|b| b * um),
        quality,
    )
}

/// Stage 2 of [`analyze`]: the line detector over the scales of the searched
/// shaft widths.
pub(crate) fn detect_ridges(absorbance: &Plane, params: &Params, um_per_px: f64) -> RidgeMap {
    let sigmas = scale_ladder(
        params.min_width_um / um_per_px,
        params.max_width_um / um_per_px,
    );
    detect(absorbance, &sigmas)
}

/// Stage 3 of [`analyze`]: hysteresis tracing, then gaps bridged across
/// crossings (up to 2.5 widths, 30° off line), then traces split where they
/// turn a corner no hair turns ([`split_at_corners`]).
pub(crate) fn trace_strands(ridge: &RidgeMap, params: &Params) -> Vec<Strand> {
    let strands = trace(
        ridge,
        TraceParams {
            snr_high: params.snr_high as f32,
            snr_low: params.snr_low as f32,
        },
    );
    bridge(strands, 2.5, 30.0)
        .into_iter()
        .flat_map(|s| {
            let polarity = s.polarity;
            split_at_corners(s.points)
                .into_iter()
                .map(move |points| Strand { points, polarity })
        })
        .collect()
}

/// The pixels within reach of a set of centrelines, each point's disc of the
/// centreline's radius (px).
struct StrandMask {
    width: usize,
    height: usize,
    covered: Vec<bool>,
}

impl StrandMask {
    fn new<'a>(
        width: usize,
        height: usize,
        centerlines: impl Iterator<Item = (&'a [[f64; 2]], f64)>,
    ) -> Self {
        let mut covered = vec![false; width * height];
        for (line, r) in centerlines {
            for p in line {
                let (x0, x1) = ((p[0] - r).floor().max(0.0), (p[0] + r).ceil().max(0.0));
                let (y0, y1) = ((p[1] - r).floor().max(0.0), (p[1] + r).ceil().max(0.0));
                for y in (y0 as usize)..(y1 as usize).min(height) {
                    for x in (x0 as usize)..(x1 as usize).min(width) {
                        let (dx, dy) = (x as f64 + 0.5 - p[0], y as f64 + 0.5 - p[1]);
                        if dx * dx + dy * dy <= r * r {
                            covered[y * width + x] = true;
                        }
                    }
                }
            }
        }
        StrandMask {
            width,
            height,
            covered,
        }
    }

    /// Whether at least half of the points of `line` lie on the mask.
    fn covers_most_of(&self, line: &[[f64; 2]]) -> bool {
        let on = line
            .iter()
            .filter(|p| {
                let (x, y) = (p[0].floor(), p[1].floor());
                x >= 0.0
                    && y >= 0.0
                    && (x as usize) < self.width
                    && (y as usize) < self.height
                    && self.covered[y as usize * self.width + x as usize]
            })
            .count();
        2 * on >= line.len()
    }
}

/// Side of the skin-level blocks in pixels: [`Params::background_block_um`],
/// at least 16 px so that a block's median has enough skin in it.
pub(crate) fn background_block_px(block_um: f64, um_per_px: f64) -> usize {
    (block_um / um_per_px).round().max(16.0) as usize
}

/// Largest RMS residual (÷ amplitude) of a cross-section fit that measures the
/// photo's blur; [`BLUR_FIT_LOOSE_RESIDUAL`] where no fit is that close.
const BLUR_FIT_MAX_RESIDUAL: f64 = 0.05;
const BLUR_FIT_LOOSE_RESIDUAL: f64 = 0.2;

/// A light strand's flanks must be at least this fraction of the skin level.
const LIGHT_FLANK_MIN: f64 = 0.75;

/// Whether the middle of `line` (its central 80 %) is brighter than the skin:
/// the median of its brightness over the skin level there exceeds 1 by at least
/// [`MIN_AMPLITUDE`], the least a shaft must add to the skin's light.
fn brighter_than_skin(plane: &Plane, background: &Background, line: &[[f64; 2]]) -> bool {
    let n = line.len();
    let mut ratios: Vec<f64> = line[n / 10..n - n / 10]
        .iter()
        .filter_map(|p| {
            let level = background.at(p[0], p[1]);
            (level > 1e-9).then(|| f64::from(plane.sample(p[0], p[1])) / level)
        })
        .collect();
    median(&mut ratios).is_some_and(|r| r >= 1.0 + MIN_AMPLITUDE)
}

/// Most that a light strand's flanks may stand above the skin's level, as a
/// fraction of the strand's rise above its flanks (its fitted amplitude): a
/// white shaft lies on skin, a bright ridge inside a flake on the flake. White
/// hairs on tuning seeds stand on flanks within 0.2 of their rise away from
/// the photo's edge, but for two of 100 (0.7 and 0.8); the ridges inside
/// the flakes of bald photos at 0.44–2.6.
const LIGHT_PLATEAU_MAX: f64 = 0.4;

/// Smallest end-to-end distance ÷ arc length of a hair strand.
const MIN_STRAIGHTNESS: f64 = 0.5;

/// A strand must be at least this many times longer than wide. Clipped terminal
/// hairs a few days after shaving show 2–3 widths of shaft; a follicle opening or
/// a dot is about as long as wide.
const MIN_ASPECT: f64 = 3.0;

/// The widest part of a strand: the 90th percentile of its half-contrast run
/// widths ([`Measured::station_width_px`], px) over the middle three fifths of
/// its length, away from its ends (a tip, an opening); `None` for fewer than 5
/// stations there. The top tenth is left out for the places where another shaft
/// crosses or touches it.
fn widest_run_px(station_width_px: &[f64]) -> Option<f64> {
    let n = station_width_px.len();
    let mut middle = station_width_px[n / 5..n - n / 5].to_vec();
    if middle.len() < 5 {
        return None;
    }
    middle.sort_by(f64::total_cmp);
    Some(middle[middle.len() * 9 / 10])
}

/// Fraction of the length and aspect limits a strand cut by the border must
/// reach: the border may hide most of a hair that emerges near it.
const BORDER_CUT_SHORTENING: f64 = 0.5;

/// An end whose surroundings are darker than this fraction of the skin level sits
/// in a follicle opening shared with other shafts (see [`end_surround`]).
const OPENING_SURROUND_MAX: f64 = 0.8;

/// Default of [`Params::fade_min_um`].
pub const FADE_MIN_UM: f64 = 30.0;

/// Smallest fitted amplitude (occlusion of the unblurred shaft) of a hair: a
/// strand that changes the skin's light by less than 3 % is texture or noise.
const MIN_AMPLITUDE: f64 = 0.03;

/// Below this fitted amplitude (occlusion of the unblurred shaft), a dark strand
/// whose occlusion is the same in every channel is shading; see [`is_shading`].
const SHADING_MAX_AMPLITUDE: f64 = 0.25;
/// Spread of the red, green and blue centre occlusions, (max − min) / mean, below
/// which a faint dark strand has the skin's colour.
const SHADING_MAX_CHROMA: f64 = 0.35;

/// Whether a dark strand is skin in shadow rather than a hair: faint, and darkening
/// red, green and blue alike, as less light on the same skin does. A shaft of
/// pigmented keratin that lets light through (blond, red, vellus) tints it.
fn is_shading(amplitude: f64, colour_occlusion: [f64; 3]) -> bool {
    let [r, g, b] = colour_occlusion;
    let mean = (r + g + b) / 3.0;
    if amplitude >= SHADING_MAX_AMPLITUDE || mean <= 0.0 {
        return false;
    }
    let spread = r.max(g).max(b) - r.min(g).min(b);
    spread < SHADING_MAX_CHROMA * mean
}

/// What one end of a strand looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EndKind {
    /// Within the border margin, or its contrast runs on to the photo's edge: the
    /// strand leaves the field.
    Border,
    /// Full contrast up to the end: a clipped tip, or a break in the trace.
    Crisp,
    /// Contrast fades gradually: the shaft enters the skin.
    Fade,
    /// The end runs into something as dark as the shaft (an opening, another hair).
    Unresolved,
    /// The end stops against the middle of another strand, across it: the hair
    /// passes under or over it there.
    Crossing,
}

/// Smallest angle between an end's direction and the strand it stops against for
/// a crossing. Hairs of one follicular unit leave their opening a few tens of
/// degrees apart at most and meet near each other's ends anyway.
const CROSSING_MIN_DEG: f64 = 30.0;

/// A kept strand as another strand's end sees it.
#[derive(Clone, Copy)]
struct Shaft<'a> {
    line: &'a [[f64; 2]],
    d_px: f64,
    /// Whether its head, its tail, leaves the photo (a border end): the shaft
    /// runs on past it, so it is no end of the hair.
    leaves: [bool; 2],
    /// The centreline's bounding box, `[x min, y min, x max, y max]`: an end
    /// farther than the reach from it is farther from every point.
    bounds: [f64; 4],
}

impl<'a> Shaft<'a> {
    fn new(line: &'a [[f64; 2]], d_px: f64, leaves: [bool; 2]) -> Self {
        let inf = f64::INFINITY;
        let bounds = line.iter().fold([inf, inf, -inf, -inf], |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        });
        Shaft {
            line,
            d_px,
            leaves,
            bounds,
        }
    }
}

/// Whether the end `end` of strand `index` (with `inner` a few px inside it, and
/// diameter `d_px`) stops against the middle of another strand of `shafts`,
/// across it. Against means within the two half-widths plus `margin_px` (blur,
/// trace gaps); the middle means at least two of the other shaft's diameters
/// plus 3 px from both of its ends that lie in the field (near an end, two
/// strands meet at a shared opening; where a shaft leaves the photo it has no
/// end); across means at least [`CROSSING_MIN_DEG`] apart.
fn ends_across_another(
    index: usize,
    end: [f64; 2],
    inner: [f64; 2],
    d_px: f64,
    shafts: &[Shaft],
    margin_px: f64,
) -> bool {
    let dir = [end[0] - inner[0], end[1] - inner[1]];
    let dl = dir[0].hypot(dir[1]);
    if dl < 1e-9 {
        return false;
    }
    shafts.iter().enumerate().any(|(j, shaft)| {
        let (line, other_d) = (shaft.line, shaft.d_px);
        if j == index || line.len() < 5 {
            return false;
        }
        let reach = 0.5 * (d_px + other_d) + margin_px;
        let [x0, y0, x1, y1] = shaft.bounds;
        if end[0] < x0 - reach || end[0] > x1 + reach || end[1] < y0 - reach || end[1] > y1 + reach
        {
            return false;
        }
        let Some((k, dist)) = line
            .iter()
            .map(|q| (q[0] - end[0]).hypot(q[1] - end[1]))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return false;
        };
        // Centrelines are resampled every pixel, so an index is an arc length.
        let from_end = match shaft.leaves {
            [false, false] => k.min(line.len() - 1 - k) as f64,
            [true, false] => (line.len() - 1 - k) as f64,
            [false, true] => k as f64,
            [true, true] => f64::INFINITY,
        };
        if dist > reach || from_end < 2.0 * other_d + 3.0 {
            return false;
        }
        let (a, b) = (line[k.saturating_sub(2)], line[(k + 2).min(line.len() - 1)]);
        let t = [b[0] - a[0], b[1] - a[1]];
        let tl = t[0].hypot(t[1]);
        if tl < 1e-9 {
            return false;
        }
        let cos = ((dir[0] * t[0] + dir[1] * t[1]) / (dl * tl)).abs().min(1.0);
        cos.acos().to_degrees() >= CROSSING_MIN_DEG
    })
}

/// Smallest crossing angle (degrees) a broken trace is bridged across: a hair
/// that passes under or over another of width `w` at angle `a` loses its trace
/// over about `w / sin a`, so the longest gap bridged is the widest shaft over
/// the sine of this angle.
const CONTINUATION_MIN_CROSSING_DEG: f64 = 10.0;

/// Largest angle (degrees) between an end's direction and the reversed direction
/// of the end that continues it, and between each end's direction and the gap.
const CONTINUATION_MAX_DEG: f64 = 30.0;

/// One end of a strand: its position, its outward direction, the strand's
/// polarity and diameter (px).
#[derive(Clone, Copy)]
struct StrandEnd {
    strand: usize,
    /// `false` for the head (first point), `true` for the tail.
    tail: bool,
    polarity: i8,
    pos: [f64; 2],
    out: [f64; 2],
    d_px: f64,
    amplitude: f64,
}

/// The head and the tail of each strand (polarity, centreline, diameter px,
/// amplitude), numbered in the iterator's order; the direction is taken over the
/// last 6 px. A strand without points has no ends.
fn strand_ends<'a>(
    strands: impl Iterator<Item = (i8, &'a [[f64; 2]], f64, f64)>,
) -> Vec<StrandEnd> {
    let mut ends = Vec::new();
    for (s, (polarity, c, d_px, amplitude)) in strands.enumerate() {
        let n = c.len();
        if n == 0 {
            continue;
        }
        let k = (d_px.clamp(6.0, 24.0) as usize).min(n - 1);
        for (tail, end, inner) in [(false, c[0], c[k]), (true, c[n - 1], c[n - 1 - k])] {
            let v = [end[0] - inner[0], end[1] - inner[1]];
            let l = v[0].hypot(v[1]).max(1e-9);
            ends.push(StrandEnd {
                strand: s,
                tail,
                polarity,
                pos: end,
                out: [v[0] / l, v[1] / l],
                d_px,
                amplitude,
            });
        }
    }
    ends
}

/// How one strand end continues another (see [`continues`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Continuation {
    /// Across a gap along both ends' directions: its cover tells shaft from skin.
    AcrossGap,
    /// Touching, or run past each other on one line: nothing between them tells
    /// shaft from skin, so a third strand must cross there ([`x_junction`]).
    Touching,
}

/// Whether end `b` continues end `a`, and how: the same polarity, within half
/// their diameters plus `max_gap_px`, facing each other, with the gap along both
/// ends' directions (within [`CONTINUATION_MAX_DEG`]). Hairs of one opening leave
/// it pointing the same way, not at each other.
fn continues(a: &StrandEnd, b: &StrandEnd, max_gap_px: f64) -> Option<Continuation> {
    let cos_max = CONTINUATION_MAX_DEG.to_radians().cos();
    let dot = |u: [f64; 2], v: [f64; 2]| u[0] * v[0] + u[1] * v[1];
    if b.polarity != a.polarity || dot(a.out, b.out) > -cos_max {
        return None;
    }
    let d = [b.pos[0] - a.pos[0], b.pos[1] - a.pos[1]];
    let dist = d[0].hypot(d[1]);
    if dist > 0.5 * (a.d_px + b.d_px) + max_gap_px {
        return None;
    }
    if dist < 1.0 {
        return Some(Continuation::Touching);
    }
    // Ends that touch, or ran past each other: nothing between them tells skin
    // from shaft, so the two must look alike (a shaft and the faint trace of an
    // opening's pigment, a flake, do not).
    let alike = {
        let (x, y) = (a.amplitude.abs(), b.amplitude.abs());
        x.min(y) >= TOUCHING_MIN_AMPLITUDE_RATIO * x.max(y)
    };
    if dist <= 0.5 * (a.d_px + b.d_px) {
        return alike.then_some(Continuation::Touching);
    }
    // Traces that ran on past each other into the dark where two shafts cross:
    // the ends overlap, on one line (a shaft's width apart, they would be two
    // shafts side by side).
    let along = dot(a.out, d);
    if along < 0.0 {
        let sideways = (a.out[0] * d[1] - a.out[1] * d[0]).abs();
        return (alike
            && -along <= a.d_px.max(b.d_px)
            && sideways <= OVERLAP_MAX_OFFSET * a.d_px.min(b.d_px))
        .then_some(Continuation::Touching);
    }
    let u = [d[0] / dist, d[1] / dist];
    (dot(a.out, u) >= cos_max && dot(b.out, u) <= -cos_max).then_some(Continuation::AcrossGap)
}

/// Least ratio of a fork's trunk diameter to its branches': the trunk holds
/// them all side by side (a little narrower where they overlap, within the
/// widths' scatter).
const FORK_TRUNK_MIN_RATIO: f64 = 0.9;

/// Whether end `b` branches off end `t` of a wider strand, as the trace of one
/// hair of a follicular unit leaves the strand where the unit's hairs ran
/// merged: `b` lies within `t`'s width of its end (up to `margin_px` across
/// and beyond it), and heads on `t`'s way (within
/// [`CONTINUATION_MAX_DEG`]). Unlike a continuation, the branch may start
/// beside the trunk's axis, overlapping its end, where the hair parts from
/// its sibling.
fn branches_off(t: &StrandEnd, b: &StrandEnd, margin_px: f64) -> bool {
    let dot = |u: [f64; 2], v: [f64; 2]| u[0] * v[0] + u[1] * v[1];
    if b.polarity != t.polarity
        || t.d_px < FORK_TRUNK_MIN_RATIO * b.d_px
        || -dot(t.out, b.out) < CONTINUATION_MAX_DEG.to_radians().cos()
    {
        return false;
    }
    let d = [b.pos[0] - t.pos[0], b.pos[1] - t.pos[1]];
    let along = dot(t.out, d);
    let across = (t.out[0] * d[1] - t.out[1] * d[0]).abs();
    along >= -t.d_px && along <= 0.5 * b.d_px + margin_px && across <= 0.5 * t.d_px + margin_px
}

/// Whether two ends that touch or ran past each other
/// ([`Continuation::Touching`]) meet where another hair crosses: an end of a
/// third strand stops near them, across their line (at least
/// [`CROSSING_MIN_DEG`]), as at an X where every trace stops in the dark.
/// The third strand has their polarity: the skin showing between two hairs
/// that part from one opening is a light line whose end stops there too.
/// Touching ends with nothing across are a fork (hairs of one opening parting)
/// or a tip against the next hair's opening: two hairs.
fn x_junction(a: &StrandEnd, b: &StrandEnd, all: &[StrandEnd]) -> bool {
    let mid = [0.5 * (a.pos[0] + b.pos[0]), 0.5 * (a.pos[1] + b.pos[1])];
    let r = a.d_px.max(b.d_px) + JUNCTION_MARGIN_PX;
    let cos_cross = CROSSING_MIN_DEG.to_radians().cos();
    all.iter().any(|c| {
        c.strand != a.strand
            && c.strand != b.strand
            && c.polarity == a.polarity
            && (c.pos[0] - mid[0]).hypot(c.pos[1] - mid[1]) <= r
            && (c.out[0] * a.out[0] + c.out[1] * a.out[1]).abs() <= cos_cross
    })
}

/// How far past the wider diameter (px) a third strand's end may stop from where
/// two touching ends meet and still mark a crossing there: traces stop within
/// about the blur and a pixel of the dark they cannot resolve.
const JUNCTION_MARGIN_PX: f64 = 4.0;

/// Largest sideways offset, in diameters of the narrower strand, of two ends that
/// ran past each other for them to be one shaft's trace.
const OVERLAP_MAX_OFFSET: f64 = 0.5;

/// Smallest ratio of the fainter to the stronger amplitude of two ends that touch
/// or overlap for them to be one shaft.
const TOUCHING_MIN_AMPLITUDE_RATIO: f64 = 0.6;

/// Smallest share of a gap between two facing ends that something other than
/// skin must cover for the ends to be one hair.
const GAP_COVERED_MIN: f64 = 0.75;

/// Whether the gap between ends `a` and `b` is covered: along the segment between
/// them, at least [`GAP_COVERED_MIN`] of the samples differ from the skin level by
/// half the fainter strand's amplitude (at most 0.2). A hair's trace breaks where
/// it passes under or over another hair, or where it fades for a stretch; between
/// the tip of one clipped hair and the opening of another there is skin.
fn gap_covered(plane: &Plane, background: &Background, a: &StrandEnd, b: &StrandEnd) -> bool {
    let d = [b.pos[0] - a.pos[0], b.pos[1] - a.pos[1]];
    let n = d[0].hypot(d[1]).floor() as usize;
    if n < 3 {
        return true;
    }
    let min_dev = (0.5 * a.amplitude.abs().min(b.amplitude.abs())).min(0.2);
    let covered = (1..n)
        .filter(|&k| {
            let t = k as f64 / n as f64;
            let (x, y) = (a.pos[0] + t * d[0], a.pos[1] + t * d[1]);
            let level = background.at(x, y);
            level > 1e-9 && (1.0 - f64::from(plane.sample(x, y)) / level).abs() >= min_dev
        })
        .count();
    covered as f64 >= GAP_COVERED_MIN * (n - 1) as f64
}

/// Smallest fall in a strand's width for a step, as a fraction (over 1) of the
/// strand's narrowest level and in px, to be another shaft ending inside it.
const MERGED_MIN_RATIO: f64 = 1.3;
const MERGED_MIN_STEP_PX: f64 = 2.0;

/// How far (in diameters of the wider shaft) from a counted strand's emergence
/// the trace of a hair that left the same opening may part from it: hairs of a
/// unit fan out by 5–15°, so they part within about 4–12 widths.
const FORK_MAX_REACH: f64 = 8.0;

/// Largest angle (degrees) between a parting hair and the strand it left, both
/// read away from the opening.
const FORK_MAX_DEG: f64 = 30.0;

/// Whether a trace ending at `end` (position, unit direction into the trace,
/// diameter px) parts from a strand that emerged at `opening` (its centreline,
/// emergence point, unit direction away from it, diameter px): the end lies on
/// that strand, within [`FORK_MAX_REACH`] diameters (of the wider) of its
/// emergence, and leaves it within [`FORK_MAX_DEG`] of its direction.
fn parts_from(
    end: ([f64; 2], [f64; 2], f64),
    opening: (&[[f64; 2]], [f64; 2], [f64; 2], f64),
    margin_px: f64,
) -> bool {
    let (p, v, d) = end;
    let (line, q, u, dq) = opening;
    (p[0] - q[0]).hypot(p[1] - q[1]) <= FORK_MAX_REACH * d.max(dq) + margin_px
        && u[0] * v[0] + u[1] * v[1] >= FORK_MAX_DEG.to_radians().cos()
        && line
            .iter()
            .any(|c| (c[0] - p[0]).hypot(c[1] - p[1]) <= 0.5 * (d + dq) + margin_px)
}

/// Largest angle (degrees) between two hairs read away from the opening they
/// leave together: a unit's hairs fan by 5–15°, rarely past 45°.
const OPENING_FAN_MAX_DEG: f64 = 60.0;

/// Least angle (degrees) between two hairs that part at once: hairs that
/// leave an opening nearly parallel run merged first and part later (a fork).
/// Two traces side by side in one direction are the two dark sides of one
/// shaft split by its sheen.
const OPENING_FAN_MIN_DEG: f64 = 10.0;

/// A trace's end: its position, unit direction into the trace, and diameter
/// (px).
type TraceEnd = ([f64; 2], [f64; 2], f64);

/// Whether two trace ends meet as the hairs of one opening parting at once: they touch (within
/// half their diameters plus `margin_px`) and both traces leave the meeting
/// point between [`OPENING_FAN_MIN_DEG`] and [`OPENING_FAN_MAX_DEG`] apart. A
/// hair that passes under
/// another has its trace continued on the far side, not a second trace
/// starting beside it in nearly its own direction.
fn leave_one_opening(a: TraceEnd, b: TraceEnd, margin_px: f64) -> bool {
    let ((p, v, d), (q, u, dq)) = (a, b);
    let cos = v[0] * u[0] + v[1] * u[1];
    (p[0] - q[0]).hypot(p[1] - q[1]) <= 0.5 * (d + dq) + margin_px
        && cos >= OPENING_FAN_MAX_DEG.to_radians().cos()
        && cos <= OPENING_FAN_MIN_DEG.to_radians().cos()
}

/// Where a strand's width steps down, away from its emergence end: a shaft that
/// ran merged with it (the hairs of one follicular unit leave their opening side
/// by side) ends there, at its cut tip. `widths` are
/// [`Measured::station_width_px`], one station per px of centreline;
/// `proximal` is the emergence end (0 head, 1 tail), or `None` for either (then
/// the reading of the two that finds fewer steps). `end_zone_px` is left out at
/// the emergence end (the opening widens the strand there) and `fall_px` at the
/// cut end (its blurred tip), where each step may also take `fall_px` to fall.
///
/// The width is median-smoothed over 5 stations. A step at station `i` is a
/// fall, read distally, from the median of the [`STEP_SIDE_STATIONS`] before `i`
/// to the median of as many after `i + fall_px`, of [`MERGED_MIN_STEP_PX`] and of
/// [`MERGED_MIN_RATIO`] of the strand's narrowest level, and
/// [`STEP_MIN_SCATTERS`] times the scatter of the widths on either side: the
/// middle of the strongest stations of each run of such stations,
/// [`STEP_SIDE_STATIONS`] apart at least. Hairs of a unit fan out, so their
/// merged width only grows, slowly, away from the opening, and falls where one
/// ends. Where the width rises abruptly (another hair crossing, a flake beside
/// it), the fall back to within [`MERGED_MIN_STEP_PX`] of the level before the
/// rise is the end of that bump, no step; a fall that stays above it is one.
fn width_steps(
    widths: &[f64],
    proximal: Option<usize>,
    end_zone_px: f64,
    fall_px: f64,
) -> Vec<usize> {
    // Read from the tail: on the reversed widths, the stations mapped back.
    let from_tail = |far_zone_px: f64| -> Vec<usize> {
        let reversed: Vec<f64> = widths.iter().rev().copied().collect();
        let n = widths.len();
        distal_falls(&reversed, end_zone_px, far_zone_px, fall_px)
            .into_iter()
            .map(|i| n - 1 - i)
            .collect()
    };
    match proximal {
        Some(0) => distal_falls(widths, end_zone_px, fall_px, fall_px),
        Some(_) => from_tail(fall_px),
        None => {
            // Either end may be the opening: both end zones are its.
            let head = distal_falls(widths, end_zone_px, end_zone_px, fall_px);
            let tail = from_tail(end_zone_px);
            if head.len() <= tail.len() {
                head
            } else {
                tail
            }
        }
    }
}

/// Least amplitude (occlusion) of a strand whose merged hairs widen it by
/// their diameters: nearly opaque shafts, whose run side by side is as wide as
/// their union.
const MERGED_WIDTH_MIN_AMPLITUDE: f64 = 0.8;

/// The diameter (px) of the hair that runs on alone past a strand's width
/// `steps` (stations where a merged sibling ended; see [`width_steps`]), from
/// the strand's fitted diameter `d_px`: less the fall from the median width
/// over the strand's middle (past `end_zone_px` of each end) to the median
/// width past the step farthest from the emergence end `proximal`, where at
/// least [`STEP_SIDE_STATIONS`] stations lie past it (blur widens the run
/// of two shafts by as much as one's, so their widths differ as the
/// diameters do). `d_px` itself where there is no step, no known emergence
/// end, or too little past it; never less than half of it.
fn width_past_steps(
    widths: &[f64],
    steps: &[usize],
    proximal: Option<usize>,
    end_zone_px: f64,
    d_px: f64,
) -> f64 {
    let n = widths.len();
    let trim = (end_zone_px.ceil() as usize).min(n / 2);
    let past = match (proximal, steps.iter().max(), steps.iter().min()) {
        (Some(0), Some(&last), _) => (last + STEP_SIDE_STATIONS / 2)..(n - trim),
        (Some(_), _, Some(&first)) => trim..first.saturating_sub(STEP_SIDE_STATIONS / 2),
        _ => return d_px,
    };
    if past.len() < STEP_SIDE_STATIONS {
        return d_px;
    }
    let mut alone: Vec<f64> = widths[past]
        .iter()
        .copied()
        .filter(|w| w.is_finite())
        .collect();
    let mut middle: Vec<f64> = widths[trim..n - trim]
        .iter()
        .copied()
        .filter(|w| w.is_finite())
        .collect();
    match (median(&mut alone), median(&mut middle)) {
        (Some(a), Some(m)) if a < m => (d_px - (m - a)).max(0.5 * d_px),
        _ => d_px,
    }
}

/// Stations on each side of a width step over which its two levels are read.
const STEP_SIDE_STATIONS: usize = 6;

/// A rise of the width by this fraction of the level before it (and by twice
/// [`MERGED_MIN_STEP_PX`]) across a step's reach is abrupt: something else
/// joins the strand there. A fanning unit's merged width grows more slowly:
/// three hairs 15° apart widen by 0.54 px per px, 6 px over a step's reach
/// (11 px at the usual blur), half their merged width only while that is under
/// 12 px.
const ABRUPT_RISE_RATIO: f64 = 0.5;

/// A step (or an abrupt rise) stands this many times clear of the scatter of
/// the widths on either side of it (a robust sd): a shaft's edges are sharp and
/// its width steady, where skin texture, a furrow or a vessel's are not, nor
/// where the trace runs through something else.
const STEP_MIN_SCATTERS: f64 = 4.0;

/// [`width_steps`] with the emergence at station 0, `far_zone_px` left out at
/// the other end.
fn distal_falls(widths: &[f64], end_zone_px: f64, far_zone_px: f64, fall_px: f64) -> Vec<usize> {
    let n = widths.len();
    let mut window = Vec::with_capacity(STEP_SIDE_STATIONS.max(5));
    let smooth: Vec<f64> = (0..n)
        .map(|i| {
            window.clear();
            window.extend_from_slice(&widths[i.saturating_sub(2)..=(i + 2).min(n - 1)]);
            median(&mut window).unwrap_or(0.0)
        })
        .collect();
    let side = STEP_SIDE_STATIONS;
    let fall = fall_px.max(1.0).ceil() as usize;
    let lo = (end_zone_px + 3.0).max(6.0).ceil() as usize + side;
    // The last station whose narrow side lies before the cut tip's fall.
    let far = far_zone_px.max(1.0).ceil() as usize;
    let Some(hi) = n.checked_sub(far + 2 + fall + side).filter(|&hi| hi >= lo) else {
        return Vec::new();
    };
    let mut level = |a: usize, b: usize| {
        window.clear();
        window.extend_from_slice(&smooth[a..b]);
        median(&mut window).unwrap_or(0.0)
    };
    // The raw widths' scatter about their level over a side (a robust sd).
    let mut deviations = Vec::with_capacity(side);
    let mut scatter = |a: usize, b: usize, level: f64| {
        deviations.clear();
        deviations.extend(widths[a..b].iter().map(|w| (w - level).abs()));
        1.4826 * median(&mut deviations).unwrap_or(0.0)
    };
    // Per station from lo to hi: the fall (px) across it, read distally, the
    // narrow side's level, and the larger scatter of the two sides.
    let falls: Vec<(f64, f64, f64)> = (lo..=hi)
        .map(|i| {
            let before = level(i - side, i);
            let after = level(i + fall, i + fall + side);
            let spread =
                scatter(i - side, i, before).max(scatter(i + fall, i + fall + side, after));
            (before - after, after, spread)
        })
        .collect();
    // A hair ending removes about its own width: the step is read against the
    // narrowest level of the strand (the last hair alone, or the merged ones
    // where none ends).
    let narrowest = falls.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
    let is_step = |(drop, _, scatter): (f64, f64, f64)| {
        drop >= MERGED_MIN_STEP_PX
            && drop >= (MERGED_MIN_RATIO - 1.0) * narrowest
            && drop >= STEP_MIN_SCATTERS * scatter
    };
    let mut steps: Vec<usize> = Vec::new();
    let mut k = 0;
    // The level the width had before an abrupt rise not yet fallen back from.
    let mut bump_floor: Option<f64> = None;
    while k < falls.len() {
        let (drop, after, spread) = falls[k];
        // An abrupt rise: something else joins the strand (a crossing hair, a
        // flake); the fall back to the level before it ends that bump.
        let rise = -drop;
        let before = after - rise;
        if rise >= 2.0 * MERGED_MIN_STEP_PX
            && rise >= ABRUPT_RISE_RATIO * before
            && rise >= STEP_MIN_SCATTERS * spread
        {
            bump_floor = Some(bump_floor.map_or(before, |f: f64| f.min(before)));
            k += 1;
            continue;
        }
        if !is_step(falls[k]) {
            k += 1;
            continue;
        }
        // The strongest stations of this run of steps (the medians hold the
        // largest fall over a stretch), and the middle of them.
        let (mut best, mut last_best) = (k, k);
        while k < falls.len() && is_step(falls[k]) {
            if falls[k].0 > falls[best].0 {
                (best, last_best) = (k, k);
            } else if falls[k].0 == falls[best].0 {
                last_best = k;
            }
            k += 1;
        }
        let best = (best + last_best) / 2;
        if let Some(floor) = bump_floor {
            if falls[best].1 <= floor + MERGED_MIN_STEP_PX {
                bump_floor = None;
                continue;
            }
        }
        // The step lies between the two sides: halfway across the fall.
        let i = lo + best + fall / 2;
        if steps.last().is_none_or(|&last| i >= last + side) {
            steps.push(i);
        }
    }
    steps
}

/// Skin darkness around one end of a strand: the median linear brightness on a
/// circle of `radius_px` about `end`, leaving out the ±60° sector the shaft itself
/// occupies (direction `inward`), ÷ the skin level there. A follicle opening is
/// darker than the skin around it (perifollicular pigmentation, the shaft's root
/// seen through the epidermis): below 1. A clipped tip ends on plain skin: about 1.
fn end_surround(
    plane: &Plane,
    background: &Background,
    end: [f64; 2],
    inward: [f64; 2],
    radius_px: f64,
) -> f64 {
    const POINTS: usize = 36;
    let mut v: Vec<f64> = (0..POINTS)
        .filter_map(|k| {
            let a = k as f64 * std::f64::consts::TAU / POINTS as f64;
            let d = [a.cos(), a.sin()];
            if d[0] * inward[0] + d[1] * inward[1] > 0.5 {
                return None;
            }
            Some(f64::from(plane.sample(
                end[0] + radius_px * d[0],
                end[1] + radius_px * d[1],
            )))
        })
        .collect();
    let level = background.at(end[0], end[1]);
    match median(&mut v) {
        Some(m) if level > 1e-9 => m / level,
        _ => 1.0,
    }
}

fn summarise(
    strands: Vec<StrandResult>,
    (width, height, guard_px): (u32, u32, f64),
    calibration: &Calibration,
    params: &Params,
    blur_sigma_um: Option<f64>,
    quality: Quality,
) -> Analysis {
    let area = calibration.field_area_cm2(width, height);
    let frame_area = frame_area_cm2(width, height, guard_px, calibration.um_per_px());
    // The frame's count is scaled to the field.
    let to_field = if frame_area > 0.0 {
        area / frame_area
    } else {
        0.0
    };
    let framed: Vec<&StrandResult> = strands
        .iter()
        .filter(|s| s.hairs_in_frame() > 0.0)
        .collect();
    let frame_count = frame_hairs(framed.iter().copied());
    let hair_count = frame_count * to_field;
    let ci = poisson_ci95(frame_count).map(|c| c * to_field);
    let mut class_counts = ClassCounts::default();
    for s in &framed {
        let n = s.hairs_in_frame() * to_field;
        match s.class {
            ThicknessClass::Vellus => class_counts.vellus += n,
            ThicknessClass::Intermediate => class_counts.intermediate += n,
            ThicknessClass::Terminal => class_counts.terminal += n,
        }
    }
    let frac = |v: f64| {
        if hair_count > 0.0 {
            v / hair_count
        } else {
            0.0
        }
    };
    let wsum: f64 = framed
        .iter()
        .map(|s| s.hairs_in_frame() * s.width_um)
        .fold(0.0, |a, b| a + b);
    let mean_width_um = if frame_count > 0.0 {
        wsum / frame_count
    } else {
        0.0
    };
    let var = if frame_count > 0.0 {
        framed
            .iter()
            .map(|s| s.hairs_in_frame() * (s.width_um - mean_width_um).powi(2))
            .sum::<f64>()
            / frame_count
    } else {
        0.0
    };
    let width_cv = if mean_width_um > 0.0 {
        var.sqrt() / mean_width_um
    } else {
        0.0
    };
    let mut widths: Vec<f64> = framed.iter().map(|s| s.width_um).collect();
    let median_width_um = median(&mut widths).unwrap_or(0.0);

    let edges_um: Vec<f64> = (0..=14).map(|i| f64::from(i) * 10.0).collect();
    let mut counts = vec![0.0; edges_um.len() - 1];
    for s in &framed {
        let bin = ((s.width_um / 10.0).floor() as usize).min(counts.len() - 1);
        counts[bin] += s.hairs_in_frame() * to_field;
    }

    // Follicular units, over every counted hair of the field.
    let counted: Vec<&StrandResult> = strands.iter().filter(|s| s.count_weight > 0.0).collect();
    // Follicular units: single-linkage clusters of emergence points of counted hairs.
    let points: Vec<[f64; 2]> = counted.iter().filter_map(|s| s.emergence).collect();
    let radius_px = calibration.um_to_px(params.follicular_unit_radius_um);
    let mut parent: Vec<usize> = (0..points.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for i in 0..points.len() {
        for j in (i + 1)..points.len() {
            let d2 = (points[i][0] - points[j][0]).powi(2) + (points[i][1] - points[j][1]).powi(2);
            if d2 <= radius_px * radius_px {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut sizes: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for i in 0..points.len() {
        *sizes.entry(find(&mut parent, i)).or_insert(0) += 1;
    }
    let mut follicular_unit_histogram = [0usize; 4];
    for &n in sizes.values() {
        follicular_unit_histogram[n.clamp(1, 4) - 1] += 1;
    }
    let follicular_units = sizes.len();
    let hairs_per_follicular_unit = if follicular_units > 0 {
        points.len() as f64 / follicular_units as f64
    } else {
        0.0
    };

    Analysis {
        version: env!("CARGO_PKG_VERSION").to_string(),
        image: ImageDims { width, height },
        field_px: None,
        um_per_px: calibration.um_per_px(),
        field_area_cm2: area,
        count_guard_px: guard_px,
        hair_count,
        density_per_cm2: hair_count / area,
        density_ci95_per_cm2: [ci[0] / area, ci[1] / area],
        class_counts,
        class_density_per_cm2: ClassCounts {
            vellus: class_counts.vellus / area,
            intermediate: class_counts.intermediate / area,
            terminal: class_counts.terminal / area,
        },
        mean_width_um,
        median_width_um,
        width_cv,
        vellus_fraction: frac(class_counts.vellus),
        intermediate_fraction: frac(class_counts.intermediate),
        terminal_fraction: frac(class_counts.terminal),
        cumulative_thickness_mm_per_cm2: wsum * to_field / 1000.0 / area,
        follicular_units,
        follicular_unit_density_per_cm2: follicular_units as f64 / area,
        hairs_per_follicular_unit,
        follicular_unit_histogram,
        width_histogram: WidthHistogram { edges_um, counts },
        blur_sigma_um,
        quality,
        strands,
    }
}

#[cfg(test)]
mod frame_tests {
    use super::*;

    fn strand(emergence: Option<[f64; 2]>, ends: [[f64; 2]; 2]) -> StrandResult {
        StrandResult {
            id: 0,
            centerline: vec![ends[0], ends[1]],
            length_um: 600.0,
            width_um: 60.0,
            class: ThicknessClass::Terminal,
            polarity: Polarity::Dark,
            emergence,
            count_weight: 1.0,
            frame_share: 1.0,
        }
    }

    #[test]
    fn a_hair_is_in_the_frame_by_its_emergence_or_half_per_end_inside() {
        let field = FieldRect::whole(200, 100);
        let g = 10.0;
        // By the emergence, wherever the other end lies.
        let s = strand(Some([50.0, 50.0]), [[50.0, 50.0], [50.0, 2.0]]);
        assert_eq!(frame_share(&s, &field, g), 1.0);
        let s = strand(Some([5.0, 50.0]), [[5.0, 50.0], [80.0, 50.0]]);
        assert_eq!(frame_share(&s, &field, g), 0.0);
        // No emergence told: half per end inside.
        let s = strand(None, [[5.0, 50.0], [80.0, 50.0]]);
        assert_eq!(frame_share(&s, &field, g), 0.5);
        let s = strand(None, [[30.0, 50.0], [80.0, 50.0]]);
        assert_eq!(frame_share(&s, &field, g), 1.0);
        let s = strand(None, [[30.0, 95.0], [195.0, 50.0]]);
        assert_eq!(frame_share(&s, &field, g), 0.0);
    }

    #[test]
    fn the_guard_is_at_most_a_quarter_of_the_shorter_side() {
        assert_eq!(guard_px(640, 512, 80.0, 8.0), 10.0);
        assert_eq!(guard_px(640, 40, 80.0, 1.0), 10.0);
        assert_eq!(guard_px(640, 512, 0.0, 6.0), 0.0);
        // 600 × 500 px less 10 px on each side, at 10 µm/px.
        let a = frame_area_cm2(600, 500, 10.0, 10.0);
        assert!((a - 580.0 * 480.0 * 100.0 / 1e8).abs() < 1e-15);
    }
}

#[cfg(test)]
mod shading_tests {
    use super::is_shading;

    #[test]
    fn faint_neutral_darkening_is_shading() {
        assert!(is_shading(0.08, [0.09, 0.10, 0.10]));
    }

    #[test]
    fn a_tinted_faint_shaft_is_not_shading() {
        // Blond shaft on pink skin: takes blue away far more than red.
        assert!(!is_shading(0.08, [0.07, 0.04, 0.14]));
    }

    #[test]
    fn an_opaque_neutral_shaft_is_not_shading() {
        assert!(!is_shading(0.95, [0.96, 0.95, 0.95]));
    }
}

#[cfg(test)]
mod crossing_tests {
    use super::{ends_across_another, Shaft};

    /// A shaft with both ends in the field.
    fn shaft(line: &[[f64; 2]], d_px: f64) -> Shaft<'_> {
        Shaft::new(line, d_px, [false, false])
    }

    /// Points 1 px apart from `from` to `to`.
    pub(super) fn line(from: [f64; 2], to: [f64; 2]) -> Vec<[f64; 2]> {
        let n = (to[0] - from[0]).hypot(to[1] - from[1]).round() as usize;
        (0..=n)
            .map(|i| {
                let t = i as f64 / n as f64;
                [
                    from[0] + t * (to[0] - from[0]),
                    from[1] + t * (to[1] - from[1]),
                ]
            })
            .collect()
    }

    #[test]
    fn an_end_against_the_middle_of_a_crossing_shaft_is_a_crossing() {
        // Strand 0 runs right and stops 6 px short of the axis of a vertical
        // 10-px shaft (strand 1) at its middle.
        let a = line([10.0, 50.0], [44.0, 50.0]);
        let b = line([50.0, 0.0], [50.0, 100.0]);
        let shafts = [shaft(&a, 8.0), shaft(&b, 10.0)];
        assert!(ends_across_another(
            0,
            a[a.len() - 1],
            a[a.len() - 5],
            8.0,
            &shafts,
            4.0
        ));
        // Its other end is in open skin.
        assert!(!ends_across_another(0, a[0], a[4], 8.0, &shafts, 4.0));
    }

    #[test]
    fn a_shaft_leaving_the_photo_has_no_end_there() {
        // Strand 0 stops against a vertical 10-px shaft 12 px from that shaft's
        // head: too near an end of it for a crossing (a shared opening), unless
        // the head is where the shaft leaves the photo.
        let a = line([10.0, 12.0], [44.0, 12.0]);
        let b = line([50.0, 0.0], [50.0, 100.0]);
        let end = (a[a.len() - 1], a[a.len() - 5]);
        let in_field = [shaft(&a, 8.0), shaft(&b, 10.0)];
        assert!(!ends_across_another(0, end.0, end.1, 8.0, &in_field, 4.0));
        let leaving = [
            shaft(&a, 8.0),
            Shaft {
                leaves: [true, false],
                ..shaft(&b, 10.0)
            },
        ];
        assert!(ends_across_another(0, end.0, end.1, 8.0, &leaving, 4.0));
        // The tail leaving instead says nothing of the head, 12 px away.
        let tail_leaving = [
            shaft(&a, 8.0),
            Shaft {
                leaves: [false, true],
                ..shaft(&b, 10.0)
            },
        ];
        assert!(!ends_across_another(
            0,
            end.0,
            end.1,
            8.0,
            &tail_leaving,
            4.0
        ));
    }

    #[test]
    fn hairs_meeting_at_a_shared_opening_are_not_crossings() {
        // Two shafts leave one opening at (10, 50), 20° apart; and a third meets
        // the middle of a shaft at 15°, as a follicular unit's fan does.
        let a = line([10.0, 50.0], [90.0, 50.0]);
        let b = line([10.0, 50.0], [85.2, 22.6]);
        let shafts = [shaft(&a, 8.0), shaft(&b, 8.0)];
        assert!(!ends_across_another(0, a[0], a[4], 8.0, &shafts, 4.0));
        assert!(!ends_across_another(1, b[0], b[4], 8.0, &shafts, 4.0));
        let c = line([50.0 - 40.0 * 0.966, 50.0 - 40.0 * 0.259], [49.0, 49.0]);
        let shafts = [shaft(&a, 8.0), shaft(&c, 8.0)];
        assert!(!ends_across_another(
            1,
            c[c.len() - 1],
            c[c.len() - 5],
            8.0,
            &shafts,
            4.0
        ));
    }
}

#[cfg(test)]
mod merged_tests {
    use super::crossing_tests::line;
    use super::{leave_one_opening, parts_from, widest_run_px, width_past_steps, width_steps};

    /// `runs` of (width px, length px) from the head.
    fn profile(runs: &[(f64, usize)]) -> Vec<f64> {
        runs.iter()
            .flat_map(|&(w, n)| std::iter::repeat_n(w, n))
            .collect()
    }

    #[test]
    fn a_shaft_ending_near_the_cut_tip_of_a_known_emergence_is_a_step() {
        // A 17-px shaft with a 5-px one that runs on 32 px past it: 80 px in all
        // (the case of a thick shaft clipped shorter than its thin sibling).
        let w = profile(&[(17.0, 48), (5.0, 32)]);
        let steps = width_steps(&w, Some(0), 20.0, 5.0);
        assert_eq!(steps.len(), 1, "{steps:?}");
        // Placed mid-way across the fall.
        assert!((steps[0] as i64 - 48).abs() <= 3, "{steps:?}");
        // With either end possibly the opening, the reading with fewer steps:
        // from the tail the width only rises.
        assert!(width_steps(&w, None, 20.0, 5.0).is_empty());
    }

    #[test]
    fn a_trace_parting_from_a_strand_near_its_opening_is_a_fork() {
        // A strand emerging at the origin, running along +x, 10 px wide.
        let stem = line([0.0, 0.0], [150.0, 0.0]);
        let opening = (stem.as_slice(), [0.0, 0.0], [1.0, 0.0], 10.0);
        let dir = |deg: f64| {
            let r = deg.to_radians();
            [r.cos(), r.sin()]
        };
        // A 9-px trace that ends on it 40 px out, leaving at 10°: a sibling.
        assert!(parts_from(([40.0, 4.0], dir(10.0), 9.0), opening, 3.0));
        // Across it at 60°: a hair passing under, not one leaving its opening.
        assert!(!parts_from(([40.0, 4.0], dir(60.0), 9.0), opening, 3.0));
        // Heading back towards the opening: not leaving it.
        assert!(!parts_from(([40.0, 4.0], dir(170.0), 9.0), opening, 3.0));
        // Far from the opening (130 px, past 8 widths and the margin).
        assert!(!parts_from(([130.0, 4.0], dir(10.0), 9.0), opening, 3.0));
        // Near the opening but beside the strand, not on it.
        assert!(!parts_from(([40.0, 20.0], dir(10.0), 9.0), opening, 3.0));
    }

    #[test]
    fn two_traces_leaving_one_point_fanned_are_the_hairs_of_one_opening() {
        let dir = |deg: f64| {
            let r = deg.to_radians();
            [r.cos(), r.sin()]
        };
        // Two 8-px traces whose ends touch (6 px apart), leaving 20° apart.
        let a = ([50.0, 50.0], dir(-10.0), 8.0);
        assert!(leave_one_opening(a, ([50.0, 56.0], dir(10.0), 8.0), 3.0));
        assert!(leave_one_opening(([50.0, 56.0], dir(10.0), 8.0), a, 3.0));
        // Side by side in one direction (4° apart): one shaft split by its sheen.
        assert!(!leave_one_opening(a, ([50.0, 56.0], dir(-6.0), 8.0), 3.0));
        // Fanned 90° apart: no unit's hairs part so.
        assert!(!leave_one_opening(a, ([50.0, 56.0], dir(80.0), 8.0), 3.0));
        // Facing each other: one shaft broken, not two leaving one point.
        assert!(!leave_one_opening(a, ([50.0, 56.0], dir(170.0), 8.0), 3.0));
        // Ends 20 px apart, past half their widths and the margin: two openings.
        assert!(!leave_one_opening(a, ([50.0, 70.0], dir(10.0), 8.0), 3.0));
    }

    #[test]
    fn the_width_past_the_last_step_is_the_hair_that_runs_on_alone() {
        // Two 10-px shafts run merged (18 px) from the head for 60 stations;
        // one runs on alone for 40 more. Fitted over the middle, 18.4 px.
        let w = profile(&[(18.0, 60), (10.0, 40)]);
        let d = width_past_steps(&w, &[60], Some(0), 5.0, 18.4);
        assert!((d - 10.4).abs() < 1e-9, "{d}");
        // From the tail, the same strand reversed.
        let r: Vec<f64> = w.iter().rev().copied().collect();
        let d = width_past_steps(&r, &[39], Some(1), 5.0, 18.4);
        assert!((d - 10.4).abs() < 1e-9, "{d}");
        // No step, no emergence end, or too few stations past the step: the
        // fitted diameter stands.
        assert_eq!(width_past_steps(&w, &[], Some(0), 5.0, 18.4), 18.4);
        assert_eq!(width_past_steps(&w, &[60], None, 5.0, 18.4), 18.4);
        assert_eq!(width_past_steps(&w, &[92], Some(0), 5.0, 18.4), 18.4);
        // Never below half the fitted diameter.
        let d = width_past_steps(
            &profile(&[(40.0, 60), (4.0, 40)]),
            &[60],
            Some(0),
            5.0,
            20.0,
        );
        assert_eq!(d, 10.0);
    }

    #[test]
    fn a_shaft_ending_inside_a_merged_strand_is_a_step() {
        // Two shafts of 7 px side by side for 50 px from the opening (the head),
        // then one alone for 100 px.
        let w = profile(&[(14.0, 50), (7.0, 100)]);
        let steps = width_steps(&w, Some(0), 10.0, 5.0);
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert!((steps[0] as i64 - 50).abs() <= 3, "{steps:?}");
        // The wide part must be on the emergence side: from the tail, a shaft
        // cannot end before the other has left the opening.
        assert!(width_steps(&w, Some(1), 10.0, 5.0).is_empty());
        // Unknown emergence: the reading with fewer steps, the tail's.
        assert!(width_steps(&w, None, 10.0, 5.0).is_empty());
    }

    #[test]
    fn the_widest_part_leaves_out_the_ends_and_a_crossing() {
        // A 6-px shaft with a 10-px opening at the head, a 3-px tip at the tail
        // and a 24-px crossing over 4 px of its middle: still 6 px at its widest.
        let shaft = profile(&[(10.0, 12), (6.0, 43), (24.0, 4), (6.0, 44), (3.0, 12)]);
        assert_eq!(widest_run_px(&shaft), Some(6.0));
        // A blob traced along its long axis: widest in the middle, as wide there
        // as the trace is long.
        let blob: Vec<f64> = (0..30)
            .map(|i| 30.0 * (1.0 - ((i as f64 - 14.5) / 15.0).powi(2)).sqrt())
            .collect();
        let widest = widest_run_px(&blob).unwrap_or(0.0);
        assert!(widest > 25.0 && widest < 30.0, "{widest}");
        // Too few stations in the middle to tell.
        assert_eq!(widest_run_px(&[5.0; 6]), None);
    }

    #[test]
    fn a_shaft_ending_inside_a_fanning_pair_is_a_step() {
        // Two shafts leave the opening (the head) side by side and fan out: their
        // merged width grows from 11 to 16 px over 60 px, then the shorter ends
        // and the longer runs on alone, 11 px wide, for 100 px. The fall, read
        // next to the step (15.6 to 11 px), is 0.42 of the narrowest level; the
        // fan's growth over a step's reach (1 px) is no step.
        let mut w: Vec<f64> = (0..60).map(|i| 11.0 + 5.0 * i as f64 / 60.0).collect();
        w.extend(profile(&[(11.0, 100)]));
        let steps = width_steps(&w, Some(0), 10.0, 5.0);
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert!((steps[0] as i64 - 60).abs() <= 3, "{steps:?}");
        // Seen from the tail, the shorter hair cannot have left first.
        assert!(width_steps(&w, Some(1), 10.0, 5.0).is_empty());
    }

    #[test]
    fn a_hair_crossing_a_shaft_is_no_step_and_one_ending_after_it_is() {
        // A 8-px shaft that another hair crosses over 14 px (a bump to 20 px):
        // the fall at the bump's end returns to the level before it.
        let w = profile(&[(8.0, 60), (20.0, 14), (8.0, 80)]);
        assert!(width_steps(&w, Some(0), 10.0, 5.0).is_empty());
        // A pair 16 px wide, crossed, then one of them ending: a step after the
        // bump, which falls to the level before it only at the second fall.
        let w = profile(&[(16.0, 50), (28.0, 14), (16.0, 40), (8.0, 60)]);
        let steps = width_steps(&w, Some(0), 10.0, 5.0);
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert!((steps[0] as i64 - 104).abs() <= 3, "{steps:?}");
    }

    #[test]
    fn a_fall_within_scattered_widths_is_no_step() {
        // Widths scattering by ±4 px (skin texture along a furrow, or a trace
        // running through something else) about a level that falls by 4 px.
        let scatter = [0.0, 4.0, -4.0, 3.0, -3.0, 4.0, -4.0];
        let w: Vec<f64> = (0..160)
            .map(|i| if i < 80 { 12.0 } else { 8.0 } + scatter[i % 7])
            .collect();
        assert!(width_steps(&w, Some(0), 10.0, 5.0).is_empty());
        // The same fall with the widths steady is a step.
        let w = profile(&[(12.0, 80), (8.0, 80)]);
        assert_eq!(width_steps(&w, Some(0), 10.0, 5.0).len(), 1);
    }

    #[test]
    fn three_shafts_leaving_one_by_one_are_two_steps() {
        let w = profile(&[(21.0, 60), (14.0, 60), (7.0, 90)]);
        let mut steps = width_steps(&w, Some(0), 10.0, 5.0);
        steps.sort_unstable();
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert!((steps[0] as i64 - 60).abs() <= 3 && (steps[1] as i64 - 120).abs() <= 3);
    }

    #[test]
    fn an_even_or_noisy_shaft_and_a_wide_opening_are_no_steps() {
        // A 6-px shaft with ±1 px of measuring noise.
        let noisy: Vec<f64> = (0..200)
            .map(|i| 6.0 + [0.0, 1.0, -1.0, 0.5][i % 4])
            .collect();
        assert!(width_steps(&noisy, Some(0), 20.0, 5.0).is_empty());
        // The dark opening widens the first 18 px, inside the 20-px end zone.
        let w = profile(&[(16.0, 18), (6.0, 150)]);
        assert!(width_steps(&w, Some(0), 20.0, 5.0).is_empty());
        // A shaft that thins by a third over its whole length: 0.2 px over a
        // step's reach, under the step's limits.
        let taper: Vec<f64> = (0..150).map(|i| 9.0 - 3.0 * i as f64 / 150.0).collect();
        assert!(width_steps(&taper, Some(0), 10.0, 5.0).is_empty());
        // Too short to hold both sides of a step beyond the end zones.
        assert!(width_steps(&profile(&[(14.0, 14), (7.0, 14)]), Some(0), 10.0, 5.0).is_empty());
    }
}

#[cfg(test)]
mod continuation_tests {
    use super::crossing_tests::line;
    use super::{
        branches_off, brighter_than_skin, continues, gap_covered, strand_ends, x_junction,
        Continuation, StrandEnd,
    };
    use crate::filter::Plane;
    use crate::preprocess::Background;

    /// Skin at 0.8 with dark (0.3) bars `[x0, x1) × [y0, y1)`.
    fn photo(bars: &[[usize; 4]]) -> Plane {
        let mut p = Plane::new(128, 100);
        p.data.fill(0.8);
        for &[x0, x1, y0, y1] in bars {
            for y in y0..y1 {
                for x in x0..x1 {
                    p.data[y * p.width + x] = 0.3;
                }
            }
        }
        p
    }

    /// The ends of two dark 6-px strands (amplitude 0.6).
    fn ends(a: &[[f64; 2]], b: &[[f64; 2]]) -> Vec<StrandEnd> {
        strand_ends([(1i8, a, 6.0, 0.6), (1i8, b, 6.0, 0.6)].into_iter())
    }

    /// The photo of `bars`, its skin level, and the ends of two traces along
    /// y = 50: from x = 20 to 40 and from x = 60 to 100.
    fn broken_shaft(bars: &[[usize; 4]]) -> (Plane, Background, Vec<StrandEnd>) {
        let plane = photo(bars);
        let bg = Background::new(&plane, 32);
        let e = ends(
            &line([20.0, 50.0], [40.0, 50.0]),
            &line([60.0, 50.0], [100.0, 50.0]),
        );
        (plane, bg, e)
    }

    #[test]
    fn a_shaft_broken_where_another_crosses_it_is_continued() {
        // A horizontal shaft along y = 50, its trace broken from x = 40 to 60
        // where a 12-px vertical shaft crosses over it.
        let (plane, bg, e) = broken_shaft(&[[20, 100, 47, 53], [44, 56, 0, 100]]);
        let (a_tail, b_head) = (&e[1], &e[2]);
        assert!(a_tail.tail && !b_head.tail && b_head.strand == 1);
        assert_eq!(
            continues(a_tail, b_head, 25.0),
            Some(Continuation::AcrossGap)
        );
        assert_eq!(
            continues(b_head, a_tail, 25.0),
            Some(Continuation::AcrossGap)
        );
        assert!(gap_covered(&plane, &bg, a_tail, b_head));
        // Their outer ends face away from each other.
        assert_eq!(continues(&e[0], &e[3], 100.0), None);
        // Beyond the longest gap bridged, they are two hairs.
        assert_eq!(continues(a_tail, b_head, 10.0), None);
    }

    #[test]
    fn a_tip_facing_another_hairs_opening_across_skin_is_not_continued() {
        // The same ends, with skin between them: one clipped hair's tip in line
        // with the next hair's opening.
        let (plane, bg, e) = broken_shaft(&[[20, 41, 47, 53], [60, 100, 47, 53]]);
        assert_eq!(continues(&e[1], &e[2], 25.0), Some(Continuation::AcrossGap));
        assert!(!gap_covered(&plane, &bg, &e[1], &e[2]));
    }

    #[test]
    fn hairs_leaving_one_opening_do_not_continue_each_other() {
        // Two shafts leave (20, 50) 20° apart: their heads meet but point the
        // same way, and a side-by-side pair is offset across its direction.
        let a = line([20.0, 50.0], [100.0, 50.0]);
        let b = line([20.0, 50.0], [95.2, 22.6]);
        let e = ends(&a, &b);
        assert_eq!(continues(&e[0], &e[2], 25.0), None);
        let c = line([40.0, 58.0], [100.0, 58.0]);
        let e = ends(&a, &c);
        assert_eq!(continues(&e[1], &e[2], 25.0), None);
        // A strand of the other polarity never continues a dark one.
        let mut e = ends(
            &line([20.0, 50.0], [40.0, 50.0]),
            &line([60.0, 50.0], [90.0, 50.0]),
        );
        e[2].polarity = -1;
        assert_eq!(continues(&e[1], &e[2], 25.0), None);
    }

    #[test]
    fn traces_that_ran_past_each_other_continue_only_where_another_crosses() {
        // One shaft along y = 50 whose two traces overlap by 4 px, half a pixel
        // apart: they continue each other by themselves...
        let a = line([20.0, 50.0], [44.0, 50.0]);
        let b = line([40.0, 50.5], [100.0, 50.5]);
        let e = ends(&a, &b);
        let (a_tail, b_head) = (&e[1], &e[2]);
        assert_eq!(
            continues(a_tail, b_head, 25.0),
            Some(Continuation::Touching)
        );
        // ...but they are one hair only where a third trace stops there, across:
        // with none, or with one along them (a fork), they stay two.
        assert!(!x_junction(a_tail, b_head, &e));
        let across = line([42.0, 10.0], [42.0, 46.0]);
        let along = line([90.0, 60.0], [44.0, 52.0]);
        for (c, crossing) in [(across, true), (along, false)] {
            let all = strand_ends(
                [
                    (1i8, &a[..], 6.0, 0.6),
                    (1, &b[..], 6.0, 0.6),
                    (1, &c[..], 6.0, 0.6),
                ]
                .into_iter(),
            );
            assert_eq!(x_junction(&all[1], &all[2], &all), crossing);
        }
        // A light trace stopping there, across, is no hair crossing them: the
        // skin between two hairs that part from one opening ends there too.
        let wedge = line([42.0, 10.0], [42.0, 46.0]);
        let all = strand_ends(
            [
                (1i8, &a[..], 6.0, 0.6),
                (1, &b[..], 6.0, 0.6),
                (-1, &wedge[..], 6.0, -0.6),
            ]
            .into_iter(),
        );
        assert!(!x_junction(&all[1], &all[2], &all));
    }

    #[test]
    fn a_light_strand_must_be_brighter_than_the_skin_around() {
        // Skin at 0.8: a light line at 0.9 along y = 50 is brighter than it; the
        // same line at the skin's level (the skin showing between two dark
        // shafts) is not, nor is one a hair's breadth brighter.
        for (level, brighter) in [(0.9f32, true), (0.8, false), (0.81, false)] {
            let mut plane = photo(&[]);
            for x in 10..110 {
                for y in 48..53 {
                    plane.data[y * plane.width + x] = level;
                }
            }
            let bg = Background::new(&plane, 32);
            let centre = line([12.0, 50.5], [108.0, 50.5]);
            assert_eq!(
                brighter_than_skin(&plane, &bg, &centre),
                brighter,
                "{level}"
            );
        }
    }

    #[test]
    fn the_traces_of_hairs_parting_from_their_merged_run_branch_off_its_end() {
        // The merged run of two hairs: 14 px wide along y = 50 up to x = 60.
        // Each hair's trace past the parting starts beside its axis, 4 px off,
        // overlapping its end, and heads on its way 10° to one side.
        let trunk = line([10.0, 50.0], [60.0, 50.0]);
        let t = |b: &[[f64; 2]], d_b: f64| {
            strand_ends([(1i8, &trunk[..], 14.0, 0.9), (1, b, d_b, 0.9)].into_iter())
        };
        let (c, s) = (10f64.to_radians().cos(), 10f64.to_radians().sin());
        for side in [-1.0, 1.0] {
            let b = line(
                [56.0, 50.0 + 4.0 * side],
                [56.0 + 60.0 * c, 50.0 + side * (4.0 + 60.0 * s)],
            );
            let e = t(&b, 8.0);
            assert!(branches_off(&e[1], &e[2], 3.0), "side {side}");
            // Not off the trunk's other end, nor off a trunk narrower than it.
            assert!(!branches_off(&e[0], &e[2], 3.0));
            let e = t(&b, 16.0);
            assert!(!branches_off(&e[1], &e[2], 3.0));
        }
        // A hair crossing the trunk's end at 40° does not branch off it...
        let (c, s) = (40f64.to_radians().cos(), 40f64.to_radians().sin());
        let across = line([58.0, 50.0], [58.0 + 60.0 * c, 50.0 + 60.0 * s]);
        let e = t(&across, 8.0);
        assert!(!branches_off(&e[1], &e[2], 3.0));
        // ...nor does a trace that starts past the trunk's width beside it.
        let beside = line([56.0, 62.0], [116.0, 62.0]);
        let e = t(&beside, 8.0);
        assert!(!branches_off(&e[1], &e[2], 3.0));
    }
}
