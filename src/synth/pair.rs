//! Baseline / follow-up pairs of one scalp zone, with the true change.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rand::Rng;
use rand_distr::{Distribution, Poisson};

use super::params::{PairChange, SceneParams};
use super::render::{Lighting, View};
use super::rng::{self, tag};
use super::scene::{self, Scene, SpacingGrid, UnitKind};
use super::truth::{PairTransform, PairTruth};
use super::{baseline_view, build_truth, hair_relevant, shoot, write_json, Synthetic};
use crate::error::Result;
use crate::register::{clip_to_rect, polygon_area, Similarity};

/// Largest hair width after thickening (µm).
const MAX_WIDTH_UM: f64 = 120.0;
/// A follow-up hair counts as thickened when it grew by at least this (µm).
const THICKENED_FROM_UM: f64 = 5.0;
/// Class weights (vellus, intermediate, terminal) of hairs that newly grow from
/// an existing opening: regrowth starts thin.
const NEW_HAIR_CLASSES: [f64; 3] = [0.5, 0.3, 0.2];

/// Two photos of one scalp zone and the true change between them.
#[derive(Clone, Debug)]
pub struct SyntheticPair {
    /// The first session.
    pub baseline: Synthetic,
    /// The later session: the camera moved, lighting and noise differ, hairs changed.
    pub followup: Synthetic,
    /// Transform, hair correspondence and true change.
    pub truth: PairTruth,
}

impl SyntheticPair {
    /// Writes `STEM-baseline.*`, `STEM-followup.*` (image + truth JSON each, see
    /// [`Synthetic::write`]) and `STEM-pair.json` (the [`PairTruth`]) into `dir`.
    ///
    /// # Errors
    /// [`crate::Error::Io`], [`crate::Error::Image`] or [`crate::Error::Json`] with
    /// the file concerned.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<()> {
        self.baseline.write(dir, &format!("{stem}-baseline"))?;
        self.followup.write(dir, &format!("{stem}-followup"))?;
        write_json(&dir.join(format!("{stem}-pair.json")), &self.truth)
    }
}

impl PairTransform {
    /// Maps a baseline pixel position to the follow-up image, for a baseline
    /// image of `width` × `height` px (see the type's formula).
    pub fn apply(&self, p: [f64; 2], width: u32, height: u32) -> [f64; 2] {
        let c = [f64::from(width) / 2.0, f64::from(height) / 2.0];
        let (sn, cs) = self.rotation_deg.to_radians().sin_cos();
        let v = [p[0] - c[0], p[1] - c[1]];
        [
            self.scale * (cs * v[0] - sn * v[1]) + c[0] + self.dx_px,
            self.scale * (sn * v[0] + cs * v[1]) + c[1] + self.dy_px,
        ]
    }

    /// Maps a follow-up pixel position back to the baseline image.
    pub fn invert(&self, q: [f64; 2], width: u32, height: u32) -> [f64; 2] {
        let c = [f64::from(width) / 2.0, f64::from(height) / 2.0];
        let (sn, cs) = self.rotation_deg.to_radians().sin_cos();
        let v = [
            (q[0] - c[0] - self.dx_px) / self.scale,
            (q[1] - c[1] - self.dy_px) / self.scale,
        ];
        [cs * v[0] + sn * v[1] + c[0], -sn * v[0] + cs * v[1] + c[1]]
    }

    /// How far an estimated registration `t` puts baseline points from where
    /// this true transform puts them: the largest displacement error (px of the
    /// follow-up) over the four corners and the centre of a `width` × `height`
    /// baseline.
    pub fn max_error_px(&self, t: &Similarity, width: u32, height: u32) -> f64 {
        let (w, h) = (f64::from(width), f64::from(height));
        [[0.0, 0.0], [w, 0.0], [0.0, h], [w, h], [w / 2.0, h / 2.0]]
            .into_iter()
            .map(|p| {
                let (a, b) = (t.apply(p), self.apply(p, width, height));
                (a[0] - b[0]).hypot(a[1] - b[1])
            })
            .fold(0.0, f64::max)
    }
}

