//! The registry: admission along a path, outcomes at every level, the bound and eviction, and
//! bad configs and paths refused with the field named.

use core::time::Duration;
use fact_resilience_core::{
    Config, Failure, Instant, Level, Registry, RegistryConfig, RegistryError, Rejection, State,
};

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn failure() -> Failure<'static> {
    Failure {
        error_type: "ConnectionError",
        error_message: "down",
        operation: "get",
        timestamp: 0.0,
    }
}

fn threshold(n: u32) -> Config {
    Config {
        failure_threshold: n,
        ..Config::default()
    }
}

/// service (threshold 5) -> key (threshold 3).
fn two_levels(max_breakers: usize) -> Registry {
    Registry::new(RegistryConfig {
        levels: vec![
            Level::new("service", threshold(5)),
            Level::new("key", threshold(3)),
        ],
        max_breakers,
    })
    .unwrap()
}

fn fail(r: &mut Registry, path: &[&str], now: Instant) {
    let permit = r.try_acquire(path, now).unwrap().unwrap();
    let _ = r.on_failure(permit, &failure(), now);
}

fn succeed(r: &mut Registry, path: &[&str], now: Instant) {
    let permit = r.try_acquire(path, now).unwrap().unwrap();
    let _ = r.on_success(permit, now);
}

fn state(r: &Registry, path: &[&str]) -> Option<State> {
    r.breaker(path).map(|b| b.state())
}

#[test]
fn one_failing_key_opens_only_its_own_breaker() {
    let mut r = two_levels(100);
    for i in 0..3 {
        fail(&mut r, &["cache", "hot"], at(i));
        succeed(&mut r, &["cache", "cold"], at(i));
    }
    assert_eq!(state(&r, &["cache", "hot"]), Some(State::Open));
    assert_eq!(state(&r, &["cache"]), Some(State::Closed));
    let refused = r
        .try_acquire(&["cache", "hot"], at(10))
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.level, 1);
    assert!(matches!(refused.rejection, Rejection::Open { .. }));
    assert!(r.try_acquire(&["cache", "cold"], at(10)).unwrap().is_ok());
}

#[test]
fn an_outage_opens_the_upper_level_without_every_key_failing() {
    let mut r = two_levels(100);
    for i in 0..5 {
        fail(&mut r, &["cache", &format!("k{i}")], at(i));
    }
    assert_eq!(state(&r, &["cache"]), Some(State::Open));
    // A key never seen before is refused by the service's breaker, and gets no breaker of
    // its own for it.
    let refused = r
        .try_acquire(&["cache", "k99"], at(10))
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.level, 0);
    assert_eq!(state(&r, &["cache", "k99"]), None);
}

#[test]
fn a_refusal_below_releases_the_permits_above() {
    let mut r = two_levels(100);
    for i in 0..3 {
        fail(&mut r, &["cache", "hot"], at(i));
    }
    let before = r.metrics(&["cache"], at(5)).unwrap();
    let refused = r
        .try_acquire(&["cache", "hot"], at(5))
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.level, 1);
    let after = r.metrics(&["cache"], at(5)).unwrap();
    assert_eq!(after.total_operations, before.total_operations);
    assert_eq!(r.summary(at(5))[0].in_flight, 0);
}

#[test]
fn each_level_reports_its_own_transitions() {
    let mut r = Registry::new(RegistryConfig {
        levels: vec![
            Level::new("service", threshold(2)),
            Level::new("key", threshold(2)),
        ],
        max_breakers: 10,
    })
    .unwrap();
    fail(&mut r, &["cache", "a"], at(0));
    let permit = r.try_acquire(&["cache", "a"], at(1)).unwrap().unwrap();
    let moved: Vec<(usize, State)> = r
        .on_failure(permit, &failure(), at(1))
        .iter()
        .map(|(level, t)| (level, t.to))
        .collect();
    assert_eq!(moved, [(0, State::Open), (1, State::Open)]);
}

