//! The breaker API exported to JS: one function per core method, each taking the breaker's
//! handle (see [`crate::registry`]). Hot calls take and answer numbers (see
//! [`crate::interop`]); cold ones answer plain objects ([`crate::objects`]). Nothing here
//! throws: a missing breaker is reported as [`NO_BREAKER`] (hot calls) or `null` (cold
//! calls), a refused config as a field code (see [`crate::config`]), and a refused snapshot
//! as the error to throw.

use crate::config::{config_to_numbers, error_code, take_staged};
use crate::interop::{instant, note};
use crate::objects::{failure_to_js, metrics_to_js, snapshot_from_js, snapshot_to_js};
use crate::refusal::range_error;
use crate::registry;
use fact_resilience_core::{Breaker, Failure, Permit, Rejection, SnapshotError};
use wasm_bindgen::prelude::*;

/// Returned by hot calls when the handle names no breaker.
pub const NO_BREAKER: i32 = -3;
/// `breakerTryAcquire`: the circuit is OPEN (read `breakerRetryAfterMs`).
pub const REJECTED_OPEN: f64 = -1.0;
/// `breakerTryAcquire`: HALF_OPEN and this call was throttled.
pub const REJECTED_THROTTLED: f64 = -2.0;

fn code<R>(handle: u32, f: impl FnOnce(&mut Breaker) -> R, to_code: impl FnOnce(R) -> i32) -> i32 {
    registry::with(handle, f).map_or(NO_BREAKER, to_code)
}

/// The permit behind `bits`, admitted at `admitted_ms` (the clock reading `breakerTryAcquire`
/// was given: the JS layer keeps it with the permit, so a permit crosses as two numbers).
fn permit(b: &Breaker, bits: f64, admitted_ms: f64) -> Permit {
    b.permit_from_bits(bits as u64, instant(admitted_ms))
}

/// A new CLOSED breaker with the staged config (`configStage`); returns its handle, which is
/// `at` when `at >= 0` (the JS layer moving breakers to a fresh instance after a panic).
#[wasm_bindgen(js_name = breakerCreate)]
pub fn create(now_ms: f64, at: i32) -> i32 {
    match Breaker::new(take_staged(), instant(now_ms)) {
        Ok(b) => registry::insert_at(b, at) as i32,
        Err(e) => -error_code(&e), // not reached: staging validated the config
    }
}

/// A breaker in the state `snapshot` describes (a JS snapshot object the JS layer checked
/// field by field, its config staged), rebased onto this clock. Answers the handle (`at` when
/// `at >= 0`, as for `breakerCreate`), `-code` of a config field the core refused (see
/// [`error_code`]), or the `RangeError` to throw for counters no breaker could hold, with
/// the core's message.
#[wasm_bindgen(js_name = breakerRestore)]
pub fn restore(snapshot: JsValue, now_ms: f64, at: i32) -> JsValue {
    let snapshot = snapshot_from_js(&snapshot, take_staged());
    match Breaker::restore(snapshot, instant(now_ms)) {
        Ok(b) => JsValue::from(registry::insert_at(b, at)),
        Err(SnapshotError::Config(e)) => JsValue::from(-error_code(&e)),
        Err(SnapshotError::Inconsistent(i)) => {
            let mut message = String::new();
            let _ = i.write(&mut message, "snapshot.halfOpen", "snapshot.window");
            range_error(&message)
        }
        // The JS layer checks the version first; the core's message is not rendered here, as
        // it shares its formatting with the config's (floats).
        Err(_) => range_error("snapshot.version is not supported"),
    }
}

/// Reserves handles `0..len` in a fresh instance (see [`registry::reserve`]).
#[wasm_bindgen(js_name = breakerReserve)]
pub fn reserve(len: u32) {
    registry::reserve(len);
}

/// The snapshot format version this build writes and reads.
#[wasm_bindgen(js_name = snapshotVersion)]
pub fn snapshot_version() -> u32 {
    fact_resilience_core::SNAPSHOT_VERSION
}

/// Frees a breaker. Unknown handles are ignored.
#[wasm_bindgen(js_name = breakerDispose)]
pub fn dispose(handle: u32) {
    registry::remove(handle);
}

/// Asks to run one call. `r >= 0`: admitted, the permit is `floor(r / 2)` and `r % 2 == 1`
/// when admission made a transition (OPEN -> HALF_OPEN: read it with `takeTransition()`);
/// else [`REJECTED_OPEN`], [`REJECTED_THROTTLED`] or [`NO_BREAKER`].
#[wasm_bindgen(js_name = breakerTryAcquire)]
pub fn try_acquire(handle: u32, now_ms: f64) -> f64 {
    registry::with(handle, |b| match b.try_acquire(instant(now_ms)) {
        Ok(p) => p.to_bits() as f64 * 2.0 + f64::from(note(p.transition())),
        Err(Rejection::Open { retry_after }) => {
            registry::set_retry_after_ms(retry_after.as_secs_f64() * 1e3);
            REJECTED_OPEN
        }
        Err(Rejection::Throttled) => REJECTED_THROTTLED,
    })
    .unwrap_or(f64::from(NO_BREAKER))
}

