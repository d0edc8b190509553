//! Stage 4: per-strand length, shaft diameter, contrast and colour.
//!
//! The diameter is not counted in pixels. Perpendicular profiles of linear light
//! are sampled along the shaft (bilinear, ½-px steps), each normalised by the skin
//! on both flanks to an *occlusion* profile `O(d) = 1 − I(d)/I_skin(d)` (where
//! another shaft runs alongside, as in a follicular unit, the skin showing between
//! the two is that side's reference and the profile stops there), and the
//! median profile over the middle of the shaft (the emergence zone and the tip
//! left out) is fitted with a blurred-cylinder model:
//!
//! `O(d) = A · [S_{r,q} ⊗ G_σ](d − c)`,   `S_{r,q}(x) = (1 − e^{−q·√(1 − x²/r²)}) / (1 − e^{−q})`
//!
//! `S` is the Beer–Lambert transmission of a cylinder of radius `r` whose optical
//! depth through its axis is `q` (q → 0: a faint shaft whose profile is the chord
//! length, an ellipse; q → ∞: an opaque shaft, a box), and `G_σ` is the Gaussian
//! optical blur (including pixel integration). `A` is negative for shafts brighter
//! than skin. Blur and width trade off on thin shafts, so σ is measured once per
//! photo from the wide, well-resolved shafts (median of free fits) and then held
//! fixed for every shaft, which makes the fitted width of a 2–5 px vellus hair
//! follow its true width instead of the blur.
//!
//! # References
//! * C. Steger, "Removing the bias from line detection", CVPR 1997 (asymmetric and
//!   blurred line profiles bias width estimates unless modelled).
//! * K. Madsen, H. B. Nielsen, O. Tingleff, "Methods for non-linear least
//!   squares problems", IMM, DTU, 2004 (Levenberg–Marquardt, §3.2).
//! * G. H. Golub, V. Pereyra, "The differentiation of pseudo-inverses and
//!   nonlinear least squares problems whose variables separate", SIAM J. Numer.
//!   Anal. 10(2), 1973 (the amplitude solved in closed form: variable projection).

use crate::filter::Sample;
use crate::preprocess::{ContrastChannel, ContrastPlane, Prepared};
use crate::stats::median;
use crate::trace::Strand;

/// Spacing of profile samples across the shaft (px).
const PROFILE_STEP_PX: f64 = 0.5;
/// Width of each flank band used as the skin reference (px).
const FLANK_PX: f64 = 2.0;

/// What stage 4 learns about one strand.
#[derive(Clone, Debug)]
pub(crate) struct Measured {
    /// The channel the strand was found and is measured in.
    pub channel: ContrastChannel,
    /// Centreline resampled every pixel of arc length (px).
    pub centerline: Vec<[f64; 2]>,
    /// Arc length of the centreline (px).
    pub length_px: f64,
    /// Fitted shaft diameter (px); `None` when the fit failed.
    pub diameter_px: Option<f64>,
    /// Peak occlusion of the unblurred shaft model (negative: brighter than skin).
    pub amplitude: f64,
    /// Centre occlusion of red, green and blue, median over the middle (fraction).
    pub colour_occlusion: [f64; 3],
    /// Length along the axis over which the shaft's centre occlusion falls from
    /// 80 % to 30 % of its middle level at each end, `[head, tail]` (px), sampled
    /// from inside the strand out past its end. A crisp clipped tip falls within the
    /// optical blur; a shaft entering the skin fades over tens of µm.
    pub end_transition_px: [f64; 2],
    /// Where the centre occlusion of [`Self::end_transition_px`]'s fall
    /// reaches 30 %, `[head, tail]`: past the end where the trace stopped
    /// short of it (in the dark where a unit's shafts run together into their
    /// opening), otherwise the end itself (px).
    pub end_fall_at: [[f64; 2]; 2],
    /// Whether the fall of [`Self::end_transition_px`] was seen whole inside the
    /// photo, `[head, tail]`: the strand's end and every axial sample from it out
    /// to where the contrast reaches 30 %, and the skin flanks they are read
    /// against, lie at least a pixel inside. A fade seen whole shows an emergence
    /// in the field even where the strand's end lies within the border margin;
    /// past the photo's edge the sampling repeats the last pixels, so a shaft
    /// leaving the field never fades.
    pub end_fade_in_photo: [bool; 2],
    /// Whether the contrast runs on, never falling to 30 %, from the end out to
    /// the photo's edge within the axial reach, `[head, tail]`: the shaft leaves
    /// the field there, whatever its trace did short of the edge (it stopped
    /// where another hair crosses it, or where two run together to the edge).
    pub end_dark_to_edge: [bool; 2],
    /// Skin level beside the shaft: median over the middle of the two flank means
    /// (linear light).
    pub flank_level: f64,
    /// Scale of the detection, median over the strand (px).
    pub sigma_det_px: f64,
    /// Fitted blur of this strand in the free fit (px); used to estimate the photo's blur.
    pub free_sigma_px: Option<f64>,
    /// Normalised residual of the free fit (RMS / |A|).
    pub fit_residual: f64,
    /// Width of the dark (or light) run through each centreline point where it
    /// keeps at least half the centre's contrast, with no neighbour cut (px): two
    /// shafts side by side read as one wide run.
    pub station_width_px: Vec<f64>,
    /// The median occlusion profile and its offsets, kept for the fits.
    profile: Vec<(f64, f64)>,
    /// Whether [`Measured::fit_free`] has run.
    free_fitted: bool,
}

/// Resamples a polyline every `step` px of arc length and smooths it with a
/// centred moving average of `2·half + 1` samples (ends kept).
fn resample(points: &[[f64; 2]], step: f64, half: usize) -> Vec<[f64; 2]> {
    if points.len() < 2 {
        return points.to_vec();
    }
    let mut out = vec![points[0]];
    let mut carry = 0.0;
    for seg in points.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        if len <= 0.0 {
            continue;
        }
        let mut s = step - carry;
        while s <= len {
            let t = s / len;
            out.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
            s += step;
        }
        carry = len - (s - step);
    }
    let last = points[points.len() - 1];
    if out.last().is_some_and(|p| *p != last) {
        out.push(last);
    }
    let n = out.len();
    (0..n)
        .map(|i| {
            let h = half.min(i).min(n - 1 - i);
            let window = &out[i - h..=i + h];
            let k = window.len() as f64;
            [
                window.iter().map(|p| p[0]).sum::<f64>() / k,
                window.iter().map(|p| p[1]).sum::<f64>() / k,
            ]
        })
        .collect()
}

fn arc_length(points: &[[f64; 2]]) -> f64 {
    points
        .windows(2)
        .map(|s| ((s[1][0] - s[0][0]).powi(2) + (s[1][1] - s[0][1]).powi(2)).sqrt())
        .sum()
}

/// A neighbour beside the shaft is cut off where the profile, past a local
/// maximum of skin level, darkens again by more than this fraction of the shaft's
/// own contrast. Below it, a bump is noise or skin texture, not another shaft.
const NEIGHBOUR_DROP: f64 = 0.25;
/// ... and only past a rise from the shaft's centre of at least this fraction of its
/// contrast against the skin.
const MIN_RISE: f64 = 0.3;

/// One cross-section's skin reference: the skin level on each side, where it was
/// taken, and how far out the shaft's own profile reaches (a shaft running beside
/// this one ends it).
#[derive(Clone, Copy, Debug)]
struct Section {
    /// Skin level `[left, right]` (linear light).
    skin: [f64; 2],
    /// Distance from the centre of each skin reference (px).
    at: [f64; 2],
    /// Offsets beyond `limit` on each side belong to something else (px).
    limit: [f64; 2],
}

