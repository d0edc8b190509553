//! Thickness classes of hair shafts (vellus / intermediate / terminal).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Thickness class of a hair shaft.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThicknessClass {
    /// Thin hair: below the vellus limit (default 30 µm, trichoscopy's "thin hair").
    Vellus,
    /// Between the vellus and terminal limits (default 30–40 µm).
    Intermediate,
    /// At or above the terminal limit (default 40 µm, TrichoScan's terminal/vellus split).
    Terminal,
}

/// The class limits, in µm. Defaults follow `shared/domain.md`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassLimits {
    /// Hairs thinner than this are vellus (µm).
    pub vellus_below_um: f64,
    /// Hairs at least this thick are terminal (µm).
    pub terminal_from_um: f64,
}

impl Default for ClassLimits {
    fn default() -> Self {
        ClassLimits {
            vellus_below_um: 30.0,
            terminal_from_um: 40.0,
        }
    }
}

impl ClassLimits {
    /// Checks that both limits are positive, finite and ordered.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending limit.
    pub fn validate(&self) -> Result<()> {
        if !(self.vellus_below_um.is_finite() && self.vellus_below_um > 0.0) {
            return Err(Error::InvalidParameter {
                name: "vellus_below_um",
                value: self.vellus_below_um,
                expected: "a positive finite width in µm",
            });
        }
        if !(self.terminal_from_um.is_finite() && self.terminal_from_um >= self.vellus_below_um) {
            return Err(Error::InvalidParameter {
                name: "terminal_from_um",
                value: self.terminal_from_um,
                expected: "a finite width in µm, at least vellus_below_um",
            });
        }
        Ok(())
    }

    /// The class of a shaft `width_um` micrometres thick.
    pub fn classify(&self, width_um: f64) -> ThicknessClass {
        if width_um < self.vellus_below_um {
            ThicknessClass::Vellus
        } else if width_um < self.terminal_from_um {
            ThicknessClass::Intermediate
        } else {
            ThicknessClass::Terminal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_classify_at_the_boundaries() {
        let l = ClassLimits::default();
        assert_eq!(l.classify(29.99), ThicknessClass::Vellus);
        assert_eq!(l.classify(30.0), ThicknessClass::Intermediate);
        assert_eq!(l.classify(39.99), ThicknessClass::Intermediate);
        assert_eq!(l.classify(40.0), ThicknessClass::Terminal);
    }

    #[test]
    fn rejects_unordered_limits() {
        let l = ClassLimits {
            vellus_below_um: 40.0,
            terminal_from_um: 30.0,
        };
        assert!(matches!(
            l.validate(),
            Err(Error::InvalidParameter {
                name: "terminal_from_um",
                ..
            })
        ));
    }
}
