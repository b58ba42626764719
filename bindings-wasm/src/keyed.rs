//! The breaker registry exported to JS (`BreakerRegistry` in `js/keyed.js`): the core's
//! [`Registry`] over *registry handles*, which the JS layer picks (as it picks the cache
//! guards' handles, so that a registry is recreated at the same handle after a fault). Each
//! registry keeps the [`PathPermit`]s it handed out in a slab, and a permit crosses as its
//! slot's index; the JS `PathPermit` object makes sure it is reported once.
//!
//! Building one: the JS layer stages each level's config (`configStage`, which checks the
//! config and names its fields), then `registryStageLevel(name)` / `registryStagePrefix(prefix)`
//! for a hierarchy given root first, or `registryStageParent(name, parent)` for one given as
//! parent links (every level then takes the default config), then `registryCreate`. Nothing
//! here throws or uses `core::fmt`: refusals come back as the core's messages ([`crate::text`]).
//!
//! `registryAcquire` answers one number `r`: `r >= 0` admitted, the permit is `floor(r / 2)`
//! and `r % 2 == 1` when admission moved a level (read the moves with `registryMoved()`);
//! `r < 0`: `-r - 1` packs the refusing level (`>> 2`) and the rejection (`& 3`: 1 OPEN,
//! whose retry-after `breakerRetryAfterMs()` reads; 2 throttled; 3 the path was refused, its
//! message in `registryError()`), or [`NO_REGISTRY`].
//!
//! Panic containment as the breakers' table: a call takes its registry out of the table
//! while core code runs.

use crate::config::take_staged;
use crate::interop::instant;
use crate::objects::{Record, metrics_to_js, transition_to_js};
use crate::registry::set_retry_after_ms;
use crate::slots::{self, Slots};
use crate::text::registry_error;
use fact_resilience_core::{
    Config, Failure, Level, PathPermit, PathTransitions, Registry, RegistryConfig, Rejection,
    Transition,
};
use js_sys::Array;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

/// Returned when the handle names no registry.
pub const NO_REGISTRY: f64 = -1.0;
/// `registryAcquire` refusal kinds (`(-r - 1) & 3`).
pub const REFUSED_OPEN: u32 = 1;
/// HALF_OPEN and this call was throttled.
pub const REFUSED_THROTTLED: u32 = 2;
/// The path does not name one segment per level (`registryError()` says so).
pub const REFUSED_PATH: u32 = 3;
/// `registryEnd`: the permit index names no permit in flight.
pub const END_UNKNOWN_PERMIT: i32 = -2;

/// A registry and the permits it handed out.
pub struct Keyed {
    pub registry: Registry,
    permits: Vec<Option<PathPermit>>,
    free: Vec<u32>,
}

#[derive(Default)]
struct Staged {
    levels: Vec<Level>,
    parents: Vec<(String, Option<String>)>,
}

