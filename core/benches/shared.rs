//! Thread-safe breakers side by side, CLOSED, one successful call at a time: `SharedBreaker`
//! (`try_acquire` + `on_success`), failsafe 1.3 (`call`, a `parking_lot` mutex) and recloser
//! 1.3 (`call`, lock-free ring buffers on crossbeam-epoch), at 1 and 2 threads.
//!
//! Run with `cargo bench -p fact-resilience-core --bench shared`; figures are recorded in
//! `core/BENCHMARKS.md`. Each benchmark reports the wall time for every thread to make one
//! call (criterion's "time"), and calls per second across the threads ("thrpt"): at 2 threads
//! on 2 free cores, a breaker that scales makes close to twice the calls of 1 thread.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fact_resilience_core::{CoarseClock, Config, MonotonicClock, SharedBreaker};

/// Runs `call` `iters` times on each of `threads` threads, started together, and returns the
/// wall time until the last finishes.
fn race(threads: usize, iters: u64, call: &(impl Fn() + Sync)) -> Duration {
    let start = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..iters {
                        call();
                    }
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        for h in handles {
            h.join().expect("bench thread");
        }
        t0.elapsed()
    })
}

fn closed_calls(c: &mut Criterion) {
    let coarse = SharedBreaker::new(Config::default(), CoarseClock::new()).expect("valid config");
    let os = SharedBreaker::new(Config::default(), MonotonicClock::new()).expect("valid config");
    let failsafe = {
        let backoff = failsafe::backoff::constant(Duration::from_secs(60));
        let policy = failsafe::failure_policy::consecutive_failures(5, backoff);
        failsafe::Config::new().failure_policy(policy).build()
    };
    let recloser = recloser::Recloser::custom().build();

    let mut g = c.benchmark_group("threads");
    for threads in [1usize, 2] {
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_with_input(
            BenchmarkId::new("shared_coarse", threads),
            &threads,
            |b, &n| {
                b.iter_custom(|iters| {
                    race(n, iters, &|| {
                        let permit = coarse.try_acquire().expect("closed admits");
                        black_box(coarse.on_success(permit));
                    })
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("shared_coarse_call", threads),
            &threads,
            |b, &n| {
                b.iter_custom(|iters| {
                    race(n, iters, &|| {
                        let _ = black_box(coarse.call("get", || black_box(Ok::<_, &str>(()))));
                    })
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("shared_monotonic", threads),
            &threads,
            |b, &n| {
                b.iter_custom(|iters| {
                    race(n, iters, &|| {
                        let permit = os.try_acquire().expect("closed admits");
                        black_box(os.on_success(permit));
                    })
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("failsafe", threads), &threads, |b, &n| {
            use failsafe::CircuitBreaker as _;
            b.iter_custom(|iters| {
                race(n, iters, &|| {
                    let _ = black_box(failsafe.call(|| black_box(Ok::<_, ()>(()))));
                })
            })
        });
        g.bench_with_input(BenchmarkId::new("recloser", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                race(n, iters, &|| {
                    let _ = black_box(recloser.call(|| black_box(Ok::<_, ()>(()))));
                })
            })
        });
    }
    g.finish();
    assert_eq!(
        coarse.state(),
        fact_resilience_core::State::Closed,
        "every call succeeded"
    );
}

criterion_group!(benches, closed_calls);
criterion_main!(benches);