/// Renders a baseline and a follow-up photo of the same scalp zone.
///
/// The follow-up camera sees the scalp through a similarity transform (shift up
/// to `max_shift_frac` of each side, rotation up to `max_rotation_deg`, scale
/// within `max_scale_change`), with its own lighting and noise; between the two,
/// hairs are lost, new hairs appear (from existing openings or new ones) and some
/// thicken, as `change` says. Hair ids of both truths are linked by
/// [`PairTruth::followup_to_baseline`]; a hair visible in either photo is listed
/// in both truths where it exists in both sessions.
///
/// # Errors
/// The errors of [`SceneParams::validate`] and [`PairChange::validate`];
/// [`crate::Error::Image`] if JPEG coding fails.
pub fn render_pair(params: &SceneParams, change: &PairChange, seed: u64) -> Result<SyntheticPair> {
    params.validate()?;
    change.validate()?;
    let (w, h) = (params.width_px, params.height_px);
    let upp = params.um_per_px;
    let side_um = f64::from(w.max(h)) * upp;
    let extra = (change.max_shift_frac
        + change.max_rotation_deg.to_radians().sin()
        + change.max_scale_change
        + 0.05)
        * side_um;
    let base_scene = scene::generate(params, seed, extra);

    let mut pr = rng::stream(seed, tag::PAIR);
    let sym = |r: &mut rand_chacha::ChaCha8Rng, m: f64| {
        if m > 0.0 {
            r.random_range(-m..=m)
        } else {
            0.0
        }
    };
    let transform = PairTransform {
        dx_px: sym(&mut pr, change.max_shift_frac) * f64::from(w),
        dy_px: sym(&mut pr, change.max_shift_frac) * f64::from(h),
        rotation_deg: sym(&mut pr, change.max_rotation_deg),
        scale: 1.0 + sym(&mut pr, change.max_scale_change),
    };
    let base_view = baseline_view(params, seed, tag::LIGHT, tag::NOISE);
    let follow_view = followup_view(params, seed, &transform);

    let follow_scene = apply_change(&base_scene, params, change, seed);

    let (base_img, base_jpeg) = shoot(&base_scene, &base_view, params)?;
    let (follow_img, follow_jpeg) = shoot(&follow_scene, &follow_view, params)?;

    let rel_b: HashSet<usize> = base_scene
        .hairs
        .iter()
        .filter(|hr| hair_relevant(hr, &base_view))
        .map(|hr| hr.uid)
        .collect();
    let rel_f: HashSet<usize> = follow_scene
        .hairs
        .iter()
        .filter(|hr| hair_relevant(hr, &follow_view))
        .map(|hr| hr.uid)
        .collect();
    let keep = |hr: &scene::Hair| rel_b.contains(&hr.uid) || rel_f.contains(&hr.uid);
    let (base_truth, base_uids) = build_truth(params, seed, &base_scene, &base_view, &keep);
    let (follow_truth, follow_uids) = build_truth(params, seed, &follow_scene, &follow_view, &keep);

    let base_id_of: HashMap<usize, usize> = base_uids
        .iter()
        .enumerate()
        .map(|(id, uid)| (*uid, id))
        .collect();
    let follow_set: HashSet<usize> = follow_uids.iter().copied().collect();
    let followup_to_baseline: Vec<Option<usize>> = follow_uids
        .iter()
        .map(|uid| base_id_of.get(uid).copied())
        .collect();
    let lost_baseline_ids: Vec<usize> = base_uids
        .iter()
        .enumerate()
        .filter(|(_, uid)| !follow_set.contains(uid))
        .map(|(id, _)| id)
        .collect();
    let new_followup_ids: Vec<usize> = followup_to_baseline
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_none())
        .map(|(id, _)| id)
        .collect();
    let thickened_followup_ids: Vec<usize> = followup_to_baseline
        .iter()
        .enumerate()
        .filter_map(|(fid, b)| {
            let bid = (*b)?;
            let grew = follow_truth.hairs[fid].width_um - base_truth.hairs[bid].width_um;
            (grew >= THICKENED_FROM_UM - 1e-9).then_some(fid)
        })
        .collect();

    // Overlap of both fields, in baseline pixels.
    let (wf, hf) = (f64::from(w), f64::from(h));
    let corners = [[0.0, 0.0], [wf, 0.0], [wf, hf], [0.0, hf]];
    let follow_in_base: Vec<[f64; 2]> =
        corners.iter().map(|q| transform.invert(*q, w, h)).collect();
    let overlap_px2 = polygon_area(&clip_to_rect(&follow_in_base, wf, hf));
    let overlap_area_cm2 = overlap_px2 * upp * upp / 1e8;
    let in_rect = |q: [f64; 2]| q[0] >= 0.0 && q[1] >= 0.0 && q[0] < wf && q[1] < hf;
    let base_in: Vec<f64> = base_truth
        .hairs
        .iter()
        .filter(|hr| hr.emergence_in_field && in_rect(transform.apply(hr.emergence_px, w, h)))
        .map(|hr| hr.width_um)
        .collect();
    let follow_in: Vec<f64> = follow_truth
        .hairs
        .iter()
        .filter(|hr| hr.emergence_in_field && in_rect(transform.invert(hr.emergence_px, w, h)))
        .map(|hr| hr.width_um)
        .collect();
    let (nb, nf) = (base_in.len() as f64, follow_in.len() as f64);
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let truth = PairTruth {
        density_change_per_cm2: if overlap_area_cm2 > 0.0 {
            (nf - nb) / overlap_area_cm2
        } else {
            0.0
        },
        density_change_pct: if nb > 0.0 {
            100.0 * (nf - nb) / nb
        } else {
            0.0
        },
        mean_width_change_um: if base_in.is_empty() || follow_in.is_empty() {
            0.0
        } else {
            mean(&follow_in) - mean(&base_in)
        },
        overlap_area_cm2,
        baseline: base_truth,
        followup: follow_truth,
        transform,
        followup_to_baseline,
        lost_baseline_ids,
        new_followup_ids,
        thickened_followup_ids,
    };
    Ok(SyntheticPair {
        baseline: Synthetic {
            image: base_img,
            truth: truth.baseline.clone(),
            jpeg_bytes: base_jpeg,
        },
        followup: Synthetic {
            image: follow_img,
            truth: truth.followup.clone(),
            jpeg_bytes: follow_jpeg,
        },
        truth,
    })
}

