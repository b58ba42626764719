//! Conversions between core values and what crosses the JS boundary: numbers, flat arrays of
//! numbers (`Vec<f64>`, a `Float64Array` in JS) and strings. No JS object is read or built
//! in Rust (that is `js/interop.js`'s job), which keeps serde, js-sys and `core::fmt` out of
//! the module.
//!
//! - time: the JS layer reads its clock in milliseconds (a float) and passes it in; it becomes
//!   an [`Instant`] of `ms * 1e6` nanoseconds (rounded, ties to even), clamped to `>= 0` (NaN reads as 0);
//! - a permit is [`fact_resilience_core::Permit::to_bits`] as a JS number (generations stay
//!   far below 2^51);
//! - a state is an index into `["closed", "open", "half_open"]`, a transition a small integer
//!   (see [`transition_code`]);
//! - metrics and snapshots are flat arrays whose layouts are [`METRICS_LAYOUT`] and
//!   [`SNAPSHOT_LAYOUT`]; an absent optional number is the pair `0, 0` and a present one
//!   `1, value` (a wall-clock stamp may be any number, NaN included).

use crate::config::error_code;
use fact_resilience_core::FIELDS;
use fact_resilience_core::{
    Config, FailureRecord, Instant, Metrics, Reason, SNAPSHOT_VERSION, Snapshot, SnapshotError,
    State, Transition,
};

/// Milliseconds from the JS clock as a core instant.
pub fn instant(ms: f64) -> Instant {
    // `as` saturates: NaN and negatives become 0, huge values the end of the timeline.
    // Ties to even: one wasm instruction (`f64.nearest`), where `round` is a libm call; the
    // two differ only on exact half nanoseconds.
    Instant::from_nanos((ms * 1e6).round_ties_even() as u64)
}

/// Index of a state in the JS table `["closed", "open", "half_open"]`.
pub fn state_code(s: State) -> u32 {
    match s {
        State::Closed => 0,
        State::Open => 1,
        State::HalfOpen => 2,
    }
}

/// The state at an index of `["closed", "open", "half_open"]` (JS checked the name).
pub fn state_from_code(code: f64) -> State {
    match code as u32 {
        1 => State::Open,
        2 => State::HalfOpen,
        _ => State::Closed,
    }
}

/// Index of a reason in the JS table `["failure_threshold", "timeout_elapsed", "probe_failed",
/// "probes_succeeded", "forced_open", "forced_closed", "reset"]`; 7 for a reason this build
/// does not know.
fn reason_code(r: Reason) -> u32 {
    match r {
        Reason::FailureThreshold => 0,
        Reason::TimeoutElapsed => 1,
        Reason::ProbeFailed => 2,
        Reason::ProbesSucceeded => 3,
        Reason::ForcedOpen => 4,
        Reason::ForcedClosed => 5,
        Reason::Reset => 6,
        #[allow(unreachable_patterns)]
        _ => 7,
    }
}

/// A transition as one integer: 0 for none, else [`pack_transition`].
pub fn transition_code(t: Option<Transition>) -> i32 {
    t.map_or(0, |t| pack_transition(t.from, t.to, t.reason))
}

/// `(reason + 1) << 4 | from << 2 | to`: never 0, so 0 can mean "no transition".
pub fn pack_transition(from: State, to: State, reason: Reason) -> i32 {
    ((reason_code(reason) + 1) << 4 | state_code(from) << 2 | state_code(to)) as i32
}

fn push_option(out: &mut Vec<f64>, v: Option<f64>) {
    out.extend_from_slice(&[f64::from(u8::from(v.is_some())), v.unwrap_or(0.0)]);
}

/// The order of [`metrics_to_numbers`]'s output (as the JS `Metrics` keys).
pub const METRICS_LAYOUT: &str = "state, failureCount, successCount, totalOperations, \
    failureRate, windowCalls, stateChanges, timeInCurrentStateMs, lastFailureTime (2: has, \
    value), consecutiveFailures, rejectedCount, throttledCount, neutralCount, \
    halfOpenAdmitted, halfOpenSuccesses, halfOpenInFlight, recentFailuresCount";

/// [`Metrics`] as numbers, in [`METRICS_LAYOUT`] order; durations in milliseconds.
pub fn metrics_to_numbers(m: &Metrics) -> Vec<f64> {
    let mut out = Vec::with_capacity(18);
    out.extend_from_slice(&[
        f64::from(state_code(m.state)),
        m.failure_count as f64,
        m.success_count as f64,
        m.total_operations as f64,
        m.failure_rate,
        m.window_calls as f64,
        m.state_changes as f64,
        m.time_in_current_state.as_secs_f64() * 1e3,
    ]);
    push_option(&mut out, m.last_failure_time);
    out.extend_from_slice(&[
        f64::from(m.consecutive_failures),
        m.rejected_count as f64,
        m.throttled_count as f64,
        m.neutral_count as f64,
        f64::from(m.half_open_admitted),
        f64::from(m.half_open_successes),
        f64::from(m.half_open_in_flight),
        f64::from(m.recent_failures_count),
    ]);
    out
}

/// The order of [`snapshot_to_numbers`]'s output and of [`snapshot_from_numbers`]'s input.
/// The config and the failure log travel separately (`breakerConfig`, the failure texts).
pub const SNAPSHOT_LAYOUT: &str = "state, openedAgoNs, changedAgoNs, consecutiveFailures, \
    halfOpen (3), counters (6), lastFailureTime (2: has, value), then the window buckets \
    as [age, calls, failures] triples, newest first";

/// Numbers before the window in [`SNAPSHOT_LAYOUT`].
pub const SNAPSHOT_HEAD: usize = 15;

