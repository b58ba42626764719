//! The cache guard exported to JS: [`CacheGuard`] over *guard handles*, each call taking the
//! handle of the breaker it guards (the breaker's current handle; see [`crate::registry`]).
//! Only numbers cross on the hot path; a key crosses as a string when the operation has
//! one, and flush keys only when a flush of keys was handed out. Nothing here throws or
//! formats a message: errors come back as codes, which `js/cache.js` turns into errors.
//!
//! `guardBegin` answers with one number `r`:
//!
//! - `r >= 0`: *run*, and `r` is the ticket: no flush handed out, no transition (the common
//!   case, one call);
//! - `r < 0`: `c = -r` packs the rest ([`BEGIN_FIELDS`]): the kind (run with a flush or a
//!   transition, whose ticket `guardTicket()` reads; fallback; refused OPEN, whose retry-after
//!   `breakerRetryAfterMs()` reads; refused throttled; or an error), the flush handed out
//!   (keys: read them with `guardFlushKeys()`; or everything), the fallback and its reason,
//!   and whether admission made a transition (read it with `takeTransition()`).
//!
//! Read `guardTicket()` / `guardFlushKeys()` / `breakerRetryAfterMs()` right after the
//! `guardBegin` that set them, before any other call (one value for all guards, as the
//! breaker's retry-after).
//!
//! `guardEnd` answers with one integer `e`: `e < 0` is an error code (`END_*`, or
//! [`NO_BREAKER`]); else
//! [`END_FIELDS`]: what to answer (the value, `true`, the fallback, or raise), the fallback
//! and its reason, and whether the outcome made a transition.
//!
//! Codes are the core's: operations are [`CacheOp`] `as u8`, outcomes [`OutcomeKind`],
//! fallbacks [`fact_resilience_core::Fallback`], reasons
//! [`fact_resilience_core::FallbackReason`], manager calls [`fact_resilience_core::CacheOp`].

use crate::breaker::NO_BREAKER;
use crate::interop::{instant, note};
use crate::keyed;
use crate::objects::Record;
use crate::registry;
use crate::slots::{self, Slots};
use crate::text::registry_error;
use fact_resilience_core::{
    Admission, Begin, Breaker, CacheGuard, CacheOp, Capabilities, End, Failure, Flush, OutcomeKind,
    RegistryGate, Rejection, StaleKeysError, StaleKeysOption, Ticket,
};
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;

/// `guardCreate`: the stale-keys option's code is not one the core knows.
pub const CREATE_UNKNOWN_OPTION: i32 = -1;
/// `guardCreate`: `per_key` was asked of a cache that cannot invalidate one key.
pub const CREATE_NO_PER_KEY: i32 = -2;
/// `guardCreate`: `prefix` was asked of a cache that cannot be flushed whole.
pub const CREATE_NO_FLUSH_ALL: i32 = -3;

/// `guardBegin` kinds (`c & 7`): run, the ticket from `guardTicket()`.
pub const BEGIN_RUN: u32 = 1;
/// Answer with the fallback without calling the cache.
pub const BEGIN_FALLBACK: u32 = 2;
/// Refused: the circuit is OPEN (degradation off).
pub const BEGIN_REFUSE_OPEN: u32 = 3;
/// Refused: HALF_OPEN, throttled (degradation off).
pub const BEGIN_REFUSE_THROTTLED: u32 = 4;
/// The breaker handle names no breaker (nothing was done).
pub const BEGIN_NO_BREAKER: u32 = 5;
/// The guard handle names no guard (nothing was done).
pub const BEGIN_NO_GUARD: u32 = 6;
/// The operation code is not a [`CacheOp`] (nothing was done).
pub const BEGIN_UNKNOWN_OP: u32 = 7;
/// `guardBegin` flush field (`(c >> 3) & 3`): the keys from `guardFlushKeys()`.
pub const FLUSH_KEYS: u32 = 1;
/// Everything (the cache's own prefix, or `clear()`).
pub const FLUSH_ALL: u32 = 2;

