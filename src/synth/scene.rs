//! The scalp scene in micrometres: follicular openings, hairs, skin structures.
//!
//! Scene coordinates are µm on the skin with the origin at the top-left corner
//! of the baseline image, x to the right, y down. Every component draws from its
//! own seeded sub-stream, and every opening from its own, so that changing one
//! component (say, adding a vessel) does not reshuffle the others.

use std::collections::HashMap;
use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

use super::params::SceneParams;
use super::rng::{self, tag};
use crate::synth::truth::{DistractorKind, HairColour};

/// What an opening shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnitKind {
    /// Holds hairs.
    Hairs,
    /// Empty opening.
    Empty,
    /// Empty, sebum-filled: a yellow dot.
    YellowDot,
}

/// A follicular opening.
#[derive(Clone, Debug)]
pub(crate) struct Unit {
    pub center_um: [f64; 2],
    /// Radius of the opening itself (µm).
    pub radius_um: f64,
    /// Radius of the perifollicular pigmentation halo (µm).
    pub halo_radius_um: f64,
    /// Darkening of the halo at its centre (0–1).
    pub halo_strength: f64,
    /// Hue of the halo: 0 = brown, 1 = blue-grey.
    pub halo_hue: f64,
    pub kind: UnitKind,
}

/// A hair shaft.
#[derive(Clone, Debug)]
pub(crate) struct Hair {
    /// Stable identity across the two photos of a pair.
    pub uid: usize,
    /// Index of its opening in [`Scene::units`].
    pub unit: usize,
    /// Centreline from emergence to tip (µm), samples `step_um` apart.
    pub points_um: Vec<[f64; 2]>,
    pub length_um: f64,
    pub width_um: f64,
    pub colour: HairColour,
    pub clipped: bool,
    /// Pigment concentration factor (1 = nominal).
    pub pigment: f64,
    /// Specular sheen (linear reflectance).
    pub gloss: f64,
    /// Relative pigment variation along the shaft.
    pub banding: f64,
    /// Seed of the along-shaft variation.
    pub band_seed: u64,
}

/// A curvilinear skin structure (furrow or vessel).
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub kind: DistractorKind,
    pub points_um: Vec<[f64; 2]>,
    pub width_um: f64,
    pub strength: f64,
}

/// A blob (flake, pore).
#[derive(Clone, Debug)]
pub(crate) struct Blob {
    pub center_um: [f64; 2],
    pub radius_um: f64,
    /// Shape harmonics: (relative amplitude, phase) of orders 2, 3, 4, 5.
    pub harmonics: [(f64, f64); 4],
    pub strength: f64,
}

/// The whole scalp zone.
#[derive(Clone, Debug)]
pub(crate) struct Scene {
    pub units: Vec<Unit>,
    pub hairs: Vec<Hair>,
    pub lines: Vec<Line>,
    pub flakes: Vec<Blob>,
    pub pores: Vec<Blob>,
    /// Linear skin reflectance.
    pub skin_rgb: [f64; 3],
    pub skin_seed: u64,
    pub skin_texture: f64,
    /// Centreline sampling step (µm).
    pub step_um: f64,
    /// Generated area: `[x0, y0, x1, y1]` (µm).
    pub bounds_um: [f64; 4],
    /// Stream-direction field: base angle (rad), amplitude (rad), seed.
    stream: (f64, f64, u64),
    /// Next free hair uid.
    pub next_uid: usize,
    /// Region any camera of this scene can see (µm): hairs that cannot reach
    /// it are not grown.
    pub visible_um: [f64; 4],
}

/// Length scale of the hair-stream direction field (µm).
const STREAM_SCALE_UM: f64 = 6_000.0;

impl Scene {
    /// Hair-stream direction at `p` (rad).
    pub(crate) fn stream_angle(&self, p: [f64; 2]) -> f64 {
        let (base, amp, seed) = self.stream;
        base + amp * rng::value_noise(seed, p[0] / STREAM_SCALE_UM, p[1] / STREAM_SCALE_UM)
    }
}

fn uniform(rng: &mut ChaCha8Rng, r: [f64; 2]) -> f64 {
    if r[1] > r[0] {
        rng.random_range(r[0]..r[1])
    } else {
        r[0]
    }
}

fn pick(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    // Rounding: the last class with any weight.
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    match Poisson::new(mean) {
        Ok(d) => d.sample(rng) as usize,
        Err(_) => mean.round() as usize,
    }
}

