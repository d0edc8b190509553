//! Development scorecard on tuning seeds: `cargo run --release --example tune -- SCENARIO SEED...`
mod common;
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, eval::score, Calibration, Params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().ok_or("usage: tune SCENARIO SEED...")?;
    let scenario = Scenario::from_name(name)?;
    let params = Params::default();
    for seed in args[1..].iter().map(|s| s.parse::<u64>()) {
        let seed = seed?;
        let mut scene = scenario.params();
        common::camera_from_env(&mut scene)?;
        let synth = render(&scene, seed)?;
        let cal = Calibration::new(synth.truth.um_per_px)?;
        let t = std::time::Instant::now();
        let a = analyze(
            &image::DynamicImage::ImageRgb8(synth.image.clone()),
            &cal,
            &params,
        )?;
        let ms = t.elapsed().as_millis();
        // JSONOUT=FILE saves the analysis (the last seed's) as JSON.
        if let Ok(p) = std::env::var("JSONOUT") {
            std::fs::write(p, serde_json::to_string_pretty(&a)?)?;
        }
        let s = score(&a, &synth.truth, params.min_length_um);
        println!(
            "{} seed {seed}: count {:.1}/{} ({:+.1}%) P {:.3} R {:.3} F1 {:.3} widthMAE {:.2} bias {:+.2} vellusErr {:+.3} FU {:+} emP {:.3} emR {:.3} blur {:?} truth-blur {:.2}um {ms} ms",
            scenario.name(), s.estimated_count, s.true_count, s.count_error_pct, s.precision, s.recall, s.f1,
            s.width_mae_um, s.width_bias_um, s.vellus_fraction_error, s.follicular_unit_error, s.emergence_precision, s.emergence_recall, a.blur_sigma_um.map(|b| (b*100.0).round()/100.0), synth.truth.blur_sigma_px * synth.truth.um_per_px
        );
        if std::env::var("WIDTHS").is_ok() {
            for p in &s.width_pairs_um {
                println!(
                    "  width truth {:6.1} est {:6.1} err {:+6.1}",
                    p[0],
                    p[1],
                    p[1] - p[0]
                );
            }
        }
        if std::env::var("MISSED").is_ok() {
            for h in &synth.truth.hairs {
                if h.visible_length_um < params.min_length_um {
                    continue;
                }
                let unit = synth
                    .truth
                    .hairs
                    .iter()
                    .filter(|o| o.follicular_unit == h.follicular_unit)
                    .count();
                let covered = a
                    .strands
                    .iter()
                    .map(|st| {
                        h.centerline_px
                            .iter()
                            .filter(|p| {
                                st.centerline
                                    .iter()
                                    .any(|q| (q[0] - p[0]).hypot(q[1] - p[1]) < 3.0)
                            })
                            .count() as f64
                            / h.centerline_px.len() as f64
                    })
                    .fold(0.0, f64::max);
                println!("  hair {:3} fu-size {} vis {:5.0}um w {:5.1} emerg-in {} clipped {} best-cover-of-hair {:.2} emerg {:?}", h.id, unit, h.visible_length_um, h.width_um, h.emergence_in_field, h.clipped, covered, h.emergence_px.map(|v| v.round()));
            }
            for st in &a.strands {
                println!(
                    "  strand {:3} weight {:.1} len {:5.0}um w {:5.1} emerg {:?} ends {:?} {:?}",
                    st.id,
                    st.count_weight,
                    st.length_um,
                    st.width_um,
                    st.emergence.map(|e| e.map(|v| v.round())),
                    st.centerline[0].map(|v| v.round()),
                    st.centerline[st.centerline.len() - 1].map(|v| v.round())
                );
            }
        }
        if std::env::var("SAVE").is_ok() {
            synth
                .image
                .save(format!("/tmp/pl/{}-{seed}.png", scenario.name()))?;
            std::fs::write(
                format!("/tmp/pl/{}-{seed}.json", scenario.name()),
                serde_json::to_string(&a)?,
            )?;
            std::fs::write(
                format!("/tmp/pl/{}-{seed}.truth.json", scenario.name()),
                serde_json::to_string(&synth.truth)?,
            )?;
        }
    }
    Ok(())
}
