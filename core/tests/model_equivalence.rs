//! Property tests: the `Breaker` against the reference model in `model/`, step by step, and the
//! public API against arbitrary (also invalid) input without panicking.

mod model;

use fact_resilience_core::{Breaker, Config, Failure, Instant, Permit, Rejection};
use model::{Decision, Model, ModelPermit};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// One thing the host does. Every step but `Advance` may be called with an instant `lag` ns
/// earlier than the clock, which the breaker must treat as the latest instant seen.
#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    /// Move the clock to 1 ns before (0), onto (1) or 1 ns past (2) the next deadline.
    ToDeadline(u64),
    Acquire,
    /// Report on the held permit at this index (modulo the number held).
    Success(usize),
    Failure(usize, usize),
    Neutral(usize),
    /// Report with a forged permit of the current generation (probe or not).
    ForgedCurrent(bool, u8),
    /// Report with `Permit::from_bits(bits)`.
    ForgedBits(u64, u8),
    Poll,
    ForceOpen,
    ForceClosed,
    Reset,
    SetConfig(Config),
}

const MESSAGES: [&str; 5] = [
    "boom",
    "héllo wörld",
    "日本語のエラー",
    "",
    "xxxxxxxxxxxxxxxxxxxxxxxxx",
];
const TYPES: [&str; 3] = ["CacheError", "Exception", "É"];
const OPERATIONS: [&str; 3] = ["get", "store", "invalidate_by_prefix"];

fn seconds() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.001),
        Just(1.0),
        Just(60.0),
        1e-9f64..0.01,
        0.01f64..10.0,
        10.0f64..1000.0,
    ]
}

fn valid_config() -> impl Strategy<Value = Config> {
    (
        (1u32..=6, 1u32..=4, seconds(), seconds(), 1u32..=12),
        (
            any::<bool>(),
            prop_oneof![Just(1.0), Just(0.5), Just(0.1), Just(0.001), 0.01f64..=1.0],
            1u32..=5,
            1u32..=8,
            proptest::option::of(1u32..=3),
            proptest::option::of(seconds()),
        ),
        policies(),
    )
        .prop_map(config_from)
}

/// The opt-in policies: each off about half the time, and with small counts when on, so
/// that sixty steps can reach them.
fn policies() -> impl Strategy<Value = Policies> {
    (
        proptest::option::of(prop_oneof![Just(1.0), Just(0.5), Just(0.3), 0.01f64..=1.0]),
        prop_oneof![1u32..=6, Just(20)],
        proptest::option::of(seconds()),
        prop_oneof![Just(1.0), Just(0.5), 0.01f64..=1.0],
        (
            prop_oneof![Just(1.0), Just(2.0), 1.0f64..=4.0],
            proptest::option::of(seconds()),
            prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0],
            proptest::option::of(1u32..=u32::MAX),
        ),
        prop_oneof![2 => Just(0.0), 1 => seconds()],
        weights(prop_oneof![Just(0.0), Just(0.3), Just(1.0), 0.0f64..3.0].boxed()),
    )
        .boxed()
}

/// Weights for some of the failure kinds the steps report, and for `"default"`.
fn weights(weight: BoxedStrategy<f64>) -> impl Strategy<Value = Vec<(usize, f64)>> {
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec((0..TYPES.len() + 1, weight), 1..4),
    ]
}

