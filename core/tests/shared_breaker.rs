//! `SharedBreaker` against a plain `Breaker`: the lock-free CLOSED path must decide and report
//! exactly what the locked state machine does.
//!
//! - `lock_free_path_matches_the_locked_breaker`: random steps from one thread (so the order of
//!   the steps is the order of their effects), each applied to a `SharedBreaker` and to a
//!   `Breaker` at the same instants; every answer and the metrics after every step must match.
//! - `threads_conserve_every_count`: threads racing on one breaker, whose totals must equal
//!   what the threads were told.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fact_resilience_core::{
    Breaker, Clock, Config, Failure, FailureWeights, ManualClock, Permit, SharedBreaker, State,
};
use proptest::prelude::*;

fn failure() -> Failure<'static> {
    Failure {
        error_type: "ConnectionError",
        error_message: "refused",
        operation: "get",
        timestamp: 1.0,
    }
}

#[derive(Clone, Debug)]
enum Step {
    Acquire,
    /// Report the outcome of the held permit at this index (modulo the number held).
    Succeed(usize),
    Fail(usize),
    Neutral(usize),
    /// Move the clock this many milliseconds.
    Advance(u64),
    Poll,
    ForceOpen,
    ForceClosed,
    Reset,
    /// Switch to one of the configs below.
    Configure(usize),
}

fn weights() -> FailureWeights {
    let mut w = FailureWeights::new();
    w.insert("ConnectionError", 0.5);
    w
}

fn configs() -> Vec<Config> {
    let base = Config {
        failure_threshold: 3,
        success_threshold: 2,
        timeout_seconds: 1.0,
        rolling_window_seconds: 10.0,
        ..Config::default()
    };
    vec![
        base.clone(),
        Config {
            failure_rate_threshold: Some(0.5),
            minimum_calls: 4,
            ..base.clone()
        },
        Config {
            slow_call_duration_seconds: Some(0.5),
            ..base.clone()
        },
        Config {
            failure_weights: weights(),
            ..base.clone()
        },
        Config {
            rolling_window_seconds: 3.0,
            ..base
        },
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => Just(Step::Acquire),
        6 => (0..8usize).prop_map(Step::Succeed),
        2 => (0..8usize).prop_map(Step::Fail),
        1 => (0..8usize).prop_map(Step::Neutral),
        3 => prop_oneof![0..5u64, 0..3000u64].prop_map(Step::Advance),
        1 => Just(Step::Poll),
        1 => Just(Step::ForceOpen),
        1 => Just(Step::ForceClosed),
        1 => Just(Step::Reset),
        1 => (0..5usize).prop_map(Step::Configure),
    ]
}

