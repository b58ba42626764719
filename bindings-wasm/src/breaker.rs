//! The breaker API exported to JS: one function per core method, each taking the breaker's
//! handle (see [`crate::registry`]). Hot calls take and return plain numbers (see
//! [`crate::interop`]); they never throw, and report a missing breaker as [`NO_BREAKER`].

use crate::config::config_from_js;
use crate::errors::NoSuchBreaker;
use crate::interop::{self, instant, state_code, transition_code};
use crate::registry::{self, Entry};
use fact_resilience_core::{Breaker, Failure, Permit, Rejection};
use wasm_bindgen::prelude::*;

/// Returned by hot calls when the handle names no breaker.
pub const NO_BREAKER: i32 = -3;
/// `breakerTryAcquire`: the circuit is OPEN (read `breakerRetryAfterMs`).
pub const REJECTED_OPEN: f64 = -1.0;
/// `breakerTryAcquire`: HALF_OPEN and this call was throttled.
pub const REJECTED_THROTTLED: f64 = -2.0;

fn get<R>(handle: u32, f: impl FnOnce(&mut Entry) -> R) -> Result<R, JsValue> {
    registry::with(handle, f).ok_or_else(|| NoSuchBreaker { handle }.into())
}

fn code<R>(handle: u32, f: impl FnOnce(&mut Entry) -> R, to_code: impl FnOnce(R) -> i32) -> i32 {
    registry::with(handle, f).map_or(NO_BREAKER, to_code)
}

fn permit(bits: f64) -> Permit {
    Permit::from_bits(bits as u64)
}

/// A new CLOSED breaker; throws `TypeError`/`RangeError` naming the bad field.
#[wasm_bindgen(js_name = breakerCreate)]
pub fn create(
    #[wasm_bindgen(unchecked_param_type = "Config | undefined")] config: JsValue,
    now_ms: f64,
) -> Result<u32, JsValue> {
    let config = config_from_js(config, "config")?;
    let breaker = Breaker::new(config, instant(now_ms)).map_err(|error| {
        crate::errors::ConfigInputError::Rule {
            prefix: "config",
            error,
        }
    })?;
    Ok(registry::insert(breaker))
}

/// A breaker in the state a snapshot describes, rebased onto this clock.
#[wasm_bindgen(js_name = breakerRestore)]
pub fn restore(
    #[wasm_bindgen(unchecked_param_type = "Snapshot")] snapshot: JsValue,
    now_ms: f64,
) -> Result<u32, JsValue> {
    let snapshot = interop::snapshot_from_js(snapshot)?;
    // The snapshot's version and config were checked while reading it.
    let breaker = Breaker::restore(snapshot, instant(now_ms)).map_err(|_| {
        crate::errors::RestoreError::Version {
            found: 0,
            expected: fact_resilience_core::SNAPSHOT_VERSION,
        }
    })?;
    Ok(registry::insert(breaker))
}

/// Frees a breaker. Unknown handles are ignored.
#[wasm_bindgen(js_name = breakerDispose)]
pub fn dispose(handle: u32) {
    registry::remove(handle);
}

/// Asks to run one call. `r >= 0`: admitted, the permit is `floor(r / 2)` and `r % 2 == 1`
/// when this call moved the circuit OPEN -> HALF_OPEN (timeout elapsed); `-1`: OPEN; `-2`:
/// throttled in HALF_OPEN; `-3`: no such breaker.
#[wasm_bindgen(js_name = breakerTryAcquire)]
pub fn try_acquire(handle: u32, now_ms: f64) -> f64 {
    registry::with(handle, |e| match e.breaker.try_acquire(instant(now_ms)) {
        Ok(p) => p.to_bits() as f64 * 2.0 + f64::from(u8::from(p.transition().is_some())),
        Err(Rejection::Open { retry_after }) => {
            e.retry_after_ms = retry_after.as_secs_f64() * 1e3;
            REJECTED_OPEN
        }
        Err(Rejection::Throttled) => REJECTED_THROTTLED,
    })
    .unwrap_or(f64::from(NO_BREAKER))
}

/// Milliseconds left until the open timeout passes, as of the last OPEN rejection.
#[wasm_bindgen(js_name = breakerRetryAfterMs)]
pub fn retry_after_ms(handle: u32) -> f64 {
    registry::with(handle, |e| e.retry_after_ms).unwrap_or(0.0)
}

/// The call behind `permit` succeeded. Returns the transition code (0: none).
#[wasm_bindgen(js_name = breakerOnSuccess)]
pub fn on_success(handle: u32, permit_bits: f64, now_ms: f64) -> i32 {
    code(
        handle,
        |e| e.breaker.on_success(permit(permit_bits), instant(now_ms)),
        |t| transition_code(t) as i32,
    )
}

