//! `CacheGuard` behaviour that the sequential cache vectors cannot express: calls that
//! overlap a flush, and tickets that are spent or forged.

use core::time::Duration;
use fact_resilience_core::{
    Begin, Breaker, CacheGuard, CacheOp, Capabilities, Config, End, Failure, FallbackReason,
    GuardError, Instant, Outcome, StaleKeys, Ticket,
};

const PER_KEY: Capabilities = Capabilities {
    per_key: true,
    flush_all: true,
};

fn failure() -> Failure<'static> {
    Failure {
        error_type: "ConnectionError",
        error_message: "down",
        operation: "store",
        timestamp: 0.0,
    }
}

fn setup() -> (Breaker, CacheGuard) {
    let config = Config {
        failure_threshold: 1,
        success_threshold: 1,
        gradual_recovery: false,
        ..Config::default()
    };
    let breaker = Breaker::new(config, Instant::ZERO).unwrap();
    (breaker, CacheGuard::new(StaleKeys::PerKey, PER_KEY, 16))
}

fn run(begin: Begin<String>) -> (Ticket, bool) {
    match begin {
        Begin::Run { ticket, flush, .. } => (ticket, flush.is_some()),
        other => panic!("expected run, got {other:?}"),
    }
}

/// Leaves "k" pending and the circuit due to half-open at the returned instant.
fn pending_k(b: &mut Breaker, g: &mut CacheGuard) -> Instant {
    let (t, _) = run(g.begin(b, CacheOp::Store, Some("k"), true, Instant::ZERO).0);
    let _ = g
        .end(b, t, Outcome::Failure(failure()), Instant::ZERO)
        .unwrap();
    Instant::ZERO.saturating_add(Duration::from_secs(60))
}

#[test]
fn a_read_of_a_key_being_flushed_gets_the_fallback_and_releases_its_permit() {
    let (mut b, mut g) = setup();
    let now = pending_k(&mut b, &mut g);
    let (flusher, flushing) = run(g.begin(&mut b, CacheOp::Get, Some("other"), true, now).0);
    assert!(flushing);
    let (waiting, _) = g.begin(&mut b, CacheOp::Get, Some("k"), true, now);
    assert!(matches!(
        waiting,
        Begin::Fallback {
            reason: FallbackReason::Flushing,
            ..
        }
    ));
    assert_eq!(
        b.metrics(now).neutral_count,
        1,
        "its permit was released as neutral"
    );
    // A key the flush does not cover runs as usual, without a second flush.
    let (other, second_flush) = run(g.begin(&mut b, CacheOp::Get, Some("z"), true, now).0);
    assert!(!second_flush);
    g.flushed(flusher).unwrap();
    let (t, flushing) = run(g.begin(&mut b, CacheOp::Get, Some("k"), true, now).0);
    assert!(!flushing, "the flushed key is runnable again");
    for t in [flusher, other, t] {
        let _ = g.end(&mut b, t, Outcome::Success, now).unwrap();
    }
    assert_eq!(g.counters().in_flight, 0);
}

#[test]
fn a_write_skipped_during_a_flush_is_remembered_again() {
    let (mut b, mut g) = setup();
    let now = pending_k(&mut b, &mut g);
    let (flusher, _) = run(g.begin(&mut b, CacheOp::Get, Some("other"), true, now).0);
    let (skipped, _) = g.begin(&mut b, CacheOp::Store, Some("k"), true, now);
    assert!(matches!(skipped, Begin::Fallback { .. }));
    g.flushed(flusher).unwrap();
    let _ = g.end(&mut b, flusher, Outcome::Success, now).unwrap();
    assert_eq!(g.counters().pending_keys, 1);
}

