//! Named scenes: the situations the analysis must handle.

use serde::{Deserialize, Serialize};

use super::params::{ClassMix, ColourMix, SceneParams};
use crate::error::{Error, Result};

/// A named scene preset. Skin tone varies by seed within each scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scenario {
    /// Phototrichogram: dark hair clipped short on light to medium skin.
    ClippedDark,
    /// Clipped blond and some light-brown hair: low contrast.
    ClippedBlond,
    /// Clipped grey and white hair: white shafts are brighter than the skin.
    ClippedWhite,
    /// Long dark and brown hair crossing each other and leaving the field.
    LongCrossing,
    /// A bald patch: no hair, but vessels, flakes, furrows and pigmented openings.
    BaldVessels,
    /// A clipped-dark-like scene for [`render_pair`](super::render_pair).
    Pair,
    /// Miniaturised (androgenetic) scalp: many thin hairs, single-hair units, clipped.
    Miniaturised,
    /// Clipped dark hair on dark-brown skin.
    ClippedDarkSkin,
    /// Clipped dark hair with blur, strong vignetting and JPEG compression.
    ClippedJpeg,
}

const ALL: [Scenario; 9] = [
    Scenario::ClippedDark,
    Scenario::ClippedBlond,
    Scenario::ClippedWhite,
    Scenario::LongCrossing,
    Scenario::BaldVessels,
    Scenario::Pair,
    Scenario::Miniaturised,
    Scenario::ClippedDarkSkin,
    Scenario::ClippedJpeg,
];

impl Scenario {
    /// The scenario's command-line name (kebab case).
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::ClippedDark => "clipped-dark",
            Scenario::ClippedBlond => "clipped-blond",
            Scenario::ClippedWhite => "clipped-white",
            Scenario::LongCrossing => "long-crossing",
            Scenario::BaldVessels => "bald-vessels",
            Scenario::Pair => "pair",
            Scenario::Miniaturised => "miniaturised",
            Scenario::ClippedDarkSkin => "clipped-dark-skin",
            Scenario::ClippedJpeg => "clipped-jpeg",
        }
    }

    /// Every scenario, in a fixed order.
    pub fn all() -> &'static [Scenario] {
        &ALL
    }

    /// The scenario called `s` (see [`Scenario::name`]).
    ///
    /// # Errors
    /// [`Error::UnknownScenario`] listing the known names.
    pub fn from_name(s: &str) -> Result<Scenario> {
        ALL.iter()
            .copied()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| Error::UnknownScenario {
                name: s.to_string(),
                known: ALL
                    .iter()
                    .map(|sc| sc.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The scene parameters of this scenario.
    pub fn params(&self) -> SceneParams {
        let base = SceneParams {
            scenario: self.name().to_string(),
            ..SceneParams::default()
        };
        match self {
            Scenario::ClippedDark | Scenario::Pair => SceneParams {
                skin_tone_range: [0.0, 0.55],
                ..base
            },
            Scenario::ClippedBlond => SceneParams {
                skin_tone_range: [0.0, 0.4],
                hair_colours: ColourMix {
                    dark: 0.0,
                    brown: 0.3,
                    blond: 0.7,
                    grey: 0.0,
                    white: 0.0,
                },
                perifollicular_pigmentation: 0.2,
                ..base
            },
            Scenario::ClippedWhite => SceneParams {
                skin_tone_range: [0.15, 0.9],
                hair_colours: ColourMix {
                    dark: 0.0,
                    brown: 0.0,
                    blond: 0.0,
                    grey: 0.4,
                    white: 0.6,
                },
                perifollicular_pigmentation: 0.25,
                ..base
            },
            Scenario::LongCrossing => SceneParams {
                skin_tone_range: [0.0, 0.7],
                hair_colours: ColourMix {
                    dark: 0.6,
                    brown: 0.4,
                    blond: 0.0,
                    grey: 0.0,
                    white: 0.0,
                },
                follicular_units_per_cm2: 75.0,
                long_fraction: 1.0,
                long_length_um: [3_000.0, 9_000.0],
                stream_variation_deg: 35.0,
                curvature_sd_per_mm: 0.12,
                curvature_walk_per_mm: 0.12,
                ..base
            },
            Scenario::BaldVessels => SceneParams {
                skin_tone_range: [0.0, 0.6],
                follicular_units_per_cm2: 60.0,
                empty_unit_fraction: 1.0,
                perifollicular_pigmentation: 0.6,
                yellow_dot_fraction: 0.5,
                furrows_per_cm2: 12.0,
                vessels: 6,
                flakes: 10,
                ..base
            },
            Scenario::Miniaturised => SceneParams {
                skin_tone_range: [0.0, 0.5],
                follicular_units_per_cm2: 70.0,
                hairs_per_unit: [0.6, 0.3, 0.1, 0.0],
                class_mix: ClassMix {
                    vellus: 0.35,
                    intermediate: 0.25,
                    terminal: 0.40,
                },
                terminal_width_mean_um: 55.0,
                hair_colours: ColourMix {
                    dark: 0.6,
                    brown: 0.4,
                    blond: 0.0,
                    grey: 0.0,
                    white: 0.0,
                },
                ..base
            },
            Scenario::ClippedDarkSkin => SceneParams {
                skin_tone_range: [0.7, 1.0],
                perifollicular_pigmentation: 0.5,
                ..base
            },
            Scenario::ClippedJpeg => SceneParams {
                skin_tone_range: [0.0, 0.7],
                blur_sigma_px: 1.6,
                vignetting: 0.35,
                illumination_gradient: 0.25,
                shot_noise: 0.001,
                read_noise: 0.006,
                jpeg_quality: Some(80),
                ..base
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_params_validate() {
        for sc in Scenario::all() {
            assert_eq!(Scenario::from_name(sc.name()).unwrap(), *sc);
            sc.params().validate().unwrap();
            assert_eq!(sc.params().scenario, sc.name());
        }
        assert!(matches!(
            Scenario::from_name("nope"),
            Err(Error::UnknownScenario { .. })
        ));
    }
}
