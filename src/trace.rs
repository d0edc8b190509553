//! Stage 3: line points → linked strands, crossings resolved by continuity.
//!
//! 1. *Line points* are pixels whose sub-pixel centre lies inside them, that are
//!    the strongest response across the line, and whose signal-to-noise ratio
//!    reaches the low hysteresis threshold.
//! 2. *Linking* starts from the strongest unused line point above the high
//!    threshold and walks both ways along the tangent, each step choosing among the
//!    three neighbours ahead the line point that is closest in position and
//!    direction (Steger 1998, §4). A walk stops where no neighbour qualifies, where
//!    the direction would turn by more than [`MAX_STEP_TURN_DEG`], or on a pixel that
//!    another strand already claimed. Every traced strand claims a band of pixels
//!    about its centre.
//! 3. *Bridging*: a crossing hides both shafts' centres over a stretch about one
//!    shaft wide (the Hessian there is blob-like), and a claimed band stops the later
//!    strand. Strand ends that face each other across such a gap, in line and of
//!    similar scale and the same polarity, are joined — globally, best pair first —
//!    so each hair continues along the branch that keeps its direction and width,
//!    and two crossing hairs stay two hairs.
//!
//! # References
//! * C. Steger, "An unbiased detector of curvilinear structures", IEEE PAMI 20(2), 1998.

use std::collections::HashSet;

use crate::ridge::RidgeMap;

/// Largest change of direction allowed between two linked line points (degrees).
/// Hair shafts bend gently: at ≥ 1 px steps a 30° kink is not a hair, and a lower
/// limit keeps a walk from turning into a neighbour of the same follicular unit.
pub(crate) const MAX_STEP_TURN_DEG: f64 = 30.0;

/// Half-width of the band a traced strand claims, in units of its detection scale
/// σ (a bar of width `w` is detected at σ ≈ w/2, so ½σ is a quarter of the shaft).
/// Claiming the whole shaft (1σ) stopped the tracing of a second hair running
/// alongside the first from a shared follicle opening; the across-line maximum
/// already keeps one wide shaft from yielding two strands.
const CLAIM_BAND_SIGMAS: f64 = 0.5;

/// The 8-neighbourhood, counter-clockwise from +x with y down (45° apart).
const RING: [(i64, i64); 8] = [
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
];

/// One point of a traced strand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct StrandPoint {
    /// Sub-pixel centre (px).
    pub pos: [f64; 2],
    /// Scale σ of the detection (px).
    pub sigma_px: f64,
    /// Signal-to-noise ratio.
    pub snr: f32,
}

/// A traced strand: an ordered centreline.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Strand {
    /// Centreline from one end to the other.
    pub points: Vec<StrandPoint>,
    /// +1 darker than skin, −1 brighter.
    pub polarity: i8,
}

/// Thresholds of the tracer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TraceParams {
    /// A strand must contain a line point at least this strong.
    pub snr_high: f32,
    /// Linking continues down to this strength.
    pub snr_low: f32,
}

fn angle_between(a: [f64; 2], b: [f64; 2]) -> f64 {
    let dot = (a[0] * b[0] + a[1] * b[1]).clamp(-1.0, 1.0);
    dot.acos().to_degrees()
}

fn unit(v: [f64; 2]) -> [f64; 2] {
    let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
    if n > 0.0 {
        [v[0] / n, v[1] / n]
    } else {
        [0.0, 0.0]
    }
}

