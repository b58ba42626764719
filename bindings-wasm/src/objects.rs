//! The plain JS objects the cold exports return and take, each shape declared once, here
//! (camelCase, as the TypeScript types in `lib.rs` say); the JS layer copies none of their
//! layouts. They are built field by field with js-sys ([`Record`]): metrics, transitions,
//! failure records and snapshots here, the health report, transition counts and guard
//! counters in `health.rs` and `cache.rs`. (serde-wasm-bindgen did the nested ones at first:
//! 2.5 KB of the gzipped size budget for two shapes; see `js/README.md`, Size.)
//!
//! A snapshot comes back in as the object the JS layer checked ([`snapshot_from_js`]).
//! Counts and nanosecond ages cross as JS numbers, exact below 2^53 (nanosecond ages reach
//! that after 104 days; beyond, they lose sub-microsecond precision, which no decision
//! depends on). No float is formatted here: `core::fmt`'s float code would not fit the budget.

use fact_resilience_core::{Config, FailureRecord, Metrics, Snapshot, State, Transition};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

/// A flat plain object built field by field (js-sys).
pub struct Record(Object);

impl Record {
    /// An empty object.
    pub fn new() -> Self {
        Record(Object::new())
    }

    /// Sets `key` to `value`.
    #[inline(never)]
    pub fn set(self, key: &str, value: JsValue) -> Self {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &value);
        self
    }

    /// Sets `key` to a number.
    pub fn num(self, key: &str, value: f64) -> Self {
        self.set(key, JsValue::from_f64(value))
    }

    /// Sets `key` to a string.
    pub fn text(self, key: &str, value: &str) -> Self {
        self.set(key, JsValue::from_str(value))
    }
}

impl Default for Record {
    fn default() -> Self {
        Record::new()
    }
}

impl From<Record> for JsValue {
    fn from(r: Record) -> JsValue {
        r.0.into()
    }
}

/// Milliseconds from a core duration or instant's nanoseconds.
fn ms(nanos: u128) -> f64 {
    nanos as f64 / 1e6
}

/// [`Metrics`] as the JS `Metrics` type.
pub fn metrics_to_js(m: &Metrics) -> JsValue {
    let n = |x: u64| x as f64;
    let last_failure = m.last_failure_time.map_or(JsValue::NULL, JsValue::from_f64);
    Record::new()
        .text("state", m.state.as_str())
        .num("failureCount", n(m.failure_count))
        .num("successCount", n(m.success_count))
        .num("totalOperations", n(m.total_operations))
        .num("failureRate", m.failure_rate)
        .num("windowCalls", n(m.window_calls))
        .num("stateChanges", n(m.state_changes))
        .num(
            "timeInCurrentStateMs",
            ms(m.time_in_current_state.as_nanos()),
        )
        .set("lastFailureTime", last_failure)
        .num("consecutiveFailures", f64::from(m.consecutive_failures))
        .num("rejectedCount", n(m.rejected_count))
        .num("throttledCount", n(m.throttled_count))
        .num("neutralCount", n(m.neutral_count))
        .num("halfOpenAdmitted", f64::from(m.half_open_admitted))
        .num("halfOpenSuccesses", f64::from(m.half_open_successes))
        .num("halfOpenInFlight", f64::from(m.half_open_in_flight))
        .num("recentFailuresCount", f64::from(m.recent_failures_count))
        .num("consecutiveFailureWeight", m.consecutive_failure_weight)
        .num("slowCallCount", n(m.slow_call_count))
        .num("slowCallRate", m.slow_call_rate)
        .num("callsInFlight", n(m.calls_in_flight))
        .num("openDurationMs", m.open_duration.as_secs_f64() * 1e3)
        .num("rampShare", m.ramp_share)
        .into()
}

/// A [`Transition`] as the JS `StateChange` (`{ from, to, reason, at }`): `at` in the clock's
/// milliseconds, the time the core made the change (the OPEN -> HALF_OPEN move included).
pub fn transition_to_js(t: Transition) -> JsValue {
    Record::new()
        .text("from", t.from.as_str())
        .text("to", t.to.as_str())
        .text("reason", t.reason.as_str())
        .num("at", ms(u128::from(t.at.as_nanos())))
        .into()
}

