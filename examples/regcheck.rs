//! Registration error on generated pairs: `cargo run --release --example regcheck -- SEED...`
use trichometry::register::{register, RegisterParams};
use trichometry::synth::{render_pair, PairChange, Scenario};
use trichometry::{analyze, Calibration, Params};

fn main() -> Result<(), trichometry::Error> {
    let seeds: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    for seed in seeds {
        let pair = render_pair(&Scenario::Pair.params(), &PairChange::default(), seed)?;
        let bi = image::DynamicImage::ImageRgb8(pair.baseline.image.clone());
        let fi = image::DynamicImage::ImageRgb8(pair.followup.image.clone());
        let t0 = std::time::Instant::now();
        let ba = analyze(
            &bi,
            &Calibration::new(pair.truth.baseline.um_per_px)?,
            &Params::default(),
        )?;
        let fa = analyze(
            &fi,
            &Calibration::new(pair.truth.followup.um_per_px)?,
            &Params::default(),
        )?;
        let t1 = std::time::Instant::now();
        let r = register(&ba, Some(&bi), &fa, Some(&fi), &RegisterParams::default());
        let t2 = std::time::Instant::now();
        let tt = pair.truth.transform;
        match r {
            Ok(r) => {
                let t = r.transform;
                let e = tt.max_error_px(&t, ba.image.width, ba.image.height);
                println!(
                    "seed {seed}: dx {:+.2} dy {:+.2} rot {:+.3}° scale {:+.4} | max corner err {e:.2} px | inl {}/{} corr {:?} conf {:.2} {:?} | analyze {:.1}s reg {:.2}s",
                    t.dx_px - tt.dx_px, t.dy_px - tt.dy_px, t.rotation_deg - tt.rotation_deg, t.scale - tt.scale,
                    r.inliers, r.baseline_strands, r.correlation.map(|c| (c * 100.0).round() / 100.0), r.confidence, r.method,
                    (t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64()
                );
            }
            Err(e) => println!("seed {seed}: FAILED {e}"),
        }
    }
    Ok(())
}