/// Traces every strand of `map`.
pub(crate) fn trace(map: &RidgeMap, params: TraceParams) -> Vec<Strand> {
    let (w, h) = (map.width, map.height);
    let n = w * h;
    // Linking follows every line point; only seeds must also be the maximum across
    // the line (so a weak lobe beside a shaft never starts a strand). Requiring the
    // maximum along the walk too broke shafts wherever noise shifted it by a pixel.
    let line: Vec<bool> = (0..n)
        .map(|i| map.is_line_point(i, params.snr_low))
        .collect();
    // 0 = free; otherwise 1 + strand index that claimed it.
    let mut claimed: Vec<u32> = vec![0; n];
    let mut seeds: Vec<(f32, usize)> = (0..n)
        .filter(|&i| line[i])
        .map(|i| (map.snr(i), i))
        .filter(|&(snr, i)| snr >= params.snr_high && map.is_max_across(i))
        .collect();
    seeds.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut strands: Vec<Strand> = Vec::new();
    // The pixels of the current seed's strand (a set, not a plane: a strand has
    // hundreds of pixels, a photo millions).
    let mut visited: HashSet<usize> = HashSet::new();
    for (_, seed) in seeds {
        if claimed[seed] != 0 {
            continue;
        }
        let [nx, ny] = map.normal(seed);
        let tangent = [-f64::from(ny), f64::from(nx)];
        // Both walks of one seed share the visited set, so a closed curve (a vessel
        // loop, a ring of flake edge) is walked around once, never forever.
        visited.clear();
        visited.insert(seed);
        let forward = walk(map, &line, &claimed, &mut visited, seed, tangent);
        let backward = walk(
            map,
            &line,
            &claimed,
            &mut visited,
            seed,
            [-tangent[0], -tangent[1]],
        );
        let mut pixels: Vec<usize> = backward.into_iter().rev().collect();
        pixels.push(seed);
        pixels.extend(forward);
        let polarity = map.polarity[seed];
        let id = strands.len() as u32 + 1;
        let points: Vec<StrandPoint> = pixels
            .iter()
            .map(|&i| StrandPoint {
                pos: map.center(i),
                sigma_px: map.sigmas_px[usize::from(map.scale[i])],
                snr: map.snr(i),
            })
            .collect();
        claim_band(map, &points, id, &mut claimed);
        strands.push(Strand { points, polarity });
    }
    strands
}

/// Walks from `start` along `dir`, returning the pixels visited (without `start`).
/// Pixels already in this seed's strand are in `visited` and are not entered
/// again.
fn walk(
    map: &RidgeMap,
    line: &[bool],
    claimed: &[u32],
    visited: &mut HashSet<usize>,
    start: usize,
    dir: [f64; 2],
) -> Vec<usize> {
    let (w, h) = (map.width as i64, map.height as i64);
    let mut out = Vec::new();
    let mut cur = start;
    let mut dir = dir;
    let polarity = map.polarity[start];
    loop {
        let cx = (cur % map.width) as i64;
        let cy = (cur / map.width) as i64;
        // The neighbour straight ahead and its two neighbours on the 8-ring.
        let ang = dir[1].atan2(dir[0]);
        let octant = (ang / std::f64::consts::FRAC_PI_4).round() as i64;
        let mut best: Option<(f64, usize, [f64; 2])> = None;
        // The three neighbours ahead; then, to step over a one-pixel gap, the
        // pixels two steps ahead.
        let mut candidates: Vec<(i64, i64)> = Vec::with_capacity(8);
        for d in [-1i64, 0, 1] {
            let o = (octant + d).rem_euclid(8);
            candidates.push(RING[o as usize]);
        }
        let ahead = RING[octant.rem_euclid(8) as usize];
        let side = RING[(octant + 2).rem_euclid(8) as usize];
        let second_ring: Vec<(i64, i64)> = [-1i64, 0, 1]
            .iter()
            .map(|&k| (2 * ahead.0 + k * side.0, 2 * ahead.1 + k * side.1))
            .collect();
        for (pass, ring) in [candidates, second_ring].into_iter().enumerate() {
            if pass == 1 && best.is_some() {
                break;
            }
            for (dx, dy) in ring {
                let (qx, qy) = (cx + dx, cy + dy);
                if qx < 0 || qy < 0 || qx >= w || qy >= h {
                    continue;
                }
                let q = (qy * w + qx) as usize;
                if !line[q] || map.polarity[q] != polarity || visited.contains(&q) {
                    continue;
                }
                let [nx, ny] = map.normal(q);
                let mut t = [-f64::from(ny), f64::from(nx)];
                if t[0] * dir[0] + t[1] * dir[1] < 0.0 {
                    t = [-t[0], -t[1]];
                }
                let turn = angle_between(dir, t);
                if turn > MAX_STEP_TURN_DEG {
                    continue;
                }
                let pc = map.center(cur);
                let qc = map.center(q);
                let dist = ((qc[0] - pc[0]).powi(2) + (qc[1] - pc[1]).powi(2)).sqrt();
                let cost = dist + turn.to_radians();
                if best.is_none_or(|(c, _, _)| cost < c) {
                    best = Some((cost, q, t));
                }
            }
        }
        let Some((_, next, t)) = best else { break };
        if claimed[next] != 0 {
            break;
        }
        out.push(next);
        visited.insert(next);
        dir = t;
        cur = next;
    }
    out
}

