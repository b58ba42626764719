//! Conversions between core values and what crosses the JS boundary.
//!
//! Hot calls exchange plain numbers only (no JS object per call):
//! - time: the JS layer reads its clock in milliseconds (a float) and passes it in; it becomes
//!   an [`Instant`] of `round(ms * 1e6)` nanoseconds, clamped to `>= 0` (NaN reads as 0);
//! - a permit is [`Permit::to_bits`] as a JS number (generations stay far below 2^51);
//! - a transition is a small integer, see [`transition_code`].
//!
//! Cold calls (metrics, failures, snapshot, config) return plain JSON-safe objects in camelCase.

use crate::config::{JsConfig, config_from_js};
use crate::errors::{ExportError, InputError, RestoreError};
use crate::read::{Obj, array, count, nullable, number, string, whole};
use fact_resilience_core::{FailureRecord, Metrics, SNAPSHOT_VERSION, Snapshot, State, Transition};
use serde::Serialize;
use wasm_bindgen::JsValue;

/// Milliseconds from the JS clock as a core instant.
pub fn instant(ms: f64) -> fact_resilience_core::Instant {
    // `as` saturates: NaN and negatives become 0, huge values the end of the timeline.
    fact_resilience_core::Instant::from_nanos((ms * 1e6).round() as u64)
}

/// Index of a state in the JS table `["closed", "open", "half_open"]`.
pub fn state_code(s: State) -> u32 {
    match s {
        State::Closed => 0,
        State::Open => 1,
        State::HalfOpen => 2,
    }
}

/// Index of a reason in the JS table `["failure_threshold", "timeout_elapsed", "probe_failed",
/// "probes_succeeded", "forced_open", "forced_closed", "reset"]`; 7 for a reason this build
/// does not know.
fn reason_code(r: fact_resilience_core::Reason) -> u32 {
    const NAMES: [&str; 7] = [
        "failure_threshold",
        "timeout_elapsed",
        "probe_failed",
        "probes_succeeded",
        "forced_open",
        "forced_closed",
        "reset",
    ];
    NAMES
        .iter()
        .position(|n| *n == r.as_str())
        .map_or(7, |i| i as u32)
}

/// A transition as one integer: 0 for none, else `(reason + 1) << 4 | from << 2 | to`.
pub fn transition_code(t: Option<Transition>) -> u32 {
    t.map_or(0, |t| {
        (reason_code(t.reason) + 1) << 4 | state_code(t.from) << 2 | state_code(t.to)
    })
}

/// How plain objects are sent: `null` for absent values, so the result survives JSON.
fn to_js<T: Serialize>(what: &'static str, v: &T) -> Result<JsValue, ExportError> {
    let s = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true);
    v.serialize(&s).map_err(|_| ExportError { what })
}

/// [`Metrics`] in camelCase with durations in milliseconds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsMetrics {
    state: &'static str,
    failure_count: f64,
    success_count: f64,
    total_operations: f64,
    failure_rate: f64,
    window_calls: f64,
    state_changes: f64,
    time_in_current_state_ms: f64,
    last_failure_time: Option<f64>,
    consecutive_failures: u32,
    rejected_count: f64,
    throttled_count: f64,
    neutral_count: f64,
    half_open_admitted: u32,
    half_open_successes: u32,
    half_open_in_flight: u32,
    recent_failures_count: u32,
}

pub fn metrics_to_js(m: &Metrics) -> Result<JsValue, ExportError> {
    to_js(
        "metrics",
        &JsMetrics {
            state: m.state.as_str(),
            failure_count: m.failure_count as f64,
            success_count: m.success_count as f64,
            total_operations: m.total_operations as f64,
            failure_rate: m.failure_rate,
            window_calls: m.window_calls as f64,
            state_changes: m.state_changes as f64,
            time_in_current_state_ms: m.time_in_current_state.as_secs_f64() * 1e3,
            last_failure_time: m.last_failure_time,
            consecutive_failures: m.consecutive_failures,
            rejected_count: m.rejected_count as f64,
            throttled_count: m.throttled_count as f64,
            neutral_count: m.neutral_count as f64,
            half_open_admitted: m.half_open_admitted,
            half_open_successes: m.half_open_successes,
            half_open_in_flight: m.half_open_in_flight,
            recent_failures_count: m.recent_failures_count,
        },
    )
}

/// A [`FailureRecord`] in camelCase.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsFailureRecord {
    timestamp: f64,
    error_type: String,
    error_message: String,
    operation: String,
}

impl From<&FailureRecord> for JsFailureRecord {
    fn from(r: &FailureRecord) -> Self {
        JsFailureRecord {
            timestamp: r.timestamp,
            error_type: r.error_type.clone(),
            error_message: r.error_message.clone(),
            operation: r.operation.clone(),
        }
    }
}

