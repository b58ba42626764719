//! What crosses the boundary besides the objects of [`crate::objects`]: time, transitions,
//! and the codes the hot exports answer with.
//!
//! - time: the JS layer reads its clock in milliseconds (a float) and passes it in; it becomes
//!   an [`Instant`] of `ms * 1e6` nanoseconds (rounded, ties to even), clamped to `>= 0` (NaN
//!   reads as 0);
//! - a permit is [`fact_resilience_core::Permit::to_bits`] as a JS number (generations stay
//!   far below 2^51);
//! - a transition: a hot export answers only *whether* one happened (a flag); the JS layer
//!   then takes it with `takeTransition()`, as the core made it (states, reason and time);
//! - every other code a hot export answers with is declared once, here or in
//!   [`crate::breaker`] / [`crate::cache`], and handed to JS by `boundaryCodes()`, with the
//!   states' names.

use crate::objects::transition_to_js;
use fact_resilience_core::{Instant, Transition};
use std::cell::Cell;
use wasm_bindgen::prelude::*;

thread_local! {
    /// The latest transition a hot export reported, until `takeTransition()`.
    static TRANSITION: Cell<Option<Transition>> = const { Cell::new(None) };
}

/// Milliseconds from the JS clock as a core instant.
pub fn instant(ms: f64) -> Instant {
    // `as` saturates: NaN and negatives become 0, huge values the end of the timeline.
    // Ties to even: one wasm instruction (`f64.nearest`), where `round` is a libm call; the
    // two differ only on exact half nanoseconds.
    Instant::from_nanos((ms * 1e6).round_ties_even() as u64)
}

/// Keeps `t` for `takeTransition()`; answers the flag a hot export returns: 1 if there was
/// one, else 0.
pub fn note(t: Option<Transition>) -> i32 {
    match t {
        Some(t) => {
            TRANSITION.set(Some(t));
            1
        }
        None => 0,
    }
}

/// The transition the latest hot export flagged (`{ from, to, reason, at }`, `at` in the
/// clock's milliseconds), or `null`. Read it right after that export: the next one that
/// makes a transition replaces it.
#[wasm_bindgen(js_name = takeTransition)]
pub fn take_transition() -> JsValue {
    TRANSITION.take().map_or(JsValue::NULL, transition_to_js)
}

/// Every code the hot exports answer with and where packed answers keep their fields, as
/// JSON for the JS layer to read once (`js/codes.js`). Written out rather than serialised, to
/// keep a serializer out of the module; the test below checks every entry against the
/// constants and the core's tables, so the two cannot drift.
pub const CODES: &str = r#"{
"states": ["closed", "open", "half_open"],
"noBreaker": -3, "rejectedOpen": -1, "rejectedThrottled": -2,
"op": {"get": 0, "store": 1, "invalidate": 2, "invalidate_by_prefix": 3},
"outcome": {"success": 0, "failure": 1, "timeout": 2, "shed": 3, "cancelled": 4},
"fallback": {"stored": 0, "missing": 1, "zero": 2},
"staleKeys": {"auto": 0, "off": 1, "per_key": 2, "prefix": 3},
"create": {"unknownOption": -1, "noPerKey": -2, "noFlushAll": -3},
"begin": {"run": 1, "fallback": 2, "refuseOpen": 3, "refuseThrottled": 4, "noBreaker": 5,
  "noGuard": 6, "unknownOp": 7},
"beginFields": {"kind": [0, 7], "flush": [3, 3], "fallback": [5, 3], "reason": [7, 7],
  "transition": [10, 1]},
"flush": {"keys": 1, "all": 2},
"end": {"value": 0, "stored": 1, "fallback": 2, "raise": 3, "unknownTicket": -1,
  "unknownOutcome": -2, "noGuard": -4},
"endFields": {"answer": [0, 3], "fallback": [2, 3], "reason": [4, 7], "transition": [7, 1]}
}"#;

/// The codes ([`CODES`]), as JSON.
#[wasm_bindgen(js_name = boundaryCodes)]
pub fn boundary_codes() -> String {
    CODES.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::{NO_BREAKER, REJECTED_OPEN, REJECTED_THROTTLED};
    use crate::cache::*;
    use fact_resilience_core::{CacheOp, Fallback, OutcomeKind, StaleKeysOption, State};
    use serde_json::{Value, json};

    fn names<T: Copy>(
        all: &[T],
        name: impl Fn(T) -> &'static str,
        code: impl Fn(T) -> i64,
    ) -> Value {
        Value::Object(
            all.iter()
                .map(|&x| (name(x).into(), json!(code(x))))
                .collect(),
        )
    }

    #[test]
    fn the_codes_json_is_the_constants_and_the_cores_tables() {
        let codes: Value = serde_json::from_str(CODES).unwrap();
        let states: Vec<_> = State::ALL.iter().map(|s| s.as_str()).collect();
        let expected = json!({
            "states": states,
            "noBreaker": NO_BREAKER, "rejectedOpen": REJECTED_OPEN as i64,
            "rejectedThrottled": REJECTED_THROTTLED as i64,
            "op": names(&CacheOp::ALL, CacheOp::name, |o| o as i64),
            "outcome": names(&OutcomeKind::ALL, OutcomeKind::name, |o| o as i64),
            "fallback": names(&Fallback::ALL, Fallback::name, |f| f as i64),
            "staleKeys": names(&StaleKeysOption::ALL, StaleKeysOption::name, |s| s as i64),
            "create": {"unknownOption": CREATE_UNKNOWN_OPTION, "noPerKey": CREATE_NO_PER_KEY,
                "noFlushAll": CREATE_NO_FLUSH_ALL},
            "begin": {"run": BEGIN_RUN, "fallback": BEGIN_FALLBACK, "refuseOpen": BEGIN_REFUSE_OPEN,
                "refuseThrottled": BEGIN_REFUSE_THROTTLED, "noBreaker": BEGIN_NO_BREAKER,
                "noGuard": BEGIN_NO_GUARD, "unknownOp": BEGIN_UNKNOWN_OP},
            "beginFields": BEGIN_FIELDS.iter().map(|(k, f)| (k.to_string(), json!(f))).collect::<serde_json::Map<_, _>>(),
            "flush": {"keys": FLUSH_KEYS, "all": FLUSH_ALL},
            "end": {"value": END_VALUE, "stored": END_STORED, "fallback": END_FALLBACK,
                "raise": END_RAISE, "unknownTicket": END_UNKNOWN_TICKET,
                "unknownOutcome": END_UNKNOWN_OUTCOME, "noGuard": END_NO_GUARD},
            "endFields": END_FIELDS.iter().map(|(k, f)| (k.to_string(), json!(f))).collect::<serde_json::Map<_, _>>(),
        });
        assert_eq!(codes, expected);
    }

    #[test]
    fn milliseconds_round_to_nanoseconds_and_clamp() {
        assert_eq!(instant(1.5), Instant::from_nanos(1_500_000));
        assert_eq!(instant(0.0000004), Instant::ZERO);
        assert_eq!(instant(-5.0), Instant::ZERO);
        assert_eq!(instant(f64::NAN), Instant::ZERO);
        assert_eq!(instant(f64::INFINITY), Instant::from_nanos(u64::MAX));
    }
}
