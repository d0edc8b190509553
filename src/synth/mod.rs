//! Synthetic trichoscopy photos with exact ground truth.
//!
//! Every accuracy figure of this crate is measured on images from this generator,
//! on seeds the analysis was not tuned on. The scene is modelled in micrometres and
//! converted with the image's µm/px; see [`truth`] for the coordinate convention.
//!
//! # Model
//!
//! * **Scalp**: skin tone drawn per seed (very light to dark brown), smooth
//!   multi-scale texture and slow redness patches, faint furrows in a loose net,
//!   pores, follicular openings with brown / blue-grey perifollicular
//!   pigmentation, empty openings and yellow dots, white scale flakes, thin red
//!   branching vessel loops.
//! * **Hairs**: follicular units of 1–4 hairs placed with a minimum spacing over
//!   an area larger than the field by the longest hair, so that strands enter
//!   from outside and are cut by the border; a smooth hair-stream direction field;
//!   the hairs of one unit fan out; centrelines integrate a curvature random walk.
//! * **Optics**: a shaft is a cylinder; light crossing it at distance `d` from the
//!   axis passes a chord `2·√(r² − d²)` and keeps `exp(−k·chord)` per channel
//!   (Beer–Lambert), while scattering sends light back (white hair is brighter than
//!   skin). Each pixel integrates 4×4 samples. The shaft fades into the skin over
//!   `emergence_fade_um` at its emergence end; a clipped tip ends flat and crisp.
//!   Then Gaussian optical blur, camera lighting (exposure, gradient, vignetting,
//!   white balance), Poisson–Gaussian sensor noise, 8-bit sRGB, optional JPEG.
//!
//! Randomness comes only from `ChaCha8Rng` sub-streams derived from the seed, one
//! per component and per opening, and the per-row sensor noise is seeded by row:
//! a seed gives the same bytes on every platform and thread count.

mod optics;
mod overlay;
mod pair;
mod params;
mod render;
mod rng;
mod scenario;
mod scene;
pub mod truth;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::RgbImage;

pub use optics::{hair_optics, linear_to_srgb, srgb_to_linear, HairOptics};
pub use overlay::burn_in;
pub use pair::{render_pair, SyntheticPair};
pub use params::{ClassMix, ColourMix, PairChange, SceneParams, MAX_PIXELS, MIN_SIDE_PX};
pub use scenario::Scenario;
pub use truth::{PairTruth, Truth};

use crate::classes::ClassLimits;
use crate::error::{Error, Result};
use render::{Lighting, Sensor, View};
#[cfg(test)]
pub(crate) use rng::splitmix64;
use rng::tag;
use scene::{Scene, UnitKind};
use truth::{
    DistractorKind, ImageSize, TruthDistractor, TruthFollicularUnit, TruthHair, TruthSummary,
};

/// A generated photo and everything known about it.
#[derive(Clone, Debug)]
pub struct Synthetic {
    /// The photo, exactly as written to disk (after JPEG decoding when the scene
    /// uses JPEG).
    pub image: RgbImage,
    /// Ground truth.
    pub truth: Truth,
    /// The JPEG file bytes when the scene uses JPEG (`image` is their decoding).
    pub jpeg_bytes: Option<Vec<u8>>,
}

impl Synthetic {
    /// Burns a header bar with text and a 1 mm scale bar with its label into
    /// the photo ([`burn_in`]), as a dermatoscope's export does, and restricts
    /// the truth to the field left below the bar: a hair or opening under the
    /// bar is not in the field, whose area is the rest's. A JPEG photo is coded
    /// again at its quality, graphics and all.
    ///
    /// # Errors
    /// [`Error::Image`] if the JPEG coding fails.
    pub fn burn_in_overlay(&mut self) -> Result<()> {
        let upp = self.truth.um_per_px;
        let field = burn_in(&mut self.image, upp, self.truth.seed);
        if let Some(q) = self.truth.jpeg_quality {
            let (decoded, bytes) = jpeg_code(&self.image, q)?;
            self.image = decoded;
            self.jpeg_bytes = Some(bytes);
        }
        for h in &mut self.truth.hairs {
            h.emergence_in_field &= field.contains(h.emergence_px, 0.0);
        }
        for u in &mut self.truth.follicular_units {
            u.in_field &= field.contains(u.center_px, 0.0);
        }
        let area = f64::from(field.width) * f64::from(field.height) * upp * upp / 1e8;
        self.truth.field_area_cm2 = area;
        self.truth.field_px = Some(field);
        self.truth.summary = summarize(&self.truth.hairs, area);
        Ok(())
    }

