//! What the development examples share.
// Each example compiles its own copy and uses only part of it.
#![allow(dead_code)]
use trichometry::synth::truth::Truth;
use trichometry::synth::SceneParams;

/// Another camera for the same scene, from the environment: `UM_PER_PX=3`
/// (the calibration) and `SIZE=1280x1024` (the photo in px), e.g. the same
/// field at 70×. Unset variables leave `scene` as it is; a malformed one is an
/// error.
pub fn camera_from_env(scene: &mut SceneParams) -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(um) = std::env::var("UM_PER_PX") {
        scene.um_per_px = um.parse()?;
    }
    if let Ok(size) = std::env::var("SIZE") {
        let (w, h) = size.split_once('x').ok_or("SIZE=WxH")?;
        scene.width_px = w.parse()?;
        scene.height_px = h.parse()?;
    }
    Ok(())
}

/// Distance (px) within which a strand point lies on a true hair.
pub const ON_HAIR_PX: f64 = 3.0;

/// Smallest distance from `p` to the points of `line`.
pub fn distance(line: &[[f64; 2]], p: [f64; 2]) -> f64 {
    line.iter()
        .map(|q| (q[0] - p[0]).hypot(q[1] - p[1]))
        .fold(f64::INFINITY, f64::min)
}

/// The true hair (index into `truth.hairs`) whose centreline lies within
/// [`ON_HAIR_PX`] of most points of `line`; `None` when none is near any.
pub fn hair_under(line: &[[f64; 2]], truth: &Truth) -> Option<usize> {
    let votes: Vec<usize> = truth
        .hairs
        .iter()
        .map(|h| {
            line.iter()
                .filter(|&&p| distance(&h.centerline_px, p) < ON_HAIR_PX)
                .count()
        })
        .collect();
    let (best, &n) = votes.iter().enumerate().max_by_key(|&(_, n)| *n)?;
    (n > 0).then_some(best)
}
