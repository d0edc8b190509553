//! Criterion benchmarks of the generator and the whole `analyze` on a generated photo.
#![allow(missing_docs)] // criterion_group! generates an undocumented public fn.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, Calibration, Params};

fn bench_pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    for scenario in [Scenario::ClippedDark, Scenario::LongCrossing] {
        let Ok(synth) = render(&scenario.params(), 7) else {
            continue;
        };
        let Ok(cal) = Calibration::new(synth.truth.um_per_px) else {
            continue;
        };
        let image = image::DynamicImage::ImageRgb8(synth.image);
        let id = BenchmarkId::new(
            scenario.name(),
            format!("{}x{}", image.width(), image.height()),
        );
        group.bench_with_input(id, &image, |b, img| {
            b.iter(|| analyze(black_box(img), &cal, &Params::default()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("synth");
    group.sample_size(10);
    let params = Scenario::ClippedDark.params();
    let id = BenchmarkId::new(
        "clipped-dark",
        format!("{}x{}", params.width_px, params.height_px),
    );
    group.bench_with_input(id, &params, |b, p| b.iter(|| render(black_box(p), 7)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench_pipeline
}
criterion_main!(benches);