#[test]
fn a_key_remembered_after_the_flush_began_is_not_read_until_flushed() {
    let (mut b, mut g) = setup();
    let now = pending_k(&mut b, &mut g);
    let (flusher, _) = run(g.begin(&mut b, CacheOp::Get, Some("other"), true, now).0);
    // A store of "late" fails while "k" is being flushed: "late" is pending, not in flight.
    let (t, flushing) = run(g.begin(&mut b, CacheOp::Store, Some("late"), true, now).0);
    assert!(!flushing);
    let _ = g.end(&mut b, t, Outcome::Cancelled, now).unwrap();
    let (read, _) = g.begin(&mut b, CacheOp::Get, Some("late"), true, now);
    assert!(matches!(
        read,
        Begin::Fallback {
            reason: FallbackReason::Flushing,
            ..
        }
    ));
    g.flushed(flusher).unwrap();
    let _ = g.end(&mut b, flusher, Outcome::Success, now).unwrap();
    let (t, flushing) = run(g.begin(&mut b, CacheOp::Get, Some("late"), true, now).0);
    assert!(flushing, "the next admitted call flushes it first");
    g.flushed(t).unwrap();
    let _ = g.end(&mut b, t, Outcome::Success, now).unwrap();
}

#[test]
fn a_ticket_used_twice_is_refused_and_counts_nothing() {
    let (mut b, mut g) = setup();
    let (t, _) = run(g
        .begin(&mut b, CacheOp::Get, Some("k"), true, Instant::ZERO)
        .0);
    assert_eq!(
        g.end(&mut b, t, Outcome::Success, Instant::ZERO).unwrap().0,
        End::Value
    );
    let again = g.end(&mut b, t, Outcome::Success, Instant::ZERO);
    assert_eq!(
        again,
        Err(GuardError::UnknownTicket {
            ticket: t.to_bits()
        })
    );
    assert_eq!(g.flushed(t), again.map(|_| ()));
    assert_eq!(b.metrics(Instant::ZERO).success_count, 1);
    assert_eq!(g.counters().in_flight, 0);
}

#[test]
fn a_forged_ticket_is_refused_and_a_reused_slot_gets_a_new_ticket() {
    let (mut b, mut g) = setup();
    for bits in [0, 1, u64::MAX, 1 << 40] {
        let forged = Ticket::from_bits(bits);
        assert!(
            g.end(&mut b, forged, Outcome::Success, Instant::ZERO)
                .is_err()
        );
    }
    let (first, _) = run(g
        .begin(&mut b, CacheOp::Get, Some("k"), true, Instant::ZERO)
        .0);
    let _ = g
        .end(&mut b, first, Outcome::Success, Instant::ZERO)
        .unwrap();
    let (second, _) = run(g
        .begin(&mut b, CacheOp::Get, Some("k"), true, Instant::ZERO)
        .0);
    assert_ne!(
        first, second,
        "a slot reused for a new call issues a fresh ticket"
    );
    assert!(
        g.end(&mut b, first, Outcome::Success, Instant::ZERO)
            .is_err()
    );
    assert!(
        g.end(&mut b, second, Outcome::Success, Instant::ZERO)
            .is_ok()
    );
    assert!(second.to_bits() < 1 << 53, "tickets fit a JS number");
}

#[test]
fn a_failed_flush_in_one_call_lets_the_next_admitted_call_carry_it() {
    let (mut b, mut g) = setup();
    let now = pending_k(&mut b, &mut g);
    let (t, flushing) = run(g.begin(&mut b, CacheOp::Get, Some("other"), true, now).0);
    assert!(flushing);
    let (end, moved) = g.end(&mut b, t, Outcome::Timeout(failure()), now).unwrap();
    assert!(matches!(end, End::Fallback { .. }));
    assert!(moved.is_some(), "the failed probe re-opened the circuit");
    let c = g.counters();
    assert_eq!((c.pending_keys, c.flush_failures, c.timeouts), (1, 1, 1));
}

#[test]
fn a_guard_that_lost_its_pending_keys_flushes_everything_next() {
    let (mut b, mut g) = setup();
    g.assume_stale();
    let (begin, _) = g.begin(&mut b, CacheOp::Get, Some("k"), true, Instant::ZERO);
    assert!(matches!(
        begin,
        Begin::Run {
            flush: Some(fact_resilience_core::Flush::All),
            ..
        }
    ));
    let caps = Capabilities {
        per_key: true,
        flush_all: false,
    };
    let mut cannot: CacheGuard = CacheGuard::new(StaleKeys::PerKey, caps, 16);
    cannot.assume_stale();
    assert_eq!(cannot.counters().dropped_keys, 1, "the loss is counted");
    let mut off: CacheGuard = CacheGuard::new(StaleKeys::Off, PER_KEY, 16);
    off.assume_stale();
    assert!(!off.counters().pending_all);
}