/// A [`Snapshot`]'s numbers (every 64-bit count as a JS number: exact below 2^53, which
/// nanosecond ages reach after 104 days; beyond that they lose sub-microsecond precision,
/// which no decision depends on).
pub fn snapshot_to_numbers(s: &Snapshot) -> Vec<f64> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEAD + 3 * s.window.len());
    out.extend_from_slice(&[
        f64::from(state_code(s.state)),
        s.opened_ago_ns as f64,
        s.changed_ago_ns as f64,
        f64::from(s.consecutive_failures),
    ]);
    out.extend(s.half_open.iter().map(|&x| f64::from(x)));
    out.extend(s.counters.iter().map(|&x| x as f64));
    push_option(&mut out, s.last_failure_time);
    out.extend(s.window.iter().flatten().map(|&x| x as f64));
    out
}

/// A [`Snapshot`] from [`SNAPSHOT_LAYOUT`] numbers, `config` and the failure log. JS checked
/// every number (whole, `>= 0`, counts below 2^32) and the layout's length; a short array
/// reads as zeros rather than panicking.
pub fn snapshot_from_numbers(n: &[f64], config: Config, failures: Vec<FailureRecord>) -> Snapshot {
    let at = |i: usize| n.get(i).copied().unwrap_or(0.0);
    let whole = |i: usize| at(i) as u64;
    let count = |i: usize| at(i) as u32;
    Snapshot {
        version: SNAPSHOT_VERSION,
        config,
        state: state_from_code(at(0)),
        opened_ago_ns: whole(1),
        changed_ago_ns: whole(2),
        consecutive_failures: count(3),
        half_open: [count(4), count(5), count(6)],
        counters: [
            whole(7),
            whole(8),
            whole(9),
            whole(10),
            whole(11),
            whole(12),
        ],
        last_failure_time: (at(13) != 0.0).then(|| at(14)),
        window: n
            .get(SNAPSHOT_HEAD..)
            .unwrap_or_default()
            .chunks_exact(3)
            .map(|b| [b[0] as u64, b[1] as u64, b[2] as u64])
            .collect(),
        recent_failures: failures,
    }
}

/// Why `breakerRestore` refused a snapshot, as a code: a config field's
/// [`error_code`] (1..=11), or `SNAPSHOT_RULE_BASE +` the index of the core's rule in the JS
/// table `SNAPSHOT_RULES` (`js/interop.js`): 0 half_open outside HALF_OPEN, 1 more probe
/// successes than admitted probes, 2 no room for another probe, 3 a window bucket with more
/// failures than calls, 4 a rule this build does not know (the version is JS's to check).
pub fn snapshot_error_code(e: &SnapshotError) -> i32 {
    SNAPSHOT_RULE_BASE
        + match e {
            SnapshotError::Config(c) => return error_code(c),
            SnapshotError::HalfOpenOutsideHalfOpen { .. } => 0,
            SnapshotError::ProbeSuccesses { .. } => 1,
            SnapshotError::ProbesExhausted { .. } => 2,
            SnapshotError::WindowFailures { .. } => 3,
            _ => 4,
        }
}

/// The first snapshot rule code, after the config fields' codes.
pub const SNAPSHOT_RULE_BASE: i32 = FIELDS.len() as i32 + 2;

#[cfg(test)]
mod tests {
    use super::*;
    use fact_resilience_core::{Breaker, Failure};

    #[test]
    fn milliseconds_round_to_nanoseconds_and_clamp() {
        assert_eq!(instant(1.5), Instant::from_nanos(1_500_000));
        assert_eq!(instant(0.0000004), Instant::ZERO);
        assert_eq!(instant(-5.0), Instant::ZERO);
        assert_eq!(instant(f64::NAN), Instant::ZERO);
        assert_eq!(instant(f64::INFINITY), Instant::from_nanos(u64::MAX));
    }

    #[test]
    fn transitions_pack_reason_from_and_to() {
        assert_eq!(transition_code(None), 0);
        let t = Transition {
            from: State::Closed,
            to: State::Open,
            reason: Reason::FailureThreshold,
            at: Instant::ZERO,
        };
        assert_eq!(transition_code(Some(t)), 1 << 4 | 1);
        let t = Transition {
            from: State::HalfOpen,
            to: State::Closed,
            reason: Reason::Reset,
            at: Instant::ZERO,
        };
        assert_eq!(transition_code(Some(t)), 7 << 4 | 2 << 2);
    }

    #[test]
    fn snapshots_survive_the_numbers_round_trip() {
        let ms = |x: f64| instant(x);
        let mut b = Breaker::new(Config::default(), ms(0.0)).unwrap();
        let failure = Failure {
            error_type: "Error",
            error_message: "down",
            operation: "get",
            timestamp: 12.5,
        };
        for i in 0..5 {
            let p = b.try_acquire(ms(1000.0 * f64::from(i))).unwrap();
            let _ = b.on_failure(p, &failure, ms(1000.0 * f64::from(i)));
        }
        let snap = b.snapshot(ms(9000.0));
        assert!(!snap.window.is_empty());
        let numbers = snapshot_to_numbers(&snap);
        assert_eq!((numbers.len() - SNAPSHOT_HEAD) % 3, 0);
        let back =
            snapshot_from_numbers(&numbers, snap.config.clone(), snap.recent_failures.clone());
        assert_eq!(back, snap);
        let m = metrics_to_numbers(&b.metrics(ms(9000.0)));
        assert_eq!(m.len(), 18);
        assert_eq!((m[0], m[8], m[9]), (1.0, 1.0, 12.5));
    }
}