/// A valid config with one field broken.
fn invalid_config() -> impl Strategy<Value = Config> {
    let bad_seconds = || {
        prop_oneof![
            Just(0.0),
            Just(-1.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(1e300),
            Just(1e-12)
        ]
    };
    (
        valid_config(),
        0usize..20,
        bad_seconds(),
        prop_oneof![Just(0.0), Just(1.5), Just(-0.5), Just(f64::NAN), Just(1e-9)],
    )
        .prop_map(|(mut c, field, s, f)| {
            let bad_share = if f == 1e-9 { 0.0 } else { f };
            match field {
                0 => c.failure_threshold = 0,
                1 => c.success_threshold = 0,
                2 => c.timeout_seconds = s,
                3 => c.rolling_window_seconds = s,
                4 => c.window_buckets = 0,
                5 => c.recovery_factor = f,
                6 => c.max_recent_failures = 0,
                7 => c.max_message_bytes = 0,
                8 => c.half_open_max_in_flight = Some(0),
                9 => c.probe_lease_seconds = Some(s),
                10 => c.failure_rate_threshold = Some(bad_share),
                11 => c.minimum_calls = 0,
                12 => c.slow_call_duration_seconds = Some(s),
                13 => c.slow_call_rate_threshold = bad_share,
                14 => c.open_backoff_multiplier = if f.is_nan() { f } else { 0.5 },
                15 => c.max_timeout_seconds = Some(s),
                16 => c.jitter = if f.is_nan() { f } else { 1.5 },
                17 => c.jitter_seed = Some(0),
                18 => c.ramp_seconds = if s == 0.0 { -1.0 } else { s },
                _ => c
                    .failure_weights
                    .insert("CacheError", if f.is_nan() { f } else { -f.abs() - 1.0 }),
            }
            c
        })
}

fn advance() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(0u64),
        3 => 1u64..1_000,
        6 => 1_000_000u64..1_000_000_000,
        6 => 1_000_000_000u64..100_000_000_000,
        1 => 100_000_000_000u64..10_000_000_000_000,
        1 => Just(u64::MAX / 2),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => advance().prop_map(Op::Advance),
        3 => (0u64..3).prop_map(Op::ToDeadline),
        8 => Just(Op::Acquire),
        5 => any::<usize>().prop_map(Op::Success),
        5 => (any::<usize>(), 0..MESSAGES.len() * TYPES.len() * OPERATIONS.len())
            .prop_map(|(i, m)| Op::Failure(i, m)),
        2 => any::<usize>().prop_map(Op::Neutral),
        1 => (any::<bool>(), 0u8..3).prop_map(|(p, k)| Op::ForgedCurrent(p, k)),
        1 => (any::<u64>(), 0u8..3).prop_map(|(b, k)| Op::ForgedBits(b, k)),
        2 => Just(Op::Poll),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::ForceClosed),
        1 => Just(Op::Reset),
        1 => valid_config().prop_map(Op::SetConfig),
        1 => invalid_config().prop_map(Op::SetConfig),
    ]
}

fn step() -> impl Strategy<Value = (Op, u64)> {
    (
        op(),
        prop_oneof![10 => Just(0u64), 1 => 1u64..2_000_000_000],
    )
}

fn failure_text(m: usize) -> (&'static str, &'static str, &'static str) {
    (
        TYPES[m % TYPES.len()],
        MESSAGES[m / TYPES.len() % MESSAGES.len()],
        OPERATIONS[m / (TYPES.len() * MESSAGES.len()) % OPERATIONS.len()],
    )
}

fn same_permit(p: &Permit, m: &ModelPermit) -> bool {
    p.generation() == m.generation
        && p.is_probe() == m.probe
        && p.transition() == m.transition
        && p.admitted_at().map(Instant::as_nanos) == m.admitted_at
}

/// Compares everything observable after a step.
fn compare(b: &Breaker, m: &Model, now: u64) -> Result<(), TestCaseError> {
    let at = Instant::from_nanos(now);
    let got = b.metrics(at);
    let want = m.snapshot(now);
    prop_assert_eq!(b.state(), m.state());
    prop_assert_eq!(got.state, want.state);
    prop_assert_eq!(got.failure_count, want.failure_count, "failure_count");
    prop_assert_eq!(got.success_count, want.success_count, "success_count");
    prop_assert_eq!(got.total_operations, want.total_operations);
    prop_assert_eq!(got.failure_rate, want.failure_rate, "failure_rate");
    prop_assert_eq!(got.window_calls, want.window_calls, "window_calls");
    prop_assert_eq!(got.state_changes, want.state_changes, "state_changes");
    prop_assert_eq!(
        got.time_in_current_state.as_nanos(),
        u128::from(want.time_in_current_state_ns),
        "time_in_current_state"
    );
    prop_assert_eq!(got.last_failure_time, want.last_failure_time);
    prop_assert_eq!(got.consecutive_failures, want.consecutive_failures);
    prop_assert_eq!(got.rejected_count, want.rejected_count, "rejected_count");
    prop_assert_eq!(got.throttled_count, want.throttled_count, "throttled_count");
    prop_assert_eq!(got.neutral_count, want.neutral_count, "neutral_count");
    prop_assert_eq!(got.half_open_admitted, want.half_open_admitted);
    prop_assert_eq!(got.half_open_successes, want.half_open_successes);
    prop_assert_eq!(got.half_open_in_flight, want.half_open_in_flight);
    prop_assert_eq!(got.recent_failures_count, want.recent_failures_count);
    prop_assert_eq!(got.slow_call_count, want.slow_call_count, "slow_call_count");
    prop_assert_eq!(got.slow_call_rate, want.slow_call_rate, "slow_call_rate");
    prop_assert_eq!(got.calls_in_flight, want.calls_in_flight, "calls_in_flight");
    prop_assert_eq!(
        got.open_duration.as_nanos(),
        u128::from(want.open_duration_ns),
        "open_duration"
    );
    prop_assert_eq!(got.ramp_share, want.ramp_share, "ramp_share");
    prop_assert_eq!(
        got.consecutive_failure_weight,
        want.consecutive_failure_weight,
        "consecutive_failure_weight"
    );
    prop_assert_eq!(
        b.next_deadline().map(Instant::as_nanos),
        m.next_deadline(),
        "next_deadline"
    );
    prop_assert_eq!(b.config(), &m.config);
    let log: Vec<_> = b.recent_failures().collect();
    prop_assert_eq!(log.len(), m.recent_failures().len());
    for (r, w) in log.iter().zip(m.recent_failures()) {
        prop_assert_eq!(r.timestamp, w.timestamp);
        prop_assert_eq!(&r.error_type, &w.error_type);
        prop_assert_eq!(&r.error_message, &w.error_message);
        prop_assert_eq!(&r.operation, &w.operation);
    }
    Ok(())
}

