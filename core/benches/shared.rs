//! Thread-safe breakers side by side, CLOSED, one successful call at a time: `SharedBreaker`
//! (`try_acquire` + `on_success`, and `call`), failsafe 1.3 (`call`, a `parking_lot` mutex) and
//! recloser 1.3 (`call`, lock-free ring buffers on crossbeam-epoch), at 1 and 2 threads.
//!
//! Clocks: failsafe and recloser read none while CLOSED (their windows count calls).
//! `SharedBreaker` reads its clock on admission and on the outcome: `CoarseClock` (the OS's
//! coarse clock) in `shared_coarse*`, `MonotonicClock` in `shared_monotonic`, and in
//! `shared_manual` a `ManualClock`, one atomic load and no OS read, which is the peers' terms;
//! `shared_recent` a `RecentClock` (1 ms steps), which reads like a `ManualClock` and moves on
//! its own. A success is consumed as a host does (a transition, the rare case, is acted on).
//! `coarse_clock_now` is one `CoarseClock` read alone: it shares nothing between threads, so
//! its scaling is what the machine allows at that moment.
//!
//! Run with `cargo bench -p fact-resilience-core --bench shared --features coarse-clock`;
//! figures are recorded in `core/BENCHMARKS.md`. Each benchmark reports the wall time for every
//! thread to make one call (criterion's "time"), and calls per second across the threads
//! ("thrpt"): at 2 threads on 2 free cores, a breaker that scales makes close to twice the
//! calls of 1 thread.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use fact_resilience_core::{
    Clock, CoarseClock, Config, ManualClock, MonotonicClock, RecentClock, SharedBreaker,
};

/// Runs `call` `iters` times on each of `threads` threads, released together, and returns the
/// time from the first thread's start to the last one's end. Each thread reads its own start
/// and end: a coordinating thread's reading could come after a worker had already run.
fn race(threads: usize, iters: u64, call: &(impl Fn() + Sync)) -> Duration {
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        call();
                    }
                    (t0, Instant::now())
                })
            })
            .collect();
        let spans: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .collect();
        let first = spans.iter().map(|s| s.0).min().expect("a thread");
        let last = spans.iter().map(|s| s.1).max().expect("a thread");
        last - first
    })
}

/// One benchmark: `call` raced on `threads` threads (see [`race`]), statically dispatched so
/// that each row's call is inlined into its loop.
fn row(
    g: &mut BenchmarkGroup<'_, WallTime>,
    threads: usize,
    name: &str,
    call: &(impl Fn() + Sync),
) {
    g.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &n| {
        b.iter_custom(|iters| race(n, iters, call))
    });
}

/// One successful CLOSED call, its outcome consumed as a host does (a transition, the rare
/// case, is acted on).
#[inline(always)]
fn acquire_succeed<C: Clock>(breaker: &SharedBreaker<C>) {
    let permit = breaker.try_acquire().expect("closed admits");
    if let Some(t) = breaker.on_success(permit) {
        let _ = black_box(t);
    }
}

fn closed_calls(c: &mut Criterion) {
    let coarse = SharedBreaker::new(Config::default(), CoarseClock::new()).expect("valid config");
    let os = SharedBreaker::new(Config::default(), MonotonicClock::new()).expect("valid config");
    let manual = SharedBreaker::new(Config::default(), ManualClock::new()).expect("valid config");
    let recent_clock = RecentClock::new(Duration::from_millis(1)).expect("clock thread");
    let recent = SharedBreaker::new(Config::default(), recent_clock).expect("valid config");
    let clock = CoarseClock::new();
    let failsafe = {
        let backoff = failsafe::backoff::constant(Duration::from_secs(60));
        let policy = failsafe::failure_policy::consecutive_failures(5, backoff);
        failsafe::Config::new().failure_policy(policy).build()
    };
    let recloser = recloser::Recloser::custom().build();

    let mut g = c.benchmark_group("threads");
    for threads in [1usize, 2] {
        g.throughput(Throughput::Elements(threads as u64));
        row(&mut g, threads, "shared_coarse", &|| {
            acquire_succeed(&coarse)
        });
        row(&mut g, threads, "shared_coarse_call", &|| {
            let _ = black_box(coarse.call("get", || black_box(Ok::<_, &str>(()))));
        });
        row(&mut g, threads, "shared_monotonic", &|| {
            acquire_succeed(&os)
        });
        row(&mut g, threads, "shared_manual", &|| {
            acquire_succeed(&manual)
        });
        row(&mut g, threads, "shared_recent", &|| {
            acquire_succeed(&recent)
        });
        row(&mut g, threads, "coarse_clock_now", &|| {
            black_box(clock.now());
        });
        row(&mut g, threads, "failsafe", &|| {
            use failsafe::CircuitBreaker as _;
            let _ = black_box(failsafe.call(|| black_box(Ok::<_, ()>(()))));
        });
        row(&mut g, threads, "recloser", &|| {
            let _ = black_box(recloser.call(|| black_box(Ok::<_, ()>(()))));
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