impl Section {
    /// Occlusion of `plane` at `d` along `nrm` from `p` against this section's
    /// skin, interpolated linearly between the two references.
    fn occlusion(&self, plane: &impl Sample, p: [f64; 2], nrm: [f64; 2], d: f64) -> f64 {
        self.occlusion_of(
            f64::from(plane.sample(p[0] + d * nrm[0], p[1] + d * nrm[1])),
            d,
        )
    }

    /// [`Self::occlusion`] of `value`, the plane's sample at offset `d`.
    fn occlusion_of(&self, value: f64, d: f64) -> f64 {
        let span = self.at[0] + self.at[1];
        let t = ((d + self.at[0]) / span.max(1e-9)).clamp(0.0, 1.0);
        let skin = self.skin[0] + t * (self.skin[1] - self.skin[0]);
        if skin <= 1e-6 {
            return 0.0;
        }
        1.0 - value / skin
    }

    /// Whether offset `d` lies within the shaft's own profile.
    fn owns(&self, d: f64) -> bool {
        if d < 0.0 {
            -d <= self.limit[0]
        } else {
            d <= self.limit[1]
        }
    }
}

/// The skin reference of the cross-section through `p` along normal `nrm`, out to
/// `reach` px. By default each side's skin is the mean of the flank band from
/// `reach − FLANK_PX` to `reach`. Where another shaft runs beside this one (the
/// hairs of one follicular unit, touching parallel hairs), the band would lie on
/// it: the profile, smoothed over 2 px, rises from the shaft to a local maximum
/// (the skin showing between the two) and then darkens again by more than
/// [`NEIGHBOUR_DROP`] of the shaft's contrast. That maximum becomes the side's skin
/// reference and the end of the shaft's own profile. `dark` is the polarity
/// (darker than skin); light shafts are handled with the profile inverted.
fn section(plane: &impl Sample, p: [f64; 2], nrm: [f64; 2], reach: f64, dark: bool) -> Section {
    let k = (reach / PROFILE_STEP_PX).round() as i64;
    let raw: Vec<f64> = (-k..=k)
        .map(|j| {
            let d = j as f64 * PROFILE_STEP_PX;
            f64::from(plane.sample(p[0] + d * nrm[0], p[1] + d * nrm[1]))
        })
        .collect();
    section_of(&raw, reach, dark)
}

/// The [`section`] whose samples, at offsets `−k…k` × [`PROFILE_STEP_PX`] with
/// `k` = round(`reach` / step), are `raw`.
fn section_of(raw: &[f64], reach: f64, dark: bool) -> Section {
    let k = (reach / PROFILE_STEP_PX).round() as i64;
    debug_assert_eq!(raw.len() as i64, 2 * k + 1);
    let sign = if dark { 1.0 } else { -1.0 };
    let m = raw.len();
    // Smoothed over 2 px (5 samples), oriented so the shaft is a minimum.
    let t: Vec<f64> = (0..m)
        .map(|i| {
            let lo = i.saturating_sub(2);
            let hi = (i + 2).min(m - 1);
            sign * raw[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64
        })
        .collect();
    let c = k as usize;
    let core = (1.0 / PROFILE_STEP_PX).round() as usize;
    let floor = t[c - core.min(c)..=(c + core).min(m - 1)]
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let band = (FLANK_PX / PROFILE_STEP_PX).round() as usize;
    let band_mean = |idx: &mut dyn Iterator<Item = usize>| -> f64 {
        let (s, n) = idx.fold((0.0, 0.0), |(s, n), i| (s + raw[i], n + 1.0));
        s / n
    };
    let mut out = Section {
        skin: [
            band_mean(&mut (0..=band.min(m - 1))),
            band_mean(&mut (m - 1 - band.min(m - 1)..m)),
        ],
        at: [reach - FLANK_PX / 2.0; 2],
        limit: [reach; 2],
    };
    // The shaft's contrast, from the brighter of the two default references (a
    // neighbour darkens at most one side of most sections); a rise smaller than
    // MIN_RISE of it is noise on the shaft, not the skin between two shafts.
    let skin_est = (sign * out.skin[0]).max(sign * out.skin[1]);
    let min_rise = MIN_RISE * (skin_est - floor);
    for (side, step) in [(0usize, -1i64), (1, 1)] {
        let at = |j: usize| (c as i64 + step * j as i64) as usize;
        // Running maximum outward; a fall below it by the drop fraction marks
        // another shaft, and the maximum the skin between them.
        let (mut top, mut top_j) = (floor, 0usize);
        for j in 1..=c {
            let v = t[at(j)];
            if v > top {
                (top, top_j) = (v, j);
            } else if top - floor >= min_rise && top - v > NEIGHBOUR_DROP * (top - floor) {
                if top_j > 0 && top_j + band < c {
                    let d = top_j as f64 * PROFILE_STEP_PX;
                    out.skin[side] = band_mean(&mut (top_j - 1..=top_j + 1).map(at));
                    out.at[side] = d;
                    out.limit[side] = d;
                }
                break;
            }
        }
    }
    out
}

/// Mean of `plane` over the two flank bands (from `reach − FLANK_PX` to `reach`) on
/// either side of `p` along normal `nrm`: the skin reference `[left, right]`.
fn skin_flanks(plane: &impl Sample, p: [f64; 2], nrm: [f64; 2], reach: f64) -> [f64; 2] {
    let flank = |sign: f64| -> f64 {
        let mut s = 0.0;
        let mut k = 0.0;
        let mut o = reach - FLANK_PX;
        while o <= reach + 1e-9 {
            let dd = sign * o;
            s += f64::from(plane.sample(p[0] + dd * nrm[0], p[1] + dd * nrm[1]));
            k += 1.0;
            o += PROFILE_STEP_PX;
        }
        s / k
    };
    [flank(-1.0), flank(1.0)]
}

/// Occlusion at the centre `p` against the skin of the flank bands at `reach` on
/// both sides, with no neighbour cut: past a strand's end, where no shaft is
/// expected, only the far skin is a fair reference.
fn occlusion_at(plane: &impl Sample, p: [f64; 2], nrm: [f64; 2], d: f64, reach: f64) -> f64 {
    let [left, right] = skin_flanks(plane, p, nrm, reach);
    let mid = reach - FLANK_PX / 2.0;
    let t = ((d + mid) / (2.0 * mid)).clamp(0.0, 1.0);
    let skin = left + t * (right - left);
    if skin <= 1e-6 {
        return 0.0;
    }
    1.0 - f64::from(plane.sample(p[0] + d * nrm[0], p[1] + d * nrm[1])) / skin
}

/// The centreline [`measure`] reads a strand along: its trace resampled every
/// pixel of arc length and smoothed over 5 samples.
pub(crate) fn centerline_of(strand: &Strand) -> Vec<[f64; 2]> {
    let raw: Vec<[f64; 2]> = strand.points.iter().map(|p| p.pos).collect();
    resample(&raw, 1.0, 2)
}

/// Measures one traced strand: everything but the profile fits
/// ([`Measured::fit_free`], [`Measured::refit_with_blur`]), which are the costly
/// part and not every strand needs both.
pub(crate) fn measure(
    prep: &Prepared,
    channel: ContrastChannel,
    strand: &Strand,
    trim_px: f64,
) -> Option<Measured> {
    let plane = prep.contrast(channel);
    let centerline = centerline_of(strand);
    let n = centerline.len();
    if n < 3 {
        return None;
    }
    let length_px = arc_length(&centerline);
    let mut sigmas: Vec<f64> = strand.points.iter().map(|p| p.sigma_px).collect();
    let sigma_det_px = median(&mut sigmas)?;
    // Reach of the profile: the shaft (≈ 2σ_det wide) plus blur and flanks.
    let reach = (3.0 * sigma_det_px + 4.0).ceil();
    let offsets: Vec<f64> = {
        let k = (reach / PROFILE_STEP_PX).round() as i64;
        (-k..=k).map(|j| j as f64 * PROFILE_STEP_PX).collect()
    };
    let normals: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let a = centerline[i.saturating_sub(2)];
            let b = centerline[(i + 2).min(n - 1)];
            let t = [b[0] - a[0], b[1] - a[1]];
            let len = (t[0] * t[0] + t[1] * t[1]).sqrt().max(1e-9);
            [-t[1] / len, t[0] / len]
        })
        .collect();

    // Middle of the shaft: leave out `trim_px` at both ends, but keep at least the
    // central 40 % of a short strand.
    let trim = trim_px.min(0.3 * length_px);
    let first = (trim.round() as usize).min(n - 1);
    let last = n.saturating_sub(1 + trim.round() as usize).max(first);

    let dark = strand.polarity > 0;
    let sections: Vec<Section> = (0..n)
        .map(|i| section(&plane, centerline[i], normals[i], reach, dark))
        .collect();
    let centre_occ: Vec<f64> = (0..n)
        .map(|i| sections[i].occlusion(&plane, centerline[i], normals[i], 0.0))
        .collect();
    let mut middle_centre: Vec<f64> = centre_occ[first..=last].to_vec();
    let middle_level = median(&mut middle_centre)?;
    let ends = [false, true]
        .map(|tail| end_transition(&plane, &centerline, &centre_occ, middle_level, reach, tail));
    let end_transition_px = ends.map(|e| match e {
        EndProfile::Falls { length_px, .. } => length_px,
        _ => f64::INFINITY,
    });
    let end_fade_in_photo = ends.map(|e| matches!(e, EndProfile::Falls { whole: true, .. }));
    let end_fall_at = [0, 1].map(|k| match ends[k] {
        EndProfile::Falls { at, .. } => at,
        _ => centerline[[0, n - 1][k]],
    });
    let end_dark_to_edge = ends.map(|e| e == EndProfile::DarkToEdge);

    // Each channel's centre occlusion against its own skin reference: the three
    // channels sampled together (one bilinear position for three values).
    let k = (reach / PROFILE_STEP_PX).round() as i64;
    let mut raw: [Vec<f64>; 3] = std::array::from_fn(|_| Vec::with_capacity(2 * k as usize + 1));
    let mut per_channel: [Vec<f64>; 3] =
        std::array::from_fn(|_| Vec::with_capacity(last - first + 1));
    for i in first..=last {
        let (p, nrm) = (centerline[i], normals[i]);
        raw.iter_mut().for_each(Vec::clear);
        for j in -k..=k {
            let d = j as f64 * PROFILE_STEP_PX;
            let v = prep.rgb.sample_rgb(p[0] + d * nrm[0], p[1] + d * nrm[1]);
            for (r, v) in raw.iter_mut().zip(v) {
                r.push(f64::from(v));
            }
        }
        for (c, v) in per_channel.iter_mut().enumerate() {
            let s = section_of(&raw[c], reach, dark);
            // The sample at offset 0 is the centre's, as `Section::occlusion`
            // would read it at d = 0.
            v.push(s.occlusion_of(raw[c][k as usize], 0.0));
        }
    }
    let colour_occlusion = per_channel.map(|mut v| median(&mut v).unwrap_or(0.0));

    // Median occlusion profile over the middle of the shaft.
    let mut profile: Vec<(f64, f64)> = Vec::with_capacity(offsets.len());
    // An offset enters the profile where at least half of the cross-sections own
    // it (a neighbouring shaft cuts the others short).
    let middle = last - first + 1;
    let mut column: Vec<f64> = Vec::with_capacity(middle);
    for &d in &offsets {
        if d.abs() > reach - FLANK_PX {
            continue;
        }
        column.clear();
        column.extend(
            (first..=last)
                .filter(|&i| sections[i].owns(d))
                .map(|i| sections[i].occlusion(&plane, centerline[i], normals[i], d)),
        );
        if 2 * column.len() < middle {
            continue;
        }
        profile.push((d, median(&mut column)?));
    }
    let mut flank_means: Vec<f64> = sections[first..=last]
        .iter()
        .map(|s| 0.5 * (s.skin[0] + s.skin[1]))
        .collect();
    let flank_level = median(&mut flank_means).unwrap_or(0.0);
    let sign = if dark { 1.0 } else { -1.0 };
    let station_width_px: Vec<f64> = (0..n)
        .map(|i| half_contrast_width(&plane, &sections[i], centerline[i], normals[i], reach, sign))
        .collect();
    Some(Measured {
        channel,
        centerline,
        length_px,
        diameter_px: None,
        amplitude: middle_level,
        colour_occlusion,
        end_transition_px,
        end_fall_at,
        end_fade_in_photo,
        end_dark_to_edge,
        flank_level,
        sigma_det_px,
        free_sigma_px: None,
        fit_residual: f64::INFINITY,
        station_width_px,
        profile,
        free_fitted: false,
    })
}

