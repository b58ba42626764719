//! Hot-path costs of the breaker, with the `failsafe` crate's closed call beside them.
//!
//! Run with `cargo bench -p fact-resilience-core --bench breaker`; figures are recorded in
//! `core/BENCHMARKS.md`. Every `Breaker` bench advances `now` by a few nanoseconds per
//! iteration, so the rolling window sees time move as it would in production.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fact_resilience_core::{
    Breaker, Config, Failure, Instant, MonotonicClock, Rejection, RollingWindow, SharedBreaker,
    State,
};

/// Nanoseconds `now` moves per iteration.
const STEP: u64 = 3;

/// A clock the benches drive by hand: `tick()` moves it `STEP` ns forward.
struct Time(u64);

impl Time {
    fn tick(&mut self) -> Instant {
        self.0 += STEP;
        Instant::from_nanos(self.0)
    }
}

fn breaker(config: Config) -> Breaker {
    Breaker::new(config, Instant::ZERO).expect("valid config")
}

/// (a) CLOSED: `try_acquire` + `on_success`, the path every healthy call takes.
fn closed_acquire_success(c: &mut Criterion) {
    let mut b = breaker(Config::default());
    let mut t = Time(0);
    c.bench_function("breaker/closed_acquire_success", |bench| {
        bench.iter(|| {
            let now = t.tick();
            let permit = b.try_acquire(black_box(now)).expect("closed admits");
            if let Some(t) = b.on_success(permit, now) {
                let _ = black_box(t);
            }
        })
    });
    assert_eq!(b.state(), State::Closed);
}

/// (a') As (a) with slow-call detection and the failure-rate rule on: every call is counted
/// in flight at admission and judged at its outcome (the cost of the opt-in policies).
fn closed_acquire_success_with_rate_rules(c: &mut Criterion) {
    let config = Config {
        slow_call_duration_seconds: Some(1.0),
        failure_rate_threshold: Some(0.5),
        ..Config::default()
    };
    let mut b = breaker(config);
    let mut t = Time(0);
    c.bench_function("breaker/closed_acquire_success_rate_rules", |bench| {
        bench.iter(|| {
            let now = t.tick();
            let permit = b.try_acquire(black_box(now)).expect("closed admits");
            black_box(b.on_success(permit, now))
        })
    });
    assert_eq!(b.state(), State::Closed);
}

/// (b) OPEN: `try_acquire` is rejected. The timeout is long enough never to pass.
fn open_rejection(c: &mut Criterion) {
    let config = Config {
        timeout_seconds: 1e6,
        ..Config::default()
    };
    let mut b = breaker(config);
    let _ = b.force_open(Instant::ZERO);
    let mut t = Time(0);
    c.bench_function("breaker/open_rejection", |bench| {
        bench.iter(|| {
            let rejection = b
                .try_acquire(black_box(t.tick()))
                .expect_err("open rejects");
            black_box(rejection)
        })
    });
    assert_eq!(b.state(), State::Open);
}

/// (c) HALF_OPEN with recovery factor 0.5: every other call is admitted as a probe and
/// succeeds, the others are throttled. A huge `success_threshold` keeps it HALF_OPEN.
fn half_open_admission(c: &mut Criterion) {
    let config = Config {
        success_threshold: u32::MAX,
        timeout_seconds: 1.0,
        gradual_recovery: true,
        recovery_factor: 0.5,
        ..Config::default()
    };
    let mut b = breaker(config);
    let _ = b.force_open(Instant::ZERO);
    let mut t = Time(1_000_000_000);
    let _ = b.poll(Instant::from_nanos(t.0));
    assert_eq!(b.state(), State::HalfOpen);
    c.bench_function("breaker/half_open_admission", |bench| {
        bench.iter(|| {
            let now = t.tick();
            match b.try_acquire(black_box(now)) {
                Ok(probe) => black_box(b.on_success(probe, now)).is_some(),
                Err(rejection) => black_box(rejection) == Rejection::Throttled,
            }
        })
    });
    assert_eq!(b.state(), State::HalfOpen);
}

