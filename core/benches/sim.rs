//! Simulator throughput: simulated calls per second through `simulate` on each built-in
//! scenario (10 minutes at 1,000 calls/s = 600,000 calls per run, default config).
//!
//! `cargo bench -p fact-resilience-core --bench sim`

use core::time::Duration;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fact_resilience_core::{Config, Scenario, simulate};
use std::hint::black_box;

fn scenarios(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate");
    let (rate, span) = (1000.0, Duration::from_secs(600));
    for (name, scenario) in Scenario::ALL {
        let calls = scenario.calls(rate, span, 42).count() as u64;
        group.throughput(Throughput::Elements(calls));
        group.bench_function(name, |b| {
            b.iter(|| {
                let trace = scenario.calls(rate, span, 42);
                black_box(simulate(&Config::default(), trace, Duration::ZERO).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = scenarios
}
criterion_main!(benches);
