//! Criterion benchmarks of each pipeline stage and of the whole `analyze`, on a
//! generated 1280×1024 and 4000×3000 photo (clipped dark hair at 6 µm/px).
//!
//! Single-threaded by default, as the speed targets are stated; set
//! `TRICHOMETRY_BENCH_THREADS=N` to run the stages on N threads.
//! `cargo bench --bench stages` measures; `cargo bench --bench stages -- --test`
//! runs each benchmark once (the quick mode CI uses).
#![allow(missing_docs)] // criterion_group! generates an undocumented public fn.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use trichometry::stages::{measure_strands, preprocess, ridge, trace_strands};
use trichometry::synth::{render, Scenario};
use trichometry::{analyze, Calibration, Params};

const SIZES: [(u32, u32); 2] = [(1280, 1024), (4000, 3000)];

fn bench_stages(c: &mut Criterion) {
    let threads = std::env::var("TRICHOMETRY_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
        return;
    };
    let params = Params::default();
    for (w, h) in SIZES {
        let mut scenario = Scenario::ClippedDark.params();
        scenario.width_px = w;
        scenario.height_px = h;
        let Ok(synth) = render(&scenario, 7) else {
            continue;
        };
        let Ok(cal) = Calibration::new(synth.truth.um_per_px) else {
            continue;
        };
        let image = image::DynamicImage::ImageRgb8(synth.image);
        let size = format!("{w}x{h}");
        let mut group = c.benchmark_group("stages");
        group.sample_size(10);
        let (planes, ridges, strands) = pool.install(|| {
            let planes = preprocess(&image, &cal, &params);
            let ridges = ridge(&planes, &cal, &params);
            let strands = trace_strands(&ridges, &params);
            (planes, ridges, strands)
        });
        let on_pool = |b: &mut criterion::Bencher, f: &(dyn Fn() + Sync)| {
            b.iter(|| pool.install(f));
        };
        group.bench_function(BenchmarkId::new("1-preprocess", &size), |b| {
            on_pool(b, &|| {
                black_box(preprocess(black_box(&image), &cal, &params));
            })
        });
        group.bench_function(BenchmarkId::new("2-ridge", &size), |b| {
            on_pool(b, &|| {
                black_box(ridge(black_box(&planes), &cal, &params));
            })
        });
        group.bench_function(BenchmarkId::new("3-trace", &size), |b| {
            on_pool(b, &|| {
                black_box(trace_strands(black_box(&ridges), &params));
            })
        });
        group.bench_function(BenchmarkId::new("4-measure", &size), |b| {
            on_pool(b, &|| {
                black_box(measure_strands(&planes, black_box(&strands), &cal, &params));
            })
        });
        group.bench_function(BenchmarkId::new("analyze", &size), |b| {
            on_pool(b, &|| {
                black_box(analyze(black_box(&image), &cal, &params).is_ok());
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench_stages
}
criterion_main!(benches);
