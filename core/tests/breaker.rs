//! Behaviour of the `Breaker` that reads better as code than as a vector: instants, permits,
//! deadlines, purity of the getters, and the thread-safe wrapper on a manual clock.

use core::time::Duration;
use fact_resilience_core::{
    Breaker, CallError, Clock, Config, Failure, Instant, ManualClock, Permit, Reason, Rejection,
    SharedBreaker, State, Transition,
};

const SEC: Duration = Duration::from_secs(1);

fn at(secs: f64) -> Instant {
    Instant::from_nanos((secs * 1e9).round() as u64)
}

fn failure(message: &str) -> Failure<'_> {
    Failure {
        error_type: "CacheError",
        error_message: message,
        operation: "get",
        timestamp: 1_700_000_000.0,
    }
}

fn breaker(change: impl FnOnce(&mut Config)) -> Breaker {
    let mut config = Config::default();
    change(&mut config);
    Breaker::new(config, Instant::ZERO).expect("valid config")
}

/// Acquires and fails one call at `now`, returning the transition it caused.
fn fail_once(b: &mut Breaker, now: Instant) -> Option<Transition> {
    let permit = b.try_acquire(now).expect("admitted");
    b.on_failure(permit, &failure("boom"), now)
}

/// Opens the circuit at `now` with failure_threshold 1.
fn opened_at(now: Instant, change: impl FnOnce(&mut Config)) -> Breaker {
    let mut b = breaker(|c| {
        c.failure_threshold = 1;
        change(c);
    });
    assert!(fail_once(&mut b, now).is_some());
    assert_eq!(b.state(), State::Open);
    b
}

#[test]
fn opens_after_threshold_consecutive_failures() {
    let mut b = breaker(|c| c.failure_threshold = 3);
    let t = at(1.0);
    assert_eq!(fail_once(&mut b, t), None);
    assert_eq!(fail_once(&mut b, t), None);
    let opened = fail_once(&mut b, t).expect("third failure opens");
    assert_eq!(
        opened,
        Transition {
            from: State::Closed,
            to: State::Open,
            reason: Reason::FailureThreshold,
            at: t,
        }
    );
    assert_eq!(
        b.try_acquire(t),
        Err(Rejection::Open {
            retry_after: 60 * SEC
        })
    );
}

#[test]
fn stale_permit_cannot_move_state() {
    let mut b = breaker(|c| {
        c.failure_threshold = 1;
        c.success_threshold = 1;
    });
    let t0 = Instant::ZERO;
    let early = b.try_acquire(t0).unwrap();
    assert_eq!(fail_once(&mut b, t0).map(|t| t.to), Some(State::Open));
    let t1 = at(60.0);
    let probe = b.try_acquire(t1).unwrap();
    assert!(probe.is_probe());
    assert_ne!(early.generation(), probe.generation());

    // The early permit's success is counted, but it is not a probe success.
    assert_eq!(b.on_success(early, t1), None);
    assert_eq!(b.state(), State::HalfOpen);
    let m = b.metrics(t1);
    assert_eq!((m.success_count, m.half_open_successes), (1, 0));

    // The real probe still closes the circuit.
    let closed = b.on_success(probe, t1).unwrap();
    assert_eq!(closed.reason, Reason::ProbesSucceeded);
}

#[test]
fn next_deadline_is_open_timeout_then_lease() {
    let mut b = opened_at(at(5.0), |c| {
        c.timeout_seconds = 10.0;
        c.probe_lease_seconds = Some(2.0);
        c.recovery_factor = 1.0;
    });
    assert_eq!(
        b.next_deadline(),
        Some(at(15.0)),
        "OPEN: opened_at + timeout"
    );

    let p1 = b.try_acquire(at(15.0)).unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.next_deadline(), Some(at(17.0)), "HALF_OPEN: probe lease");
    let _p2 = b.try_acquire(at(16.0)).unwrap();
    assert_eq!(
        b.next_deadline(),
        Some(at(18.0)),
        "the newest probe decides"
    );

    // At the deadline, poll frees the slots and makes both permits stale.
    assert_eq!(b.poll(at(18.0)), None);
    assert_eq!(b.metrics(at(18.0)).half_open_in_flight, 0);
    assert_eq!(
        b.next_deadline(),
        None,
        "nothing in flight, nothing to wait for"
    );
    assert_eq!(b.on_failure(p1, &failure("lost"), at(18.5)), None);
    assert_eq!(b.state(), State::HalfOpen);

    let _ = b.force_closed(at(19.0));
    assert_eq!(b.next_deadline(), None, "CLOSED has no deadline");
}