#[test]
fn the_half_open_move_shows_on_the_permit() {
    let mut r = two_levels(10);
    for i in 0..3 {
        fail(&mut r, &["cache", "a"], at(i));
    }
    let later = at(61_000);
    let permit = r.try_acquire(&["cache", "a"], later).unwrap().unwrap();
    let moved: Vec<(usize, State)> = permit.transitions().map(|(l, t)| (l, t.to)).collect();
    assert_eq!(moved, [(1, State::HalfOpen)]);
    r.on_neutral(permit, later);
}

#[test]
fn a_prefix_gets_its_own_config() {
    let mut key = Level::new("key", threshold(3));
    key.prefixes.push(("vip:".into(), threshold(1)));
    key.prefixes.push(("vip:gold:".into(), threshold(2)));
    let mut r = Registry::new(RegistryConfig {
        levels: vec![key],
        max_breakers: 10,
    })
    .unwrap();
    fail(&mut r, &["vip:ann"], at(0));
    fail(&mut r, &["vip:gold:bob"], at(0));
    fail(&mut r, &["plain"], at(0));
    assert_eq!(state(&r, &["vip:ann"]), Some(State::Open));
    assert_eq!(
        state(&r, &["vip:gold:bob"]),
        Some(State::Closed),
        "longest prefix wins"
    );
    assert_eq!(state(&r, &["plain"]), Some(State::Closed));
}

#[test]
fn idle_breakers_beyond_the_bound_are_dropped_oldest_first() {
    let key = Level::new("key", Config::default());
    let mut r = Registry::new(RegistryConfig {
        levels: vec![key],
        max_breakers: 3,
    })
    .unwrap();
    for (i, k) in ["a", "b", "c"].iter().enumerate() {
        succeed(&mut r, &[k], at(i as u64));
    }
    // Within the window every breaker has seen a call: none is idle, the bound gives way.
    succeed(&mut r, &["d"], at(10));
    assert_eq!((r.len(), r.evicted()), (4, 0));
    // Past the window they are idle: the oldest go first, down to the bound.
    let later = at(10).saturating_add(Duration::from_secs(301));
    succeed(&mut r, &["e"], later);
    assert_eq!(r.len(), 3);
    assert_eq!(r.evicted(), 2);
    assert!(r.breaker(&["a"]).is_none() && r.breaker(&["b"]).is_none());
    assert!(r.breaker(&["e"]).is_some());
}

#[test]
fn a_breaker_that_is_open_or_busy_is_never_dropped() {
    let key = Level::new("key", threshold(1));
    let mut r = Registry::new(RegistryConfig {
        levels: vec![key],
        max_breakers: 1,
    })
    .unwrap();
    fail(&mut r, &["open"], at(0));
    let busy = r.try_acquire(&["busy"], at(0)).unwrap().unwrap();
    let later = at(0).saturating_add(Duration::from_secs(1000));
    succeed(&mut r, &["x"], later);
    assert_eq!(state(&r, &["open"]), Some(State::Open));
    assert!(r.breaker(&["busy"]).is_some(), "a call is in flight");
    r.on_neutral(busy, later);
}

#[test]
fn a_parent_outlives_its_children() {
    let mut r = two_levels(1);
    succeed(&mut r, &["cache", "a"], at(0));
    let later = at(0).saturating_add(Duration::from_secs(301));
    succeed(&mut r, &["cache", "b"], later);
    assert!(r.breaker(&["cache"]).is_some());
    assert!(r.breaker(&["cache", "a"]).is_none());
}

#[test]
fn the_summary_counts_each_level() {
    let mut r = two_levels(100);
    for i in 0..3 {
        fail(&mut r, &["cache", "hot"], at(i));
    }
    succeed(&mut r, &["cache", "cold"], at(4));
    let s = r.summary(at(5));
    assert_eq!((s[0].breakers, s[0].closed, s[0].window_calls), (1, 1, 4));
    assert_eq!(s[0].window_failures, 3);
    assert_eq!((s[1].breakers, s[1].open, s[1].closed), (2, 1, 1));
}