/// Milliseconds left until the open timeout passes, as of the latest OPEN rejection (of any
/// breaker: read it right after `breakerTryAcquire` returned `-1`).
#[wasm_bindgen(js_name = breakerRetryAfterMs)]
pub fn retry_after_ms() -> f64 {
    registry::retry_after_ms()
}

/// The call behind `permit` succeeded. Returns the transition flag (1: read it with
/// `takeTransition()`; 0: none).
#[wasm_bindgen(js_name = breakerOnSuccess)]
pub fn on_success(handle: u32, permit_bits: f64, admitted_ms: f64, now_ms: f64) -> i32 {
    code(
        handle,
        |b| b.on_success(permit(b, permit_bits, admitted_ms), instant(now_ms)),
        note,
    )
}

/// The call behind `permit` failed. `wall_seconds` is the wall-clock time of the failure.
/// Returns the transition flag.
#[wasm_bindgen(js_name = breakerOnFailure)]
#[allow(clippy::too_many_arguments)]
pub fn on_failure(
    handle: u32,
    permit_bits: f64,
    admitted_ms: f64,
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
        |b| {
            b.on_failure(
                permit(b, permit_bits, admitted_ms),
                &failure,
                instant(now_ms),
            )
        },
        note,
    )
}

/// The call behind `permit` ended without a verdict.
#[wasm_bindgen(js_name = breakerOnNeutral)]
pub fn on_neutral(handle: u32, permit_bits: f64, admitted_ms: f64, now_ms: f64) -> i32 {
    code(
        handle,
        |b| b.on_neutral(permit(b, permit_bits, admitted_ms), instant(now_ms)),
        |()| 0,
    )
}

/// Applies what time alone changes. Returns the transition flag.
#[wasm_bindgen(js_name = breakerPoll)]
pub fn poll(handle: u32, now_ms: f64) -> i32 {
    code(handle, |b| b.poll(instant(now_ms)), note)
}

/// The state's name, without side effects; `undefined` when there is no such breaker.
#[wasm_bindgen(js_name = breakerState)]
pub fn state(handle: u32) -> Option<String> {
    registry::with(handle, |b| b.state().as_str().into())
}

/// Opens the circuit (restarting the open timer). Returns the transition flag.
#[wasm_bindgen(js_name = breakerForceOpen)]
pub fn force_open(handle: u32, now_ms: f64) -> i32 {
    code(handle, |b| b.force_open(instant(now_ms)), note)
}

/// Closes the circuit. Returns the transition flag.
#[wasm_bindgen(js_name = breakerForceClosed)]
pub fn force_closed(handle: u32, now_ms: f64) -> i32 {
    code(handle, |b| b.force_closed(instant(now_ms)), note)
}

/// Back to a fresh breaker with the same config. Returns the transition flag.
#[wasm_bindgen(js_name = breakerReset)]
pub fn reset(handle: u32, now_ms: f64) -> i32 {
    code(handle, |b| b.reset(instant(now_ms)), note)
}

/// Replaces the whole configuration with the staged one. Returns 0, [`NO_BREAKER`], or the
/// refused field's code (nothing changes then).
#[wasm_bindgen(js_name = breakerSetConfig)]
pub fn set_config(handle: u32) -> i32 {
    let config = take_staged();
    code(
        handle,
        |b| b.set_config(config),
        |r| r.map_or_else(|e| error_code(&e), |()| 0),
    )
}

/// The configuration in force, as numbers (see [`crate::config::config_to_numbers`]); empty
/// when there is no such breaker.
#[wasm_bindgen(js_name = breakerConfig)]
pub fn config(handle: u32) -> Vec<f64> {
    let mut out = Vec::new();
    registry::with(handle, |b| config_to_numbers(b.config(), &mut out));
    out
}

/// Counters and rates at `now` (the JS `Metrics`); `null` when there is no such breaker.
#[wasm_bindgen(js_name = breakerMetrics)]
pub fn metrics(handle: u32, now_ms: f64) -> JsValue {
    registry::with(handle, |b| metrics_to_js(&b.metrics(instant(now_ms)))).unwrap_or(JsValue::NULL)
}

/// The failure log, oldest first (the JS `FailureRecord`s); `null` when there is no such
/// breaker.
#[wasm_bindgen(js_name = breakerFailures)]
pub fn failures(handle: u32) -> JsValue {
    registry::with(handle, |b| {
        JsValue::from(
            b.recent_failures()
                .map(failure_to_js)
                .collect::<js_sys::Array>(),
        )
    })
    .unwrap_or(JsValue::NULL)
}

/// The whole state at `now` (the JS `Snapshot`, its `config` `null` for the JS layer to
/// fill); `null` when there is no such breaker.
#[wasm_bindgen(js_name = breakerSnapshot)]
pub fn snapshot(handle: u32, now_ms: f64) -> JsValue {
    registry::with(handle, |b| snapshot_to_js(&b.snapshot(instant(now_ms))))
        .unwrap_or(JsValue::NULL)
}

/// The handles of the breakers in the table, ascending (after a panic: the breakers to move;
/// the one whose call panicked is not among them).
#[wasm_bindgen(js_name = liveHandles)]
pub fn live_handles() -> Vec<u32> {
    registry::handles()
}
