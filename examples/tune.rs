//! Development scorecard on tuning seeds: `cargo run --release --example tune -- SCENARIO SEED...`
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, eval::score, Calibration, Params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().ok_or("usage: tune SCENARIO SEED...")?;
    let scenario = Scenario::from_name(name)?;
    let params = Params::default();
    for seed in args[1..].iter().map(|s| s.parse::<u64>()) {
        let seed = seed?;
        let synth = render(&scenario.params(), seed)?;
        let cal = Calibration::new(synth.truth.um_per_px)?;
        let t = std::time::Instant::now();
        let a = analyze(
            &image::DynamicImage::ImageRgb8(synth.image.clone()),
            &cal,
            &params,
        )?;
        let ms = t.elapsed().as_millis();
        let s = score(&a, &synth.truth, params.min_length_um);
        println!(
            "{} seed {seed}: count {:.1}/{} ({:+.1}%) P {:.3} R {:.3} F1 {:.3} widthMAE {:.2} bias {:+.2} vellusErr {:+.3} FU {:+} blur {:?} truth-blur {:.2}um {ms} ms",
            scenario.name(), s.estimated_count, s.true_count, s.count_error_pct, s.precision, s.recall, s.f1,
            s.width_mae_um, s.width_bias_um, s.vellus_fraction_error, s.follicular_unit_error, a.blur_sigma_um.map(|b| (b*100.0).round()/100.0), synth.truth.blur_sigma_px * synth.truth.um_per_px
        );
        if std::env::var("SAVE").is_ok() {
            synth
                .image
                .save(format!("/tmp/pl/{}-{seed}.png", scenario.name()))?;
            std::fs::write(
                format!("/tmp/pl/{}-{seed}.json", scenario.name()),
                serde_json::to_string(&a)?,
            )?;
        }
    }
    Ok(())
}