/// Marks the pixels within `max(1, ½σ)` px of the strand's centreline as claimed by `id`.
fn claim_band(map: &RidgeMap, points: &[StrandPoint], id: u32, claimed: &mut [u32]) {
    let (w, h) = (map.width as i64, map.height as i64);
    for p in points {
        let r = (CLAIM_BAND_SIGMAS * p.sigma_px).max(1.0);
        let ri = r.ceil() as i64;
        let (px, py) = (p.pos[0], p.pos[1]);
        let (cx, cy) = (px.floor() as i64, py.floor() as i64);
        for y in (cy - ri).max(0)..=(cy + ri).min(h - 1) {
            for x in (cx - ri).max(0)..=(cx + ri).min(w - 1) {
                let dx = x as f64 + 0.5 - px;
                let dy = y as f64 + 0.5 - py;
                if dx * dx + dy * dy <= r * r {
                    let q = (y * w + x) as usize;
                    if claimed[q] == 0 {
                        claimed[q] = id;
                    }
                }
            }
        }
    }
}

/// An end of a strand, for bridging.
#[derive(Clone, Copy, Debug)]
struct End {
    strand: usize,
    /// `true` for the last point, `false` for the first.
    tail: bool,
    pos: [f64; 2],
    /// Unit direction pointing out of the strand.
    out: [f64; 2],
    sigma_px: f64,
}

/// Direction out of a strand at one end, from the chord over its last few px.
fn end_direction(points: &[StrandPoint], tail: bool) -> [f64; 2] {
    let k = points.len().min(8);
    if k < 2 {
        return [0.0, 0.0];
    }
    let (a, b) = if tail {
        (points[points.len() - k].pos, points[points.len() - 1].pos)
    } else {
        (points[k - 1].pos, points[0].pos)
    };
    unit([b[0] - a[0], b[1] - a[1]])
}

