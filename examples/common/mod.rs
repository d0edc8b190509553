//! What the development examples share.
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