#[test]
fn next_deadline_follows_a_live_timeout_change() {
    let mut b = opened_at(at(100.0), |_| {});
    assert_eq!(b.next_deadline(), Some(at(160.0)));
    let shorter = Config {
        failure_threshold: 1,
        timeout_seconds: 0.5,
        ..Config::default()
    };
    b.set_config(shorter).unwrap();
    assert_eq!(b.next_deadline(), Some(at(100.5)));
}

#[test]
fn metrics_are_a_pure_view() {
    let mut b = opened_at(Instant::ZERO, |c| c.rolling_window_seconds = 10.0);
    let before = format!("{b:?}");
    let late = b.metrics(at(1000.0));
    assert_eq!(late.state, State::Open, "a due timeout is not applied");
    assert_eq!(
        late.window_calls, 0,
        "the window is read at the given instant"
    );
    assert_eq!(late.time_in_current_state, 1000 * SEC);
    assert_eq!(b.state(), State::Open);
    let _ = b.next_deadline();
    let _ = b.recent_failures().count();
    assert_eq!(format!("{b:?}"), before, "getters changed the breaker");

    // Reading at a late instant did not move the breaker's clock forward.
    assert_eq!(
        b.try_acquire(at(30.0)),
        Err(Rejection::Open {
            retry_after: 30 * SEC
        })
    );
}

#[test]
fn time_going_backwards_is_clamped() {
    let mut b = opened_at(at(10.0), |_| {});
    // An instant before one already seen is treated as the latest one.
    assert_eq!(
        b.try_acquire(at(4.0)),
        Err(Rejection::Open {
            retry_after: 60 * SEC
        })
    );
    assert_eq!(b.metrics(at(1.0)).time_in_current_state, Duration::ZERO);
    let p = b.try_acquire(at(70.0)).unwrap();
    let t = b.force_open(at(69.0)).unwrap();
    assert_eq!(
        t.at,
        at(70.0),
        "the transition is stamped with the clamped instant"
    );
    assert_eq!(b.on_success(p, at(0.0)), None);
    assert_eq!(b.next_deadline(), Some(at(130.0)));
}

#[test]
fn try_acquire_reports_the_timeout_transition_on_the_permit() {
    let mut b = opened_at(Instant::ZERO, |_| {});
    let p = b.try_acquire(at(60.0)).unwrap();
    assert_eq!(
        p.transition(),
        Some(Transition {
            from: State::Open,
            to: State::HalfOpen,
            reason: Reason::TimeoutElapsed,
            at: at(60.0),
        })
    );
    assert!(p.is_probe());
    let next = b.try_acquire(at(61.0));
    assert_eq!(next, Err(Rejection::Throttled));
    let third = b.try_acquire(at(61.0)).unwrap();
    assert_eq!(
        third.transition(),
        None,
        "only the call that moved the state reports it"
    );
}

#[test]
fn poll_is_harmless_when_early_or_repeated() {
    let mut b = breaker(|_| {});
    for s in 0..5 {
        assert_eq!(b.poll(at(f64::from(s))), None);
    }
    let mut b = opened_at(Instant::ZERO, |_| {});
    assert_eq!(b.poll(at(59.0)), None);
    let moved = b.poll(at(60.0)).unwrap();
    assert_eq!((moved.from, moved.to), (State::Open, State::HalfOpen));
    assert_eq!(b.poll(at(60.0)), None);
    assert_eq!(b.poll(at(600.0)), None);
    assert_eq!(b.metrics(at(600.0)).state_changes, 2);
}