/// Reports outcome `kind` (0 success, 1 failure, 2 neutral) with both permits.
fn report(
    b: &mut Breaker,
    m: &mut Model,
    permit: Permit,
    mp: ModelPermit,
    kind: u8,
    text: usize,
    t: u64,
) -> Result<(), TestCaseError> {
    let at = Instant::from_nanos(t);
    match kind {
        0 => prop_assert_eq!(b.on_success(permit, at), m.on_success(mp, t)),
        1 => {
            let (error_type, error_message, operation) = failure_text(text);
            let timestamp = t as f64 / 1e9;
            let f = Failure {
                error_type,
                error_message,
                operation,
                timestamp,
            };
            prop_assert_eq!(
                b.on_failure(permit, &f, at),
                m.on_failure(mp, error_type, error_message, operation, timestamp, t)
            );
        }
        _ => {
            b.on_neutral(permit, at);
            m.on_neutral(mp, t);
        }
    }
    Ok(())
}

fn run(config: Config, steps: Vec<(Op, u64)>) -> Result<(), TestCaseError> {
    let mut clock: u64 = 1_000_000_000; // not zero, so backwards lags are visible
    let mut b = Breaker::new(config.clone(), Instant::from_nanos(clock)).expect("valid config");
    let mut m = Model::new(config, clock).expect("model accepts what the breaker accepts");
    let mut held: Vec<(Permit, ModelPermit)> = Vec::new();
    for (i, (op, lag)) in steps.into_iter().enumerate() {
        let t = clock.saturating_sub(lag);
        let at = Instant::from_nanos(t);
        match op {
            Op::Advance(d) => clock = clock.saturating_add(d),
            Op::ToDeadline(k) => {
                if let Some(d) = m.next_deadline() {
                    clock = clock.max((d.saturating_add(k)).saturating_sub(1));
                }
            }
            Op::Acquire => match (b.try_acquire(at), m.try_acquire(t)) {
                (Ok(p), Decision::Admitted(mp)) => {
                    prop_assert!(same_permit(&p, &mp), "step {i}: {p:?} vs {mp:?}");
                    held.push((p, mp));
                }
                (Err(Rejection::Open { retry_after }), Decision::Open { retry_after_ns }) => {
                    prop_assert_eq!(retry_after.as_nanos(), u128::from(retry_after_ns))
                }
                (Err(Rejection::Throttled), Decision::Throttled) => {}
                (got, want) => {
                    return Err(TestCaseError::fail(format!(
                        "step {i}: acquire gave {got:?}, model {want:?}"
                    )));
                }
            },
            Op::Success(k) | Op::Failure(k, _) | Op::Neutral(k) if !held.is_empty() => {
                let (p, mp) = held.remove(k % held.len());
                let (kind, text) = match op {
                    Op::Success(_) => (0, 0),
                    Op::Failure(_, text) => (1, text),
                    _ => (2, 0),
                };
                report(&mut b, &mut m, p, mp, kind, text, t)?;
            }
            Op::Success(_) | Op::Failure(..) | Op::Neutral(_) => {}
            Op::ForgedCurrent(probe, kind) => {
                let bits = m.generation << 2 | u64::from(probe);
                let (p, mp) = (Permit::from_bits(bits), ModelPermit::from_bits(bits));
                prop_assert!(same_permit(&p, &mp));
                report(&mut b, &mut m, p, mp, kind, 1, t)?;
            }
            Op::ForgedBits(bits, kind) => {
                let (p, mp) = (Permit::from_bits(bits), ModelPermit::from_bits(bits));
                report(&mut b, &mut m, p, mp, kind, 2, t)?;
            }
            Op::Poll => prop_assert_eq!(b.poll(at), m.poll(t), "step {}: poll", i),
            Op::ForceOpen => prop_assert_eq!(b.force_open(at), m.force_open(t)),
            Op::ForceClosed => prop_assert_eq!(b.force_closed(at), m.force_closed(t)),
            Op::Reset => prop_assert_eq!(b.reset(at), m.reset(t)),
            Op::SetConfig(c) => {
                let got = b.set_config(c.clone()).map_err(|e| e.field());
                prop_assert_eq!(got, m.set_config(c), "step {}: set_config", i);
            }
        }
        compare(&b, &m, clock)?;
        // A metrics read at an earlier instant sees the latest instant instead.
        compare(&b, &m, clock.saturating_sub(lag))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn breaker_matches_the_reference_model(
        config in valid_config(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        run(config, steps)?;
    }
}

// ---- no panics on any input -------------------------------------------------------------

fn any_seconds() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(1e-9),
        Just(fact_resilience_core::MAX_DURATION_SECONDS),
        0.0f64..100.0,
    ]
}

