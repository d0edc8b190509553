//! Scene parameters of the generator (plain, serde-able data), validated by
//! [`SceneParams::validate`] when a render starts.

use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::error::{Error, Result};

/// Smallest image side the generator renders (px).
pub const MIN_SIDE_PX: u32 = 16;
/// Largest image the generator renders (pixels): about 5000 × 5000.
pub const MAX_PIXELS: u64 = 25_000_000;
/// Longest hair the generator grows (µm): hairs longer than this add margin area
/// without adding anything visible.
pub const MAX_HAIR_LENGTH_UM: f64 = 20_000.0;
/// Highest follicular-unit density accepted (units per cm²); real scalps have ≈ 50–120.
pub const MAX_UNITS_PER_CM2: f64 = 1_000.0;

/// Fractions of hair pigmentations; they must sum to 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColourMix {
    /// Black to dark brown.
    pub dark: f64,
    /// Light brown.
    pub brown: f64,
    /// Blond.
    pub blond: f64,
    /// Grey (partly pigmented).
    pub grey: f64,
    /// White (unpigmented, brighter than skin).
    pub white: f64,
}

impl Default for ColourMix {
    fn default() -> Self {
        ColourMix {
            dark: 0.8,
            brown: 0.2,
            blond: 0.0,
            grey: 0.0,
            white: 0.0,
        }
    }
}

impl ColourMix {
    pub(crate) fn as_array(&self) -> [f64; 5] {
        [self.dark, self.brown, self.blond, self.grey, self.white]
    }
}

/// Fractions of hairs drawn in each thickness class; they must sum to 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMix {
    /// Vellus (thin) hairs.
    pub vellus: f64,
    /// Intermediate hairs.
    pub intermediate: f64,
    /// Terminal hairs.
    pub terminal: f64,
}

impl Default for ClassMix {
    fn default() -> Self {
        ClassMix {
            vellus: 0.12,
            intermediate: 0.13,
            terminal: 0.75,
        }
    }
}

/// Every knob of one generated scene. Plain data: build it from a
/// [`Scenario`](super::Scenario), change fields, and pass it to
/// [`render`](super::render), which validates it.
///
/// Ranges are `[min, max]` pairs. Lengths and widths are in µm on the skin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SceneParams {
    /// Scenario name written into the truth.
    pub scenario: String,
    /// Image width (px).
    pub width_px: u32,
    /// Image height (px).
    pub height_px: u32,
    /// Calibration (µm/px).
    pub um_per_px: f64,
    /// Range of skin tones drawn per seed: 0 = very light, 1 = dark brown.
    pub skin_tone_range: [f64; 2],
    /// Amplitude of the smooth skin texture (fraction of the skin reflectance).
    pub skin_texture: f64,
    /// Hair pigmentation mix.
    pub hair_colours: ColourMix,
    /// Follicular openings per cm² of skin (with or without hair).
    pub follicular_units_per_cm2: f64,
    /// Smallest distance between two openings (µm).
    pub min_unit_spacing_um: f64,
    /// Fraction of openings holding no hair (empty openings / yellow dots).
    pub empty_unit_fraction: f64,
    /// Probabilities of 1, 2, 3 and 4 hairs in a non-empty opening; sum to 1.
    pub hairs_per_unit: [f64; 4],
    /// Thickness-class mix of the hairs.
    pub class_mix: ClassMix,
    /// Width range of vellus hairs (µm), drawn uniformly.
    pub vellus_width_um: [f64; 2],
    /// Width range of intermediate hairs (µm), drawn uniformly.
    pub intermediate_width_um: [f64; 2],
    /// Width range of terminal hairs (µm); drawn from a normal law truncated to it.
    pub terminal_width_um: [f64; 2],
    /// Mean of the terminal width law (µm).
    pub terminal_width_mean_um: f64,
    /// Standard deviation of the terminal width law (µm).
    pub terminal_width_sd_um: f64,
    /// Fraction of hairs that are long (not clipped).
    pub long_fraction: f64,
    /// Length range of clipped hairs above the skin (µm).
    pub clipped_length_um: [f64; 2],
    /// Length range of long hairs above the skin (µm).
    pub long_length_um: [f64; 2],
    /// Main hair-stream direction (degrees, +x towards +y); `None`: drawn per seed.
    pub stream_angle_deg: Option<f64>,
    /// Amplitude of the slow variation of the stream direction over the scalp (degrees).
    pub stream_variation_deg: f64,
    /// Angle between neighbouring hairs of one opening (degrees).
    pub fan_spread_deg: f64,
    /// Standard deviation of the initial shaft curvature (1/mm).
    pub curvature_sd_per_mm: f64,
    /// Standard deviation of the curvature random walk (1/mm per √mm).
    pub curvature_walk_per_mm: f64,
    /// Length over which the shaft fades into the skin at its emergence end (µm).
    pub emergence_fade_um: f64,
    /// Relative spread of the pigment concentration between hairs (sd, fraction).
    pub pigment_variation: f64,
    /// Strength of the specular sheen on pigmented shafts (linear reflectance).
    pub gloss: f64,
    /// Strength of the brown / blue-grey perifollicular pigmentation (0–1).
    pub perifollicular_pigmentation: f64,
    /// Fraction of empty openings shown as yellow dots.
    pub yellow_dot_fraction: f64,
    /// Small pores per cm².
    pub pores_per_cm2: f64,
    /// Skin furrows per cm² (curvilinear darker lines).
    pub furrows_per_cm2: f64,
    /// Red vessel loops in the field.
    pub vessels: u32,
    /// White scale flakes in the field.
    pub flakes: u32,
    /// Standard deviation of the Gaussian optical blur (px).
    pub blur_sigma_px: f64,
    /// Signal-dependent (shot) noise: variance per unit of linear signal.
    pub shot_noise: f64,
    /// Signal-independent (read) noise: standard deviation in linear units.
    pub read_noise: f64,
    /// JPEG quality (1–100) the image is saved with; `None`: lossless PNG.
    pub jpeg_quality: Option<u8>,
    /// Strength of the linear illumination gradient across the field (fraction).
    pub illumination_gradient: f64,
    /// Vignetting: relative fall-off at the image corners (fraction).
    pub vignetting: f64,
    /// Relative spread of the exposure between photos (sd, fraction).
    pub exposure_jitter: f64,
}