    /// Writes `dir/STEM.png` (or `dir/STEM.jpg` when the scene uses JPEG) and
    /// `dir/STEM.json` (the truth, pretty-printed), creating `dir` if needed.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Image`] or [`Error::Json`] with the file concerned.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        match &self.jpeg_bytes {
            Some(bytes) => {
                let path = dir.join(format!("{stem}.jpg"));
                std::fs::write(&path, bytes).map_err(|source| Error::Io { path, source })?;
            }
            None => {
                let path = dir.join(format!("{stem}.png"));
                self.image
                    .save_with_format(&path, image::ImageFormat::Png)
                    .map_err(|source| Error::Image { path, source })?;
            }
        }
        write_json(&dir.join(format!("{stem}.json")), &self.truth)
    }
}

/// Writes `value` as compact JSON to `path` (fixtures stay small).
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let file = File::create(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer(&mut w, value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    w.flush().map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Renders one photo of the scene described by `params` with `seed`.
///
/// # Errors
/// The errors of [`SceneParams::validate`]; [`Error::Image`] if JPEG coding fails.
pub fn render(params: &SceneParams, seed: u64) -> Result<Synthetic> {
    params.validate()?;
    let scene = scene::generate(params, seed, 0.0);
    let view = baseline_view(params, seed, tag::LIGHT, tag::NOISE);
    let (image, jpeg_bytes) = shoot(&scene, &view, params)?;
    let keep = |h: &scene::Hair| hair_relevant(h, &view);
    let (truth, _) = build_truth(params, seed, &scene, &view, &keep);
    Ok(Synthetic {
        image,
        truth,
        jpeg_bytes,
    })
}

/// The camera of the baseline photo: scene µm / `um_per_px`, no rotation.
pub(crate) fn baseline_view(p: &SceneParams, seed: u64, light_tag: u64, noise_tag: u64) -> View {
    let s = 1.0 / p.um_per_px;
    let mut lr = rng::stream(seed, light_tag);
    View {
        width: p.width_px,
        height: p.height_px,
        m: [[s, 0.0], [0.0, s]],
        t: [0.0, 0.0],
        light: Lighting::draw(
            &mut lr,
            p.illumination_gradient,
            p.vignetting,
            p.exposure_jitter,
        ),
        noise_seed: rng::sub_seed(seed, noise_tag),
    }
}

fn sensor_of(p: &SceneParams) -> Sensor {
    Sensor {
        blur_sigma_px: p.blur_sigma_px,
        shot_noise: p.shot_noise,
        read_noise: p.read_noise,
        emergence_fade_um: p.emergence_fade_um,
    }
}

/// Renders, exposes and (optionally) JPEG-codes one view.
pub(crate) fn shoot(
    scene: &Scene,
    view: &View,
    p: &SceneParams,
) -> Result<(RgbImage, Option<Vec<u8>>)> {
    let sensor = sensor_of(p);
    let linear = render::render_linear(scene, view, &sensor);
    let image = render::expose(&linear, view, &sensor);
    match p.jpeg_quality {
        None => Ok((image, None)),
        Some(q) => {
            let (decoded, bytes) = jpeg_code(&image, q)?;
            Ok((decoded, Some(bytes)))
        }
    }
}

/// `image` coded as JPEG of quality `q`: the decoded photo and the file's bytes.
fn jpeg_code(image: &RgbImage, q: u8) -> Result<(RgbImage, Vec<u8>)> {
    let mem = || PathBuf::from("<in-memory JPEG>");
    let mut bytes = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, q);
    image
        .write_with_encoder(enc)
        .map_err(|source| Error::Image {
            path: mem(),
            source,
        })?;
    let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|source| Error::Image {
            path: mem(),
            source,
        })?
        .to_rgb8();
    Ok((decoded, bytes))
}