fn any_u32() -> impl Strategy<Value = u32> {
    prop_oneof![any::<u32>(), 0u32..4, Just(u32::MAX)]
}

/// Any config at all: `window_buckets` beyond the 4096 limit must be refused, not allocated.
fn any_config() -> impl Strategy<Value = Config> {
    (
        (
            any_u32(),
            any_u32(),
            any_seconds(),
            any_seconds(),
            any_u32(),
        )
            .boxed(),
        (
            any::<bool>(),
            any_seconds(),
            any_u32(),
            any_u32(),
            proptest::option::of(any_u32()),
            proptest::option::of(any_seconds()),
        )
            .boxed(),
        // Boxed: unboxed, these tuples overflow the test thread's stack in debug builds.
        (
            proptest::option::of(any_seconds()),
            any_u32(),
            proptest::option::of(any_seconds()),
            any_seconds(),
            (
                any_seconds().boxed(),
                proptest::option::of(any_seconds()).boxed(),
                any_seconds().boxed(),
                proptest::option::of(any_u32()).boxed(),
            )
                .boxed(),
            any_seconds().boxed(),
            weights(any::<f64>().boxed()).boxed(),
        )
            .boxed(),
    )
        .prop_map(config_from)
}

#[derive(Clone, Debug)]
enum AnyOp {
    Acquire(u64),
    Outcome(usize, u8, u64),
    Forged(u64, u8, u64),
    Poll(u64),
    ForceOpen(u64),
    ForceClosed(u64),
    Reset(u64),
    SetConfig(Config),
    Read(u64),
}

fn any_instant() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(u64::MAX),
        Just(0u64),
        0u64..10_000_000_000
    ]
}

fn any_op() -> impl Strategy<Value = AnyOp> {
    prop_oneof![
        3 => any_instant().prop_map(AnyOp::Acquire),
        3 => (any::<usize>(), 0u8..3, any_instant()).prop_map(|(i, k, t)| AnyOp::Outcome(i, k, t)),
        2 => (any::<u64>(), 0u8..3, any_instant()).prop_map(|(b, k, t)| AnyOp::Forged(b, k, t)),
        1 => any_instant().prop_map(AnyOp::Poll),
        1 => any_instant().prop_map(AnyOp::ForceOpen),
        1 => any_instant().prop_map(AnyOp::ForceClosed),
        1 => any_instant().prop_map(AnyOp::Reset),
        1 => any_config().prop_map(AnyOp::SetConfig),
        1 => any_instant().prop_map(AnyOp::Read),
    ]
}

