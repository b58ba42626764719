//! The breaker API exported to JS: one function per core method, each taking the breaker's
//! handle (see [`crate::registry`]). Everything crossing is a number, a flat array of numbers
//! or a string (see [`crate::interop`]). Nothing here throws: a missing breaker is reported
//! as [`NO_BREAKER`] (hot calls) or an empty result (cold calls), a refused config as a field
//! code (see [`crate::config`]), and the JS layer turns those into errors.

use crate::config::{config_to_numbers, error_code, take_staged};
use crate::interop::{
    instant, metrics_to_numbers, snapshot_error_code, snapshot_from_numbers, snapshot_to_numbers,
    state_code, transition_code,
};
use crate::registry;
use fact_resilience_core::{Breaker, Failure, FailureRecord, Permit, Rejection};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

/// Returned by hot calls when the handle names no breaker.
pub const NO_BREAKER: i32 = -3;
/// `breakerTryAcquire`: the circuit is OPEN (read `breakerRetryAfterMs`).
pub const REJECTED_OPEN: f64 = -1.0;
/// `breakerTryAcquire`: HALF_OPEN and this call was throttled.
pub const REJECTED_THROTTLED: f64 = -2.0;

thread_local! {
    /// Failure records staged by `restoreStageFailure` for the next `breakerRestore`.
    static STAGED_FAILURES: RefCell<Vec<FailureRecord>> = const { RefCell::new(Vec::new()) };
}

fn code<R>(handle: u32, f: impl FnOnce(&mut Breaker) -> R, to_code: impl FnOnce(R) -> i32) -> i32 {
    registry::with(handle, f).map_or(NO_BREAKER, to_code)
}

