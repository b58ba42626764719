//! The origin guard exported to JS (`OriginGuard` in `js/origin.js`, and `getOrLoad` in
//! `js/cache.js`): the core's [`OriginGuard`] over *origin handles*, which the JS layer picks
//! (as for the cache guards). The core decides which load leads, joins, is busy or is answered
//! stale, and which slot holds each remembered value; the values and the callers waiting for
//! a load stay in JS.
//!
//! `originBegin` answers one number `r`:
//!
//! - `0 < r < 2^52`: *lead*, and `r` is the ticket (call the origin, then `originEnd`);
//! - `r < 0`: *join* the load whose ticket is `-r`;
//! - `r == 0`: *busy* (the origin's budget is spent);
//! - `r >= 2^52`: *stale*, answer with the value in slot `r - 2^52` (its age in ms from
//!   `originStaleAgeMs()`);
//! - NaN: there is no such guard.
//!
//! A ticket is below 2^52 ([`fact_resilience_core::MAX_LOADS`] keeps the slot index below
//! 2^20), so every answer is an exact JS number. Nothing here throws or uses `core::fmt`.

use crate::interop::instant;
use crate::objects::Record;
use crate::slots::{self, Slots};
use crate::text::origin_error;
use core::time::Duration;
use fact_resilience_core::{Load, LoadTicket, OriginConfig, OriginGuard};
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;

/// Where stale answers start (see the module doc).
pub const STALE: f64 = 4_503_599_627_370_496.0; // 2^52
/// `originEnd`: the ticket is not a load in flight (the message from `originError()`).
pub const END_UNKNOWN_TICKET: i32 = -2;
/// `originEnd` and the other integer answers: there is no such guard.
pub const NO_ORIGIN: i32 = -3;

type Guard = OriginGuard<String>;

