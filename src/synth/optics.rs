//! Optical constants of the scene: hair pigments (Beer–Lambert absorption and
//! scattering), skin colours, and the sRGB transfer curve.

use crate::synth::truth::HairColour;

/// Optics of a hair shaft, per micrometre of chord through it.
///
/// Light crossing a chord of `c` µm keeps `exp(−(absorption + scatter)·c)` of
/// each colour channel (Beer–Lambert), and the shaft itself sends back
/// `albedo · (1 − exp(−scatter·c))`: unpigmented (white) hair scatters and
/// looks brighter than skin, pigmented hair absorbs and looks darker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HairOptics {
    /// Absorption coefficient per channel (R, G, B), 1/µm.
    pub absorption_per_um: [f64; 3],
    /// Scattering coefficient, 1/µm.
    pub scatter_per_um: f64,
    /// Fraction of scattered light that returns to the camera, per channel.
    pub albedo: [f64; 3],
}

/// Nominal optics of a hair of the given pigmentation (pigment factor 1).
pub fn hair_optics(colour: HairColour) -> HairOptics {
    match colour {
        HairColour::Dark => HairOptics {
            absorption_per_um: [0.060, 0.072, 0.085],
            scatter_per_um: 0.0,
            albedo: [0.0; 3],
        },
        HairColour::Brown => HairOptics {
            absorption_per_um: [0.022, 0.036, 0.055],
            scatter_per_um: 0.0015,
            albedo: [0.55, 0.35, 0.18],
        },
        HairColour::Blond => HairOptics {
            absorption_per_um: [0.0035, 0.0065, 0.0125],
            scatter_per_um: 0.006,
            albedo: [0.85, 0.72, 0.5],
        },
        HairColour::Grey => HairOptics {
            absorption_per_um: [0.014, 0.015, 0.016],
            scatter_per_um: 0.02,
            albedo: [0.82, 0.82, 0.80],
        },
        HairColour::White => HairOptics {
            absorption_per_um: [0.0015, 0.0019, 0.0028],
            scatter_per_um: 0.035,
            albedo: [0.88, 0.87, 0.83],
        },
    }
}

/// Skin tone anchors (sRGB, 8-bit) from very light (0) to dark brown (1).
const SKIN_ANCHORS: [[f64; 3]; 4] = [
    [234.0, 196.0, 176.0],
    [216.0, 168.0, 140.0],
    [172.0, 120.0, 88.0],
    [106.0, 70.0, 50.0],
];

/// Linear-light skin reflectance of tone `t` (0 = very light, 1 = dark brown).
pub(crate) fn skin_linear(t: f64) -> [f64; 3] {
    let t = t.clamp(0.0, 1.0) * (SKIN_ANCHORS.len() - 1) as f64;
    let k = (t.floor() as usize).min(SKIN_ANCHORS.len() - 2);
    let f = t - k as f64;
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let a = srgb_to_linear(SKIN_ANCHORS[k][c] / 255.0);
        let b = srgb_to_linear(SKIN_ANCHORS[k + 1][c] / 255.0);
        *o = a + (b - a) * f;
    }
    out
}

/// sRGB decoding of a value in 0..=1 to linear light.
pub fn srgb_to_linear(v: f64) -> f64 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// sRGB encoding of linear light (clamped to 0..=1).
pub fn linear_to_srgb(v: f64) -> f64 {
    let v = v.clamp(0.0, 1.0);
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// Size of the sRGB encoding table.
const LUT_SIZE: usize = 8192;

/// Fast sRGB encoder from linear `f32` to 8 bits (table over 0..=1, rounded).
pub(crate) struct SrgbEncoder {
    table: Vec<u8>,
}

impl SrgbEncoder {
    pub(crate) fn new() -> Self {
        let table = (0..=LUT_SIZE)
            .map(|i| (linear_to_srgb(i as f64 / LUT_SIZE as f64) * 255.0).round() as u8)
            .collect();
        SrgbEncoder { table }
    }

    #[inline]
    pub(crate) fn encode(&self, v: f32) -> u8 {
        let i = (v.clamp(0.0, 1.0) * LUT_SIZE as f32 + 0.5) as usize;
        self.table[i.min(LUT_SIZE)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srgb_round_trip() {
        for i in 0..=255 {
            let v = i as f64 / 255.0;
            assert!((linear_to_srgb(srgb_to_linear(v)) - v).abs() < 1e-9);
        }
        let e = SrgbEncoder::new();
        for i in 0..=255u8 {
            let lin = srgb_to_linear(f64::from(i) / 255.0) as f32;
            assert!((i32::from(e.encode(lin)) - i32::from(i)).abs() <= 1, "{i}");
        }
    }

    #[test]
    fn skin_gets_darker_with_tone() {
        let l = skin_linear(0.0);
        let d = skin_linear(1.0);
        assert!(l.iter().zip(&d).all(|(a, b)| a > b));
    }
}