/// A [`FailureRecord`] as the JS `FailureRecord` (an unknown wall-clock stamp, NaN, is
/// written as `null` by JSON).
pub fn failure_to_js(r: &FailureRecord) -> JsValue {
    Record::new()
        .num("timestamp", r.timestamp)
        .text("errorType", &r.error_type)
        .text("errorMessage", &r.error_message)
        .text("operation", &r.operation)
        .into()
}

/// Numbers as a JS array.
fn numbers_to_js(xs: impl IntoIterator<Item = f64>) -> JsValue {
    xs.into_iter()
        .map(JsValue::from_f64)
        .collect::<Array>()
        .into()
}

/// A [`Snapshot`] as the JS `Snapshot`: the core's fields in camelCase, `config` left `null`
/// for the JS layer to fill with the config object (written by the config fields' table).
pub fn snapshot_to_js(s: &Snapshot) -> JsValue {
    let n = |x: u64| x as f64;
    let window: Array = s.window.iter().map(|b| numbers_to_js(b.map(n))).collect();
    let failures: Array = s.recent_failures.iter().map(failure_to_js).collect();
    Record::new()
        .num("version", f64::from(s.version))
        .set("config", JsValue::NULL)
        .text("state", s.state.as_str())
        .num("openedAgoNs", n(s.opened_ago_ns))
        .num("changedAgoNs", n(s.changed_ago_ns))
        .num("consecutiveFailures", f64::from(s.consecutive_failures))
        .set("halfOpen", numbers_to_js(s.half_open.map(f64::from)))
        .set("counters", numbers_to_js(s.counters.map(n)))
        .set(
            "lastFailureTime",
            s.last_failure_time.map_or(JsValue::NULL, JsValue::from_f64),
        )
        .set("window", window.into())
        .set("recentFailures", failures.into())
        .into()
}

/// A [`Snapshot`] from a JS snapshot object the JS layer has checked field by field (types,
/// whole numbers, lengths: `js/interop.js`), with `config` (the JS layer's, staged) in place
/// of its own. A value that is not what the check let through reads as zero or empty rather
/// than panicking; the core then checks the counters' consistency.
pub fn snapshot_from_js(o: &JsValue, config: Config) -> Snapshot {
    let half_open = numbers(&get(o, "halfOpen"));
    let counters = numbers(&get(o, "counters"));
    let window = numbers(&Array::from(&get(o, "window")).flat(1));
    let count = |n: &[f64], i: usize| n.get(i).copied().unwrap_or(0.0) as u32;
    let whole = |n: &[f64], i: usize| n.get(i).copied().unwrap_or(0.0) as u64;
    Snapshot {
        version: number(o, "version") as u32,
        config,
        state: State::from_name(&get(o, "state").as_string().unwrap_or_default())
            .unwrap_or(State::Closed),
        opened_ago_ns: number(o, "openedAgoNs") as u64,
        changed_ago_ns: number(o, "changedAgoNs") as u64,
        consecutive_failures: number(o, "consecutiveFailures") as u32,
        half_open: [0, 1, 2].map(|i| count(&half_open, i)),
        counters: [0, 1, 2, 3, 4, 5].map(|i| whole(&counters, i)),
        last_failure_time: get(o, "lastFailureTime").as_f64(),
        window: window
            .chunks_exact(3)
            .map(|b| [b[0] as u64, b[1] as u64, b[2] as u64])
            .collect(),
        recent_failures: Array::from(&get(o, "recentFailures"))
            .iter()
            .map(|r| FailureRecord {
                // JSON writes an unknown stamp (NaN) as null: it reads back as NaN.
                timestamp: get(&r, "timestamp").as_f64().unwrap_or(f64::NAN),
                error_type: text(&r, "errorType"),
                error_message: text(&r, "errorMessage"),
                operation: text(&r, "operation"),
            })
            .collect(),
    }
}

// Out of line: one copy of each reader serves every field.

#[inline(never)]
fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

#[inline(never)]
fn number(o: &JsValue, key: &str) -> f64 {
    get(o, key).as_f64().unwrap_or(0.0)
}

#[inline(never)]
fn text(o: &JsValue, key: &str) -> String {
    get(o, key).as_string().unwrap_or_default()
}

/// An array of numbers (a non-number reads as 0).
#[inline(never)]
fn numbers(v: &JsValue) -> Vec<f64> {
    Array::from(v)
        .iter()
        .map(|x| x.as_f64().unwrap_or(0.0))
        .collect()
}