fn outcome(b: &mut Breaker, p: Permit, kind: u8, t: u64) {
    let at = Instant::from_nanos(t);
    let big = "é".repeat(300);
    match kind {
        0 => {
            let _ = b.on_success(p, at);
        }
        1 => {
            let f = Failure {
                error_type: &big,
                error_message: &big,
                operation: "get",
                timestamp: f64::NAN,
            };
            let _ = b.on_failure(p, &f, at);
            // Text is cut when recorded (a later, smaller limit does not rewrite old records).
            let newest = b.recent_failures().next_back().expect("just recorded");
            assert!(newest.error_message.len() <= b.config().max_message_bytes as usize);
            assert!(big.starts_with(&newest.error_message));
        }
        _ => b.on_neutral(p, at),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn public_api_never_panics(
        config in any_config(),
        start in any_instant(),
        ops in proptest::collection::vec(any_op(), 0..40),
    ) {
        let mut b = match Breaker::new(config.clone(), Instant::from_nanos(start)) {
            Ok(b) => b,
            Err(e) => {
                prop_assert_eq!(config.validate().map_err(|e| e.field()), Err(e.field()));
                let text = e.to_string();
                prop_assert!(text.starts_with(e.field()), "{}", text);
                Breaker::new(Config::default(), Instant::from_nanos(start)).unwrap()
            }
        };
        let mut held = Vec::new();
        for op in ops {
            match op {
                AnyOp::Acquire(t) => {
                    if let Ok(p) = b.try_acquire(Instant::from_nanos(t)) {
                        prop_assert_eq!(Permit::from_bits(p.to_bits()).to_bits(), p.to_bits());
                        held.push(p);
                    }
                }
                AnyOp::Outcome(i, kind, t) if !held.is_empty() => {
                    let p = held.remove(i % held.len());
                    outcome(&mut b, p, kind, t);
                }
                AnyOp::Outcome(..) => {}
                AnyOp::Forged(bits, kind, t) => outcome(&mut b, Permit::from_bits(bits), kind, t),
                AnyOp::Poll(t) => {
                    let _ = b.poll(Instant::from_nanos(t));
                }
                AnyOp::ForceOpen(t) => {
                    let _ = b.force_open(Instant::from_nanos(t));
                }
                AnyOp::ForceClosed(t) => {
                    let _ = b.force_closed(Instant::from_nanos(t));
                }
                AnyOp::Reset(t) => {
                    let _ = b.reset(Instant::from_nanos(t));
                }
                AnyOp::SetConfig(c) => {
                    let before = b.config().clone();
                    match b.set_config(c.clone()) {
                        Ok(()) => prop_assert_eq!(b.config(), &c),
                        Err(_) => prop_assert_eq!(b.config(), &before),
                    }
                }
                AnyOp::Read(t) => {
                    let m = b.metrics(Instant::from_nanos(t));
                    prop_assert!((0.0..=1.0).contains(&m.failure_rate));
                    prop_assert_eq!(m.total_operations, m.success_count + m.failure_count);
                    prop_assert!(b.recent_failures().len() <= b.config().max_recent_failures as usize);
                    let _ = b.next_deadline();
                }
            }
        }
    }
}

type Thresholds = (u32, u32, f64, f64, u32);
type Recovery = (bool, f64, u32, u32, Option<u32>, Option<f64>);
type Policies = (
    Option<f64>,
    u32,
    Option<f64>,
    f64,
    Backoffs,
    f64,
    Vec<(usize, f64)>,
);
type Backoffs = (f64, Option<f64>, f64, Option<u32>);

/// The two strategies' tuples as a `Config`, in the order of its fields.
fn config_from(
    (
        (ft, st, to, win, b),
        (gr, rf, mr, mb, inf, lease),
        (rate, min_calls, slow, slow_rate, (mult, cap, jitter, seed), ramp, weights),
    ): (Thresholds, Recovery, Policies),
) -> Config {
    Config {
        failure_threshold: ft,
        success_threshold: st,
        timeout_seconds: to,
        rolling_window_seconds: win,
        window_buckets: b,
        gradual_recovery: gr,
        recovery_factor: rf,
        max_recent_failures: mr,
        max_message_bytes: mb,
        half_open_max_in_flight: inf,
        probe_lease_seconds: lease,
        failure_rate_threshold: rate,
        minimum_calls: min_calls,
        slow_call_duration_seconds: slow,
        slow_call_rate_threshold: slow_rate,
        open_backoff_multiplier: mult,
        max_timeout_seconds: cap,
        jitter,
        jitter_seed: seed,
        ramp_seconds: ramp,
        failure_weights: weights
            .into_iter()
            .map(|(i, w)| (TYPES.get(i).copied().unwrap_or("default"), w))
            .collect(),
    }
}