/// Width of the run through `p` across `nrm` (px) where `sign`·occlusion stays
/// above half its value at the centre (the largest of the centre and ±0.5 px),
/// out to `reach` on each side; 0 where the centre has no contrast. Each side
/// ends at its last sample above half, on the [`PROFILE_STEP_PX`] grid, so the
/// width reads up to one step per side short.
fn half_contrast_width(
    plane: &impl Sample,
    section: &Section,
    p: [f64; 2],
    nrm: [f64; 2],
    reach: f64,
    sign: f64,
) -> f64 {
    let occ = |d: f64| sign * section.occlusion(plane, p, nrm, d);
    let centre = occ(-PROFILE_STEP_PX)
        .max(occ(0.0))
        .max(occ(PROFILE_STEP_PX));
    if centre <= 0.0 {
        return 0.0;
    }
    let mut width = 0.0;
    for side in [-1.0, 1.0] {
        let mut d = 0.0;
        while d < reach && occ(side * (d + PROFILE_STEP_PX)) > 0.5 * centre {
            d += PROFILE_STEP_PX;
        }
        width += d;
    }
    width
}

/// How far the axial samples of [`end_transition`] reach past a strand's end (px).
const END_REACH_OUT_PX: usize = 40;

/// How the centre occlusion runs across one end of a strand, out along its axis.
#[derive(Clone, Copy, Debug, PartialEq)]
enum EndProfile {
    /// It falls from 80 % to 30 % of the middle level over `length_px` (see
    /// [`Measured::end_transition_px`]), seen `whole` inside the photo or not
    /// (see [`Measured::end_fade_in_photo`]).
    Falls {
        length_px: f64,
        whole: bool,
        /// Where the fall reaches 30 %: past the end along its extrapolated
        /// direction, or the end itself where it falls inside the strand.
        at: [f64; 2],
    },
    /// It never falls to 30 % up to the photo's edge (see
    /// [`Measured::end_dark_to_edge`]).
    DarkToEdge,
    /// It never falls to 30 % within the reach, inside the photo: the strand
    /// ends on something as dark as itself (or could not be read).
    Dark,
}