// Where each field of a packed answer starts, and its mask.
const BEGIN_FLUSH: u32 = 3;
const BEGIN_FALLBACK_AT: u32 = 5;
const BEGIN_REASON: u32 = 7;
const BEGIN_TRANSITION: u32 = 10;
const END_FALLBACK_AT: i32 = 2;
const END_REASON: i32 = 4;
const END_TRANSITION: i32 = 7;
/// The fields packed in `-r` when `guardBegin` returns `r < 0`: name, `[shift, mask]`
/// (flush: 0 none, 1 keys, 2 all).
pub const BEGIN_FIELDS: [(&str, [u32; 2]); 5] = [
    ("kind", [0, 7]),
    ("flush", [BEGIN_FLUSH, 3]),
    ("fallback", [BEGIN_FALLBACK_AT, 3]),
    ("reason", [BEGIN_REASON, 7]),
    ("transition", [BEGIN_TRANSITION, 1]),
];
/// The fields packed in `guardEnd`'s answer when it is `>= 0`: name, `[shift, mask]`.
pub const END_FIELDS: [(&str, [i32; 2]); 4] = [
    ("answer", [0, 3]),
    ("fallback", [END_FALLBACK_AT, 3]),
    ("reason", [END_REASON, 7]),
    ("transition", [END_TRANSITION, 1]),
];
/// `guardEnd` answers (`e & 3`): return the cache's value.
pub const END_VALUE: i32 = 0;
/// Return `true` (a store).
pub const END_STORED: i32 = 1;
/// Return the fallback.
pub const END_FALLBACK: i32 = 2;
/// Raise the error the call ended with.
pub const END_RAISE: i32 = 3;
/// The ticket is not a call in flight (spent, forged, or from before a restart).
pub const END_UNKNOWN_TICKET: i32 = -1;
/// The outcome code is not an [`OutcomeKind`].
pub const END_UNKNOWN_OUTCOME: i32 = -2;
/// The guard handle names no guard.
pub const END_NO_GUARD: i32 = -4;

