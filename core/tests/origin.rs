//! The origin guard: single-flight, the budget, stale-if-error within its age and never past a
//! write, bounded memory, and refused configs and tickets.

use core::time::Duration;
use fact_resilience_core::{Instant, Load, LoadTicket, OriginConfig, OriginError, OriginGuard};

fn at(s: u64) -> Instant {
    Instant::from_nanos(s * 1_000_000_000)
}

fn guard(config: OriginConfig) -> OriginGuard<String> {
    OriginGuard::new(config).unwrap()
}

fn lead(g: &mut OriginGuard<String>, key: &str, now: Instant) -> LoadTicket {
    match g.begin(key, false, now) {
        Load::Lead(t) => t,
        other => panic!("expected a lead for {key}, got {other:?}"),
    }
}

fn stale(age: u64, capacity: usize) -> OriginConfig {
    OriginConfig {
        stale_if_error: Some(Duration::from_secs(age)),
        stale_capacity: capacity,
        ..OriginConfig::default()
    }
}

#[test]
fn concurrent_loads_of_a_key_share_one_origin_call() {
    let mut g = guard(OriginConfig {
        single_flight: true,
        ..OriginConfig::default()
    });
    let t = lead(&mut g, "k", at(0));
    assert_eq!(g.begin("k", true, at(0)), Load::Join(t));
    assert_eq!(g.begin("k", false, at(0)), Load::Join(t));
    let other = lead(&mut g, "other", at(0));
    assert_ne!(other, t);
    let end = g.end(t, true, at(1)).unwrap();
    assert_eq!((end.joined, end.remember), (2, None));
    // Over: the next miss loads again.
    let again = lead(&mut g, "k", at(2));
    assert_ne!(again, t);
    let c = g.counters();
    assert_eq!((c.origin_calls, c.joined, c.in_flight), (3, 2, 2));
}

#[test]
fn without_single_flight_every_miss_loads() {
    let mut g = guard(OriginConfig::default());
    let a = lead(&mut g, "k", at(0));
    let b = lead(&mut g, "k", at(0));
    assert_ne!(a, b);
    assert_eq!(g.counters().in_flight, 2);
}

#[test]
fn the_budget_bounds_origin_calls_in_flight_not_joins() {
    let mut g = guard(OriginConfig {
        single_flight: true,
        budget: Some(2),
        ..OriginConfig::default()
    });
    let a = lead(&mut g, "a", at(0));
    let _b = lead(&mut g, "b", at(0));
    assert_eq!(g.begin("c", true, at(0)), Load::Busy);
    assert_eq!(
        g.begin("a", true, at(0)),
        Load::Join(a),
        "a join calls nothing"
    );
    let _ = g.end(a, false, at(0)).unwrap();
    let _c = lead(&mut g, "c", at(0));
    assert_eq!(g.counters().busy, 1);
}

#[test]
fn a_served_value_answers_while_the_cache_is_down_within_its_age() {
    let mut g = guard(stale(10, 8));
    let slot = g.served("k", at(100)).unwrap();
    assert_eq!(
        g.begin("k", true, at(105)),
        Load::Stale {
            slot,
            age: Duration::from_secs(5)
        }
    );
    // A miss on a healthy cache is a real miss: it loads.
    assert!(matches!(g.begin("k", false, at(105)), Load::Lead(_)));
    // Past its age the value is never served.
    assert!(matches!(g.begin("k", true, at(111)), Load::Lead(_)));
    assert_eq!(g.counters().stale_served, 1);
}