thread_local! {
    static TABLE: Slots<Guard> = const { RefCell::new(Vec::new()) };
    static STALE_AGE_MS: Cell<f64> = const { Cell::new(0.0) };
    static ENDED: Cell<f64> = const { Cell::new(0.0) };
    static ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn with<R>(handle: u32, f: impl FnOnce(&mut Guard) -> R) -> Option<R> {
    slots::with(&TABLE, handle, f)
}

/// A guard at handle `at` (free: the JS layer picks handles): `singleFlight`; `budget` the
/// most origin calls in flight (a whole number checked by JS; negative for no limit);
/// `staleMs` how old a remembered value may be and still answer while the cache is down
/// (NaN: stale-if-error off; anything not > 0 is refused by the core); `capacity` how many
/// values are remembered. Returns `undefined`, or the core's message (nothing made then).
#[wasm_bindgen(js_name = originCreate)]
pub fn create(
    at: u32,
    single_flight: bool,
    budget: f64,
    stale_ms: f64,
    capacity: f64,
) -> Option<String> {
    let config = OriginConfig {
        single_flight,
        budget: (budget >= 0.0).then_some(budget as u32),
        // `as` saturates: a negative age is 0, which the core refuses.
        stale_if_error: (!stale_ms.is_nan()).then(|| Duration::from_nanos((stale_ms * 1e6) as u64)),
        stale_capacity: capacity as usize,
    };
    match OriginGuard::new(config) {
        Ok(guard) => {
            slots::put(&TABLE, at, Box::new(guard));
            None
        }
        Err(e) => Some(origin_error(&e)),
    }
}

/// Frees a guard. Unknown handles are ignored.
#[wasm_bindgen(js_name = originFree)]
pub fn free(handle: u32) {
    drop(slots::take(&TABLE, handle));
}

/// A read of `key` missed at `now` (`cacheDown`: the cache call was refused or failed). See
/// the module doc for the answer.
#[wasm_bindgen(js_name = originBegin)]
pub fn begin(handle: u32, key: &str, cache_down: bool, now_ms: f64) -> f64 {
    with(handle, |g| {
        match g.begin(key, cache_down, instant(now_ms)) {
            Load::Lead(t) => t.to_bits() as f64,
            Load::Join(t) => -(t.to_bits() as f64),
            Load::Busy => 0.0,
            Load::Stale { slot, age } => {
                STALE_AGE_MS.set(age.as_nanos() as f64 / 1e6);
                STALE + f64::from(slot)
            }
        }
    })
    .unwrap_or(f64::NAN)
}

/// The age, in ms, of the value the latest stale answer named.
#[wasm_bindgen(js_name = originStaleAgeMs)]
pub fn stale_age_ms() -> f64 {
    STALE_AGE_MS.get()
}

/// The load holding `ticket` ended at `now` (`ok`: with a value). Returns the slot to
/// remember the value in (`-1`: do not), [`END_UNKNOWN_TICKET`] or [`NO_ORIGIN`]; how many
/// callers joined it and whether to store its value from `originEnded()`.
#[wasm_bindgen(js_name = originEnd)]
pub fn end(handle: u32, ticket: f64, ok: bool, now_ms: f64) -> i32 {
    let bits = ticket as u64; // saturating: NaN and negatives become 0, which no load holds
    with(handle, |g| {
        match g.end(LoadTicket::from_bits(bits), ok, instant(now_ms)) {
            Ok(ended) => {
                ENDED.set(f64::from(ended.joined) * 2.0 + f64::from(u8::from(ended.store)));
                ended.remember.map_or(-1, |s| s as i32)
            }
            Err(e) => {
                ERROR.set(origin_error(&e));
                END_UNKNOWN_TICKET
            }
        }
    })
    .unwrap_or(NO_ORIGIN)
}

/// The load the latest `originEnd` ended: `joined * 2 + store` (how many callers joined it;
/// 1 to put its value in the cache).
#[wasm_bindgen(js_name = originEnded)]
pub fn ended() -> f64 {
    ENDED.get()
}

/// The message of the latest refused ticket.
#[wasm_bindgen(js_name = originError)]
pub fn error() -> String {
    ERROR.take()
}

/// A value for `key` was served from the cache at `now`: the slot to remember it in, or -1
/// (stale-if-error off, or no such guard).
#[wasm_bindgen(js_name = originServed)]
pub fn served(handle: u32, key: &str, now_ms: f64) -> i32 {
    with(handle, |g| g.served(key, instant(now_ms)))
        .flatten()
        .map_or(-1, |s| s as i32)
}

/// A write to `key` was seen: the slot whose value JS may drop, or -1.
#[wasm_bindgen(js_name = originWritten)]
pub fn written(handle: u32, key: &str) -> i32 {
    with(handle, |g| g.written(key))
        .flatten()
        .map_or(-1, |s| s as i32)
}

/// Everything may have been written (a prefix or the whole cache was invalidated).
#[wasm_bindgen(js_name = originWrittenAll)]
pub fn written_all(handle: u32) {
    with(handle, Guard::written_all);
}

/// The guard's counters (`{ originCalls, joined, busy, staleServed, inFlight, remembered }`);
/// `null` when there is no such guard.
#[wasm_bindgen(js_name = originCounters)]
pub fn counters(handle: u32) -> JsValue {
    with(handle, |g| {
        let c = g.counters();
        let n = |x: u64| x as f64;
        Record::new()
            .num("originCalls", n(c.origin_calls))
            .num("joined", n(c.joined))
            .num("busy", n(c.busy))
            .num("staleServed", n(c.stale_served))
            .num("inFlight", n(c.in_flight))
            .num("remembered", n(c.remembered))
            .into()
    })
    .unwrap_or(JsValue::NULL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_exact_numbers_of_each_kind() {
        assert_eq!(create(1, true, 1.0, 1000.0, 4.0), None);
        assert_eq!(served(1, "s", 0.0), 0);
        let lead = begin(1, "k", false, 0.0);
        assert!(lead > 0.0 && lead < STALE);
        assert_eq!(begin(1, "k", false, 0.0), -lead, "joins the lead");
        assert_eq!(begin(1, "j", false, 0.0), 0.0, "the budget of 1 is spent");
        assert_eq!(begin(1, "s", true, 250.0), STALE);
        assert_eq!(stale_age_ms(), 250.0);
        assert_eq!(end(1, lead, true, 1.0), 1, "remembered in the next slot");
        assert_eq!(ended(), 3.0, "one joined, and the value is stored");
        assert_eq!(end(1, lead, true, 1.0), END_UNKNOWN_TICKET);
        assert!(error().starts_with("ticket "));
        assert_eq!(written(1, "k"), 1);
        free(1);
        assert!(begin(1, "k", false, 0.0).is_nan());
        assert_eq!(
            create(1, false, 0.0, f64::NAN, 0.0).as_deref(),
            Some("origin_budget: must be at least 1, got 0")
        );
        assert_eq!(
            create(1, false, -1.0, -5.0, 4.0).as_deref(),
            Some("stale_if_error_seconds: must be greater than 0")
        );
    }
}