#[test]
fn a_path_of_the_wrong_length_is_refused() {
    let mut r = two_levels(10);
    let e = r.try_acquire(&["cache"], at(0)).unwrap_err();
    assert_eq!(
        e,
        RegistryError::PathLength {
            expected: 2,
            got: 1
        }
    );
    assert_eq!(
        e.to_string(),
        "path: expected 2 segments (one per level), got 1"
    );
}

fn refused(levels: Vec<Level>, max_breakers: usize) -> String {
    Registry::new(RegistryConfig {
        levels,
        max_breakers,
    })
    .unwrap_err()
    .to_string()
}

#[test]
fn bad_configs_name_the_field() {
    let ok = || Level::new("key", Config::default());
    assert!(refused(vec![], 10).starts_with("levels:"));
    assert!(refused(vec![ok()], 0).starts_with("max_breakers:"));
    assert!(refused(vec![Level::new("", Config::default())], 10).starts_with("levels[0]:"));
    assert!(refused(vec![ok(), ok()], 10).contains("appears twice"));
    assert!(
        refused(
            (0..9)
                .map(|i| Level::new(format!("l{i}"), Config::default()))
                .collect(),
            10
        )
        .contains("at most 8")
    );
    let mut bad = Level::new("key", threshold(0));
    let msg = refused(vec![bad.clone()], 10);
    assert!(
        msg.contains("levels[\"key\"].config") && msg.contains("failure_threshold"),
        "{msg}"
    );
    bad.config = Config::default();
    bad.prefixes.push(("vip:".into(), threshold(0)));
    let msg = refused(vec![bad], 10);
    assert!(
        msg.contains("[prefix \"vip:\"]") && msg.contains("failure_threshold"),
        "{msg}"
    );
}

#[test]
fn parent_links_build_the_chain_or_name_the_problem() {
    let c = Config::default();
    let chain = RegistryConfig::from_parents(
        &[
            ("key", Some("operation")),
            ("system", None),
            ("operation", Some("system")),
        ],
        &c,
        10,
    )
    .unwrap();
    let names: Vec<&str> = chain.levels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["system", "operation", "key"]);
    let err = |links: &[(&str, Option<&str>)]| {
        RegistryConfig::from_parents(links, &c, 10)
            .unwrap_err()
            .to_string()
    };
    assert!(err(&[("a", Some("b")), ("b", Some("a"))]).contains("cycle"));
    assert!(err(&[("r", None), ("a", Some("b")), ("b", Some("a"))]).contains("cycle"));
    assert!(err(&[("r", None), ("s", None)]).contains("second root"));
    assert!(err(&[("r", None), ("a", Some("r")), ("b", Some("r"))]).contains("two child"));
    assert!(err(&[]).starts_with("levels:"));
    assert!(err(&[("", None)]).starts_with("levels[0]:"));
    assert!(
        RegistryConfig::from_parents(&[("key", None)], &c, 0)
            .unwrap_err()
            .to_string()
            .starts_with("max_breakers:")
    );
}