#[test]
fn generation_changes_on_transitions_reset_and_lease_expiry_only() {
    let mut b = breaker(|c| {
        c.failure_threshold = 2;
        c.recovery_factor = 1.0;
        c.probe_lease_seconds = Some(1.0);
    });
    let generation = |b: &mut Breaker, t: Instant| {
        let p = b.try_acquire(t).expect("admitted");
        let g = p.generation();
        b.on_neutral(p, t);
        g
    };
    let g0 = generation(&mut b, Instant::ZERO);
    let _ = b.force_closed(Instant::ZERO); // no-op on CLOSED
    b.set_config(Config {
        failure_threshold: 2,
        recovery_factor: 1.0,
        probe_lease_seconds: Some(1.0),
        ..Config::default()
    })
    .unwrap();
    assert_eq!(
        generation(&mut b, Instant::ZERO),
        g0,
        "no transition, same generation"
    );

    let _ = b.reset(Instant::ZERO);
    let g1 = generation(&mut b, Instant::ZERO);
    assert_ne!(g1, g0, "reset starts a new generation even while CLOSED");

    let _ = b.force_open(Instant::ZERO);
    let kept = b.try_acquire(at(60.0)).unwrap(); // OPEN -> HALF_OPEN
    let g_half = kept.generation();
    assert!(g_half > g1);
    let _ = b.poll(at(61.0)); // the lease of `kept` expires
    let fresh = b.try_acquire(at(61.0)).unwrap();
    assert_ne!(
        fresh.generation(),
        g_half,
        "lease expiry makes old probes stale"
    );
    b.on_neutral(kept, at(61.0));
    assert_eq!(
        b.metrics(at(61.0)).half_open_in_flight,
        1,
        "a stale neutral frees nothing"
    );
}

#[test]
fn force_open_while_open_keeps_the_generation() {
    let mut b = breaker(|c| {
        c.failure_threshold = 1;
        c.gradual_recovery = false;
    });
    let straggler = b.try_acquire(Instant::ZERO).unwrap();
    let _ = b.force_open(Instant::ZERO);
    assert_eq!(b.force_open(at(30.0)), None, "already OPEN: no transition");
    assert_eq!(b.metrics(at(30.0)).state_changes, 1);
    assert_eq!(b.next_deadline(), Some(at(90.0)), "the timer restarted");
    assert_eq!(b.on_failure(straggler, &failure("late"), at(31.0)), None);
}

#[test]
fn forged_permits_are_counted_but_harmless() {
    let mut b = breaker(|c| c.failure_threshold = 1);
    for bits in [0, 1, 2, 3, u64::MAX, 0x5555_5555_5555_5555] {
        let p = Permit::from_bits(bits);
        assert_eq!(Permit::from_bits(p.to_bits()), p);
        b.on_neutral(p, Instant::ZERO);
    }
    // A forged permit of another generation cannot open the circuit.
    let real = b.try_acquire(Instant::ZERO).unwrap();
    let forged = Permit::from_bits((real.generation() + 1) << 2);
    assert_eq!(
        b.on_failure(forged, &failure("forged"), Instant::ZERO),
        None
    );
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics(Instant::ZERO);
    assert_eq!(
        (m.failure_count, m.neutral_count, m.consecutive_failures),
        (1, 6, 0)
    );
    assert!(
        b.on_failure(real, &failure("real"), Instant::ZERO)
            .is_some()
    );
}

#[test]
fn outcome_after_a_lease_deadline_but_before_any_poll_still_counts() {
    // Lease expiry is something time does, applied by poll (or try_acquire, which polls).
    // Outcomes do not poll, so a probe answering late, before anyone polled, is still current.
    let mut b = opened_at(Instant::ZERO, |c| {
        c.success_threshold = 1;
        c.probe_lease_seconds = Some(1.0);
    });
    let probe = b.try_acquire(at(60.0)).unwrap();
    let closed = b
        .on_success(probe, at(75.0))
        .expect("not yet expired by a poll");
    assert_eq!(closed.reason, Reason::ProbesSucceeded);
}

#[test]
fn refused_set_config_changes_nothing() {
    let mut b = opened_at(at(3.0), |c| c.max_recent_failures = 2);
    let before = format!("{b:?}");
    for bad in [
        Config {
            timeout_seconds: f64::NAN,
            ..Config::default()
        },
        Config {
            rolling_window_seconds: f64::INFINITY,
            ..Config::default()
        },
        Config {
            max_recent_failures: 0,
            ..Config::default()
        },
    ] {
        let err = b.set_config(bad).unwrap_err();
        assert!(err.to_string().starts_with(err.field()), "{err}");
        assert_eq!(format!("{b:?}"), before);
    }
}