pub fn failures_to_js<'a>(
    records: impl Iterator<Item = &'a FailureRecord>,
) -> Result<JsValue, ExportError> {
    let v: Vec<JsFailureRecord> = records.map(Into::into).collect();
    to_js("recent failures", &v)
}

pub fn config_to_js(c: &fact_resilience_core::Config) -> Result<JsValue, ExportError> {
    to_js("config", &JsConfig::from(c))
}

/// [`Snapshot`] as JS sees it: camelCase, the config in its JS form, and every 64-bit count
/// as a number (exact below 2^53, which nanosecond ages reach after 104 days; beyond that
/// they lose sub-microsecond precision, which no decision depends on). Read back by
/// [`snapshot_from_js`], which checks every field.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsSnapshot {
    version: u32,
    config: JsConfig,
    state: State,
    opened_ago_ns: f64,
    changed_ago_ns: f64,
    consecutive_failures: u32,
    half_open: [u32; 3],
    counters: [f64; 6],
    last_failure_time: Option<f64>,
    window: Vec<[f64; 3]>,
    recent_failures: Vec<JsFailureRecord>,
}

pub fn snapshot_to_js(s: &Snapshot) -> Result<JsValue, ExportError> {
    to_js(
        "snapshot",
        &JsSnapshot {
            version: s.version,
            config: (&s.config).into(),
            state: s.state,
            opened_ago_ns: s.opened_ago_ns as f64,
            changed_ago_ns: s.changed_ago_ns as f64,
            consecutive_failures: s.consecutive_failures,
            half_open: s.half_open,
            counters: s.counters.map(|c| c as f64),
            last_failure_time: s.last_failure_time,
            window: s.window.iter().map(|b| b.map(|x| x as f64)).collect(),
            recent_failures: s.recent_failures.iter().map(Into::into).collect(),
        },
    )
}

pub fn snapshot_from_js(value: JsValue) -> Result<Snapshot, RestoreError> {
    let o = Obj::new(value, "snapshot".into())?;
    o.only(&[
        "version",
        "config",
        "state",
        "openedAgoNs",
        "changedAgoNs",
        "consecutiveFailures",
        "halfOpen",
        "counters",
        "lastFailureTime",
        "window",
        "recentFailures",
    ])?;
    let version = count(&o.at("version"), &o.req("version")?)?;
    if version != SNAPSHOT_VERSION {
        return Err(RestoreError::Version {
            found: version,
            expected: SNAPSHOT_VERSION,
        });
    }
    let config = config_from_js(o.req("config")?, "snapshot.config")?;
    let (p, v) = (o.at("state"), o.req("state")?);
    let state = match string(&p, &v)?.as_str() {
        "closed" => State::Closed,
        "open" => State::Open,
        "half_open" => State::HalfOpen,
        _ => {
            return Err(InputError::Type {
                path: p,
                expected: "\"closed\", \"open\" or \"half_open\"",
                got: "another string".into(),
            }
            .into());
        }
    };
    let field = |k: &str| -> Result<(String, JsValue), InputError> { Ok((o.at(k), o.req(k)?)) };
    let (p, v) = field("halfOpen")?;
    let half_open = array(&p, &v, Some(3), count)?;
    let (p, v) = field("counters")?;
    let counters = array(&p, &v, Some(6), whole)?;
    let (p, v) = field("window")?;
    let window = array(&p, &v, None, |p, v| {
        let b = array(p, v, Some(3), whole)?;
        Ok([b[0], b[1], b[2]])
    })?;
    let (p, v) = field("recentFailures")?;
    let recent_failures = array(&p, &v, None, |p, v| {
        let r = Obj::new(v.clone(), p.into())?;
        r.only(&["timestamp", "errorType", "errorMessage", "operation"])?;
        Ok(FailureRecord {
            timestamp: number(&r.at("timestamp"), &r.req("timestamp")?)?,
            error_type: string(&r.at("errorType"), &r.req("errorType")?)?,
            error_message: string(&r.at("errorMessage"), &r.req("errorMessage")?)?,
            operation: string(&r.at("operation"), &r.req("operation")?)?,
        })
    })?;
    let (p, v) = field("lastFailureTime")?;
    Ok(Snapshot {
        version,
        config,
        state,
        opened_ago_ns: whole(&o.at("openedAgoNs"), &o.req("openedAgoNs")?)?,
        changed_ago_ns: whole(&o.at("changedAgoNs"), &o.req("changedAgoNs")?)?,
        consecutive_failures: count(&o.at("consecutiveFailures"), &o.req("consecutiveFailures")?)?,
        half_open: [half_open[0], half_open[1], half_open[2]],
        counters: [
            counters[0],
            counters[1],
            counters[2],
            counters[3],
            counters[4],
            counters[5],
        ],
        last_failure_time: nullable(&v, || number(&p, &v))?,
        window,
        recent_failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fact_resilience_core::{Instant, Reason};

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
}