impl Default for SceneParams {
    fn default() -> Self {
        SceneParams {
            scenario: "custom".to_string(),
            width_px: 640,
            height_px: 512,
            um_per_px: 6.0,
            skin_tone_range: [0.0, 0.6],
            skin_texture: 0.08,
            hair_colours: ColourMix::default(),
            follicular_units_per_cm2: 85.0,
            min_unit_spacing_um: 350.0,
            empty_unit_fraction: 0.1,
            hairs_per_unit: [0.30, 0.45, 0.20, 0.05],
            class_mix: ClassMix::default(),
            vellus_width_um: [10.0, 30.0],
            intermediate_width_um: [30.0, 40.0],
            terminal_width_um: [40.0, 120.0],
            terminal_width_mean_um: 68.0,
            terminal_width_sd_um: 14.0,
            long_fraction: 0.0,
            clipped_length_um: [200.0, 1500.0],
            long_length_um: [3_000.0, 10_000.0],
            stream_angle_deg: None,
            stream_variation_deg: 25.0,
            fan_spread_deg: 8.0,
            curvature_sd_per_mm: 0.15,
            curvature_walk_per_mm: 0.08,
            emergence_fade_um: 100.0,
            pigment_variation: 0.15,
            gloss: 0.035,
            perifollicular_pigmentation: 0.35,
            yellow_dot_fraction: 0.4,
            pores_per_cm2: 120.0,
            furrows_per_cm2: 3.0,
            vessels: 0,
            flakes: 2,
            blur_sigma_px: 0.8,
            shot_noise: 0.0004,
            read_noise: 0.003,
            jpeg_quality: None,
            illumination_gradient: 0.12,
            vignetting: 0.18,
            exposure_jitter: 0.05,
        }
    }
}

fn invalid(name: &'static str, value: f64, expected: &'static str) -> Error {
    Error::InvalidParameter {
        name,
        value,
        expected,
    }
}

fn check_fraction(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(name, v, "a fraction in 0..=1"))
    }
}

fn check_nonneg(name: &'static str, v: f64, max: f64, expected: &'static str) -> Result<()> {
    if v.is_finite() && v >= 0.0 && v <= max {
        Ok(())
    } else {
        Err(invalid(name, v, expected))
    }
}

