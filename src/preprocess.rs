//! Stage 1: colour photo → linear-light planes and a hair-contrast channel.
//!
//! Photos are assumed sRGB-encoded (what cameras, phones and dermatoscopes write);
//! the transfer curve is undone so that the widths measured later are made in
//! linear light, where optical blur is a linear convolution and an opaque shaft
//! occludes exactly its own width. The contrast channel is the *absorbance*
//! `−ln(mean(R, G, B))`: multiplicative illumination (vignetting, a light gradient,
//! exposure) becomes an additive, slowly varying term that second-derivative
//! filters ignore, so no explicit flat-fielding is needed for detection, and a
//! hair's contrast reads the same in a dim corner and in the centre.

use image::DynamicImage;
use rayon::prelude::*;

use crate::filter::{Plane, ROWS_PER_TASK};

/// Floor added before the logarithm: one step of a 12-bit sensor in linear light.
/// Keeps saturated-black pixels finite without compressing real dark detail.
const LINEAR_FLOOR: f32 = 1.0 / 4096.0;

/// The planes every later stage reads.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// Linear-light red, green and blue in [0, 1].
    pub rgb: [Plane; 3],
    /// Linear-light mean of the three channels in [0, 1].
    pub mean: Plane,
    /// Absorbance `−ln(mean + floor)`: hair darker than skin is a ridge (maximum).
    pub absorbance: Plane,
}

/// sRGB transfer curve, inverse (encoded [0,1] → linear [0,1]).
#[inline]
pub(crate) fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// Converts any decoded image to the working planes.
///
/// `linearize` undoes the sRGB curve; pass `false` for images known to be
/// linear already (raw sensor exports).
pub(crate) fn prepare(image: &DynamicImage, linearize: bool) -> Prepared {
    let width = image.width() as usize;
    let height = image.height() as usize;
    // 8-bit input (the common case) goes through a 256-entry table.
    let lut: Vec<f32> = (0..256u32)
        .map(|v| {
            let e = v as f32 / 255.0;
            if linearize {
                srgb_to_linear(e)
            } else {
                e
            }
        })
        .collect();
    let mut planes = [
        Plane::new(width, height),
        Plane::new(width, height),
        Plane::new(width, height),
    ];
    let decode = |v: f32| if linearize { srgb_to_linear(v) } else { v };
    match image {
        DynamicImage::ImageRgb8(rgb) => {
            let raw = rgb.as_raw();
            for (c, plane) in planes.iter_mut().enumerate() {
                plane
                    .data
                    .par_chunks_mut(ROWS_PER_TASK * width)
                    .enumerate()
                    .for_each(|(chunk, out)| {
                        let start = chunk * ROWS_PER_TASK * width;
                        for (i, o) in out.iter_mut().enumerate() {
                            *o = lut[raw[(start + i) * 3 + c] as usize];
                        }
                    });
            }
        }
        _ => {
            let rgb = image.to_rgb32f();
            let raw = rgb.as_raw();
            for (c, plane) in planes.iter_mut().enumerate() {
                for (i, o) in plane.data.iter_mut().enumerate() {
                    *o = decode(raw[i * 3 + c].clamp(0.0, 1.0));
                }
            }
        }
    }
    let mut mean = Plane::new(width, height);
    let mut absorbance = Plane::new(width, height);
    {
        let [r, g, b] = &planes;
        mean.data
            .par_iter_mut()
            .zip(absorbance.data.par_iter_mut())
            .enumerate()
            .for_each(|(i, (m, a))| {
                let v = (r.data[i] + g.data[i] + b.data[i]) / 3.0;
                *m = v;
                *a = -(v + LINEAR_FLOOR).ln();
            });
    }
    Prepared {
        rgb: planes,
        mean,
        absorbance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srgb_curve_end_points_and_midtone() {
        assert_eq!(srgb_to_linear(0.0), 0.0);
        assert!((srgb_to_linear(1.0) - 1.0).abs() < 1e-6);
        // sRGB 0.5 is 21.4% linear light.
        assert!((srgb_to_linear(0.5) - 0.2140).abs() < 1e-3);
    }

    #[test]
    fn darker_pixel_has_higher_absorbance() {
        let img = image::RgbImage::from_fn(2, 1, |x, _| {
            if x == 0 {
                image::Rgb([200, 180, 170])
            } else {
                image::Rgb([40, 30, 30])
            }
        });
        let p = prepare(&DynamicImage::ImageRgb8(img), true);
        assert!(p.absorbance.at(1, 0) > p.absorbance.at(0, 0));
        assert!(p.mean.at(0, 0) > p.mean.at(1, 0));
    }
}