/// The 80 %→30 % fall of centre occlusion across one end of a strand. Inside the
/// strand the traced centreline is followed; past the end its last direction is
/// extrapolated. Samples are smoothed over three neighbours.
fn end_transition(
    plane: &ContrastPlane,
    centerline: &[[f64; 2]],
    centre_occ: &[f64],
    middle_level: f64,
    reach: f64,
    tail: bool,
) -> EndProfile {
    let n = centerline.len();
    if n < 3 || middle_level.abs() < 1e-9 {
        return EndProfile::Dark;
    }
    let idx = |k: usize| if tail { n - 1 - k } else { k };
    let end = centerline[idx(0)];
    let back = centerline[idx(4.min(n - 1))];
    let out = {
        let v = [end[0] - back[0], end[1] - back[1]];
        let len = (v[0] * v[0] + v[1] * v[1]).sqrt();
        if len < 1e-9 {
            return EndProfile::Falls {
                length_px: 0.0,
                whole: false,
                at: end,
            };
        }
        [v[0] / len, v[1] / len]
    };
    let nrm = [-out[1], out[0]];
    // Axial sequence from deep inside (half the strand, at most 60 px) out past the end.
    let inside = (n / 2).min(60);
    let mut seq: Vec<f64> = (0..inside).rev().map(|k| centre_occ[idx(k)]).collect();
    let zero = seq.len() - 1;
    let beyond = |k: usize| [end[0] + k as f64 * out[0], end[1] + k as f64 * out[1]];
    seq.extend((1..=END_REACH_OUT_PX).map(|k| occlusion_at(plane, beyond(k), nrm, 0.0, reach)));
    let smooth: Vec<f64> = (0..seq.len())
        .map(|i| {
            let lo = i.saturating_sub(1);
            let hi = (i + 1).min(seq.len() - 1);
            seq[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64 / middle_level
        })
        .collect();
    // From the end inward, the first sample back at ≥ 80 %; from there outward,
    // the first at ≤ 30 %.
    let x80 = (0..=zero).rev().find(|&i| smooth[i] >= 0.8).unwrap_or(0);
    let (w, h) = plane.dims();
    let (w, h) = (w as f64, h as f64);
    let in_photo = |q: [f64; 2]| q[0] >= 1.0 && q[1] >= 1.0 && q[0] <= w - 1.0 && q[1] <= h - 1.0;
    let Some(x30) = (x80..smooth.len()).find(|&i| smooth[i] <= 0.3) else {
        return if (1..=END_REACH_OUT_PX).any(|k| !in_photo(beyond(k))) {
            EndProfile::DarkToEdge
        } else {
            EndProfile::Dark
        };
    };
    let read_in_photo = |q: [f64; 2]| {
        in_photo(q)
            && in_photo([q[0] + reach * nrm[0], q[1] + reach * nrm[1]])
            && in_photo([q[0] - reach * nrm[0], q[1] - reach * nrm[1]])
    };
    // The strand's own end must lie inside too: a trace that runs on to the
    // photo's edge leaves the field there, whatever its contrast on the way.
    let whole = read_in_photo(end)
        && if x30 > zero {
            (1..=x30 - zero).all(|k| read_in_photo(beyond(k)))
        } else {
            read_in_photo(centerline[idx(zero - x30)])
        };
    EndProfile::Falls {
        length_px: (x30 - x80) as f64,
        whole,
        at: if x30 > zero { beyond(x30 - zero) } else { end },
    }
}

impl Measured {
    /// Fits the median profile with the blur free: the diameter, amplitude, blur
    /// and residual. Until then (or where the fit fails) the strand has no
    /// diameter, its amplitude is its middle occlusion and its residual infinite.
    /// Fitting twice changes nothing.
    pub fn fit_free(&mut self) {
        if self.free_fitted {
            return;
        }
        self.free_fitted = true;
        if let Some(f) = fit_profile(&self.profile, None) {
            self.diameter_px = Some(2.0 * f.radius_px);
            self.amplitude = f.amplitude;
            self.free_sigma_px = Some(f.sigma_px);
            self.fit_residual = f.residual;
        }
    }

    /// Refits the diameter with the photo's blur held at `sigma_px`; where that
    /// fit fails, the free fit's diameter stands ([`Measured::fit_free`], run
    /// here if it was not yet).
    pub fn refit_with_blur(&mut self, sigma_px: f64) {
        if let Some(f) = fit_profile(&self.profile, Some(sigma_px)) {
            self.diameter_px = Some(2.0 * f.radius_px);
            self.amplitude = f.amplitude;
        } else {
            self.fit_free();
        }
    }
}

/// Result of a profile fit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProfileFit {
    pub radius_px: f64,
    pub sigma_px: f64,
    pub amplitude: f64,
    /// RMS residual ÷ |amplitude|.
    pub residual: f64,
}

/// Smallest blur (Gaussian σ, px) the profile fit considers: below a fifth of a
/// pixel the sampling, not the optics, shapes the profile.
pub(crate) const MIN_FIT_BLUR_PX: f64 = 0.2;

/// Smallest optical depth through the axis (`q`) the fit considers: below it
/// the section's occlusion differs from the chord's by at most `q/8` of its
/// peak (`S_q ≈ chord·(1 + q(1 − chord)/2)`), 0.6 %, and a descent that
/// wanders into that flat region stalls there.
const MIN_FIT_OPACITY: f64 = 0.05;

/// Largest optical depth the fit considers: 60 absorbs all but e⁻⁶⁰ on the
/// axis, an opaque box for any shaft.
const MAX_FIT_OPACITY: f64 = 60.0;

/// Number of quadrature nodes across the shaft in the model.
const SHAPE_NODES: usize = 24;

/// Through-thickness occlusion of the shaft at quadrature node `k`: the chord
/// of the circular section there, seen through an absorber of optical depth `q`
/// (Beer–Lambert), normalised to 1 on the axis; `q → 0` is a transparent shaft
/// whose occlusion follows the chord itself. Returns `(position, weight)`.
fn shape_node(k: usize, r: f64, q: f64, norm_q: f64) -> (f64, f64) {
    let h = 2.0 * r / SHAPE_NODES as f64;
    let x = -r + (k as f64 + 0.5) * h;
    let chord = (1.0 - (x / r).powi(2)).max(0.0).sqrt();
    let s = if q > 1e-6 {
        (1.0 - (-q * chord).exp()) / norm_q
    } else {
        chord
    };
    (x, s)
}

/// The blurred, unit-amplitude cylinder model at offsets `ds`: the section's
/// occlusion (`SHAPE_NODES` midpoint nodes across the diameter `2r`, centred at
/// `c`) convolved with a Gaussian of `sigma`. Evaluates one `exp` per node and
/// offset; [`model_on_grid`] is the fast form used by the fit.
fn model(ds: &[f64], c: f64, r: f64, sigma: f64, q: f64, out: &mut Vec<f64>) {
    out.clear();
    out.resize(ds.len(), 0.0);
    let norm_q = if q > 1e-6 { 1.0 - (-q).exp() } else { q };
    let h = 2.0 * r / SHAPE_NODES as f64;
    let inv = 1.0 / (2.0 * sigma * sigma);
    let gnorm = h / (sigma * (2.0 * std::f64::consts::PI).sqrt());
    for k in 0..SHAPE_NODES {
        let (x, s) = shape_node(k, r, q, norm_q);
        let xc = x + c;
        for (o, &d) in out.iter_mut().zip(ds) {
            let u = d - xc;
            *o += s * gnorm * (-(u * u) * inv).exp();
        }
    }
}

/// Offsets that lie on a uniform grid `start + i·step`, `i < len`; `index[j]` is
/// the grid index of the `j`-th offset.
struct Grid {
    start: f64,
    step: f64,
    len: usize,
    index: Vec<usize>,
}