fn normal(rng: &mut ChaCha8Rng, sd: f64) -> f64 {
    match Normal::new(0.0, sd) {
        Ok(d) => d.sample(rng),
        Err(_) => 0.0,
    }
}

/// Draws a shaft width (µm) for class index 0 (vellus), 1 or 2 (terminal).
pub(crate) fn draw_width(rng: &mut ChaCha8Rng, p: &SceneParams, class: usize) -> f64 {
    match class {
        0 => uniform(rng, p.vellus_width_um),
        1 => uniform(rng, p.intermediate_width_um),
        _ => {
            let [lo, hi] = p.terminal_width_um;
            for _ in 0..64 {
                let w = p.terminal_width_mean_um + normal(rng, p.terminal_width_sd_um);
                if w >= lo && w < hi {
                    return w;
                }
            }
            uniform(rng, p.terminal_width_um)
        }
    }
}

const COLOURS: [HairColour; 5] = [
    HairColour::Dark,
    HairColour::Brown,
    HairColour::Blond,
    HairColour::Grey,
    HairColour::White,
];

/// Dart throwing with a grid: openings at least `spacing` apart.
pub(crate) struct SpacingGrid {
    cell: f64,
    cells: HashMap<(i64, i64), Vec<[f64; 2]>>,
}

impl SpacingGrid {
    pub(crate) fn new(spacing: f64) -> Self {
        SpacingGrid {
            cell: spacing.max(1.0),
            cells: HashMap::new(),
        }
    }

    fn key(&self, p: [f64; 2]) -> (i64, i64) {
        (
            (p[0] / self.cell).floor() as i64,
            (p[1] / self.cell).floor() as i64,
        )
    }