/// The follow-up camera: `p_f = s·R·(p_b − c) + c + d` with `p_b = um / um_per_px`.
fn followup_view(p: &SceneParams, seed: u64, t: &PairTransform) -> View {
    let upp = p.um_per_px;
    let (sn, cs) = t.rotation_deg.to_radians().sin_cos();
    let k = t.scale / upp;
    let m = [[k * cs, -k * sn], [k * sn, k * cs]];
    let c = [f64::from(p.width_px) / 2.0, f64::from(p.height_px) / 2.0];
    let rc = [
        t.scale * (cs * c[0] - sn * c[1]),
        t.scale * (sn * c[0] + cs * c[1]),
    ];
    let mut lr = rng::stream(seed, tag::LIGHT_FOLLOWUP);
    View {
        width: p.width_px,
        height: p.height_px,
        m,
        t: [c[0] + t.dx_px - rc[0], c[1] + t.dy_px - rc[1]],
        light: Lighting::draw(
            &mut lr,
            p.illumination_gradient,
            p.vignetting,
            p.exposure_jitter,
        ),
        noise_seed: rng::sub_seed(seed, tag::NOISE_FOLLOWUP),
    }
}

/// The scalp at follow-up: hairs lost, thickened and new, each decided from a
/// sub-stream of its own.
fn apply_change(base: &Scene, p: &SceneParams, change: &PairChange, seed: u64) -> Scene {
    let change_seed = rng::sub_seed(seed, tag::CHANGE);
    let mut s = base.clone();
    let mut lost = HashSet::new();
    for hr in s.hairs.iter_mut() {
        let mut r = rng::stream(change_seed, hr.uid as u64);
        if r.random_bool(change.lost_hair_fraction) {
            lost.insert(hr.uid);
        } else if r.random_bool(change.thickened_fraction) {
            hr.width_um = (hr.width_um + change.thickening_um).min(MAX_WIDTH_UM);
        }
    }
    grow_clipped_hairs(&mut s, change, seed);
    let n_base = base.hairs.len();
    let mut cr = rng::stream(change_seed, u64::MAX);
    let mean_new = change.new_hair_fraction * n_base as f64;
    let n_new = match Poisson::new(mean_new) {
        Ok(d) if mean_new > 0.0 => d.sample(&mut cr) as usize,
        _ => 0,
    };
    let mut grid = SpacingGrid::new(p.min_unit_spacing_um);
    for u in &s.units {
        grid.insert(u.center_um);
    }
    let new_seed = rng::sub_seed(change_seed, 0x004E_4557);
    let b = s.bounds_um;
    for j in 0..n_new {
        let mut r = rng::stream(new_seed, j as u64);
        let existing = !s.units.is_empty() && r.random_bool(change.new_in_existing_unit_fraction);
        if existing {
            let ui = r.random_range(0..s.units.len());
            s.units[ui].kind = UnitKind::Hairs;
            let fan = r.random_range(-1.0..1.0) * p.fan_spread_deg.to_radians();
            scene::add_hair(&mut s, p, ui, fan, &mut r, NEW_HAIR_CLASSES);
        } else {
            for _ in 0..30 {
                let c = [r.random_range(b[0]..b[2]), r.random_range(b[1]..b[3])];
                if grid.free(c, p.min_unit_spacing_um) {
                    grid.insert(c);
                    let ui = s.units.len();
                    let unit_seed = rng::sub_seed(new_seed, 0x5500_0000 + j as u64);
                    scene::add_unit(&mut s, p, &mut r, c, unit_seed, ui, true);
                    break;
                }
            }
        }
    }
    s.hairs.retain(|hr| !lost.contains(&hr.uid));
    s
}