#[test]
fn a_write_forgets_the_value_and_a_load_it_overtook() {
    let mut g = guard(OriginConfig {
        single_flight: true,
        ..stale(60, 8)
    });
    let slot = g.served("k", at(0)).unwrap();
    assert_eq!(g.written("k"), Some(slot));
    assert!(matches!(g.begin("k", true, at(1)), Load::Lead(_)));
    // A load that began before a write must not be remembered when it lands after it.
    let mut g = guard(OriginConfig {
        single_flight: true,
        ..stale(60, 8)
    });
    let t = lead(&mut g, "k", at(0));
    assert_eq!(g.written("k"), None);
    assert_eq!(g.end(t, true, at(1)).unwrap().remember, None);
    assert!(matches!(g.begin("k", true, at(2)), Load::Lead(_)));
    // The same without single-flight, where loads are not indexed by key.
    let mut g = guard(stale(60, 8));
    let t = lead(&mut g, "k", at(0));
    let _ = g.written("k");
    assert_eq!(g.end(t, true, at(1)).unwrap().remember, None);
}

#[test]
fn a_load_that_succeeds_is_remembered_and_a_failed_one_is_not() {
    let mut g = guard(stale(60, 8));
    let ok = lead(&mut g, "k", at(0));
    let slot = g.end(ok, true, at(1)).unwrap().remember.unwrap();
    assert_eq!(
        g.begin("k", true, at(2)),
        Load::Stale {
            slot,
            age: Duration::from_secs(1)
        }
    );
    let failed = lead(&mut g, "j", at(0));
    assert_eq!(g.end(failed, false, at(1)).unwrap().remember, None);
}

#[test]
fn remembered_values_are_bounded_oldest_slot_first() {
    let mut g = guard(stale(60, 2));
    let a = g.served("a", at(0)).unwrap();
    let b = g.served("b", at(0)).unwrap();
    assert_ne!(a, b);
    assert_eq!(g.served("a", at(1)), Some(a), "a key keeps its slot");
    let c = g.served("c", at(2)).unwrap();
    assert_eq!(c, a, "the slot filled first is reused");
    assert!(matches!(g.begin("a", true, at(3)), Load::Lead(_)));
    assert!(matches!(g.begin("b", true, at(3)), Load::Stale { .. }));
    assert_eq!(g.counters().remembered, 2);
}

#[test]
fn a_flush_of_everything_forgets_everything() {
    let mut g = guard(stale(60, 8));
    let _ = g.served("a", at(0));
    let t = lead(&mut g, "b", at(0));
    g.written_all();
    assert!(matches!(g.begin("a", true, at(1)), Load::Lead(_)));
    assert_eq!(g.end(t, true, at(1)).unwrap().remember, None);
    assert_eq!(g.counters().remembered, 0);
}

#[test]
fn stale_if_error_off_remembers_nothing() {
    let mut g = guard(OriginConfig::default());
    assert_eq!(g.served("a", at(0)), None);
    assert_eq!(g.written("a"), None);
    assert!(matches!(g.begin("a", true, at(0)), Load::Lead(_)));
}

#[test]
fn a_spent_or_forged_ticket_is_refused() {
    let mut g = guard(OriginConfig::default());
    let t = lead(&mut g, "k", at(0));
    let _ = g.end(t, true, at(0)).unwrap();
    assert_eq!(
        g.end(t, true, at(0)),
        Err(OriginError::UnknownTicket(t.to_bits()))
    );
    let forged = LoadTicket::from_bits(99 << 32 | 1);
    assert!(g.end(forged, true, at(0)).is_err());
    // A reused slot gets a new sequence: the old ticket still does not end the new load.
    let t2 = lead(&mut g, "k", at(0));
    assert_ne!(t2, t);
    assert!(g.end(t, true, at(0)).is_err());
    assert!(g.end(t2, true, at(0)).is_ok());
}

#[test]
fn bad_configs_name_the_field() {
    let err = |c: OriginConfig| OriginGuard::<String>::new(c).unwrap_err().to_string();
    assert!(
        err(OriginConfig {
            budget: Some(0),
            ..OriginConfig::default()
        })
        .starts_with("origin_budget:")
    );
    assert!(err(stale(0, 8)).starts_with("stale_if_error_seconds:"));
    assert!(err(stale(10, 0)).starts_with("stale_capacity:"));
}