/// Joins strand ends that face each other across a short gap (crossings).
///
/// Two ends are joined when the gap is at most `gap_factor · (σ₁ + σ₂) + 3` px,
/// both ends point at each other within `max_angle_deg`, the scales differ by less
/// than a factor of two, and the polarities agree. Pairs are joined best first
/// (smallest gap plus angular misfit), each end at most once, never into a loop.
pub(crate) fn bridge(strands: Vec<Strand>, gap_factor: f64, max_angle_deg: f64) -> Vec<Strand> {
    let mut ends: Vec<End> = Vec::new();
    for (s, strand) in strands.iter().enumerate() {
        if strand.points.len() < 3 {
            continue;
        }
        for tail in [false, true] {
            let p = if tail {
                strand.points[strand.points.len() - 1]
            } else {
                strand.points[0]
            };
            let k = strand.points.len().min(8);
            let slice = if tail {
                &strand.points[strand.points.len() - k..]
            } else {
                &strand.points[..k]
            };
            let sigma = slice.iter().map(|p| p.sigma_px).sum::<f64>() / k as f64;
            ends.push(End {
                strand: s,
                tail,
                pos: p.pos,
                out: end_direction(&strand.points, tail),
                sigma_px: sigma,
            });
        }
    }
    // Ends sorted by x: a pair farther apart in x than the largest gap any two
    // ends allow is never joined, so each end is paired only with those in that
    // window (1 px wider, against rounding). Pairs keep their indices in `ends`
    // (the lower first), so the order they are joined in does not depend on the
    // sweep.
    let widest_gap = ends.iter().map(|e| e.sigma_px).fold(0.0, f64::max) * 2.0 * gap_factor + 4.0;
    let mut by_x: Vec<usize> = (0..ends.len()).collect();
    by_x.sort_by(|&a, &b| ends[a].pos[0].total_cmp(&ends[b].pos[0]).then(a.cmp(&b)));
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (n, &first) in by_x.iter().enumerate() {
        for &second in &by_x[n + 1..] {
            if ends[second].pos[0] - ends[first].pos[0] > widest_gap {
                break;
            }
            let (i, j) = (first.min(second), first.max(second));
            let (a, b) = (ends[i], ends[j]);
            if a.strand == b.strand
                || strands[a.strand].polarity != strands[b.strand].polarity
                || a.sigma_px.max(b.sigma_px) > 2.0 * a.sigma_px.min(b.sigma_px)
            {
                continue;
            }
            let d = [b.pos[0] - a.pos[0], b.pos[1] - a.pos[1]];
            let dist = (d[0] * d[0] + d[1] * d[1]).sqrt();
            let max_gap = gap_factor * (a.sigma_px + b.sigma_px) + 3.0;
            if dist > max_gap {
                continue;
            }
            let facing = angle_between(a.out, [-b.out[0], -b.out[1]]);
            let (ta, tb) = if dist > 1.0 {
                let u = unit(d);
                (
                    angle_between(a.out, u),
                    angle_between(b.out, [-u[0], -u[1]]),
                )
            } else {
                (0.0, 0.0)
            };
            if facing > max_angle_deg || ta > max_angle_deg || tb > max_angle_deg {
                continue;
            }
            let cost = dist / max_gap + (facing + ta + tb) / (3.0 * max_angle_deg);
            pairs.push((cost, i, j));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));

    // Union-find over strands to refuse loops; each end used once.
    let mut parent: Vec<usize> = (0..strands.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut end_used = vec![false; ends.len()];
    // link[strand][tail as usize] = Some((other strand, other tail))
    let mut link: Vec<[Option<(usize, bool)>; 2]> = vec![[None, None]; strands.len()];
    for (_, i, j) in pairs {
        if end_used[i] || end_used[j] {
            continue;
        }
        let (a, b) = (ends[i], ends[j]);
        let (ra, rb) = (find(&mut parent, a.strand), find(&mut parent, b.strand));
        if ra == rb {
            continue;
        }
        parent[ra] = rb;
        end_used[i] = true;
        end_used[j] = true;
        link[a.strand][usize::from(a.tail)] = Some((b.strand, b.tail));
        link[b.strand][usize::from(b.tail)] = Some((a.strand, a.tail));
    }

    // Assemble chains from their extremities (a strand with a free end). Union-find
    // refused loops, so every chain has two extremities.
    let mut done = vec![false; strands.len()];
    let mut out = Vec::new();
    for start in 0..strands.len() {
        if done[start] || (link[start][0].is_some() && link[start][1].is_some()) {
            continue;
        }
        let mut points: Vec<StrandPoint> = Vec::new();
        let polarity = strands[start].polarity;
        let mut cur = start;
        // Traverse head → tail when the head is the free end.
        let mut forward = link[start][0].is_none();
        loop {
            done[cur] = true;
            let pts = &strands[cur].points;
            if forward {
                points.extend(pts.iter().copied());
            } else {
                points.extend(pts.iter().rev().copied());
            }
            match link[cur][usize::from(forward)] {
                Some((o, entered_tail)) if !done[o] => {
                    cur = o;
                    forward = !entered_tail;
                }
                _ => break,
            }
        }
        out.push(Strand { points, polarity });
    }
    out
}

/// The direction (unit) from `a` to `b`, or `None` where they coincide.
fn heading(a: [f64; 2], b: [f64; 2]) -> Option<[f64; 2]> {
    let v = [b[0] - a[0], b[1] - a[1]];
    let l = v[0].hypot(v[1]);
    (l > 1e-9).then(|| [v[0] / l, v[1] / l])
}

/// Arc length on either side of a point over which a trace's turn there is
/// read, in detection scales σ (about 1.5 shaft widths).
const CORNER_REACH_SIGMAS: f64 = 3.0;

/// Largest turn (degrees) of a hair between the chords
/// [`CORNER_REACH_SIGMAS`] before and after a point. A hair bent that much
/// over about three widths would have a bend radius under two widths; scalp
/// hair, even tightly curled, bends far less.
const MAX_CORNER_DEG: f64 = 45.0;

/// Least ratio of chord to arc of each piece a corner splits a trace into: two
/// shafts meeting at an angle are each straight, while a vessel or the rim of
/// a flake meanders, and its pieces would pass as shafts.
const CORNER_PIECE_STRAIGHTNESS: f64 = 0.9;

/// Splits a trace where it turns a corner no hair turns (see
/// [`MAX_CORNER_DEG`]), at the sharpest such point first, when both pieces are
/// straight ([`CORNER_PIECE_STRAIGHTNESS`]): two shafts that meet at an angle,
/// as where hairs of one opening fan out wide, traced around the join as
/// one. (A blurred join is round, so the walk's turn per step stays within
/// [`MAX_STEP_TURN_DEG`] all the way around.)
pub(crate) fn split_at_corners(points: Vec<StrandPoint>) -> Vec<Vec<StrandPoint>> {
    let n = points.len();
    let mut arc = vec![0.0; n];
    for i in 1..n {
        let (a, b) = (points[i - 1].pos, points[i].pos);
        arc[i] = arc[i - 1] + (b[0] - a[0]).hypot(b[1] - a[1]);
    }
    // The turn at each point between its chords to the nearest points at least
    // the reach away on either side (none within the reach of an end), read the
    // same whichever way the trace runs.
    let mut worst: Option<(f64, usize)> = None;
    for i in 0..n {
        let reach = (CORNER_REACH_SIGMAS * points[i].sigma_px).max(2.0);
        let before = arc[..=i].partition_point(|&a| arc[i] - a >= reach);
        let after = i + arc[i..].partition_point(|&a| a - arc[i] < reach);
        if before == 0 || after == n {
            continue;
        }
        let (Some(u), Some(v)) = (
            heading(points[before - 1].pos, points[i].pos),
            heading(points[i].pos, points[after].pos),
        ) else {
            continue;
        };
        let turn = angle_between(u, v);
        if turn > MAX_CORNER_DEG && worst.is_none_or(|(t, _)| turn > t) {
            worst = Some((turn, i));
        }
    }
    let straight = |a: usize, b: usize| {
        let (p, q) = (points[a].pos, points[b].pos);
        let chord = (p[0] - q[0]).hypot(p[1] - q[1]);
        chord >= CORNER_PIECE_STRAIGHTNESS * (arc[b] - arc[a])
    };
    let worst = worst.filter(|&(_, i)| straight(0, i) && straight(i, n - 1));
    match worst {
        None => vec![points],
        Some((_, i)) => {
            // The corner point belongs to neither piece.
            let tail = points[i + 1..].to_vec();
            let mut head = points;
            head.truncate(i);
            let mut parts = split_at_corners(head);
            parts.extend(split_at_corners(tail));
            parts
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn straight(from: [f64; 2], to: [f64; 2], sigma: f64) -> Strand {
        let n = 10;
        let points = (0..=n)
            .map(|k| {
                let t = k as f64 / n as f64;
                StrandPoint {
                    pos: [
                        from[0] + t * (to[0] - from[0]),
                        from[1] + t * (to[1] - from[1]),
                    ],
                    sigma_px: sigma,
                    snr: 10.0,
                }
            })
            .collect();
        Strand {
            points,
            polarity: 1,
        }
    }

    #[test]
    fn crossing_gaps_are_bridged_by_direction() {
        // Hair A horizontal broken at x∈(18, 22); hair B vertical broken at y∈(18, 22).
        let strands = vec![
            straight([0.0, 20.0], [18.0, 20.0], 1.0),
            straight([22.0, 20.0], [40.0, 20.0], 1.0),
            straight([20.0, 0.0], [20.0, 18.0], 1.0),
            straight([20.0, 22.0], [20.0, 40.0], 1.0),
        ];
        let joined = bridge(strands, 2.5, 30.0);
        assert_eq!(joined.len(), 2);
        for s in &joined {
            let a = s.points[0].pos;
            let b = s.points[s.points.len() - 1].pos;
            let len = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
            assert!((len - 40.0).abs() < 1e-9, "{a:?} {b:?}");
        }
    }

    #[test]
    fn a_gap_near_the_longest_is_bridged_past_ends_between_in_x() {
        // A horizontal hair (σ 1 px, so gaps up to 2.5·2 + 3 = 8 px) broken
        // over 7.5 px, and a vertical hair elsewhere whose ends lie between the
        // gap's ends in x: they come between them in the sweep's order.
        let strands = vec![
            straight([0.0, 20.0], [20.0, 20.0], 1.0),
            straight([27.5, 20.0], [47.5, 20.0], 1.0),
            straight([23.0, 60.0], [24.0, 90.0], 1.0),
        ];
        let joined = bridge(strands, 2.5, 30.0);
        assert_eq!(joined.len(), 2);
        let horizontal = joined
            .iter()
            .find(|s| s.points.iter().all(|p| p.pos[1] == 20.0))
            .map(|s| s.points.len());
        assert_eq!(horizontal, Some(22));
        // Over 8.5 px the gap is too long.
        let strands = vec![
            straight([0.0, 20.0], [20.0, 20.0], 1.0),
            straight([28.5, 20.0], [48.5, 20.0], 1.0),
        ];
        assert_eq!(bridge(strands, 2.5, 30.0).len(), 2);
    }

    #[test]
    fn diverging_hairs_of_one_opening_are_not_joined() {
        // Two hairs leaving one point at 20° apart: their near ends point the same way.
        let strands = vec![
            straight([2.0, 0.0], [30.0, 0.0], 1.0),
            straight([2.0, 1.0], [30.0, 11.0], 1.0),
        ];
        assert_eq!(bridge(strands, 2.5, 30.0).len(), 2);
    }
}

#[cfg(test)]
mod pipeline_tests {
    use super::*;
    use crate::filter::Plane;
    use crate::ridge::{detect, scale_ladder};

    /// A dark straight bar of width `w` px through (cx, cy) at `angle_deg`, 4×4 supersampled.
    fn oblique_bar(size: usize, angle_deg: f64, w: f64) -> Plane {
        let mut p = Plane::new(size, size);
        let (s, c) = angle_deg.to_radians().sin_cos();
        let ctr = size as f64 / 2.0;
        for y in 0..size {
            for x in 0..size {
                let mut cover = 0.0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let px = x as f64 + (sx as f64 + 0.5) / 4.0 - ctr;
                        let py = y as f64 + (sy as f64 + 0.5) / 4.0 - ctr;
                        let d = -s * px + c * py;
                        if d.abs() <= w / 2.0 {
                            cover += 1.0 / 16.0;
                        }
                    }
                }
                p.data[y * size + x] = cover as f32;
            }
        }
        p
    }

    #[test]
    fn an_oblique_bar_is_one_strand() {
        for (angle, w) in [
            (0.0, 3.0),
            (20.0, 3.0),
            (37.0, 8.0),
            (63.0, 5.0),
            (90.0, 12.0),
        ] {
            let size = 96;
            let mut p = oblique_bar(size, angle, w);
            // Mild white noise (a fixed hash per pixel) so the noise level is
            // defined. Not a lattice pattern such as `(i · 7919) mod 101`: that is
            // stripes 2.5 px apart, a field of lines, and is detected as one.
            for (i, v) in p.data.iter_mut().enumerate() {
                let u = (crate::synth::splitmix64(i as u64) >> 11) as f64 / (1u64 << 53) as f64;
                *v += 0.01 * (u as f32 - 0.5);
            }
            let map = detect(&p, &scale_ladder(1.0, 16.0));
            let strands = trace(
                &map,
                TraceParams {
                    snr_high: 8.0,
                    snr_low: 3.0,
                },
            );
            // Where the bar leaves the frame, the filters' edge replication leaves a
            // faint light line along the frame's outermost row at the coarsest
            // scale; the analysis leaves such border traces uncounted. Only
            // strands off the frame count here.
            let on_frame = |s: &Strand| {
                s.points.iter().all(|q| {
                    let [x, y] = q.pos;
                    let far = size as f64 - 1.0;
                    x < 1.0 || y < 1.0 || x > far || y > far
                })
            };
            let long: Vec<usize> = strands
                .iter()
                .filter(|s| !on_frame(s))
                .map(|s| s.points.len())
                .filter(|&n| n > 20)
                .collect();
            assert_eq!(
                long.len(),
                1,
                "angle {angle} w {w}: {:?}",
                strands.iter().map(|s| s.points.len()).collect::<Vec<_>>()
            );
            assert!(long[0] > 80, "angle {angle} w {w}: {long:?}");
        }
    }

    #[test]
    fn a_closed_ring_is_walked_once() {
        // A dark ring (a vessel loop): the walk must come back to its start and stop,
        // not circle forever.
        let size = 80;
        let mut p = Plane::new(size, size);
        for y in 0..size {
            for x in 0..size {
                let r = ((x as f64 + 0.5 - 40.0).powi(2) + (y as f64 + 0.5 - 40.0).powi(2)).sqrt();
                p.data[y * size + x] = (1.0 - ((r - 25.0) / 1.5).powi(2)).max(0.0) as f32;
                p.data[y * size + x] +=
                    0.01 * (((x * 7919 + y * 104729) % 101) as f32 / 101.0 - 0.5);
            }
        }
        let map = detect(&p, &scale_ladder(1.0, 8.0));
        let strands = trace(
            &map,
            TraceParams {
                snr_high: 8.0,
                snr_low: 3.0,
            },
        );
        let longest = strands.iter().map(|s| s.points.len()).max().unwrap_or(0);
        // The ring is 2π·25 ≈ 157 px round: the longest strand goes round once (a
        // walk may take both pixels of a cross-section now and then), never twice.
        assert!(longest > 100, "{longest}");
        assert!(longest < 236, "{longest}");
    }

    /// Points 1 px apart along `f(t)`, `t` in `0..=n` (σ = 2 px).
    fn walk_of(n: usize, f: impl Fn(f64) -> [f64; 2]) -> Vec<StrandPoint> {
        (0..=n)
            .map(|k| StrandPoint {
                pos: f(k as f64),
                sigma_px: 2.0,
                snr: 10.0,
            })
            .collect()
    }

    #[test]
    fn a_trace_around_the_join_of_two_straight_shafts_is_split_there() {
        // 60 px along +x, then round a corner of radius 3 px (as blur rounds
        // it), then 60 px along +y: two shafts meeting at 90°.
        let r = 3.0;
        let quarter = std::f64::consts::FRAC_PI_2 * r;
        let corner = walk_of(120 + quarter.round() as usize, |t| {
            if t <= 60.0 {
                [t, 0.0]
            } else if t <= 60.0 + quarter {
                let a = (t - 60.0) / r;
                [60.0 + r * a.sin(), r - r * a.cos()]
            } else {
                [60.0 + r, r + (t - 60.0 - quarter)]
            }
        });
        let parts = split_at_corners(corner);
        assert_eq!(parts.len(), 2);
        assert!(
            parts.iter().all(|p| p.len() > 55),
            "{:?}",
            parts.iter().map(Vec::len).collect::<Vec<_>>()
        );
        // A hair bent on a radius of 100 px (600 µm at 6 µm/px) stays whole.
        let arc = walk_of(150, |t| {
            [100.0 * (t / 100.0).sin(), 100.0 - 100.0 * (t / 100.0).cos()]
        });
        assert_eq!(split_at_corners(arc).len(), 1);
        // So does a meander with sharp turns whose pieces would not be
        // straight (a vessel): a zigzag of 8 px legs.
        let zigzag = walk_of(160, |t| {
            let leg = (t / 8.0).floor();
            let u = t - 8.0 * leg;
            let y = if leg as i64 % 2 == 0 { u } else { 8.0 - u };
            [t * 0.7, y]
        });
        assert_eq!(split_at_corners(zigzag).len(), 1);
    }
}
