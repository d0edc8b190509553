//! Spatial calibration: micrometres per pixel.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Smallest accepted calibration (µm/px): beyond any optical trichoscope (≈ 2.5 µm/px at 70×).
pub const MIN_UM_PER_PX: f64 = 0.5;
/// Largest accepted calibration (µm/px): a 20× dermatoscope is ≈ 8–10 µm/px.
pub const MAX_UM_PER_PX: f64 = 50.0;

/// The size of one (square) pixel on the skin, in micrometres.
///
/// Given by the caller (device profile, or measured from a calibration slide).
/// No figure of this crate is ever reported in pixels alone: every length is
/// converted with this value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCalibration", into = "RawCalibration")]
pub struct Calibration {
    um_per_px: f64,
}

#[derive(Serialize, Deserialize)]
struct RawCalibration {
    um_per_px: f64,
}

impl TryFrom<RawCalibration> for Calibration {
    type Error = Error;
    fn try_from(raw: RawCalibration) -> Result<Self> {
        Calibration::new(raw.um_per_px)
    }
}

impl From<Calibration> for RawCalibration {
    fn from(c: Calibration) -> Self {
        RawCalibration {
            um_per_px: c.um_per_px,
        }
    }
}

impl Calibration {
    /// A calibration of `um_per_px` micrometres per pixel.
    ///
    /// # Errors
    /// [`Error::InvalidCalibration`] when the value is not finite or lies outside
    /// [`MIN_UM_PER_PX`]..=[`MAX_UM_PER_PX`].
    pub fn new(um_per_px: f64) -> Result<Self> {
        if um_per_px.is_finite() && (MIN_UM_PER_PX..=MAX_UM_PER_PX).contains(&um_per_px) {
            Ok(Calibration { um_per_px })
        } else {
            Err(Error::InvalidCalibration {
                um_per_px,
                min: MIN_UM_PER_PX,
                max: MAX_UM_PER_PX,
            })
        }
    }

    /// Micrometres per pixel.
    ///
    /// # Units
    /// µm/px.
    pub fn um_per_px(&self) -> f64 {
        self.um_per_px
    }

    /// Converts a length in pixels to micrometres.
    ///
    /// # Units
    /// µm.
    pub fn px_to_um(&self, px: f64) -> f64 {
        px * self.um_per_px
    }

    /// Converts a length in micrometres to pixels.
    ///
    /// # Units
    /// px.
    pub fn um_to_px(&self, um: f64) -> f64 {
        um / self.um_per_px
    }

    /// Skin area covered by a `width` × `height` pixel field.
    ///
    /// # Units
    /// cm² (1 cm² = 10⁸ µm²).
    pub fn field_area_cm2(&self, width: u32, height: u32) -> f64 {
        f64::from(width) * f64::from(height) * self.um_per_px * self.um_per_px / 1e8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range_and_non_finite() {
        for v in [0.0, -1.0, 0.49, 50.1, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(Calibration::new(v), Err(Error::InvalidCalibration { .. })),
                "{v}"
            );
        }
    }

    #[test]
    fn field_area_of_known_field() {
        // 1000 × 1000 px at 10 µm/px = 1 cm × 1 cm.
        let c = Calibration::new(10.0).unwrap();
        assert!((c.field_area_cm2(1000, 1000) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn json_round_trip_validates() {
        let c: Calibration = serde_json::from_str(r#"{"um_per_px": 4.0}"#).unwrap();
        assert_eq!(c.um_per_px(), 4.0);
        assert!(serde_json::from_str::<Calibration>(r#"{"um_per_px": 0.0}"#).is_err());
    }
}