/// The call behind `permit` failed. `wall_seconds` is the wall-clock time of the failure.
#[wasm_bindgen(js_name = breakerOnFailure)]
pub fn on_failure(
    handle: u32,
    permit_bits: f64,
    error_type: &str,
    error_message: &str,
    operation: &str,
    wall_seconds: f64,
    now_ms: f64,
) -> i32 {
    let failure = Failure {
        error_type,
        error_message,
        operation,
        timestamp: wall_seconds,
    };
    code(
        handle,
        |e| {
            e.breaker
                .on_failure(permit(permit_bits), &failure, instant(now_ms))
        },
        |t| transition_code(t) as i32,
    )
}

/// The call behind `permit` ended without a verdict.
#[wasm_bindgen(js_name = breakerOnNeutral)]
pub fn on_neutral(handle: u32, permit_bits: f64, now_ms: f64) -> i32 {
    code(
        handle,
        |e| e.breaker.on_neutral(permit(permit_bits), instant(now_ms)),
        |()| 0,
    )
}

/// Applies what time alone changes. Returns the transition code.
#[wasm_bindgen(js_name = breakerPoll)]
pub fn poll(handle: u32, now_ms: f64) -> i32 {
    code(
        handle,
        |e| e.breaker.poll(instant(now_ms)),
        |t| transition_code(t) as i32,
    )
}

/// The state, without side effects: 0 closed, 1 open, 2 half_open.
#[wasm_bindgen(js_name = breakerState)]
pub fn state(handle: u32) -> i32 {
    code(handle, |e| e.breaker.state(), |s| state_code(s) as i32)
}

/// Opens the circuit (restarting the open timer). Returns the transition code.
#[wasm_bindgen(js_name = breakerForceOpen)]
pub fn force_open(handle: u32, now_ms: f64) -> i32 {
    code(
        handle,
        |e| e.breaker.force_open(instant(now_ms)),
        |t| transition_code(t) as i32,
    )
}

/// Closes the circuit. Returns the transition code.
#[wasm_bindgen(js_name = breakerForceClosed)]
pub fn force_closed(handle: u32, now_ms: f64) -> i32 {
    code(
        handle,
        |e| e.breaker.force_closed(instant(now_ms)),
        |t| transition_code(t) as i32,
    )
}

/// Back to a fresh breaker with the same config. Returns the transition code.
#[wasm_bindgen(js_name = breakerReset)]
pub fn reset(handle: u32, now_ms: f64) -> i32 {
    code(
        handle,
        |e| e.breaker.reset(instant(now_ms)),
        |t| transition_code(t) as i32,
    )
}

/// Replaces the whole configuration (absent fields take their defaults). On error nothing
/// changes.
#[wasm_bindgen(js_name = breakerSetConfig)]
pub fn set_config(
    handle: u32,
    #[wasm_bindgen(unchecked_param_type = "Config")] config: JsValue,
) -> Result<(), JsValue> {
    let config = config_from_js(config, "config")?;
    get(handle, |e| e.breaker.set_config(config))?.map_err(|error| {
        crate::errors::ConfigInputError::Rule {
            prefix: "config",
            error,
        }
        .into()
    })
}

/// The configuration in force, every field present.
#[wasm_bindgen(js_name = breakerConfig, unchecked_return_type = "Required<Config>")]
pub fn config(handle: u32) -> Result<JsValue, JsValue> {
    Ok(get(handle, |e| interop::config_to_js(e.breaker.config()))??)
}

/// Counters and rates at `now`, as a plain object.
#[wasm_bindgen(js_name = breakerMetrics, unchecked_return_type = "Metrics")]
pub fn metrics(handle: u32, now_ms: f64) -> Result<JsValue, JsValue> {
    Ok(get(handle, |e| {
        interop::metrics_to_js(&e.breaker.metrics(instant(now_ms)))
    })??)
}

/// The failure log, oldest first.
#[wasm_bindgen(js_name = breakerRecentFailures, unchecked_return_type = "FailureRecord[]")]
pub fn recent_failures(handle: u32) -> Result<JsValue, JsValue> {
    Ok(get(handle, |e| {
        interop::failures_to_js(e.breaker.recent_failures())
    })??)
}

/// The whole state at `now`, as a versioned, JSON-safe object.
#[wasm_bindgen(js_name = breakerSnapshot, unchecked_return_type = "Snapshot")]
pub fn snapshot(handle: u32, now_ms: f64) -> Result<JsValue, JsValue> {
    Ok(get(handle, |e| {
        interop::snapshot_to_js(&e.breaker.snapshot(instant(now_ms)))
    })??)
}

/// When time alone will next change something (ms on the caller's clock), if ever.
#[wasm_bindgen(js_name = breakerNextDeadlineMs)]
pub fn next_deadline_ms(handle: u32) -> Option<f64> {
    registry::with(handle, |e| {
        e.breaker.next_deadline().map(|t| t.as_nanos() as f64 / 1e6)
    })
    .flatten()
}

/// How many breakers this instance holds.
#[wasm_bindgen(js_name = liveBreakers)]
pub fn live_breakers() -> u32 {
    registry::len() as u32
}
