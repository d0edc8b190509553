//! Criterion benchmark of batch throughput: 8 small generated photos scored into
//! a fresh folder (decode, analyse, write the rows, finish the files), with 1 and
//! 2 threads.
#![allow(missing_docs)] // criterion_group! generates an undocumented public fn.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use trichometry::batch::{self, BatchConfig, Shard};
use trichometry::synth::{render, Scenario};

const PHOTOS: u64 = 8;
const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

fn bench_batch(c: &mut Criterion) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let photos = dir.path().join("photos");
    for seed in 0..PHOTOS {
        let mut p = Scenario::ClippedDark.params();
        p.width_px = WIDTH;
        p.height_px = HEIGHT;
        p.um_per_px = 6.0;
        let Ok(s) = render(&p, seed) else { return };
        if s.write(&photos, &format!("photo-{seed}")).is_err() {
            return;
        }
    }
    let plan = batch::plan(batch::discover(&[photos]), Shard::WHOLE);
    let config = BatchConfig {
        um_per_px: Some(6.0),
        ..BatchConfig::default()
    };

    let mut group = c.benchmark_group("batch");
    group.sample_size(10);
    group.throughput(Throughput::Elements(PHOTOS));
    let mut run = 0u64;
    for threads in [1, 2] {
        let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
            continue;
        };
        let id = BenchmarkId::new(format!("{threads}-threads"), format!("{WIDTH}x{HEIGHT}"));
        group.bench_function(id, |b| {
            b.iter(|| {
                // A fresh folder per iteration: a finished folder is not rescored.
                run += 1;
                let out: PathBuf = dir.path().join(format!("out-{run}"));
                let summary = pool.install(|| batch::run(&plan, &out, &config, &mut ()));
                let _ = std::fs::remove_dir_all(&out);
                summary
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench_batch
}
criterion_main!(benches);