/// A cache call's admission: the cache's own breaker (the whole cache), then, with a
/// hierarchy (`ResilientCache`'s `hierarchy` option), the breakers on the key's path in a
/// registry, as the core pairs them (a refusal behind releases the breaker's permit, an
/// outcome goes to both, a failing flush only to the breaker). One guard type serves caches
/// with and without a hierarchy: one copy of the guard's code in the module.
type Gate<'a, 'p> = (&'a mut Breaker, Option<RegistryGate<'a, 'p>>);

/// What a guard keeps for a call in flight: the breaker's permit, and the path's (boxed: a
/// call in flight without one costs a null pointer).
type GatePermit = <Gate<'static, 'static> as Admission>::Permit;

type Guard = CacheGuard<String, GatePermit>;

/// Runs `f` with the gate of one call: the breaker `b`, and the registry behind `registry`
/// (`< 0`: none; a freed one counts as none) with `path` (checked against its levels when
/// staged; `None`: the call has no key, a prefix invalidation).
fn gated<R>(
    b: &mut Breaker,
    registry: i32,
    path: Option<&[&str]>,
    f: impl FnOnce(&mut Gate<'_, '_>) -> R,
) -> R {
    let mut f = Some(f);
    if let Ok(h) = u32::try_from(registry) {
        let done = keyed::with(h, |k| {
            let mut gate = (&mut *b, k.registry.gate(path).ok());
            f.take().map(|f| f(&mut gate))
        });
        if let Some(Some(r)) = done {
            return r;
        }
    }
    (f.take().expect("not run yet"))(&mut (b, None))
}

thread_local! {
    /// The key's path staged for the next `guardBegin` (`guardStagePath`).
    static PATH: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// The guards by handle. The JS layer picks the handles (it tracks every guard to
    /// recreate it after a panic), so this is only a vector of slots.
    static GUARDS: Slots<Guard> = const { RefCell::new(Vec::new()) };
    /// The ticket of the latest `guardBegin` that answered with a negative *run* code.
    static TICKET: Cell<f64> = const { Cell::new(0.0) };
    /// The keys of the latest flush of keys handed out.
    static FLUSH: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the guard behind `handle`, taken out of the table meanwhile (see [`slots`]).
fn with<R>(handle: u32, f: impl FnOnce(&mut Guard) -> R) -> Option<R> {
    slots::with(&GUARDS, handle, f)
}

/// A ticket from JS: exactly the integer `guardBegin` handed out, or none.
fn ticket(bits: f64) -> Option<Ticket> {
    let n = bits as u64; // saturating: NaN and negatives become 0
    (n as f64 == bits).then(|| Ticket::from_bits(n))
}

fn begin_code(kind: u32, flush: u32, fallback: u32, reason: u32, transition: i32) -> f64 {
    let c = kind
        | flush << BEGIN_FLUSH
        | fallback << BEGIN_FALLBACK_AT
        | reason << BEGIN_REASON
        | (transition as u32) << BEGIN_TRANSITION;
    -f64::from(c)
}

/// A guard at handle `at` (which must be free: the JS layer picks handles) for a cache that
/// can do `perKey` / `flushAll`, with the stale-keys option whose code is `option`
/// ([`StaleKeysOption`] `as u8`: auto, off, per_key, prefix) and at most `maxPending` keys
/// remembered; `lost`: it replaces a guard whose pending keys did not survive a fault (see
/// `CacheGuard::assume_stale`). Returns the [`CacheOp`] code of the manager call that carries
/// out an invalidation of one key on this cache (`>= 0`: an invalidation on a cache that
/// cannot remove one key is a prefix invalidation), or a `CREATE_*` code.
#[wasm_bindgen(js_name = guardCreate)]
pub fn create(
    at: u32,
    option: u32,
    per_key: bool,
    flush_all: bool,
    max_pending: u32,
    lost: bool,
) -> i32 {
    let caps = Capabilities { per_key, flush_all };
    let Some(option) = StaleKeysOption::ALL.get(option as usize) else {
        return CREATE_UNKNOWN_OPTION;
    };
    let policy = match option.resolve(caps) {
        Ok(policy) => policy,
        Err(StaleKeysError::NoPerKey) => return CREATE_NO_PER_KEY,
        Err(StaleKeysError::NoFlushAll) => return CREATE_NO_FLUSH_ALL,
        Err(_) => return CREATE_UNKNOWN_OPTION,
    };
    let mut guard: Box<Guard> = Box::new(CacheGuard::new(policy, caps, max_pending as usize));
    if lost {
        // Recreated after a fault: what the old guard had pending is gone.
        guard.assume_stale();
    }
    let method = guard.method(CacheOp::Invalidate) as i32;
    slots::put(&GUARDS, at, guard);
    method
}

/// Frees a guard. Unknown handles are ignored.
#[wasm_bindgen(js_name = guardFree)]
pub fn free(handle: u32) {
    drop(slots::take(&GUARDS, handle));
}

/// Stages `path`, the key's path in the registry behind `registry`, for the next
/// `guardBegin` on that registry. Returns `undefined`, or the core's message when the path
/// does not name one segment per level (nothing is staged then; a freed registry takes any).
#[wasm_bindgen(js_name = guardStagePath)]
pub fn stage_path(registry: u32, path: Vec<String>) -> Option<String> {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let refused = keyed::with(registry, |k| k.registry.path(&segments).err()).flatten();
    if let Some(e) = refused {
        return Some(registry_error(&e));
    }
    PATH.set(path);
    None
}

/// Asks what to do with one call of operation `op` on `key` (`undefined` for a prefix
/// invalidation) at `now`, on the breaker behind `breaker` and, when `registry >= 0`, on the
/// path staged by `guardStagePath` in that registry (a call without a key takes none);
/// `degrade`: answer with fallbacks instead of refusing. See the module doc for the answer.
#[wasm_bindgen(js_name = guardBegin)]
pub fn begin(
    handle: u32,
    breaker: u32,
    registry: i32,
    op: u32,
    key: Option<String>,
    degrade: bool,
    now_ms: f64,
) -> f64 {
    let Some(op) = u8::try_from(op).ok().and_then(CacheOp::from_code) else {
        return begin_code(BEGIN_UNKNOWN_OP, 0, 0, 0, 0);
    };
    let path = if registry >= 0 {
        PATH.take()
    } else {
        Vec::new()
    };
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let path = (key.is_some() && !segments.is_empty()).then_some(segments.as_slice());
    let answer = with(handle, |g| {
        registry::with(breaker, |b| {
            gated(b, registry, path, |gate| {
                g.begin::<str, _>(gate, op, key.as_deref(), degrade, instant(now_ms))
            })
        })
    });
    let (begin, transition) = match answer {
        None => return begin_code(BEGIN_NO_GUARD, 0, 0, 0, 0),
        Some(None) => return begin_code(BEGIN_NO_BREAKER, 0, 0, 0, 0),
        Some(Some(answer)) => answer,
    };
    // The breaker's move, for the cache's listeners (a registry has none).
    let transition = note(transition.0);
    match begin {
        Begin::Run { ticket, flush, .. } => {
            let flush = match flush {
                None => 0,
                Some(Flush::All) => FLUSH_ALL,
                Some(Flush::Keys(keys)) => {
                    FLUSH.with_borrow_mut(|f| *f = keys);
                    FLUSH_KEYS
                }
            };
            if flush == 0 && transition == 0 {
                return ticket.to_bits() as f64;
            }
            TICKET.set(ticket.to_bits() as f64);
            begin_code(BEGIN_RUN, flush, 0, 0, transition)
        }
        Begin::Fallback { fallback, reason } => begin_code(
            BEGIN_FALLBACK,
            0,
            fallback as u32,
            reason as u32,
            transition,
        ),
        Begin::Refuse(Rejection::Open { retry_after }) => {
            registry::set_retry_after_ms(retry_after.as_secs_f64() * 1e3);
            begin_code(BEGIN_REFUSE_OPEN, 0, 0, 0, transition)
        }
        Begin::Refuse(Rejection::Throttled) => {
            begin_code(BEGIN_REFUSE_THROTTLED, 0, 0, 0, transition)
        }
    }
}

/// The ticket of the latest `guardBegin` that answered *run* with a negative code.
#[wasm_bindgen(js_name = guardTicket)]
pub fn last_ticket() -> f64 {
    TICKET.get()
}

/// The keys of the latest flush of keys handed out (each once, ascending); taking them
/// empties the hand-over.
#[wasm_bindgen(js_name = guardFlushKeys)]
pub fn flush_keys() -> Vec<String> {
    FLUSH.with_borrow_mut(core::mem::take)
}

/// The flush handed out with `ticket` succeeded. Returns 0, [`END_UNKNOWN_TICKET`] or
/// [`END_NO_GUARD`].
#[wasm_bindgen(js_name = guardFlushed)]
pub fn flushed(handle: u32, ticket_bits: f64) -> i32 {
    let Some(t) = ticket(ticket_bits) else {
        return END_UNKNOWN_TICKET;
    };
    with(handle, |g| g.flushed(t).map_or(END_UNKNOWN_TICKET, |()| 0)).unwrap_or(END_NO_GUARD)
}

/// Reports how the call behind `ticket` ended (`outcome`: an [`OutcomeKind`] code), at
/// `now`, on the breaker behind `breaker` (and the registry behind `registry`, `< 0` for
/// none, as `guardBegin` was given). A failure or a timeout is recorded with
/// `errorType`, `message`, `operation` and the wall-clock `wallSeconds` (absent texts are
/// empty); other outcomes pass `undefined` for them, so nothing is copied. See the module doc
/// for the answer. A bad outcome code or ticket changes nothing.
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(js_name = guardEnd)]
pub fn end(
    handle: u32,
    breaker: u32,
    registry: i32,
    ticket_bits: f64,
    outcome: u32,
    error_type: Option<String>,
    message: Option<String>,
    operation: Option<String>,
    wall_seconds: f64,
    now_ms: f64,
) -> i32 {
    let Some(kind) = u8::try_from(outcome).ok().and_then(OutcomeKind::from_code) else {
        return END_UNKNOWN_OUTCOME;
    };
    let Some(t) = ticket(ticket_bits) else {
        return END_UNKNOWN_TICKET;
    };
    let failure = Failure {
        error_type: error_type.as_deref().unwrap_or(""),
        error_message: message.as_deref().unwrap_or(""),
        operation: operation.as_deref().unwrap_or(""),
        timestamp: wall_seconds,
    };
    let answer = with(handle, |g| {
        registry::with(breaker, |b| {
            gated(b, registry, None, |gate| {
                g.end(gate, t, kind.with(failure), instant(now_ms))
            })
        })
    });
    let (end, transition) = match answer {
        None => return END_NO_GUARD,
        Some(None) => return NO_BREAKER,
        Some(Some(Err(_))) => return END_UNKNOWN_TICKET,
        Some(Some(Ok(answer))) => answer,
    };
    let (answer, fallback, reason) = match end {
        End::Value => (END_VALUE, 0, 0),
        End::Stored => (END_STORED, 0, 0),
        End::Fallback { fallback, reason } => (END_FALLBACK, fallback as i32, reason as i32),
        End::Raise => (END_RAISE, 0, 0),
    };
    answer
        | fallback << END_FALLBACK_AT
        | reason << END_REASON
        | note(transition.0) << END_TRANSITION
}

/// Whether the guard at `handle` must be rebuilt as one that lost its pending keys: it holds
/// some (or a flush in flight), or there is no guard there.
#[wasm_bindgen(js_name = guardHasPending)]
pub fn has_pending(handle: u32) -> bool {
    with(handle, |g| g.has_pending()).unwrap_or(true)
}

/// The guard's counters (the JS `metrics().guard`); `null` when there is no such guard.
#[wasm_bindgen(js_name = guardCounters)]
pub fn counters(handle: u32) -> JsValue {
    with(handle, |g| {
        let c = g.counters();
        Record::new()
            .num("fallbacks", c.fallbacks as f64)
            .num("shed", c.shed as f64)
            .num("timeouts", c.timeouts as f64)
            .num("cancelled", c.cancelled as f64)
            .num("flushes", c.flushes as f64)
            .num("flushFailures", c.flush_failures as f64)
            .num("pendingKeys", c.pending_keys as f64)
            .set("pendingAll", JsValue::from_bool(c.pending_all))
            .num("droppedKeys", c.dropped_keys as f64)
            .num("inFlight", c.in_flight as f64)
            .into()
    })
    .unwrap_or(JsValue::NULL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::{create as breaker_create, dispose};

    /// A guard at handle 1 for a per-key cache (each test thread has its own table).
    fn guard(option: StaleKeysOption, flush_all: bool) -> u32 {
        let method = create(1, option as u32, true, flush_all, 16, false);
        assert_eq!(method, CacheOp::Invalidate as i32);
        1
    }

    /// A breaker with the default config (nothing staged).
    fn breaker() -> u32 {
        breaker_create(0.0, -1) as u32
    }

    #[test]
    fn a_plain_run_is_its_ticket_and_a_ticket_ends_once() {
        let b = breaker();
        let g = guard(StaleKeysOption::Auto, true);
        let r = begin(g, b, -1, CacheOp::Get as u32, Some("k".into()), true, 0.0);
        assert!(r >= 0.0);
        assert_eq!(end(g, b, -1, r, 0, None, None, None, 0.0, 1.0), END_VALUE);
        assert_eq!(
            end(g, b, -1, r, 0, None, None, None, 0.0, 1.0),
            END_UNKNOWN_TICKET
        );
        assert_eq!(
            end(g, b, -1, r + 0.5, 0, None, None, None, 0.0, 1.0),
            END_UNKNOWN_TICKET
        );
        assert_eq!(with(g, |g| g.counters().in_flight), Some(0));
        free(g);
        dispose(b);
    }

    #[test]
    fn an_unknown_outcome_changes_nothing_and_the_ticket_still_ends() {
        let b = breaker();
        let g = guard(StaleKeysOption::Auto, true);
        let r = begin(g, b, -1, CacheOp::Store as u32, Some("k".into()), true, 0.0);
        assert_eq!(
            end(g, b, -1, r, 5, None, None, None, 0.0, 1.0),
            END_UNKNOWN_OUTCOME
        );
        assert_eq!(with(g, |g| g.counters().in_flight), Some(1));
        assert_eq!(end(g, b, -1, r, 0, None, None, None, 0.0, 1.0), END_STORED);
        free(g);
        dispose(b);
    }

    #[test]
    fn options_the_cache_cannot_honour_are_codes() {
        let code = |o: StaleKeysOption| o as u32;
        assert_eq!(create(0, 4, true, true, 1, false), CREATE_UNKNOWN_OPTION);
        let per_key = code(StaleKeysOption::PerKey);
        assert_eq!(create(0, per_key, false, true, 1, false), CREATE_NO_PER_KEY);
        let prefix = code(StaleKeysOption::Prefix);
        assert_eq!(
            create(0, prefix, true, false, 1, false),
            CREATE_NO_FLUSH_ALL
        );
    }

    #[test]
    fn a_failed_store_is_flushed_as_keys_before_the_next_call() {
        let b = breaker();
        let g = guard(StaleKeysOption::PerKey, false);
        let r = begin(g, b, -1, CacheOp::Store as u32, Some("k".into()), true, 0.0);
        let e = end(
            g,
            b,
            -1,
            r,
            OutcomeKind::Failure as u32,
            Some("E".into()),
            None,
            Some("put".into()),
            0.0,
            1.0,
        );
        assert_eq!(e & 3, END_FALLBACK);
        let r = begin(g, b, -1, CacheOp::Get as u32, Some("x".into()), true, 2.0);
        assert!(r < 0.0);
        let c = (-r) as u32;
        assert_eq!((c & 7, (c >> 3) & 3), (BEGIN_RUN, FLUSH_KEYS));
        assert_eq!(flush_keys(), ["k"]);
        let t = last_ticket();
        assert_eq!(flushed(g, t), 0);
        assert_eq!(end(g, b, -1, t, 0, None, None, None, 0.0, 3.0), END_VALUE);
        assert_eq!(with(g, |g| g.counters().pending_keys), Some(0));
        free(g);
        dispose(b);
    }
}