#[test]
fn recent_failures_run_oldest_first_and_both_ways() {
    let mut b = breaker(|c| {
        c.failure_threshold = 100;
        c.max_recent_failures = 3;
    });
    for msg in ["a", "b", "c", "d"] {
        let p = b.try_acquire(Instant::ZERO).unwrap();
        let _ = b.on_failure(p, &failure(msg), Instant::ZERO);
    }
    let log = b.recent_failures();
    assert_eq!(log.len(), 3);
    let forward: Vec<&str> = b
        .recent_failures()
        .map(|r| r.error_message.as_str())
        .collect();
    let newest = b.recent_failures().next_back().unwrap();
    assert_eq!(forward, ["b", "c", "d"]);
    assert_eq!(newest.error_message, "d");
    assert_eq!(newest.timestamp, 1_700_000_000.0);
}

#[test]
fn metrics_at_the_end_of_the_timeline_do_not_overflow() {
    // Regression: with a 1 ns window the head bucket can be u64::MAX, and computing the
    // expired buckets used to overflow (`head + 1`) and panic in debug builds.
    let mut b = breaker(|c| {
        c.rolling_window_seconds = 1e-9;
        c.window_buckets = 1;
    });
    let end = Instant::from_nanos(u64::MAX);
    let p = b.try_acquire(end).unwrap();
    assert_eq!(b.on_success(p, end), None);
    let m = b.metrics(end);
    assert_eq!((m.window_calls, m.success_count), (1, 1));
    let _ = b.force_open(end);
    assert_eq!(b.next_deadline(), Some(end), "deadlines saturate");
    assert!(
        b.try_acquire(end).is_ok(),
        "and a saturated deadline is reached"
    );
}

#[test]
fn shared_breaker_runs_calls_on_a_manual_clock() {
    let clock = ManualClock::new();
    let config = Config {
        failure_threshold: 2,
        success_threshold: 1,
        timeout_seconds: 5.0,
        ..Config::default()
    };
    let shared = SharedBreaker::new(config, clock.clone()).unwrap();
    assert_eq!(shared.call("get", || Ok::<_, String>(7)), Ok(7));
    for _ in 0..2 {
        let r = shared.call("store", || Err::<u8, _>("disk full".to_owned()));
        assert_eq!(r, Err(CallError::Failed("disk full".to_owned())));
    }
    assert_eq!(shared.state(), State::Open);
    let log = shared.recent_failures();
    assert_eq!(
        (log[1].error_message.as_str(), log[1].operation.as_str()),
        ("disk full", "store")
    );
    let mut ran = false;
    let rejected = shared.call("get", || {
        ran = true;
        Ok::<_, String>(())
    });
    assert!(!ran, "a rejected call must not run");
    assert_eq!(
        rejected,
        Err(CallError::Rejected(Rejection::Open {
            retry_after: 5 * SEC
        }))
    );
    clock.advance(5 * SEC);
    assert_eq!(shared.clock().now(), at(5.0));
    assert_eq!(shared.call("get", || Ok::<_, String>(1)), Ok(1));
    assert_eq!(shared.state(), State::Closed);
    assert_eq!(shared.metrics().state_changes, 3);
}

#[test]
fn transitions_are_counted_by_from_to_and_reason_until_reset() {
    let mut b = opened_at(at(0.0), |c| c.timeout_seconds = 1.0);
    let _ = b.poll(at(1.0)); // open -> half_open
    let _ = fail_once(&mut b, at(1.0)); // half_open -> open (probe failed)
    let _ = b.force_closed(at(1.5));
    let count = |b: &Breaker, from, to, reason| {
        b.transition_counts()
            .iter()
            .find(|k| (k.0, k.1, k.2) == (from, to, reason))
            .map(|k| k.3)
    };
    use State::{Closed, HalfOpen, Open};
    assert_eq!(count(&b, Closed, Open, Reason::FailureThreshold), Some(1));
    assert_eq!(count(&b, Open, HalfOpen, Reason::TimeoutElapsed), Some(1));
    assert_eq!(count(&b, HalfOpen, Open, Reason::ProbeFailed), Some(1));
    assert_eq!(count(&b, Open, Closed, Reason::ForcedClosed), Some(1));
    assert_eq!(
        count(&b, HalfOpen, Closed, Reason::ProbesSucceeded),
        Some(0)
    );
    let total: u64 = b.transition_counts().iter().map(|k| k.3).sum();
    assert_eq!(
        total,
        b.metrics(at(2.0)).state_changes,
        "every change is in one series"
    );
    let _ = b.reset(at(2.0));
    assert!(b.transition_counts().iter().all(|k| k.3 == 0));
}