/// Length (px) of the part of segment `a`–`b` inside `[0, w] × [0, h]`
/// (Liang–Barsky clipping).
fn clipped_length(a: [f64; 2], b: [f64; 2], w: f64, h: f64) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [
        (-d[0], a[0]),
        (d[0], w - a[0]),
        (-d[1], a[1]),
        (d[1], h - a[1]),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return 0.0;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t1 > t0 {
        (t1 - t0) * d[0].hypot(d[1])
    } else {
        0.0
    }
}

/// Whether a hair shows in (or emerges in) the view.
pub(crate) fn hair_relevant(h: &scene::Hair, view: &View) -> bool {
    let r = h.width_um / 2.0 * view.px_per_um() + 1.0;
    let (w, hh) = (f64::from(view.width), f64::from(view.height));
    h.points_um.iter().any(|p| {
        let q = view.to_px(*p);
        let dx = (-q[0]).max(q[0] - w).max(0.0);
        let dy = (-q[1]).max(q[1] - hh).max(0.0);
        dx.hypot(dy) < r
    })
}

/// Builds the truth of one view, keeping the hairs `keep` accepts; returns it
/// with the scene uid of each truth hair.
pub(crate) fn build_truth(
    p: &SceneParams,
    seed: u64,
    scene: &Scene,
    view: &View,
    keep: &dyn Fn(&scene::Hair) -> bool,
) -> (Truth, Vec<usize>) {
    let (w, h) = (f64::from(view.width), f64::from(view.height));
    let upp = view.um_per_px();
    let limits = ClassLimits::default();
    let kept: Vec<&scene::Hair> = scene.hairs.iter().filter(|hr| keep(hr)).collect();
    // Units: those in the field or holding a kept hair, in scene order.
    let mut unit_map = vec![None; scene.units.len()];
    let mut units = Vec::new();
    let mut holds = vec![false; scene.units.len()];
    for hr in &kept {
        holds[hr.unit] = true;
    }
    for (ui, u) in scene.units.iter().enumerate() {
        let c = view.to_px(u.center_um);
        let in_field = view.contains(c);
        if in_field || holds[ui] {
            unit_map[ui] = Some(units.len());
            units.push(TruthFollicularUnit {
                id: units.len(),
                center_px: c,
                radius_um: u.radius_um,
                hair_ids: Vec::new(),
                in_field,
            });
        }
    }
    let mut hairs = Vec::with_capacity(kept.len());
    let mut uids = Vec::with_capacity(kept.len());
    for hr in kept {
        let centerline: Vec<[f64; 2]> = hr.points_um.iter().map(|q| view.to_px(*q)).collect();
        let visible_px: f64 = centerline
            .windows(2)
            .map(|s| clipped_length(s[0], s[1], w, h))
            .sum();
        let emergence = centerline[0];
        let tip = centerline[centerline.len() - 1];
        let id = hairs.len();
        let unit = unit_map[hr.unit].unwrap_or(0);
        if let Some(u) = units.get_mut(unit) {
            u.hair_ids.push(id);
        }
        hairs.push(TruthHair {
            id,
            follicular_unit: unit,
            emergence_px: emergence,
            tip_px: tip,
            centerline_px: centerline,
            visible_length_um: visible_px * upp,
            length_um: hr.length_um,
            width_um: hr.width_um,
            class: limits.classify(hr.width_um),
            colour: hr.colour,
            clipped: hr.clipped,
            emergence_in_field: view.contains(emergence),
        });
        uids.push(hr.uid);
    }
    let mut distractors = Vec::new();
    for line in &scene.lines {
        let path: Vec<[f64; 2]> = line.points_um.iter().map(|q| view.to_px(*q)).collect();
        if path.iter().any(|q| view.contains(*q)) {
            distractors.push(TruthDistractor {
                kind: line.kind,
                path_px: path,
            });
        }
    }
    for b in &scene.flakes {
        let c = view.to_px(b.center_um);
        if view.contains(c) {
            distractors.push(TruthDistractor {
                kind: DistractorKind::Flake,
                path_px: vec![c],
            });
        }
    }
    for u in &scene.units {
        let c = view.to_px(u.center_um);
        if u.kind == UnitKind::YellowDot && view.contains(c) {
            distractors.push(TruthDistractor {
                kind: DistractorKind::YellowDot,
                path_px: vec![c],
            });
        }
    }
    let area = f64::from(view.width) * f64::from(view.height) * upp * upp / 1e8;
    let summary = summarize(&hairs, area);
    let truth = Truth {
        generator_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: p.scenario.clone(),
        seed,
        image: ImageSize {
            width: view.width,
            height: view.height,
        },
        um_per_px: upp,
        field_area_cm2: area,
        field_px: None,
        blur_sigma_px: p.blur_sigma_px,
        jpeg_quality: p.jpeg_quality,
        hairs,
        follicular_units: units,
        distractors,
        summary,
    };
    (truth, uids)
}