thread_local! {
    static TABLE: Slots<Keyed> = const { RefCell::new(Vec::new()) };
    static STAGED: RefCell<Staged> = const { RefCell::new(Staged { levels: Vec::new(), parents: Vec::new() }) };
    /// The moves of the latest acquire or outcome that flagged some, as `(level, move)`.
    static MOVED: RefCell<Vec<(usize, Transition)>> = const { RefCell::new(Vec::new()) };
    /// The message of the latest refused path.
    static ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `f` on the registry behind `handle` (taken out of the table meanwhile), or returns
/// `None` if there is none.
pub fn with<R>(handle: u32, f: impl FnOnce(&mut Keyed) -> R) -> Option<R> {
    slots::with(&TABLE, handle, f)
}

/// Keeps `moved` (`(level, move)` pairs) for `registryMoved()`; answers 1 if a level moved,
/// else 0.
pub fn note_moved(moved: impl Iterator<Item = (usize, Transition)>) -> u32 {
    let moved: Vec<_> = moved.collect();
    if moved.is_empty() {
        return 0;
    }
    MOVED.set(moved);
    1
}

/// Keeps a refusal's message for `registryError()`.
pub fn set_error(message: String) {
    ERROR.set(message);
}

/// Drops whatever was staged (a build the JS layer abandoned half way).
#[wasm_bindgen(js_name = registryUnstage)]
pub fn unstage() {
    STAGED.take();
}

/// Stages a level named `name` with the staged config (`configStage`), below those staged
/// before it.
#[wasm_bindgen(js_name = registryStageLevel)]
pub fn stage_level(name: String) {
    let level = Level::new(name, take_staged());
    STAGED.with_borrow_mut(|s| s.levels.push(level));
}

/// Gives the level staged last the staged config for segments starting with `prefix`.
#[wasm_bindgen(js_name = registryStagePrefix)]
pub fn stage_prefix(prefix: String) {
    let config = take_staged();
    STAGED.with_borrow_mut(|s| {
        if let Some(level) = s.levels.last_mut() {
            level.prefixes.push((prefix, config));
        }
    });
}

/// Stages the level `name` under `parent` (`undefined` for the root), for a hierarchy given
/// as parent links.
#[wasm_bindgen(js_name = registryStageParent)]
pub fn stage_parent(name: String, parent: Option<String>) {
    STAGED.with_borrow_mut(|s| s.parents.push((name, parent)));
}

/// A registry at handle `at` (free: the JS layer picks handles) from what was staged, keeping
/// at most `maxBreakers` idle breakers (a whole number, checked by JS). Returns `undefined`,
/// or the core's message for the first problem (nothing is made then). Unstages everything.
#[wasm_bindgen(js_name = registryCreate)]
pub fn create(at: u32, max_breakers: f64) -> Option<String> {
    let Staged { levels, parents } = STAGED.take();
    let max_breakers = max_breakers as usize;
    let config = if parents.is_empty() {
        Ok(RegistryConfig {
            levels,
            max_breakers,
        })
    } else {
        let links: Vec<(&str, Option<&str>)> = parents
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_deref()))
            .collect();
        RegistryConfig::from_parents(&links, &Config::default(), max_breakers)
    };
    match config.and_then(Registry::new) {
        Ok(registry) => {
            slots::put(
                &TABLE,
                at,
                Box::new(Keyed {
                    registry,
                    permits: Vec::new(),
                    free: Vec::new(),
                }),
            );
            None
        }
        Err(e) => Some(registry_error(&e)),
    }
}

/// Frees a registry. Unknown handles are ignored.
#[wasm_bindgen(js_name = registryFree)]
pub fn free(handle: u32) {
    drop(slots::take(&TABLE, handle));
}

/// The levels' names, root first (empty when there is no such registry).
#[wasm_bindgen(js_name = registryLevels)]
pub fn levels(handle: u32) -> Vec<String> {
    with(handle, |k| {
        k.registry
            .config()
            .levels
            .iter()
            .map(|l| l.name.clone())
            .collect()
    })
    .unwrap_or_default()
}

/// The path's refusal code (see the module doc).
fn refused(level: usize, kind: u32) -> f64 {
    -f64::from(((level as u32) << 2 | kind) + 1)
}

/// Asks to run one call on `path` at `now`. See the module doc for the answer.
#[wasm_bindgen(js_name = registryAcquire)]
pub fn acquire(handle: u32, path: Vec<String>, now_ms: f64) -> f64 {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    with(handle, |k| {
        match k.registry.try_acquire(&segments, instant(now_ms)) {
            Err(e) => {
                set_error(registry_error(&e));
                refused(0, REFUSED_PATH)
            }
            Ok(Err(r)) => match r.rejection {
                Rejection::Open { retry_after } => {
                    set_retry_after_ms(retry_after.as_secs_f64() * 1e3);
                    refused(r.level, REFUSED_OPEN)
                }
                Rejection::Throttled => refused(r.level, REFUSED_THROTTLED),
            },
            Ok(Ok(permit)) => {
                let moved = note_moved(permit.transitions());
                let slot = match k.free.pop() {
                    Some(i) => {
                        k.permits[i as usize] = Some(permit);
                        i
                    }
                    None => {
                        k.permits.push(Some(permit));
                        (k.permits.len() - 1) as u32
                    }
                };
                f64::from(slot) * 2.0 + f64::from(moved)
            }
        }
    })
    .unwrap_or(NO_REGISTRY)
}