impl Grid {
    /// The grid of `ds` (increasing), if every offset sits on one.
    fn of(ds: &[f64]) -> Option<Grid> {
        let step = ds.windows(2).map(|w| w[1] - w[0]).min_by(f64::total_cmp)?;
        if step.is_nan() || step <= 0.0 {
            return None;
        }
        let start = ds[0];
        let mut index = Vec::with_capacity(ds.len());
        for &d in ds {
            let i = ((d - start) / step).round();
            if (start + i * step - d).abs() > 1e-9 * step.max(d.abs()) {
                return None;
            }
            index.push(i as usize);
        }
        let len = index.last().map_or(0, |&i| i + 1);
        Some(Grid {
            start,
            step,
            len,
            index,
        })
    }
}

/// [`model`] on every point of `grid` (`out` gets `grid.len` values). Along a
/// uniform grid, successive values of one node's Gaussian differ by a ratio that
/// itself changes by the constant factor `exp(−step²/σ²)`, so each node costs
/// three `exp` and two products per point. The walk starts at the grid point
/// nearest the node and goes outwards both ways, so the values only fall and
/// underflow to 0 only where the exact ones are below 1e-300 of the peak; it
/// stops where they are below 1e-17 of it (terms under the precision of the sum).
fn model_on_grid(grid: &Grid, c: f64, r: f64, sigma: f64, q: f64, out: &mut Vec<f64>) {
    const NEGLIGIBLE: f64 = 1e-17;
    out.clear();
    out.resize(grid.len, 0.0);
    if grid.len == 0 {
        return;
    }
    let norm_q = if q > 1e-6 { 1.0 - (-q).exp() } else { q };
    let h = 2.0 * r / SHAPE_NODES as f64;
    let a = 1.0 / (2.0 * sigma * sigma);
    let gnorm = h / (sigma * (2.0 * std::f64::consts::PI).sqrt());
    let step = grid.step;
    let decay = (-2.0 * a * step * step).exp();
    let last = grid.len - 1;
    for k in 0..SHAPE_NODES {
        let (x, s) = shape_node(k, r, q, norm_q);
        let xc = x + c;
        let weight = s * gnorm;
        let i0 = ((xc - grid.start) / step).round().clamp(0.0, last as f64) as usize;
        let u0 = grid.start + i0 as f64 * step - xc;
        let g0 = (-a * u0 * u0).exp();
        // Upwards: g(i+1) = g(i)·ρ(i), ρ(i) = exp(−a(2u(i)·step + step²)).
        let (mut g, mut rho) = (g0, (-a * (2.0 * u0 * step + step * step)).exp());
        for o in &mut out[i0..] {
            *o += weight * g;
            g *= rho;
            rho *= decay;
            if g < NEGLIGIBLE {
                break;
            }
        }
        // Downwards: g(i−1) = g(i)·ρ'(i), ρ'(i) = exp(−a(step² − 2u(i)·step)).
        let (mut g, mut rho) = (g0, (-a * (step * step - 2.0 * u0 * step)).exp());
        for o in out[..i0].iter_mut().rev() {
            g *= rho;
            rho *= decay;
            if g < NEGLIGIBLE {
                break;
            }
            *o += weight * g;
        }
    }
}

/// Fits the blurred-cylinder model to `(offset, occlusion)` samples. With
/// `fixed_sigma`, the blur is held; otherwise it is fitted too.
///
/// The model's width, blur and opacity trade off against each other along a
/// shallow valley with more than one minimum, and which one the descent reaches
/// depends on the side it starts from. So the profile is fitted as given and mirrored (`d → −d`: the
/// same section seen from the other side, as in a photo turned by 180°), and the
/// closer fit is kept; a section then measures the same from either side.
pub(crate) fn fit_profile(profile: &[(f64, f64)], fixed_sigma: Option<f64>) -> Option<ProfileFit> {
    let mirrored: Vec<(f64, f64)> = profile.iter().rev().map(|&(d, v)| (-d, v)).collect();
    let fits = [
        fit_one_side(profile, fixed_sigma),
        fit_one_side(&mirrored, fixed_sigma),
    ];
    match fits {
        [Some((a, sa)), Some((b, sb))] => {
            Some(if sb < sa || (sb == sa && b.radius_px < a.radius_px) {
                b
            } else {
                a
            })
        }
        [a, b] => a.or(b).map(|(f, _)| f),
    }
}

/// [`fit_profile`] from one side: the fit and its sum of squared residuals.
fn fit_one_side(profile: &[(f64, f64)], fixed_sigma: Option<f64>) -> Option<(ProfileFit, f64)> {
    if profile.len() < 5 {
        return None;
    }
    let ds: Vec<f64> = profile.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = profile.iter().map(|p| p.1).collect();
    let peak = ys
        .iter()
        .copied()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap_or(0.0);
    if peak.abs() < 1e-6 {
        return None;
    }
    // The bounds below need the profile to reach past the smallest radius
    // the start may take (0.3 px) on its far side; the profiles `measure`
    // makes always own at least ±0.5 px.
    let reach = ds[ds.len() - 1];
    if reach.is_nan() || reach < 0.3 {
        return None;
    }
    let step = ds[1] - ds[0];
    let area: f64 = ys.iter().sum::<f64>() * step;
    let r0 = (0.5 * area / peak).clamp(0.3, reach);
    let grid = Grid::of(&ds);
    let mut dense = Vec::new();
    let mut buf = Vec::with_capacity(ds.len());
    let lo = [
        -2.0,
        0.05_f64.ln(),
        MIN_FIT_OPACITY.ln(),
        MIN_FIT_BLUR_PX.ln(),
    ];
    let hi = [2.0, reach.ln(), MAX_FIT_OPACITY.ln(), reach.ln()];
    // Parameters: [c, ln r, ln q, ln σ] within `lo..=hi`; A solved in closed
    // form (variable projection). Fills `res` with the residuals and returns
    // (SSE, A), or None where the blur is out of range or the model vanishes.
    let mut eval = |p: &[f64], res: &mut Vec<f64>| -> Option<(f64, f64)> {
        let c = p[0];
        let r = p[1].exp();
        let q = p[2].exp();
        let sigma = fixed_sigma.unwrap_or_else(|| p[3].exp());
        if !(MIN_FIT_BLUR_PX..=reach).contains(&sigma) {
            return None;
        }
        match &grid {
            Some(g) => {
                model_on_grid(g, c, r, sigma, q, &mut dense);
                buf.clear();
                buf.extend(g.index.iter().map(|&i| dense[i]));
            }
            None => model(&ds, c, r, sigma, q, &mut buf),
        }
        let mm: f64 = buf.iter().map(|m| m * m).sum();
        if mm.is_nan() || mm <= 0.0 {
            return None;
        }
        let my: f64 = buf.iter().zip(&ys).map(|(m, y)| m * y).sum();
        let a = my / mm;
        res.clear();
        res.extend(buf.iter().zip(&ys).map(|(m, y)| y - a * m));
        let sse: f64 = res.iter().map(|e| e * e).sum();
        sse.is_finite().then_some((sse, a))
    };
    let dims = if fixed_sigma.is_some() { 3 } else { 4 };
    let start = [0.0, r0.ln(), 1.0_f64.ln(), 1.0_f64.ln()];
    let best = levenberg_marquardt(
        |p, res| eval(p, res).map(|(sse, _)| sse),
        &start[..dims],
        &lo[..dims],
        &hi[..dims],
    )?;
    let mut res = Vec::new();
    let (sse, a) = eval(&best, &mut res)?;
    let rms = (sse / ys.len() as f64).sqrt();
    let fit = ProfileFit {
        radius_px: best[1].exp(),
        sigma_px: fixed_sigma.unwrap_or_else(|| best[3].exp()),
        amplitude: a,
        residual: rms / a.abs().max(1e-9),
    };
    Some((fit, sse))
}