/// Summary figures of `hairs` by the counting convention: a hair counts when
/// `emergence_in_field`; figures per `field_area_cm2`.
///
/// # Units
/// Densities per cm², widths in µm, cumulative thickness in mm/cm², fractions
/// in 0..=1.
pub fn summarize(hairs: &[TruthHair], field_area_cm2: f64) -> TruthSummary {
    let counted: Vec<&TruthHair> = hairs.iter().filter(|h| h.emergence_in_field).collect();
    let n = counted.len();
    let mut widths: Vec<f64> = counted.iter().map(|h| h.width_um).collect();
    widths.sort_by(f64::total_cmp);
    let mean = if n > 0 {
        widths.iter().sum::<f64>() / n as f64
    } else {
        0.0
    };
    let median = match n {
        0 => 0.0,
        _ if n % 2 == 1 => widths[n / 2],
        _ => 0.5 * (widths[n / 2 - 1] + widths[n / 2]),
    };
    let cv = if n > 1 && mean > 0.0 {
        let var = widths.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        var.sqrt() / mean
    } else {
        0.0
    };
    let frac = |c: crate::classes::ThicknessClass| {
        if n > 0 {
            counted.iter().filter(|h| h.class == c).count() as f64 / n as f64
        } else {
            0.0
        }
    };
    let mut per_unit: std::collections::BTreeMap<usize, usize> = Default::default();
    for h in &counted {
        *per_unit.entry(h.follicular_unit).or_default() += 1;
    }
    let mut hist = [0usize; 4];
    for c in per_unit.values() {
        hist[(*c).clamp(1, 4) - 1] += 1;
    }
    let units = per_unit.len();
    let per_area = |x: f64| {
        if field_area_cm2 > 0.0 {
            x / field_area_cm2
        } else {
            0.0
        }
    };
    TruthSummary {
        hair_count: n,
        density_per_cm2: per_area(n as f64),
        mean_width_um: mean,
        median_width_um: median,
        width_cv: cv,
        vellus_fraction: frac(crate::classes::ThicknessClass::Vellus),
        intermediate_fraction: frac(crate::classes::ThicknessClass::Intermediate),
        terminal_fraction: frac(crate::classes::ThicknessClass::Terminal),
        cumulative_thickness_mm_per_cm2: per_area(widths.iter().sum::<f64>() / 1_000.0),
        follicular_units: units,
        hairs_per_follicular_unit: if units > 0 {
            n as f64 / units as f64
        } else {
            0.0
        },
        follicular_unit_histogram: hist,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_only_the_inside() {
        assert!((clipped_length([-5.0, 5.0], [5.0, 5.0], 10.0, 10.0) - 5.0).abs() < 1e-12);
        assert_eq!(clipped_length([-5.0, -5.0], [-1.0, -1.0], 10.0, 10.0), 0.0);
        assert!((clipped_length([1.0, 1.0], [4.0, 5.0], 10.0, 10.0) - 5.0).abs() < 1e-12);
    }
}