/// (d) CLOSED: `try_acquire` + `on_failure` with a 256-byte message (the default cap), into a
/// full failure log. A huge `failure_threshold` keeps it CLOSED.
fn failure_record(c: &mut Criterion) {
    let config = Config {
        failure_threshold: u32::MAX,
        ..Config::default()
    };
    let mut b = breaker(config);
    let message = "e".repeat(256);
    let failure = Failure {
        error_type: "ConnectionError",
        error_message: &message,
        operation: "get",
        timestamp: 1_700_000_000.0,
    };
    let mut t = Time(0);
    c.bench_function("breaker/failure_record_256b", |bench| {
        bench.iter(|| {
            let now = t.tick();
            let permit = b.try_acquire(black_box(now)).expect("closed admits");
            black_box(b.on_failure(permit, black_box(&failure), now))
        })
    });
    assert_eq!(b.state(), State::Closed);
}

/// (e) `metrics(now)` on a breaker with some history in its window.
fn metrics(c: &mut Criterion) {
    let mut b = breaker(Config::default());
    let mut t = Time(0);
    for _ in 0..1_000 {
        let now = t.tick();
        let permit = b.try_acquire(now).expect("closed admits");
        let _ = b.on_success(permit, now);
    }
    c.bench_function("breaker/metrics", |bench| {
        bench.iter(|| black_box(b.metrics(black_box(t.tick()))))
    });
}

/// (f) failsafe 1.3, CLOSED: `call(|| Ok(()))` with a consecutive-failures policy. Its
/// `StateMachine` is thread-safe (a `parking_lot` mutex, taken twice per call), so compare it
/// with (g) as well as with (a).
fn failsafe_closed_call(c: &mut Criterion) {
    use failsafe::CircuitBreaker as _;
    let backoff = failsafe::backoff::constant(Duration::from_secs(60));
    let policy = failsafe::failure_policy::consecutive_failures(5, backoff);
    let cb = failsafe::Config::new().failure_policy(policy).build();
    c.bench_function("failsafe/closed_call", |bench| {
        bench.iter(|| black_box(cb.call(|| black_box(Ok::<_, ()>(())))))
    });
}

/// (g) `SharedBreaker` (mutex + `MonotonicClock`), CLOSED: `try_acquire` + `on_success`, each
/// reading the clock and taking the lock once.
fn shared_closed_acquire_success(c: &mut Criterion) {
    let b = SharedBreaker::new(Config::default(), MonotonicClock::new()).expect("valid config");
    c.bench_function("shared/closed_acquire_success", |bench| {
        bench.iter(|| {
            let permit = b.try_acquire().expect("closed admits");
            black_box(b.on_success(permit))
        })
    });
}

/// The share of (a) spent in the rolling window: one `RollingWindow::record` per success.
fn window_record(c: &mut Criterion) {
    let mut w = RollingWindow::new(
        Duration::from_secs(300),
        NonZeroU32::new(60).expect("non-zero"),
    );
    let mut t = Time(0);
    c.bench_function("window/record", |bench| {
        bench.iter(|| w.record(black_box(t.tick()), black_box(false)))
    });
}

/// Baselines for reading (g): one `MonotonicClock::now()` and one uncontended `std` mutex
/// lock + unlock, the two things `SharedBreaker` adds per method call.
fn baselines(c: &mut Criterion) {
    use fact_resilience_core::Clock as _;
    let clock = MonotonicClock::new();
    c.bench_function("baseline/monotonic_clock_now", |bench| {
        bench.iter(|| black_box(black_box(&clock).now()))
    });
    let mutex = std::sync::Mutex::new(0u64);
    c.bench_function("baseline/std_mutex_lock", |bench| {
        bench.iter(|| *black_box(&mutex).lock().expect("not poisoned") += 1)
    });
}

criterion_group!(
    benches,
    closed_acquire_success,
    closed_acquire_success_with_rate_rules,
    open_rejection,
    half_open_admission,
    failure_record,
    metrics,
    failsafe_closed_call,
    shared_closed_acquire_success,
    window_record,
    baselines
);
criterion_main!(benches);