#[test]
fn a_cache_guard_admits_through_a_registry_path() {
    use fact_resilience_core::{
        Begin, CacheGuard, CacheOp, Capabilities, End, FallbackReason, Outcome, PathPermit,
        StaleKeysOption,
    };
    let caps = Capabilities {
        per_key: true,
        flush_all: false,
    };
    let policy = StaleKeysOption::Auto.resolve(caps).unwrap();
    let mut guard: CacheGuard<String, PathPermit> = CacheGuard::new(policy, caps, 64);
    let mut r = two_levels(100);
    // Three failed reads of "hot" open its breaker (and only its).
    for i in 0..3 {
        let mut gate = r.path(&["cache", "hot"]).unwrap();
        let (begin, _) = guard.begin(&mut gate, CacheOp::Get, Some("hot"), true, at(i));
        let Begin::Run { ticket, .. } = begin else {
            panic!("{begin:?}")
        };
        let (end, moved) = guard
            .end(&mut gate, ticket, Outcome::Failure(failure()), at(i))
            .unwrap();
        assert!(matches!(end, End::Fallback { .. }));
        let opened: Vec<usize> = moved.iter().map(|(level, _)| level).collect();
        assert_eq!(opened, if i == 2 { vec![1] } else { vec![] });
    }
    // A store to "hot" now gets the fallback, and its key is remembered for invalidation.
    let mut gate = r.path(&["cache", "hot"]).unwrap();
    let (begin, _) = guard.begin(&mut gate, CacheOp::Store, Some("hot"), true, at(5));
    assert!(matches!(
        begin,
        Begin::Fallback {
            reason: FallbackReason::Open,
            ..
        }
    ));
    assert_eq!(guard.counters().pending_keys, 1);
    // Another key runs, and takes the flush of "hot" with it.
    let mut gate = r.path(&["cache", "cold"]).unwrap();
    let (begin, _) = guard.begin(&mut gate, CacheOp::Get, Some("cold"), true, at(6));
    let Begin::Run {
        ticket,
        flush: Some(flush),
        ..
    } = begin
    else {
        panic!("{begin:?}")
    };
    assert!(flush.covers("hot"));
    guard.flushed(ticket).unwrap();
    let (end, _) = guard
        .end(&mut gate, ticket, Outcome::Success, at(6))
        .unwrap();
    assert_eq!(end, End::Value);
    assert!(r.path(&["cache"]).is_err(), "a path names every level");
}

#[test]
fn a_breaker_in_front_of_a_path_admits_first_and_hears_every_outcome() {
    use fact_resilience_core::{Admission, Breaker};
    let mut system = Breaker::new(threshold(2), at(0)).unwrap();
    let mut r = two_levels(100);
    for i in 0..2 {
        let key = format!("k{i}");
        let path = ["cache", key.as_str()];
        let mut gate = (&mut system, r.path(&path).unwrap());
        let (permit, _) = gate.try_acquire(at(i)).unwrap();
        let _ = gate.on_failure(permit, &failure(), at(i));
    }
    assert_eq!(system.state(), State::Open);
    let mut gate = (&mut system, r.path(&["cache", "k9"]).unwrap());
    assert!(gate.try_acquire(at(3)).is_err());
    assert_eq!(
        state(&r, &["cache", "k9"]),
        None,
        "refused in front, nothing made behind"
    );
    // A refusal behind releases the permit in front.
    let mut r = two_levels(100);
    for i in 0..3 {
        fail(&mut r, &["cache", "hot"], at(i));
    }
    let mut system = Breaker::new(Config::default(), at(0)).unwrap();
    let mut gate = (&mut system, r.path(&["cache", "hot"]).unwrap());
    assert!(gate.try_acquire(at(4)).is_err());
    assert_eq!(system.metrics(at(4)).total_operations, 0);
}

#[test]
fn a_gate_admits_a_call_on_no_path_and_ends_any_call_by_its_permit() {
    use fact_resilience_core::{Admission, Breaker};
    let mut system = Breaker::new(threshold(5), at(0)).unwrap();
    let mut r = two_levels(100);
    // No path (a prefix invalidation): only the breaker in front judges it.
    let mut gate = (&mut system, r.gate(None).unwrap());
    let (permit, _) = gate.try_acquire(at(0)).unwrap();
    assert!(permit.1.is_none());
    let _ = gate.on_failure(permit, &failure(), at(0));
    assert!(r.is_empty(), "no path, no breaker made");
    // A call on a path, ended through a gate that names no path: its permit names the breakers.
    for i in 1..4 {
        let (permit, _) = (&mut system, r.gate(Some(&["cache", "hot"])).unwrap())
            .try_acquire(at(i))
            .unwrap();
        let mut ending = (&mut system, r.gate(None).unwrap());
        let _ = ending.on_failure(permit, &failure(), at(i));
    }
    assert_eq!(state(&r, &["cache", "hot"]), Some(State::Open));
    assert_eq!(state(&r, &["cache"]), Some(State::Closed));
    assert_eq!(system.metrics(at(4)).failure_count, 4);
    assert!(
        r.gate(Some(&["cache"])).is_err(),
        "a path names every level"
    );
}