/// Step at which [`levenberg_marquardt`] stops: every parameter moved less
/// than this (px, or the log of a px length: 1e-6 is 0.0001 % of a width, far
/// below what the photo holds).
const LM_STEP_TOLERANCE: f64 = 1e-6;

/// Most Jacobians [`levenberg_marquardt`] computes.
const LM_MAX_ITERATIONS: usize = 60;

/// Minimises the sum of squares of the residuals `resid` fills (returning
/// their sum of squares, or `None` where the model is undefined) over the box
/// `lo..=hi`, from `start`, by Levenberg–Marquardt with Marquardt's diagonal
/// scaling and Nielsen's update of the damping. The Jacobian is taken by
/// forward differences; a parameter at a bound that the gradient pushes
/// outwards is held there for the step, and the step is projected onto the
/// box. Stops when a step moves no parameter by more than
/// [`LM_STEP_TOLERANCE`], when no damping lowers the cost, or after
/// [`LM_MAX_ITERATIONS`]. Returns `None` when the start is undefined.
///
/// Reference: K. Madsen, H. B. Nielsen, O. Tingleff, "Methods for non-linear
/// least squares problems", IMM, DTU, 2004 (§3.2).
fn levenberg_marquardt(
    mut resid: impl FnMut(&[f64], &mut Vec<f64>) -> Option<f64>,
    start: &[f64],
    lo: &[f64],
    hi: &[f64],
) -> Option<Vec<f64>> {
    const H: f64 = 1e-7;
    let k = start.len();
    let clamp = |p: &mut [f64]| {
        for ((v, l), h) in p.iter_mut().zip(lo).zip(hi) {
            *v = v.clamp(*l, *h);
        }
    };
    let mut p = start.to_vec();
    clamp(&mut p);
    let mut e = Vec::new();
    let mut cost = resid(&p, &mut e)?;
    let n = e.len();
    let mut jac = vec![0.0; n * k];
    let mut trial = Vec::new();
    let mut lambda = 1e-3;
    let mut nu = 2.0;
    for _ in 0..LM_MAX_ITERATIONS {
        // Jacobian of the residuals, column by column, stepping inwards at a bound.
        let mut q = p.clone();
        for j in 0..k {
            let h = if p[j] + H <= hi[j] { H } else { -H };
            q[j] = p[j] + h;
            if resid(&q, &mut trial).is_none() || trial.len() != n {
                return Some(p);
            }
            for i in 0..n {
                jac[i * k + j] = (trial[i] - e[i]) / h;
            }
            q[j] = p[j];
        }
        let mut a = vec![0.0; k * k];
        let mut g = vec![0.0; k];
        for i in 0..n {
            let row = &jac[i * k..(i + 1) * k];
            for r in 0..k {
                g[r] += row[r] * e[i];
                for c in 0..k {
                    a[r * k + c] += row[r] * row[c];
                }
            }
        }
        let diag_max = (0..k).map(|j| a[j * k + j]).fold(0.0f64, f64::max);
        if diag_max <= 0.0 {
            return Some(p);
        }
        let scale: Vec<f64> = (0..k).map(|j| a[j * k + j].max(1e-12 * diag_max)).collect();
        // Parameters held at a bound by the descent direction stay there.
        let free: Vec<usize> = (0..k)
            .filter(|&j| !((p[j] <= lo[j] && g[j] > 0.0) || (p[j] >= hi[j] && g[j] < 0.0)))
            .collect();
        let kf = free.len();
        if kf == 0 {
            return Some(p);
        }
        // Damped steps until one lowers the cost.
        loop {
            let mut m = vec![0.0; kf * kf];
            for (r, &jr) in free.iter().enumerate() {
                for (c, &jc) in free.iter().enumerate() {
                    m[r * kf + c] = a[jr * k + jc];
                }
                m[r * kf + r] += lambda * scale[jr];
            }
            let rhs: Vec<f64> = free.iter().map(|&j| -g[j]).collect();
            let Some(delta_free) = solve_spd(&m, &rhs, kf) else {
                lambda *= nu;
                nu *= 2.0;
                if lambda > 1e20 {
                    return Some(p);
                }
                continue;
            };
            let mut delta = vec![0.0; k];
            for (&j, d) in free.iter().zip(&delta_free) {
                delta[j] = *d;
            }
            let mut next: Vec<f64> = p.iter().zip(&delta).map(|(v, d)| v + d).collect();
            clamp(&mut next);
            let step = next
                .iter()
                .zip(&p)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f64, f64::max);
            if step <= LM_STEP_TOLERANCE {
                return Some(p);
            }
            match resid(&next, &mut trial) {
                Some(c) if c < cost && trial.len() == n => {
                    // Gain ratio: actual over predicted decrease of ½·SSE.
                    let d: Vec<f64> = next.iter().zip(&p).map(|(a, b)| a - b).collect();
                    let predicted: f64 = (0..k)
                        .map(|j| 0.5 * d[j] * (lambda * scale[j] * d[j] - g[j]))
                        .sum();
                    let rho = if predicted > 0.0 {
                        0.5 * (cost - c) / predicted
                    } else {
                        1.0
                    };
                    lambda *= (1.0 - (2.0 * rho - 1.0).powi(3)).max(1.0 / 3.0);
                    nu = 2.0;
                    p = next;
                    std::mem::swap(&mut e, &mut trial);
                    cost = c;
                    break;
                }
                _ => {
                    lambda *= nu;
                    nu *= 2.0;
                    if lambda > 1e20 {
                        return Some(p);
                    }
                }
            }
        }
    }
    Some(p)
}

