//! parse + resolve + validate: the examples (target < 1 ms) and a generated 1,000-service
//! file (target < 20 ms). Results are recorded in the README by `scripts/bench.sh`.

use criterion::{criterion_group, criterion_main, Criterion};
use nanokit_core::{analyze, AnalyzeOptions};
use std::hint::black_box;
use std::path::Path;

mod support;
use support::generated;

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("examples");
    for example in ["monorepo", "runtimes"] {
        let dir = root.join(example);
        let text = std::fs::read_to_string(dir.join("nanokit.yml")).unwrap();
        let options = AnalyzeOptions { base_dir: Some(dir), ..AnalyzeOptions::default() };
        c.bench_function(&format!("analyze example {example}"), |b| b.iter(|| analyze(black_box(text.as_str()), &options)));
    }
    let big = generated(1000);
    let options = AnalyzeOptions::default();
    assert!(!analyze(big.as_str(), &options).has_errors(), "the generated file must be valid");
    c.bench_function("analyze 1000 services", |b| b.iter(|| analyze(black_box(big.as_str()), &options)));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