fn same_permit(a: &Permit, b: &Permit) -> bool {
    (
        a.generation(),
        a.is_probe(),
        a.transition(),
        a.admitted_at(),
    ) == (
        b.generation(),
        b.is_probe(),
        b.transition(),
        b.admitted_at(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn lock_free_path_matches_the_locked_breaker(
        steps in proptest::collection::vec(step(), 1..120)
    ) {
        let configs = configs();
        let clock = ManualClock::new();
        let shared = SharedBreaker::new(configs[0].clone(), clock.clone()).unwrap();
        let mut plain = Breaker::new(configs[0].clone(), clock.now()).unwrap();
        // Each held call as (the shared breaker's permit, the plain breaker's).
        let mut held: Vec<(Permit, Permit)> = Vec::new();
        for s in steps {
            let now = clock.now();
            match s {
                Step::Acquire => match (shared.try_acquire(), plain.try_acquire(now)) {
                    (Ok(a), Ok(b)) => {
                        prop_assert!(same_permit(&a, &b), "{a:?} vs {b:?}");
                        held.push((a, b));
                    }
                    (a, b) => prop_assert_eq!(a.err(), b.err()),
                },
                Step::Succeed(i) | Step::Fail(i) | Step::Neutral(i) if !held.is_empty() => {
                    let (a, b) = held.swap_remove(i % held.len());
                    match s {
                        Step::Succeed(_) => {
                            prop_assert_eq!(shared.on_success(a), plain.on_success(b, now));
                        }
                        Step::Fail(_) => prop_assert_eq!(
                            shared.on_failure(a, &failure()),
                            plain.on_failure(b, &failure(), now)
                        ),
                        _ => {
                            shared.on_neutral(a);
                            plain.on_neutral(b, now);
                        }
                    }
                }
                Step::Succeed(_) | Step::Fail(_) | Step::Neutral(_) => {}
                Step::Advance(ms) => clock.advance(Duration::from_millis(ms)),
                Step::Poll => prop_assert_eq!(shared.poll(), plain.poll(now)),
                Step::ForceOpen => prop_assert_eq!(shared.force_open(), plain.force_open(now)),
                Step::ForceClosed => {
                    prop_assert_eq!(shared.force_closed(), plain.force_closed(now));
                }
                Step::Reset => prop_assert_eq!(shared.reset(), plain.reset(now)),
                Step::Configure(i) => {
                    let c = configs[i].clone();
                    prop_assert_eq!(shared.set_config(c.clone()), plain.set_config(c));
                }
            }
            prop_assert_eq!(shared.metrics(), plain.metrics(clock.now()));
            prop_assert_eq!(shared.state(), plain.state());
        }
    }
}

/// What one racing thread was told.
#[derive(Default)]
struct Tally {
    successes: u64,
    failures: u64,
    neutral: u64,
    rejected: u64,
    throttled: u64,
    transitions: u64,
}

#[test]
fn threads_conserve_every_count() {
    const THREADS: usize = 4;
    const CALLS: u64 = 20_000;
    let clock = ManualClock::new();
    let config = Config {
        failure_threshold: 3,
        success_threshold: 2,
        timeout_seconds: 0.001,
        // Wide enough that nothing expires while the clock ticks below, so the window must
        // hold every completed call.
        rolling_window_seconds: 3600.0,
        ..Config::default()
    };
    let b = Arc::new(SharedBreaker::new(config, clock.clone()).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    // Moves time on while the threads run: buckets (60 s wide) change now and then, and OPEN
    // half-opens.
    let ticker = {
        let (clock, done) = (clock.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut ticks = 0u32;
            while !done.load(Ordering::Relaxed) && ticks < 1_000_000 {
                clock.advance(Duration::from_micros(500));
                ticks += 1;
                std::thread::yield_now();
            }
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ t as u64;
                for _ in 0..CALLS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    match b.try_acquire() {
                        Ok(p) => {
                            tally.transitions += u64::from(p.transition().is_some());
                            let moved = match x % 100 {
                                0..=2 => {
                                    tally.failures += 1;
                                    b.on_failure(p, &failure())
                                }
                                3 => {
                                    tally.neutral += 1;
                                    b.on_neutral(p);
                                    None
                                }
                                _ => {
                                    tally.successes += 1;
                                    b.on_success(p)
                                }
                            };
                            tally.transitions += u64::from(moved.is_some());
                        }
                        Err(fact_resilience_core::Rejection::Throttled) => tally.throttled += 1,
                        Err(_) => tally.rejected += 1,
                    }
                    if x.is_multiple_of(1000) {
                        // A locked reader racing the lock-free path.
                        let m = b.metrics();
                        assert_eq!(m.window_calls, m.total_operations);
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for w in workers {
        let t = w.join().unwrap();
        total.successes += t.successes;
        total.failures += t.failures;
        total.neutral += t.neutral;
        total.rejected += t.rejected;
        total.throttled += t.throttled;
        total.transitions += t.transitions;
    }
    done.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    let m = b.metrics();
    assert_eq!(m.success_count, total.successes);
    assert_eq!(m.failure_count, total.failures);
    assert_eq!(m.neutral_count, total.neutral);
    assert_eq!(m.rejected_count, total.rejected);
    assert_eq!(m.throttled_count, total.throttled);
    assert_eq!(
        m.state_changes, total.transitions,
        "each transition told once"
    );
    assert_eq!(m.window_calls, total.successes + total.failures);
    assert!(total.successes > 0 && total.failures > 0);
    assert!(
        m.state_changes > 0,
        "the race went through the state machine"
    );
}

#[test]
fn a_lock_free_success_shows_in_metrics_and_the_failure_rate() {
    let clock = ManualClock::new();
    let b = SharedBreaker::new(Config::default(), clock.clone()).unwrap();
    for _ in 0..3 {
        let p = b.try_acquire().unwrap();
        assert!(b.on_success(p).is_none());
    }
    let p = b.try_acquire().unwrap();
    let _ = b.on_failure(p, &failure());
    let m = b.metrics();
    assert_eq!(
        (m.success_count, m.failure_count, m.window_calls),
        (3, 1, 4)
    );
    assert_eq!(m.failure_rate, 0.25);
    assert_eq!(m.consecutive_failures, 1);
    // A success after the failure resets the run, as the locked path does.
    let p = b.try_acquire().unwrap();
    let _ = b.on_success(p);
    assert_eq!(b.metrics().consecutive_failures, 0);
    assert_eq!(b.state(), State::Closed);
}