    pub(crate) fn free(&self, p: [f64; 2], spacing: f64) -> bool {
        let (i, j) = self.key(p);
        for di in -1..=1 {
            for dj in -1..=1 {
                if let Some(v) = self.cells.get(&(i + di, j + dj)) {
                    for q in v {
                        if (q[0] - p[0]).hypot(q[1] - p[1]) < spacing {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    pub(crate) fn insert(&mut self, p: [f64; 2]) {
        let k = self.key(p);
        self.cells.entry(k).or_default().push(p);
    }
}

/// Grows a centreline of `length_um` from `start` along `angle`, integrating a
/// smooth curvature random walk; samples are `step_um` apart along the arc.
#[allow(clippy::too_many_arguments)]
pub(crate) fn grow_path(
    scene: &Scene,
    rng: &mut ChaCha8Rng,
    start: [f64; 2],
    angle: f64,
    length_um: f64,
    width_um: f64,
    curvature_sd_per_um: f64,
    walk_per_um: f64,
    follow_stream: bool,
) -> Vec<[f64; 2]> {
    let step = scene.step_um;
    let n = (length_um / step).ceil().max(1.0) as usize;
    let mut pts = Vec::with_capacity(n + 1);
    pts.push(start);
    // The bend radius stays well above the shaft radius (and above 1.5 mm).
    let max_k = (1.0 / (4.0 * width_um)).min(1.0 / 1_500.0);
    let mut k = normal(rng, curvature_sd_per_um).clamp(-max_k, max_k);
    let mut theta = angle;
    let mut p = start;
    let mut done = 0.0;
    for i in 0..n {
        let ds = if i + 1 == n { length_um - done } else { step };
        k += normal(rng, walk_per_um * ds.sqrt());
        if follow_stream {
            // Long hair lies down along the stream: a slow pull towards it.
            let target = scene.stream_angle(p);
            let diff = (target - theta + PI).rem_euclid(2.0 * PI) - PI;
            k += 2e-8 * diff * ds;
        }
        k = k.clamp(-max_k, max_k);
        theta += k * ds;
        p = [p[0] + ds * theta.cos(), p[1] + ds * theta.sin()];
        pts.push(p);
        done += ds;
    }
    pts
}

/// Builds the scene: `extra_margin_um` widens the generated area beyond the
/// baseline image (for the follow-up camera of a pair).
pub(crate) fn generate(p: &SceneParams, seed: u64, extra_margin_um: f64) -> Scene {
    let w_um = f64::from(p.width_px) * p.um_per_px;
    let h_um = f64::from(p.height_px) * p.um_per_px;
    let margin = p.max_length_um() + 300.0 + extra_margin_um;
    let bounds = [-margin, -margin, w_um + margin, h_um + margin];

    let mut skin_rng = rng::stream(seed, tag::SKIN);
    let tone = uniform(&mut skin_rng, p.skin_tone_range);
    let mut skin_rgb = super::optics::skin_linear(tone);
    // Slight per-person hue variation (redness / yellowness).
    let red = normal(&mut skin_rng, 0.03);
    let yellow = normal(&mut skin_rng, 0.03);
    skin_rgb[0] *= 1.0 + red;
    skin_rgb[1] *= 1.0 - 0.3 * red + 0.5 * yellow;
    skin_rgb[2] *= 1.0 - red - yellow;
    let skin_seed = rng::sub_seed(seed, tag::SKIN ^ 0xABCD);

    let mut stream_rng = rng::stream(seed, tag::STREAM);
    let base = match p.stream_angle_deg {
        Some(a) => a.to_radians(),
        None => stream_rng.random_range(0.0..2.0 * PI),
    };
    let stream = (
        base,
        p.stream_variation_deg.to_radians(),
        rng::sub_seed(seed, tag::STREAM ^ 0x55),
    );

    let mut scene = Scene {
        units: Vec::new(),
        hairs: Vec::new(),
        lines: Vec::new(),
        flakes: Vec::new(),
        pores: Vec::new(),
        skin_rgb,
        skin_seed,
        skin_texture: p.skin_texture,
        // ≤ 0.9 px apart in the baseline and in a follow-up zoomed by ≤ 5 %.
        step_um: 0.9 * p.um_per_px / 1.05,
        bounds_um: bounds,
        stream,
        next_uid: 0,
        visible_um: [
            -extra_margin_um - 100.0,
            -extra_margin_um - 100.0,
            w_um + extra_margin_um + 100.0,
            h_um + extra_margin_um + 100.0,
        ],
    };

    // Openings: Poisson count, dart throwing with a minimum spacing.
    let area_cm2 = (bounds[2] - bounds[0]) * (bounds[3] - bounds[1]) / 1e8;
    let mut unit_rng = rng::stream(seed, tag::UNITS);
    let target = poisson(&mut unit_rng, p.follicular_units_per_cm2 * area_cm2);
    let mut grid = SpacingGrid::new(p.min_unit_spacing_um);
    let mut centres = Vec::with_capacity(target);
    for _ in 0..target {
        for _attempt in 0..30 {
            let c = [
                unit_rng.random_range(bounds[0]..bounds[2]),
                unit_rng.random_range(bounds[1]..bounds[3]),
            ];
            if grid.free(c, p.min_unit_spacing_um) {
                grid.insert(c);
                centres.push(c);
                break;
            }
        }
    }
    let hair_seed = rng::sub_seed(seed, tag::HAIRS);
    for (ui, c) in centres.into_iter().enumerate() {
        let mut r = rng::stream(hair_seed, ui as u64);
        add_unit(&mut scene, p, &mut r, c, hair_seed, ui, false);
    }

    add_distractors(&mut scene, p, seed, w_um, h_um);
    scene
}

/// Adds one hair to opening `unit_index`, turned by `fan` (rad) from the
/// stream, with its class drawn from `class_weights`; returns its uid.
pub(crate) fn add_hair(
    scene: &mut Scene,
    p: &SceneParams,
    unit_index: usize,
    fan: f64,
    hr: &mut ChaCha8Rng,
    class_weights: [f64; 3],
) -> usize {
    let c = scene.units[unit_index].center_um;
    let stream = scene.stream_angle(c);
    let class = pick(hr, &class_weights);
    let width = draw_width(hr, p, class);
    let colour = COLOURS[pick(hr, &p.hair_colours.as_array())];
    let long = hr.random_bool(p.long_fraction.clamp(0.0, 1.0));
    let length = if long {
        uniform(hr, p.long_length_um)
    } else {
        uniform(hr, p.clipped_length_um)
    };
    // Emergence within ~half the opening radius of its centre (< 0.1 mm apart).
    let off_a = hr.random_range(0.0..2.0 * PI);
    let off_r = hr.random_range(0.0..0.5) * scene.units[unit_index].radius_um;
    let start = [c[0] + off_r * off_a.cos(), c[1] + off_r * off_a.sin()];
    let angle = stream + fan + normal(hr, 3f64.to_radians());
    let v = scene.visible_um;
    let dx = (v[0] - start[0]).max(start[0] - v[2]).max(0.0);
    let dy = (v[1] - start[1]).max(start[1] - v[3]).max(0.0);
    if dx.hypot(dy) > length + width {
        // Out of reach of every camera: it would never show nor count.
        scene.next_uid += 1;
        return scene.next_uid - 1;
    }
    let pigment = (1.0 + normal(hr, p.pigment_variation)).clamp(0.5, 1.6);
    let gloss = p.gloss * hr.random_range(0.5..1.5);
    let banding = 0.5 * p.pigment_variation;
    let band_seed: u64 = hr.random();
    let points = grow_path(
        scene,
        hr,
        start,
        angle,
        length,
        width,
        p.curvature_sd_per_mm / 1_000.0,
        p.curvature_walk_per_mm / 1_000.0 / 1_000f64.sqrt(),
        long,
    );
    let uid = scene.next_uid;
    scene.next_uid += 1;
    scene.hairs.push(Hair {
        uid,
        unit: unit_index,
        points_um: points,
        length_um: length,
        width_um: width,
        colour,
        clipped: !long,
        pigment,
        gloss,
        banding,
        band_seed,
    });
    uid
}

/// Adds an opening at `c` with its hairs (none if drawn empty, unless
/// `force_hair`). Hair sub-streams derive from `(hair_seed, unit index)`.
pub(crate) fn add_unit(
    scene: &mut Scene,
    p: &SceneParams,
    r: &mut ChaCha8Rng,
    c: [f64; 2],
    hair_seed: u64,
    ui: usize,
    force_hair: bool,
) -> usize {
    let empty = !force_hair && r.random_bool(p.empty_unit_fraction.clamp(0.0, 1.0));
    let kind = if !empty {
        UnitKind::Hairs
    } else if r.random_bool(p.yellow_dot_fraction.clamp(0.0, 1.0)) {
        UnitKind::YellowDot
    } else {
        UnitKind::Empty
    };
    let unit = Unit {
        center_um: c,
        radius_um: r.random_range(30.0..60.0),
        halo_radius_um: r.random_range(70.0..150.0),
        halo_strength: p.perifollicular_pigmentation * r.random_range(0.4..1.0),
        halo_hue: r.random(),
        kind,
    };
    let unit_index = scene.units.len();
    scene.units.push(unit);
    let n = if kind == UnitKind::Hairs {
        if force_hair {
            1
        } else {
            pick(r, &p.hairs_per_unit) + 1
        }
    } else {
        0
    };
    for h in 0..n {
        let mut hr = rng::stream(hair_seed, ((ui as u64) << 8) | (h as u64 + 0x80));
        let fan = (h as f64 - (n as f64 - 1.0) / 2.0) * p.fan_spread_deg.to_radians();
        let classes = [
            p.class_mix.vellus,
            p.class_mix.intermediate,
            p.class_mix.terminal,
        ];
        add_hair(scene, p, unit_index, fan, &mut hr, classes);
    }
    unit_index
}

fn random_walk_line(
    rng: &mut ChaCha8Rng,
    start: [f64; 2],
    angle: f64,
    length_um: f64,
    step_um: f64,
    turn_sd_per_step: f64,
) -> Vec<[f64; 2]> {
    let n = (length_um / step_um).ceil().max(1.0) as usize;
    let mut pts = Vec::with_capacity(n + 1);
    let mut p = start;
    let mut th = angle;
    let mut k = 0.0;
    pts.push(p);
    for _ in 0..n {
        k = 0.8 * k + normal(rng, turn_sd_per_step);
        th += k;
        p = [p[0] + step_um * th.cos(), p[1] + step_um * th.sin()];
        pts.push(p);
    }
    pts
}

fn add_distractors(scene: &mut Scene, p: &SceneParams, seed: u64, w_um: f64, h_um: f64) {
    let pad = 2_000.0;
    let area_cm2 = (w_um + 2.0 * pad) * (h_um + 2.0 * pad) / 1e8;
    // Furrows: a loose net of two families of faint curvilinear lines.
    let mut fr = rng::stream(seed, tag::FURROWS);
    let n = poisson(&mut fr, p.furrows_per_cm2 * area_cm2);
    let base: f64 = fr.random_range(0.0..PI);
    for _ in 0..n {
        let start = [
            fr.random_range(-pad..w_um + pad),
            fr.random_range(-pad..h_um + pad),
        ];
        let fam = if fr.random_bool(0.5) { 0.0 } else { PI / 3.0 };
        let angle = base + fam + normal(&mut fr, 0.3);
        let len = fr.random_range(1_500.0..7_000.0);
        let pts = random_walk_line(&mut fr, start, angle, len, 20.0, 0.01);
        scene.lines.push(Line {
            kind: DistractorKind::Furrow,
            points_um: pts,
            width_um: fr.random_range(15.0..40.0),
            strength: fr.random_range(0.04..0.10),
        });
    }
    // Vessel loops: thin, tortuous, branching, reddish.
    let mut vr = rng::stream(seed, tag::VESSELS);
    for _ in 0..p.vessels {
        let start = [vr.random_range(0.0..w_um), vr.random_range(0.0..h_um)];
        let angle = vr.random_range(0.0..2.0 * PI);
        let len = vr.random_range(300.0..1_400.0);
        let width = vr.random_range(8.0..20.0);
        let strength = vr.random_range(0.4..0.8);
        let main = random_walk_line(&mut vr, start, angle, len, 8.0, 0.05);
        let branches = vr.random_range(0..3usize);
        let mut extra = Vec::new();
        for _ in 0..branches {
            let at = main[vr.random_range(0..main.len())];
            let a =
                angle + if vr.random_bool(0.5) { 1.0 } else { -1.0 } * vr.random_range(0.5..1.2);
            let blen = len * vr.random_range(0.2..0.5);
            extra.push(random_walk_line(&mut vr, at, a, blen, 8.0, 0.05));
        }
        scene.lines.push(Line {
            kind: DistractorKind::Vessel,
            points_um: main,
            width_um: width,
            strength,
        });
        for b in extra {
            scene.lines.push(Line {
                kind: DistractorKind::Vessel,
                points_um: b,
                width_um: width * 0.8,
                strength,
            });
        }
    }
    // Flakes: irregular white blobs.
    let mut kr = rng::stream(seed, tag::FLAKES);
    for _ in 0..p.flakes {
        let c = [kr.random_range(0.0..w_um), kr.random_range(0.0..h_um)];
        let mut harmonics = [(0.0, 0.0); 4];
        for (i, hm) in harmonics.iter_mut().enumerate() {
            *hm = (
                kr.random_range(0.0..0.25 / (i as f64 + 1.0)),
                kr.random_range(0.0..2.0 * PI),
            );
        }
        scene.flakes.push(Blob {
            center_um: c,
            radius_um: kr.random_range(30.0..140.0),
            harmonics,
            strength: kr.random_range(0.35..0.8),
        });
    }
    // Pores: tiny faint darker dots.
    let mut pr = rng::stream(seed, tag::PORES);
    let n = poisson(&mut pr, p.pores_per_cm2 * w_um * h_um / 1e8);
    for _ in 0..n {
        scene.pores.push(Blob {
            center_um: [pr.random_range(0.0..w_um), pr.random_range(0.0..h_um)],
            radius_um: pr.random_range(6.0..16.0),
            harmonics: [(0.0, 0.0); 4],
            strength: pr.random_range(0.04..0.12),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_have_the_requested_length_and_spacing() {
        let p = SceneParams::default();
        let scene = generate(&p, 3, 0.0);
        assert!(!scene.hairs.is_empty());
        for h in &scene.hairs {
            let mut len = 0.0;
            for w in h.points_um.windows(2) {
                let d = (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]);
                assert!(d <= scene.step_um + 1e-9);
                len += d;
            }
            // Chord sum of a gently curved path: within 0.1 % of the arc length.
            assert!((len - h.length_um).abs() < 1e-3 * h.length_um + 1e-6);
        }
    }

    #[test]
    fn openings_keep_their_spacing() {
        let p = SceneParams::default();
        let scene = generate(&p, 5, 0.0);
        for (i, a) in scene.units.iter().enumerate() {
            for b in &scene.units[i + 1..] {
                let d = (a.center_um[0] - b.center_um[0]).hypot(a.center_um[1] - b.center_um[1]);
                assert!(d >= p.min_unit_spacing_um);
            }
        }
    }
}