/// Reports how the call behind permit `index` ended: `outcome` 0 success, 1 failure (recorded
/// with `errorType`, `message`, `operation` and the wall-clock `wallSeconds`), anything else
/// neutral. Returns 1 if a level moved (read the moves with `registryMoved()`), 0 if none,
/// [`END_UNKNOWN_PERMIT`], or -1 when there is no such registry.
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(js_name = registryEnd)]
pub fn end(
    handle: u32,
    index: u32,
    outcome: u32,
    error_type: &str,
    message: &str,
    operation: &str,
    wall_seconds: f64,
    now_ms: f64,
) -> i32 {
    let now = instant(now_ms);
    with(handle, |k| {
        let Some(permit) = k.permits.get_mut(index as usize).and_then(Option::take) else {
            return END_UNKNOWN_PERMIT;
        };
        k.free.push(index);
        let moved = match outcome {
            0 => k.registry.on_success(permit, now),
            1 => {
                let failure = Failure {
                    error_type,
                    error_message: message,
                    operation,
                    timestamp: wall_seconds,
                };
                k.registry.on_failure(permit, &failure, now)
            }
            _ => {
                k.registry.on_neutral(permit, now);
                PathTransitions::default()
            }
        };
        note_moved(moved.iter()) as i32
    })
    .unwrap_or(-1)
}

/// The moves the latest flagged acquire or outcome made, root first: `{ level, from, to,
/// reason, at }` each.
#[wasm_bindgen(js_name = registryMoved)]
pub fn moved() -> Array {
    MOVED
        .take()
        .into_iter()
        .map(|(level, t)| {
            let o = transition_to_js(t);
            let _ = js_sys::Reflect::set(&o, &"level".into(), &JsValue::from(level as u32));
            o
        })
        .collect()
}

/// The message of the latest refused path.
#[wasm_bindgen(js_name = registryError)]
pub fn error() -> String {
    ERROR.take()
}

/// The state of `path`'s breaker (a prefix names an upper level's), or `undefined` if none
/// is kept (or there is no such registry).
#[wasm_bindgen(js_name = registryState)]
pub fn state(handle: u32, path: Vec<String>) -> Option<String> {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    with(handle, |k| {
        k.registry
            .breaker(&segments)
            .map(|b| b.state().as_str().into())
    })
    .flatten()
}

/// The metrics of `path`'s breaker at `now` (the JS `Metrics`), or `null` if none is kept.
#[wasm_bindgen(js_name = registryMetrics)]
pub fn metrics(handle: u32, path: Vec<String>, now_ms: f64) -> JsValue {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    with(handle, |k| {
        k.registry
            .metrics(&segments, instant(now_ms))
            .map(|m| metrics_to_js(&m))
    })
    .flatten()
    .unwrap_or(JsValue::NULL)
}

/// `[breakers kept, idle breakers dropped so far]`; empty when there is no such registry.
#[wasm_bindgen(js_name = registryCounts)]
pub fn counts(handle: u32) -> Vec<f64> {
    with(handle, |k| {
        vec![k.registry.len() as f64, k.registry.evicted() as f64]
    })
    .unwrap_or_default()
}

/// Per level, root first: `{ level, breakers, closed, open, halfOpen, windowCalls,
/// windowFailures, inFlight }`; `null` when there is no such registry.
#[wasm_bindgen(js_name = registrySummary)]
pub fn summary(handle: u32, now_ms: f64) -> JsValue {
    with(handle, |k| {
        let r = &k.registry;
        r.summary(instant(now_ms))
            .iter()
            .zip(&r.config().levels)
            .map(|(s, level)| -> JsValue {
                let n = |x: u64| x as f64;
                Record::new()
                    .text("level", &level.name)
                    .num("breakers", n(s.breakers))
                    .num("closed", n(s.closed))
                    .num("open", n(s.open))
                    .num("halfOpen", n(s.half_open))
                    .num("windowCalls", n(s.window_calls))
                    .num("windowFailures", n(s.window_failures))
                    .num("inFlight", n(s.in_flight))
                    .into()
            })
            .collect::<Array>()
            .into()
    })
    .unwrap_or(JsValue::NULL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_config_staged_then_a_registry_made_and_refused() {
        stage_level("service".into());
        stage_level("key".into());
        assert_eq!(create(2, 10.0), None);
        assert_eq!(levels(2), ["service", "key"]);
        assert_eq!(counts(2), [0.0, 0.0]);
        free(2);
        assert!(levels(2).is_empty());
        stage_parent("a".into(), Some("b".into()));
        stage_parent("b".into(), Some("a".into()));
        let e = create(0, 10.0).unwrap();
        assert!(
            e.starts_with("levels: the parent links form a cycle"),
            "{e}"
        );
        stage_level("k".into());
        assert_eq!(
            create(0, 0.0).as_deref(),
            Some("max_breakers: must be at least 1, got 0")
        );
    }
}
