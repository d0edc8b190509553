//! Ground truth written beside every generated image (serde / JSON).
//!
//! All positions are in image pixel coordinates of the rendered image: x to the
//! right, y down, the centre of the top-left pixel at (0.5, 0.5) — so a pixel
//! `(i, j)` covers `[i, i+1) × [j, j+1)`. Lengths and widths are in µm.

use serde::{Deserialize, Serialize};

use crate::classes::ThicknessClass;

/// Pixel size of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSize {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Pigmentation of a hair shaft, which sets its contrast polarity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HairColour {
    /// Black to dark brown: much darker than skin.
    Dark,
    /// Light brown: darker than skin.
    Brown,
    /// Blond: slightly darker than skin, low contrast.
    Blond,
    /// Grey: close to skin, mixed polarity.
    Grey,
    /// White: brighter than the skin (it scatters light).
    White,
}

/// One hair of the generated scalp.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthHair {
    /// Index of this hair in [`Truth::hairs`].
    pub id: usize,
    /// Index of its follicular unit in [`Truth::follicular_units`].
    pub follicular_unit: usize,
    /// Where the shaft emerges from the skin (px). May lie outside the image.
    pub emergence_px: [f64; 2],
    /// The free end of the shaft (px). May lie outside the image.
    pub tip_px: [f64; 2],
    /// The whole centreline from emergence to tip (px), sampled at most 1 px apart.
    /// Parts may lie outside the image.
    pub centerline_px: Vec<[f64; 2]>,
    /// Length of the part of the centreline inside the image (µm).
    pub visible_length_um: f64,
    /// Total shaft length above the skin (µm).
    pub length_um: f64,
    /// True shaft diameter (µm).
    pub width_um: f64,
    /// Class of `width_um` under the default limits.
    pub class: ThicknessClass,
    /// Pigmentation.
    pub colour: HairColour,
    /// Whether the hair was clipped (crisp tip) rather than long.
    pub clipped: bool,
    /// Whether `emergence_px` lies inside the image: the hair counts for the field.
    pub emergence_in_field: bool,
}

/// A follicular opening with the hairs that leave it (possibly none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthFollicularUnit {
    /// Index of this unit in [`Truth::follicular_units`].
    pub id: usize,
    /// Centre of the opening (px). May lie outside the image.
    pub center_px: [f64; 2],
    /// Radius of the opening (µm).
    pub radius_um: f64,
    /// Ids of the hairs emerging here (empty for an empty opening).
    pub hair_ids: Vec<usize>,
    /// Whether `center_px` lies inside the image.
    pub in_field: bool,
}

/// Kind of a rendered distractor: something on the skin that is not a hair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistractorKind {
    /// A thin red, branching vessel loop.
    Vessel,
    /// A white scale / dandruff flake.
    Flake,
    /// A skin furrow.
    Furrow,
    /// A yellow dot (sebum-filled opening).
    YellowDot,
}

/// A distractor, for checking that the analysis does not count it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthDistractor {
    /// What it is.
    pub kind: DistractorKind,
    /// A polyline through it (px); a single point for blobs.
    pub path_px: Vec<[f64; 2]>,
}

/// Summary figures by the counting convention of `shared/domain.md`: a hair counts
/// when its emergence point lies in the field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthSummary {
    /// Hairs whose emergence lies in the field.
    pub hair_count: usize,
    /// `hair_count` / field area (hairs per cm²).
    pub density_per_cm2: f64,
    /// Mean width of the counted hairs (µm); 0 when none.
    pub mean_width_um: f64,
    /// Median width of the counted hairs (µm); 0 when none.
    pub median_width_um: f64,
    /// Coefficient of variation of counted widths (fraction, not %).
    pub width_cv: f64,
    /// Fraction of counted hairs that are vellus.
    pub vellus_fraction: f64,
    /// Fraction of counted hairs that are intermediate.
    pub intermediate_fraction: f64,
    /// Fraction of counted hairs that are terminal.
    pub terminal_fraction: f64,
    /// Sum of counted widths per field area (mm/cm²).
    pub cumulative_thickness_mm_per_cm2: f64,
    /// Follicular units in the field holding at least one counted hair.
    pub follicular_units: usize,
    /// Mean counted hairs per such unit.
    pub hairs_per_follicular_unit: f64,
    /// Units holding 1, 2, 3 and 4+ counted hairs.
    pub follicular_unit_histogram: [usize; 4],
}

/// Everything known about one generated image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Crate version that generated it.
    pub generator_version: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Image size.
    pub image: ImageSize,
    /// Calibration (µm/px).
    pub um_per_px: f64,
    /// Field area (cm²).
    pub field_area_cm2: f64,
    /// The field (px) when graphics were burned in and a bar hides part of
    /// the photo ([`crate::synth::Synthetic::burn_in_overlay`]); absent: the
    /// whole photo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_px: Option<crate::overlay::FieldRect>,
    /// Standard deviation of the Gaussian optical blur (px).
    pub blur_sigma_px: f64,
    /// JPEG quality the image was saved with, if any.
    pub jpeg_quality: Option<u8>,
    /// Every hair, including those emerging outside the field.
    pub hairs: Vec<TruthHair>,
    /// Every follicular opening.
    pub follicular_units: Vec<TruthFollicularUnit>,
    /// Non-hair structures rendered on the skin.
    pub distractors: Vec<TruthDistractor>,
    /// Figures by the counting convention.
    pub summary: TruthSummary,
}

/// The similarity transform that maps baseline pixel coordinates to follow-up
/// pixel coordinates: `p_f = scale · R(rotation) · (p_b − c) + c + (dx, dy)`,
/// with `c` the baseline image centre.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairTransform {
    /// Shift along x (px of the follow-up).
    pub dx_px: f64,
    /// Shift along y (px of the follow-up).
    pub dy_px: f64,
    /// Rotation (degrees, turning +x towards +y: clockwise as seen on screen, y down).
    pub rotation_deg: f64,
    /// Scale factor (follow-up px per baseline px).
    pub scale: f64,
}

/// Truth for a baseline / follow-up pair of one scalp zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairTruth {
    /// Baseline image truth.
    pub baseline: Truth,
    /// Follow-up image truth.
    pub followup: Truth,
    /// Baseline → follow-up mapping.
    pub transform: PairTransform,
    /// For each follow-up hair id, the baseline hair id it continues (None: new hair).
    pub followup_to_baseline: Vec<Option<usize>>,
    /// Baseline hair ids that are gone at follow-up.
    pub lost_baseline_ids: Vec<usize>,
    /// Follow-up hair ids that are new.
    pub new_followup_ids: Vec<usize>,
    /// Follow-up hair ids whose width grew by at least 5 µm.
    pub thickened_followup_ids: Vec<usize>,
    /// Change in density (follow-up − baseline) over the overlap of both fields (hairs/cm²).
    pub density_change_per_cm2: f64,
    /// The same in % of the baseline density over the overlap.
    pub density_change_pct: f64,
    /// Change in mean width of hairs counted in the overlap (µm).
    pub mean_width_change_um: f64,
    /// Overlap area of both fields (cm²).
    pub overlap_area_cm2: f64,
}