fn check_sum(name: &'static str, parts: &[f64]) -> Result<()> {
    let sum: f64 = parts.iter().sum();
    if (sum - 1.0).abs() <= 1e-6 {
        Ok(())
    } else {
        Err(invalid(name, sum, "fractions summing to 1"))
    }
}

fn check_range(
    name: &'static str,
    r: [f64; 2],
    lo: f64,
    hi: f64,
    expected: &'static str,
) -> Result<()> {
    for v in r {
        if !(v.is_finite() && v >= lo && v <= hi) {
            return Err(invalid(name, v, expected));
        }
    }
    if r[0] > r[1] {
        return Err(invalid(name, r[0], "a range [min, max] with min ≤ max"));
    }
    Ok(())
}

impl SceneParams {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::ImageTooSmall`] / [`Error::ImageTooLarge`] for the image size,
    /// [`Error::InvalidCalibration`] for `um_per_px`, and
    /// [`Error::InvalidParameter`] naming the first other offending field.
    pub fn validate(&self) -> Result<()> {
        if self.width_px < MIN_SIDE_PX || self.height_px < MIN_SIDE_PX {
            return Err(Error::ImageTooSmall {
                width: self.width_px,
                height: self.height_px,
                min_side: MIN_SIDE_PX,
            });
        }
        if u64::from(self.width_px) * u64::from(self.height_px) > MAX_PIXELS {
            return Err(Error::ImageTooLarge {
                width: self.width_px,
                height: self.height_px,
                max_pixels: MAX_PIXELS,
            });
        }
        Calibration::new(self.um_per_px)?;
        check_range(
            "skin_tone_range",
            self.skin_tone_range,
            0.0,
            1.0,
            "tones in 0..=1",
        )?;
        check_nonneg(
            "skin_texture",
            self.skin_texture,
            0.5,
            "an amplitude in 0..=0.5",
        )?;
        let colours = self.hair_colours.as_array();
        for c in colours {
            check_fraction("hair_colours", c)?;
        }
        check_sum("hair_colours", &colours)?;
        check_nonneg(
            "follicular_units_per_cm2",
            self.follicular_units_per_cm2,
            MAX_UNITS_PER_CM2,
            "a density in 0..=1000 units/cm²",
        )?;
        check_nonneg(
            "min_unit_spacing_um",
            self.min_unit_spacing_um,
            5_000.0,
            "a spacing in 0..=5000 µm",
        )?;
        check_fraction("empty_unit_fraction", self.empty_unit_fraction)?;
        for p in self.hairs_per_unit {
            check_fraction("hairs_per_unit", p)?;
        }
        check_sum("hairs_per_unit", &self.hairs_per_unit)?;
        let cm = [
            self.class_mix.vellus,
            self.class_mix.intermediate,
            self.class_mix.terminal,
        ];
        for c in cm {
            check_fraction("class_mix", c)?;
        }
        check_sum("class_mix", &cm)?;
        check_range(
            "vellus_width_um",
            self.vellus_width_um,
            1.0,
            200.0,
            "widths in 1..=200 µm",
        )?;
        check_range(
            "intermediate_width_um",
            self.intermediate_width_um,
            1.0,
            200.0,
            "widths in 1..=200 µm",
        )?;
        check_range(
            "terminal_width_um",
            self.terminal_width_um,
            1.0,
            200.0,
            "widths in 1..=200 µm",
        )?;
        check_nonneg(
            "terminal_width_mean_um",
            self.terminal_width_mean_um,
            200.0,
            "a width in 0..=200 µm",
        )?;
        check_nonneg(
            "terminal_width_sd_um",
            self.terminal_width_sd_um,
            100.0,
            "a spread in 0..=100 µm",
        )?;
        check_fraction("long_fraction", self.long_fraction)?;
        check_range(
            "clipped_length_um",
            self.clipped_length_um,
            1.0,
            MAX_HAIR_LENGTH_UM,
            "lengths in 1..=20000 µm",
        )?;
        check_range(
            "long_length_um",
            self.long_length_um,
            1.0,
            MAX_HAIR_LENGTH_UM,
            "lengths in 1..=20000 µm",
        )?;
        if let Some(a) = self.stream_angle_deg {
            if !a.is_finite() {
                return Err(invalid("stream_angle_deg", a, "a finite angle in degrees"));
            }
        }
        check_nonneg(
            "stream_variation_deg",
            self.stream_variation_deg,
            180.0,
            "an angle in 0..=180°",
        )?;
        check_nonneg(
            "fan_spread_deg",
            self.fan_spread_deg,
            90.0,
            "an angle in 0..=90°",
        )?;
        check_nonneg(
            "curvature_sd_per_mm",
            self.curvature_sd_per_mm,
            5.0,
            "a curvature in 0..=5 /mm",
        )?;
        check_nonneg(
            "curvature_walk_per_mm",
            self.curvature_walk_per_mm,
            5.0,
            "a curvature in 0..=5 /mm",
        )?;
        check_nonneg(
            "emergence_fade_um",
            self.emergence_fade_um,
            2_000.0,
            "a length in 0..=2000 µm",
        )?;
        check_nonneg(
            "pigment_variation",
            self.pigment_variation,
            0.5,
            "a spread in 0..=0.5",
        )?;
        check_nonneg("gloss", self.gloss, 0.5, "a reflectance in 0..=0.5")?;
        check_fraction(
            "perifollicular_pigmentation",
            self.perifollicular_pigmentation,
        )?;
        check_fraction("yellow_dot_fraction", self.yellow_dot_fraction)?;
        check_nonneg(
            "pores_per_cm2",
            self.pores_per_cm2,
            5_000.0,
            "a density in 0..=5000 /cm²",
        )?;
        check_nonneg(
            "furrows_per_cm2",
            self.furrows_per_cm2,
            100.0,
            "a density in 0..=100 /cm²",
        )?;
        if self.vessels > 1000 {
            return Err(invalid("vessels", f64::from(self.vessels), "at most 1000"));
        }
        if self.flakes > 1000 {
            return Err(invalid("flakes", f64::from(self.flakes), "at most 1000"));
        }
        check_nonneg(
            "blur_sigma_px",
            self.blur_sigma_px,
            50.0,
            "a sigma in 0..=50 px",
        )?;
        check_nonneg(
            "shot_noise",
            self.shot_noise,
            0.1,
            "a variance factor in 0..=0.1",
        )?;
        check_nonneg("read_noise", self.read_noise, 0.2, "a deviation in 0..=0.2")?;
        if let Some(q) = self.jpeg_quality {
            if !(1..=100).contains(&q) {
                return Err(invalid(
                    "jpeg_quality",
                    f64::from(q),
                    "a quality in 1..=100",
                ));
            }
        }
        check_nonneg(
            "illumination_gradient",
            self.illumination_gradient,
            0.9,
            "a fraction in 0..=0.9",
        )?;
        check_nonneg("vignetting", self.vignetting, 0.9, "a fraction in 0..=0.9")?;
        check_nonneg(
            "exposure_jitter",
            self.exposure_jitter,
            0.5,
            "a spread in 0..=0.5",
        )?;
        Ok(())
    }

    /// Field area of the image (cm²).
    ///
    /// # Units
    /// cm².
    pub fn field_area_cm2(&self) -> f64 {
        f64::from(self.width_px) * f64::from(self.height_px) * self.um_per_px * self.um_per_px / 1e8
    }

    /// Longest hair this scene can grow (µm).
    pub(crate) fn max_length_um(&self) -> f64 {
        let mut m = 0.0_f64;
        if self.long_fraction < 1.0 {
            m = m.max(self.clipped_length_um[1]);
        }
        if self.long_fraction > 0.0 {
            m = m.max(self.long_length_um[1]);
        }
        m
    }
}

/// What changes between the baseline and the follow-up photo of a pair.
///
/// The default is a realistic regrowth between two sessions months apart,
/// photographed by hand: a shifted, slightly turned and zoomed field, some hairs
/// lost, more new hairs, some thickened. [`PairChange::none`] keeps the scalp
/// unchanged ("no true change"), only the camera moves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PairChange {
    /// Largest shift of the follow-up field, as a fraction of the image side.
    pub max_shift_frac: f64,
    /// Largest rotation of the follow-up field (degrees, either way).
    pub max_rotation_deg: f64,
    /// Largest relative change of scale (zoom) of the follow-up (fraction).
    pub max_scale_change: f64,
    /// New hairs, as a fraction of the baseline hairs.
    pub new_hair_fraction: f64,
    /// Of the new hairs, the fraction that leaves an existing opening (the rest
    /// open new ones).
    pub new_in_existing_unit_fraction: f64,
    /// Fraction of baseline hairs lost at follow-up.
    pub lost_hair_fraction: f64,
    /// Fraction of the remaining hairs that thicken.
    pub thickened_fraction: f64,
    /// Width added to a thickened hair (µm); widths are capped at 120 µm.
    pub thickening_um: f64,
    /// Days between the two photos during which clipped hairs grow (a
    /// phototrichogram); 0 (the default) grows none.
    pub growth_days: f64,
    /// Fraction of the clipped hairs in anagen (growing); the rest rest (telogen).
    pub anagen_fraction: f64,
    /// Range of anagen growth rates (µm/day); scalp hair grows ~300–400 µm/day.
    pub growth_um_per_day: [f64; 2],
}

impl Default for PairChange {
    fn default() -> Self {
        PairChange {
            max_shift_frac: 0.10,
            max_rotation_deg: 5.0,
            max_scale_change: 0.03,
            new_hair_fraction: 0.12,
            new_in_existing_unit_fraction: 0.6,
            lost_hair_fraction: 0.04,
            thickened_fraction: 0.2,
            thickening_um: 8.0,
            growth_days: 0.0,
            anagen_fraction: 0.85,
            growth_um_per_day: [300.0, 400.0],
        }
    }
}

impl PairChange {
    /// No change of the scalp: same hairs, same widths; the camera still moves
    /// by the default amounts.
    pub fn none() -> Self {
        PairChange {
            new_hair_fraction: 0.0,
            lost_hair_fraction: 0.0,
            thickened_fraction: 0.0,
            thickening_um: 0.0,
            ..PairChange::default()
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending field.
    pub fn validate(&self) -> Result<()> {
        check_nonneg(
            "max_shift_frac",
            self.max_shift_frac,
            0.5,
            "a fraction in 0..=0.5",
        )?;
        check_nonneg(
            "max_rotation_deg",
            self.max_rotation_deg,
            45.0,
            "an angle in 0..=45°",
        )?;
        check_nonneg(
            "max_scale_change",
            self.max_scale_change,
            0.05,
            "a fraction in 0..=0.05",
        )?;
        check_nonneg(
            "new_hair_fraction",
            self.new_hair_fraction,
            2.0,
            "a fraction in 0..=2",
        )?;
        check_fraction(
            "new_in_existing_unit_fraction",
            self.new_in_existing_unit_fraction,
        )?;
        check_fraction("lost_hair_fraction", self.lost_hair_fraction)?;
        check_fraction("thickened_fraction", self.thickened_fraction)?;
        check_nonneg(
            "thickening_um",
            self.thickening_um,
            100.0,
            "a width in 0..=100 µm",
        )?;
        check_nonneg("growth_days", self.growth_days, 60.0, "0..=60 days")?;
        check_fraction("anagen_fraction", self.anagen_fraction)?;
        let [lo, hi] = self.growth_um_per_day;
        check_nonneg("growth_um_per_day[0]", lo, 1000.0, "0..=1000 µm/day")?;
        check_nonneg("growth_um_per_day[1]", hi, 1000.0, "0..=1000 µm/day")?;
        if lo > hi {
            return Err(Error::InvalidParameter {
                name: "growth_um_per_day",
                value: lo,
                expected: "a range [low, high] with low ≤ high",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SceneParams::default().validate().unwrap();
        PairChange::default().validate().unwrap();
        PairChange::none().validate().unwrap();
    }

    #[test]
    fn rejects_bad_fractions_and_sizes() {
        let mut p = SceneParams::default();
        p.hair_colours.dark = 0.5;
        assert!(matches!(
            p.validate(),
            Err(Error::InvalidParameter {
                name: "hair_colours",
                ..
            })
        ));
        let p = SceneParams {
            width_px: 0,
            ..SceneParams::default()
        };
        assert!(matches!(p.validate(), Err(Error::ImageTooSmall { .. })));
        let p = SceneParams {
            um_per_px: f64::NAN,
            ..SceneParams::default()
        };
        assert!(matches!(
            p.validate(),
            Err(Error::InvalidCalibration { .. })
        ));
        let p = SceneParams {
            clipped_length_um: [500.0, 100.0],
            ..SceneParams::default()
        };
        assert!(p.validate().is_err());
    }
}