fn permit(bits: f64) -> Permit {
    Permit::from_bits(bits as u64)
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

/// Stages one failure record (oldest first) for the next `breakerRestore`.
#[wasm_bindgen(js_name = restoreStageFailure)]
pub fn restore_stage_failure(
    timestamp: f64,
    error_type: String,
    error_message: String,
    operation: String,
) {
    STAGED_FAILURES.with_borrow_mut(|v| {
        v.push(FailureRecord {
            timestamp,
            error_type,
            error_message,
            operation,
        });
    });
}

/// A breaker in the state a snapshot describes, rebased onto this clock: `numbers` in
/// [`crate::interop::SNAPSHOT_LAYOUT`] order, the staged config and staged failure records.
/// Returns the handle (`at` when `at >= 0`, as for `breakerCreate`), or `-code` of the
/// refusal (see [`snapshot_error_code`]).
#[wasm_bindgen(js_name = breakerRestore)]
pub fn restore(numbers: &[f64], now_ms: f64, at: i32) -> i32 {
    let failures = STAGED_FAILURES.take();
    let snapshot = snapshot_from_numbers(numbers, take_staged(), failures);
    match Breaker::restore(snapshot, instant(now_ms)) {
        Ok(b) => registry::insert_at(b, at) as i32,
        Err(e) => -snapshot_error_code(&e),
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
/// when this call moved the circuit OPEN -> HALF_OPEN (timeout elapsed); `-1`: OPEN; `-2`:
/// throttled in HALF_OPEN; `-3`: no such breaker.
#[wasm_bindgen(js_name = breakerTryAcquire)]
pub fn try_acquire(handle: u32, now_ms: f64) -> f64 {
    registry::with(handle, |b| match b.try_acquire(instant(now_ms)) {
        Ok(p) => p.to_bits() as f64 * 2.0 + f64::from(u8::from(p.transition().is_some())),
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

/// The call behind `permit` succeeded. Returns the transition code (0: none).
#[wasm_bindgen(js_name = breakerOnSuccess)]
pub fn on_success(handle: u32, permit_bits: f64, now_ms: f64) -> i32 {
    code(
        handle,
        |b| b.on_success(permit(permit_bits), instant(now_ms)),
        transition_code,
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
        |b| b.on_failure(permit(permit_bits), &failure, instant(now_ms)),
        transition_code,
    )
}

/// The call behind `permit` ended without a verdict.
#[wasm_bindgen(js_name = breakerOnNeutral)]
pub fn on_neutral(handle: u32, permit_bits: f64, now_ms: f64) -> i32 {
    code(
        handle,
        |b| b.on_neutral(permit(permit_bits), instant(now_ms)),
        |()| 0,
    )
}

/// Applies what time alone changes. Returns the transition code.
#[wasm_bindgen(js_name = breakerPoll)]
pub fn poll(handle: u32, now_ms: f64) -> i32 {
    code(handle, |b| b.poll(instant(now_ms)), transition_code)
}

/// The state, without side effects: 0 closed, 1 open, 2 half_open.
#[wasm_bindgen(js_name = breakerState)]
pub fn state(handle: u32) -> i32 {
    code(handle, |b| b.state(), |s| state_code(s) as i32)
}

/// Opens the circuit (restarting the open timer). Returns the transition code.
#[wasm_bindgen(js_name = breakerForceOpen)]
pub fn force_open(handle: u32, now_ms: f64) -> i32 {
    code(handle, |b| b.force_open(instant(now_ms)), transition_code)
}

/// Closes the circuit. Returns the transition code.
#[wasm_bindgen(js_name = breakerForceClosed)]
pub fn force_closed(handle: u32, now_ms: f64) -> i32 {
    code(handle, |b| b.force_closed(instant(now_ms)), transition_code)
}

/// Back to a fresh breaker with the same config. Returns the transition code.
#[wasm_bindgen(js_name = breakerReset)]
pub fn reset(handle: u32, now_ms: f64) -> i32 {
    code(handle, |b| b.reset(instant(now_ms)), transition_code)
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

/// Counters and rates at `now` in [`crate::interop::METRICS_LAYOUT`] order; empty when
/// there is no such breaker.
#[wasm_bindgen(js_name = breakerMetrics)]
pub fn metrics(handle: u32, now_ms: f64) -> Vec<f64> {
    registry::with(handle, |b| metrics_to_numbers(&b.metrics(instant(now_ms)))).unwrap_or_default()
}

/// The failure log's timestamps (wall-clock seconds), oldest first.
#[wasm_bindgen(js_name = breakerFailureTimes)]
pub fn failure_times(handle: u32) -> Vec<f64> {
    registry::with(handle, |b| {
        b.recent_failures().map(|r| r.timestamp).collect()
    })
    .unwrap_or_default()
}

/// The failure log's texts, oldest first, three per record: error type, message, operation.
#[wasm_bindgen(js_name = breakerFailureTexts)]
pub fn failure_texts(handle: u32) -> Vec<String> {
    registry::with(handle, |b| {
        b.recent_failures()
            .flat_map(|r| {
                [
                    r.error_type.clone(),
                    r.error_message.clone(),
                    r.operation.clone(),
                ]
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The whole state at `now` except the config and failure log, in
/// [`crate::interop::SNAPSHOT_LAYOUT`] order; empty when there is no such breaker.
#[wasm_bindgen(js_name = breakerSnapshot)]
pub fn snapshot(handle: u32, now_ms: f64) -> Vec<f64> {
    registry::with(handle, |b| {
        snapshot_to_numbers(&b.snapshot(instant(now_ms)))
    })
    .unwrap_or_default()
}

/// The handles of the breakers in the table, ascending (after a panic: the breakers to move;
/// the one whose call panicked is not among them).
#[wasm_bindgen(js_name = liveHandles)]
pub fn live_handles() -> Vec<u32> {
    registry::handles()
}

/// How many breakers this instance holds.
#[wasm_bindgen(js_name = liveBreakers)]
pub fn live_breakers() -> u32 {
    registry::len() as u32
}