#[test]
fn trips_by_a_rate_rule_are_counted_under_their_own_reason() {
    let config = Config {
        failure_threshold: 100,
        failure_rate_threshold: Some(0.5),
        minimum_calls: 2,
        ..Config::default()
    };
    let mut b = Breaker::new(config, at(0.0)).unwrap();
    let p = b.try_acquire(at(0.0)).unwrap();
    let _ = b.on_success(p, at(0.0));
    let t = fail_once(&mut b, at(0.1));
    assert_eq!(t.map(|t| t.reason), Some(Reason::FailureRate));
    let counted = b
        .transition_counts()
        .iter()
        .find(|k| k.2 == Reason::FailureRate)
        .map(|k| k.3);
    assert_eq!(
        counted,
        Some(1),
        "a trip every exporter's transitions series shows"
    );
}

#[test]
fn health_report_has_no_side_effects_and_reads_the_breakers_own_history() {
    use fact_resilience_core::{HealthThresholds, Severity};
    let b = opened_at(at(0.0), |c| c.timeout_seconds = 10.0);
    let r = b.health(at(301.0), &HealthThresholds::default());
    // The timeout is long due, but the report (like metrics) does not apply it.
    assert_eq!((b.state(), r.status), (State::Open, Severity::Critical));
    let rules: Vec<&str> = r.alerts().map(|a| a.rule.as_str()).collect();
    // The one failure has left the 300 s window, so only the open time fires.
    assert_eq!(rules, ["critical_open_seconds"]);
}

#[test]
fn a_permit_token_keeps_the_admission_instant_and_bits_alone_do_not() {
    let rated = Config {
        failure_rate_threshold: Some(0.5),
        ..Config::default()
    };
    for at in [
        Instant::ZERO,
        Instant::from_nanos(7),
        Instant::from_nanos(u64::MAX),
    ] {
        let mut b = Breaker::new(rated.clone(), at).unwrap();
        let p = b.try_acquire(at).unwrap();
        assert_eq!(p.admitted_at(), Some(at));
        let back = Permit::from_token(p.to_token());
        let end = Instant::from_nanos(u64::MAX - 1); // the timeline's last ns reads 1 ns early
        assert_eq!(
            (back.admitted_at(), back.to_bits()),
            (Some(at.min(end)), p.to_bits())
        );
        assert_eq!(Permit::from_bits(p.to_bits()).admitted_at(), None);
        assert_eq!(
            Permit::from_token(u128::from(p.to_bits())).admitted_at(),
            None
        );
    }
}

#[test]
fn a_permit_is_timed_only_while_a_rate_rule_is_on() {
    // Without a rate rule nothing reads the admission instant, so a permit carries none and
    // its token is its bits: a host passes one small integer.
    let mut b = Breaker::new(Config::default(), Instant::ZERO).unwrap();
    let p = b.try_acquire(Instant::from_nanos(5)).unwrap();
    assert_eq!(p.admitted_at(), None);
    assert_eq!(p.to_token(), u128::from(p.to_bits()));
    assert_eq!(p.to_bits() & 2, 0);
    // With one, the bits say so, and a host that keeps the instant hands it back.
    let rated = Config {
        slow_call_duration_seconds: Some(1.0),
        ..Config::default()
    };
    b.set_config(rated).unwrap();
    let q = b.try_acquire(Instant::from_nanos(9)).unwrap();
    assert_eq!(q.to_bits() & 2, 2);
    let back = b.permit_from_bits(q.to_bits(), Instant::from_nanos(9));
    assert_eq!(back.admitted_at(), Some(Instant::from_nanos(9)));
    let untimed = b.permit_from_bits(p.to_bits(), Instant::from_nanos(5));
    assert_eq!(untimed.admitted_at(), None);
}