#[test]
fn a_failing_flush_carried_by_another_keys_call_is_judged_by_the_breaker_in_front_alone() {
    use fact_resilience_core::{
        Begin, Breaker, CacheGuard, CacheOp, Capabilities, Outcome, StaleKeysOption,
    };
    let caps = Capabilities {
        per_key: true,
        flush_all: false,
    };
    let policy = StaleKeysOption::Auto.resolve(caps).unwrap();
    let mut guard = CacheGuard::new(policy, caps, 64);
    let mut system = Breaker::new(threshold(100), at(0)).unwrap();
    let mut r = two_levels(100);
    // A failed store of "hot" leaves its invalidation pending.
    let mut gate = (&mut system, r.gate(Some(&["cache", "hot"])).unwrap());
    let (begin, _) = guard.begin(&mut gate, CacheOp::Store, Some("hot"), true, at(0));
    let Begin::Run { ticket, .. } = begin else {
        panic!("{begin:?}")
    };
    let _ = guard.end(&mut gate, ticket, Outcome::Failure(failure()), at(0));
    // Calls on "cold" carry that flush, and it fails each time (never confirmed).
    for i in 1..=5 {
        let mut gate = (&mut system, r.gate(Some(&["cache", "cold"])).unwrap());
        let (begin, _) = guard.begin(&mut gate, CacheOp::Get, Some("cold"), true, at(i));
        let Begin::Run {
            ticket,
            flush: Some(flush),
            ..
        } = begin
        else {
            panic!("call {i} carries the flush: {begin:?}")
        };
        assert!(flush.covers("hot"));
        let _ = guard.end(&mut gate, ticket, Outcome::Failure(failure()), at(i));
    }
    // The key level opens at 3 failures: "cold" saw none of its own.
    assert_eq!(state(&r, &["cache", "cold"]), Some(State::Closed));
    let cold = r.metrics(&["cache", "cold"], at(6)).unwrap();
    assert_eq!((cold.failure_count, cold.total_operations), (0, 0));
    assert_eq!(
        system.metrics(at(6)).failure_count,
        6,
        "the whole cache's breaker judged all"
    );
    // A failure of the call's own work still counts on its path.
    let mut gate = (&mut system, r.gate(Some(&["cache", "cold"])).unwrap());
    let (begin, _) = guard.begin(&mut gate, CacheOp::Get, Some("cold"), true, at(7));
    let Begin::Run { ticket, flush, .. } = begin else {
        panic!("{begin:?}")
    };
    if flush.is_some() {
        guard.flushed(ticket).unwrap();
    }
    let _ = guard.end(&mut gate, ticket, Outcome::Failure(failure()), at(7));
    assert_eq!(
        r.metrics(&["cache", "cold"], at(8)).unwrap().failure_count,
        1
    );
}

#[test]
fn a_refusal_behind_carries_the_move_the_breaker_in_front_made() {
    use fact_resilience_core::{Admission, Breaker, Reason};
    let config = Config {
        failure_threshold: 1,
        timeout_seconds: 1.0,
        ..Config::default()
    };
    let mut system = Breaker::new(config, at(0)).unwrap();
    let _ = system.force_open(at(0));
    let mut r = two_levels(100);
    for i in 0..3 {
        fail(&mut r, &["cache", "hot"], at(i));
    }
    // The timeout passed: admission half-opens the breaker in front, then the open key refuses.
    let mut gate = (&mut system, r.path(&["cache", "hot"]).unwrap());
    let (rejection, (moved, _)) = gate.try_acquire(at(2_000)).unwrap_err();
    assert!(matches!(rejection, Rejection::Open { .. }));
    let moved = moved.expect("the move in front is reported with the refusal");
    assert_eq!(
        (moved.from, moved.to, moved.reason),
        (State::Open, State::HalfOpen, Reason::TimeoutElapsed)
    );
    assert_eq!(system.state(), State::HalfOpen);
}