/// Solves `m·x = b` for a symmetric positive definite `k`×`k` matrix `m` by
/// Cholesky factorisation; `None` where `m` is not positive definite.
fn solve_spd(m: &[f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = m[i * k + j] - (0..j).map(|t| l[i * k + t] * l[j * k + t]).sum::<f64>();
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    let mut y = vec![0.0; k];
    for i in 0..k {
        y[i] = (b[i] - (0..i).map(|t| l[i * k + t] * y[t]).sum::<f64>()) / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        x[i] = (y[i] - (i + 1..k).map(|t| l[t * k + i] * x[t]).sum::<f64>()) / l[i * k + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::LinearRgb;

    fn synthetic_profile(r: f64, sigma: f64, q: f64, a: f64) -> Vec<(f64, f64)> {
        let ds: Vec<f64> = (-24..=24).map(|j| j as f64 * 0.5).collect();
        let mut m = Vec::new();
        // Model on a much finer quadrature than the fit uses.
        model(&ds, 0.2, r, sigma, q, &mut m);
        ds.into_iter().zip(m).map(|(d, v)| (d, a * v)).collect()
    }

    #[test]
    fn recovers_width_of_opaque_and_faint_shafts_at_known_blur() {
        for (r, q) in [(1.2, 0.3), (1.2, 8.0), (3.0, 2.0), (6.0, 20.0)] {
            let p = synthetic_profile(r, 1.1, q, 0.7);
            let fit = fit_profile(&p, Some(1.1)).unwrap();
            assert!(
                (fit.radius_px - r).abs() < 0.03 * r,
                "r={r} q={q} got {}",
                fit.radius_px
            );
        }
    }

    #[test]
    fn the_grid_model_matches_the_direct_one() {
        let ds: Vec<f64> = (-30..=30).map(|j| j as f64 * 0.5).collect();
        let grid = Grid::of(&ds).unwrap();
        assert_eq!((grid.len, grid.index[60]), (61, 60));
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        // Narrow and wide shafts, sharp and blurred, a node centre off the grid.
        for (c, r, sigma, q) in [
            (0.2, 1.2, 1.1, 0.3),
            (-1.7, 6.0, 0.25, 20.0),
            (1.9, 14.0, 3.0, 1e-7),
            (40.0, 2.0, 1.0, 2.0),
        ] {
            model_on_grid(&grid, c, r, sigma, q, &mut fast);
            model(&ds, c, r, sigma, q, &mut slow);
            let peak = slow.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (f, s) in fast.iter().zip(&slow) {
                assert!(
                    (f - s).abs() <= 1e-12 * peak.max(1e-3),
                    "{c} {r} {sigma} {q}: {f} {s}"
                );
            }
        }
        // Offsets with a gap still sit on the grid; irregular ones do not.
        let gappy = Grid::of(&[-1.0, -0.5, 0.5, 1.0]).unwrap();
        assert_eq!(gappy.index, vec![0, 1, 3, 4]);
        assert!(Grid::of(&[0.0, 0.5, 0.8]).is_none());
    }

    #[test]
    fn levenberg_marquardt_solves_a_curved_valley_and_respects_its_box() {
        // Rosenbrock's valley as least squares: minimum 0 at (1, 1).
        let rosen = |p: &[f64], res: &mut Vec<f64>| -> Option<f64> {
            res.clear();
            res.extend([10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0]]);
            Some(res.iter().map(|e| e * e).sum())
        };
        let free = levenberg_marquardt(rosen, &[-1.2, 1.0], &[-5.0, -5.0], &[5.0, 5.0]).unwrap();
        assert!(
            (free[0] - 1.0).abs() < 1e-4 && (free[1] - 1.0).abs() < 1e-4,
            "{free:?}"
        );
        // With x ≤ 0.5 the minimum lies on the bound, at (0.5, 0.25).
        let boxed = levenberg_marquardt(rosen, &[-1.2, 1.0], &[-5.0, -5.0], &[0.5, 5.0]).unwrap();
        assert!(
            (boxed[0] - 0.5).abs() < 1e-9 && (boxed[1] - 0.25).abs() < 1e-4,
            "{boxed:?}"
        );
        // An undefined start gives no fit.
        assert!(levenberg_marquardt(|_, _| None, &[0.0], &[-1.0], &[1.0]).is_none());
    }

    #[test]
    fn solve_spd_inverts_a_positive_definite_matrix_and_refuses_an_indefinite_one() {
        let m = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let x = solve_spd(&m, &[1.0, 2.0, 3.0], 3).unwrap();
        for r in 0..3 {
            let b: f64 = (0..3).map(|c| m[r * 3 + c] * x[c]).sum();
            assert!((b - [1.0, 2.0, 3.0][r]).abs() < 1e-12);
        }
        assert!(solve_spd(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2).is_none());
    }

    #[test]
    fn a_profile_that_stops_at_the_centre_gives_no_fit_and_no_panic() {
        // Only the near side of a shaft: offsets −5 … 0 px.
        let p: Vec<(f64, f64)> = synthetic_profile(2.0, 1.0, 2.0, 0.5)
            .into_iter()
            .filter(|&(d, _)| (-5.0..=0.0).contains(&d))
            .collect();
        assert!(p.len() >= 5);
        assert!(fit_one_side(&p, Some(1.0)).is_none());
        assert!(fit_one_side(&p, None).is_none());
        // Mirrored, the same samples run from the centre outwards and fit
        // (fit_profile tries both sides).
        let fit = fit_profile(&p, Some(1.0)).unwrap();
        assert!(fit.radius_px > 0.05 && fit.radius_px <= 5.0, "{fit:?}");
    }

    #[test]
    fn free_fit_recovers_blur_of_a_wide_shaft() {
        let p = synthetic_profile(5.0, 1.3, 10.0, -0.4);
        let fit = fit_profile(&p, None).unwrap();
        assert!((fit.sigma_px - 1.3).abs() < 0.1, "{}", fit.sigma_px);
        assert!(fit.amplitude < 0.0);
    }

    #[test]
    fn resample_spacing_is_one_pixel() {
        let pts = vec![[0.0, 0.0], [10.0, 0.0], [10.0, 5.0]];
        let r = resample(&pts, 1.0, 0);
        assert_eq!(r.len(), 16);
        assert!((arc_length(&r) - 15.0).abs() < 1e-9);
    }

    /// Measures a strand traced through `points` (detection scale 2 px) on a grey
    /// `w`×`h` photo of skin 0.5 whose occlusion at each pixel centre is
    /// `depth(x, y)`.
    fn measure_on(
        (w, h): (usize, usize),
        depth: impl Fn(f64, f64) -> f64,
        points: impl Iterator<Item = [f64; 2]>,
    ) -> Measured {
        use crate::filter::Plane;
        use crate::trace::{Strand, StrandPoint};
        let mut mean = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let d = depth(x as f64 + 0.5, y as f64 + 0.5);
                mean.data[y * w + x] = (0.5 * (1.0 - d)) as f32;
            }
        }
        let prep = Prepared {
            rgb: LinearRgb::Planes([mean.clone(), mean.clone(), mean.clone()]),
            mean,
        };
        let strand = Strand {
            points: points
                .map(|pos| StrandPoint {
                    pos,
                    sigma_px: 2.0,
                    snr: 20.0,
                })
                .collect(),
            polarity: 1,
        };
        measure(&prep, ContrastChannel::Mean, &strand, 10.0).unwrap()
    }

    /// Skin 0.5; a horizontal shaft at y = 20.5 from x = 20 to x = 70 occluding
    /// 80 %, fading in linearly over x ∈ [20, 40] and cut crisply at x = 70,
    /// traced over the pixels `traced` of its row.
    fn fading_shaft(traced: std::ops::RangeInclusive<usize>) -> Measured {
        measure_on(
            (100, 41),
            |x, y| {
                if (y - 20.5).abs() < 2.0 && (20.0..70.0).contains(&x) {
                    0.8 * ((x - 20.0) / 20.0).min(1.0)
                } else {
                    0.0
                }
            },
            traced.map(|x| [x as f64 + 0.5, 20.5]),
        )
    }

    #[test]
    fn end_transition_tells_a_fade_from_a_crisp_tip() {
        let m = fading_shaft(22..=69);
        // 80 % → 30 % of a 20-px linear ramp spans 12.5 px; the crisp end spans the
        // smoothing only.
        let [head, tail] = m.end_transition_px;
        assert!((9.0..=15.0).contains(&head), "fade {head}");
        assert!(tail <= 3.0, "tip {tail}");
    }

    #[test]
    fn the_fall_is_found_past_a_trace_that_stopped_short_in_the_dark() {
        // The fading shaft traced only from x = 50 to 69: left of its trace it
        // runs on dark to x = 40 and fades to the skin at x = 20. Its contrast
        // falls to 30 % of the middle's where the ramp reads 0.24, at x ≈ 26
        // (the sample's pixel centre, ±1 px of smoothing); the crisp tip's fall
        // is at the trace's end.
        let m = fading_shaft(50..=69);
        let [head, tail] = m.end_fall_at;
        assert!((24.0..=29.0).contains(&head[0]), "head falls at {head:?}");
        assert!((head[1] - 20.5).abs() < 0.5, "{head:?}");
        let end = m.centerline[m.centerline.len() - 1];
        assert!(
            (tail[0] - end[0]).abs() <= 2.0,
            "tail falls at {tail:?}, ends at {end:?}"
        );
    }

    #[test]
    fn a_fade_is_seen_whole_only_inside_the_photo() {
        // Skin 0.5; a vertical shaft at x = 20.5 occluding 80 %, fading in over
        // the 20 px below its emergence at y = `emerges` and running off the
        // bottom edge; traced from y = `from` (where the contrast still reads).
        let shaft = |emerges: f64, from: usize| {
            measure_on(
                (41, 80),
                |x, y| {
                    if (x - 20.5).abs() < 2.0 && y >= emerges {
                        0.8 * ((y - emerges) / 20.0).min(1.0)
                    } else {
                        0.0
                    }
                },
                (from..80).map(|y| [20.5, y as f64 + 0.5]),
            )
        };
        // Emerging 3 px inside the top edge: the fade past the end, and its
        // flanks (≤ 10 px to either side), lie in the photo.
        let m = shaft(3.0, 14);
        assert!(
            m.end_transition_px[0] >= 5.0,
            "fade {:?}",
            m.end_transition_px
        );
        assert!(m.end_fade_in_photo[0]);
        // The shaft leaving the photo keeps its contrast up to the edge and past it.
        assert!(m.end_transition_px[1].is_infinite());
        assert!(!m.end_fade_in_photo[1]);
        // Emerging 8 px outside the top edge: the contrast at the edge is still
        // 40 % of the shaft's, so its fall is not seen whole.
        let m = shaft(-8.0, 0);
        assert!(!m.end_fade_in_photo[0], "{:?}", m.end_transition_px);
    }

    #[test]
    fn a_trace_stopping_short_of_the_edge_on_a_dark_shaft_leaves_the_field() {
        // Skin 0.5; a vertical shaft at x = 20.5 occluding 80 % from y = 10 down to
        // y = `to`, in a photo `h` px high; traced over y ∈ [12, 65), so its tail
        // ends 34.5 px short of the bottom edge of a 100-px photo.
        let shaft = |to: f64, h: usize| {
            measure_on(
                (41, h),
                |x, y| {
                    if (x - 20.5).abs() < 2.0 && (10.0..to).contains(&y) {
                        0.8
                    } else {
                        0.0
                    }
                },
                (12..65).map(|y| [20.5, y as f64 + 0.5]),
            )
        };
        // The contrast runs on past the trace's end to the edge.
        let m = shaft(100.0, 100);
        assert!(m.end_dark_to_edge[1]);
        assert!(m.end_transition_px[1].is_infinite());
        // The head ends crisply in the skin (2 px of shaft past the trace, and the
        // smoothing).
        assert!(!m.end_dark_to_edge[0]);
        assert!(m.end_transition_px[0] <= 5.0, "{:?}", m.end_transition_px);
        // The shaft ends in the skin 10 px past its trace, 25 px short of the edge.
        let m = shaft(75.0, 100);
        assert!(!m.end_dark_to_edge[1]);
        assert!(
            m.end_transition_px[1].is_finite(),
            "{:?}",
            m.end_transition_px
        );
        // Dark on past the axial reach, yet short of the edge (75 px on): the
        // strand ends on something as dark as itself, inside the field.
        let m = shaft(140.0, 140);
        assert!(!m.end_dark_to_edge[1]);
        assert!(m.end_transition_px[1].is_infinite());
    }

    /// A blurred horizontal opaque bar image: skin 0.5, bars `(centre_y, width)`.
    fn bars_image(bars: &[(f64, f64)], w: usize, h: usize) -> Prepared<'static> {
        use crate::filter::Plane;
        let mut mean = Plane::new(w, h);
        for y in 0..h {
            let yc = y as f64 + 0.5;
            // Box bars blurred by σ = 1 px (closed form with erf via a fine sum).
            let mut occ: f64 = 0.0;
            for &(c, width) in bars {
                let mut acc = 0.0;
                let n = 200;
                for k in 0..n {
                    let x = c - width / 2.0 + (k as f64 + 0.5) * width / n as f64;
                    acc += (-(yc - x).powi(2) / 2.0).exp();
                }
                occ += 0.9 * acc * (width / n as f64) / (2.0 * std::f64::consts::PI).sqrt();
            }
            for x in 0..w {
                mean.data[y * w + x] = (0.5 * (1.0 - occ.min(1.0))) as f32;
            }
        }
        Prepared {
            rgb: LinearRgb::Planes([mean.clone(), mean.clone(), mean.clone()]),
            mean,
        }
    }

    fn bar_strand(y: f64, sigma_px: f64) -> Strand {
        Strand {
            points: (10..=90)
                .map(|x| StrandPoint {
                    pos: [x as f64 + 0.5, y],
                    sigma_px,
                    snr: 20.0,
                })
                .collect(),
            polarity: 1,
        }
    }

    use crate::trace::{Strand, StrandPoint};

    #[test]
    fn a_shaft_running_alongside_does_not_widen_the_measured_one() {
        // A 10-px shaft alone, and with a 12-px shaft 4 px of skin away: the
        // second lies inside the first one's profile reach.
        let alone = bars_image(&[(40.0, 10.0)], 100, 80);
        let pair = bars_image(&[(40.0, 10.0), (56.0, 12.0)], 100, 80);
        let strand = bar_strand(40.0, 3.5);
        let mut a = measure(&alone, ContrastChannel::Mean, &strand, 5.0).unwrap();
        let mut b = measure(&pair, ContrastChannel::Mean, &strand, 5.0).unwrap();
        a.refit_with_blur(1.0);
        b.refit_with_blur(1.0);
        let (da, db) = (a.diameter_px.unwrap(), b.diameter_px.unwrap());
        assert!((da - 10.0).abs() < 0.5, "alone {da}");
        assert!((db - da).abs() < 0.6, "alone {da}, beside another {db}");
    }

    #[test]
    fn station_width_reads_a_shaft_and_two_touching_shafts_as_one_run() {
        // A 10-px shaft alone, then with an 8-px shaft touching it (one dark run
        // from y = 35 to 53): the half-contrast width is the run's, with no
        // neighbour cut, along the whole strand. Each side's edge is the last
        // 0.5-px sample above half contrast, so the width reads up to 1 px short.
        // The detection scale is the merged run's, so its reach covers the run.
        let strand = bar_strand(40.0, 4.5);
        for (bars, run) in [
            (&[(40.0, 10.0)][..], 10.0),
            (&[(40.0, 10.0), (49.0, 8.0)][..], 18.0),
        ] {
            let m = measure(
                &bars_image(bars, 100, 80),
                ContrastChannel::Mean,
                &strand,
                5.0,
            )
            .unwrap();
            let mut w = m.station_width_px.clone();
            let mid = crate::stats::median(&mut w).unwrap();
            assert!(
                (run - 1.25..=run + 0.25).contains(&mid),
                "run {run} px read as {mid} px"
            );
        }
    }

    #[test]
    fn the_neighbour_cut_ignores_noise_on_a_flat_opaque_core() {
        // A wide opaque shaft with a ripple across its flat core must keep its
        // whole profile (the rise is far below MIN_RISE of the contrast).
        use crate::filter::Plane;
        let (w, h) = (60, 60);
        let mut plane = Plane::new(w, h);
        for y in 0..h {
            let d = (y as f64 + 0.5 - 30.0).abs();
            let ripple = 0.01 * (y as f64 * 1.7).sin();
            let v = if d < 8.0 { 0.05 + ripple } else { 0.5 };
            for x in 0..w {
                plane.data[y * w + x] = v as f32;
            }
        }
        let sec = section(&plane, [30.5, 30.0], [0.0, 1.0], 20.0, true);
        assert_eq!(sec.limit, [20.0, 20.0]);
        assert!((sec.skin[0] - 0.5).abs() < 1e-6 && (sec.skin[1] - 0.5).abs() < 1e-6);
    }
}