/// A phototrichogram's days: each clipped hair is in anagen with probability
/// `anagen_fraction` and then grows by a rate drawn from `growth_um_per_day`
/// times `growth_days`, its shaft pushed out along its last direction (the
/// emergence stays). Drawn from a stream of its own, so the other changes of a
/// pair do not depend on it.
fn grow_clipped_hairs(s: &mut Scene, change: &PairChange, seed: u64) {
    if change.growth_days <= 0.0 {
        return;
    }
    let grow_seed = rng::sub_seed(seed, tag::GROWTH);
    let [lo, hi] = change.growth_um_per_day;
    for hr in s.hairs.iter_mut().filter(|hr| hr.clipped) {
        let mut r = rng::stream(grow_seed, hr.uid as u64);
        if !r.random_bool(change.anagen_fraction) {
            continue;
        }
        let rate = if hi > lo { r.random_range(lo..=hi) } else { lo };
        let add = rate * change.growth_days;
        let n = hr.points_um.len();
        if n < 2 || add <= 0.0 {
            continue;
        }
        let (a, b) = (hr.points_um[n - 2], hr.points_um[n - 1]);
        let step = (b[0] - a[0]).hypot(b[1] - a[1]);
        if step <= 0.0 {
            continue;
        }
        let d = [(b[0] - a[0]) / step, (b[1] - a[1]) / step];
        let k = (add / step).ceil() as usize;
        let last_step = add - (k - 1) as f64 * step;
        let mut p = b;
        for i in 0..k {
            let l = if i + 1 == k { last_step } else { step };
            p = [p[0] + l * d[0], p[1] + l * d[1]];
            hr.points_um.push(p);
        }
        hr.length_um += add;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_of_a_shifted_rectangle() {
        let poly = [[5.0, 0.0], [15.0, 0.0], [15.0, 10.0], [5.0, 10.0]];
        let a = polygon_area(&clip_to_rect(&poly, 10.0, 10.0));
        assert!((a - 50.0).abs() < 1e-9);
    }

    #[test]
    fn transform_inverts() {
        let t = PairTransform {
            dx_px: 12.5,
            dy_px: -7.0,
            rotation_deg: 3.3,
            scale: 1.02,
        };
        let p = [100.0, 40.0];
        let q = t.invert(t.apply(p, 640, 512), 640, 512);
        assert!((q[0] - p[0]).abs() < 1e-9 && (q[1] - p[1]).abs() < 1e-9);
    }
}
