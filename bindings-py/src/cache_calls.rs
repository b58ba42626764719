//! One cache call of `ResilientCacheWrapper`, carried out as the core's `CacheGuard` answers:
//! `begin` (run, with any flush first; fallback; or refuse), `flushed`, and `end` with the
//! outcome. The async layer (`_wrapper.py`) only awaits between these steps.
//!
//! With a `hierarchy`, the guard admits each call through the wrapper's breaker (the root) and
//! the registry's breakers on the key's path (`key_path(key)`, computed before any lock); a
//! call with no key (`invalidate_by_prefix`) is judged by the root alone.
//!
//! Locks: the guard's mutex, then the registry's (with a hierarchy), then the breaker's, all
//! only around core calls. Every Python call (clock, key conversion, `key_path`, method lookup,
//! listeners, error construction) happens outside them.

use crate::cache_key::CacheKey;
use crate::errors;
use crate::wrapper::PyWrapper;
use fact_resilience_core::{
    Begin, CacheCounters, CacheGuard, CacheOp, Capabilities, End, Flush, GuardError, Outcome,
    OutcomeKind, PathPermit, StaleKeys, StaleKeysOption, Ticket, Transition,
};
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyList, PyString, PyTuple};

/// Runs `$e` with `$g` bound to whichever guard it is.
macro_rules! each {
    ($guard:expr, $g:ident => $e:expr) => {
        match $guard {
            Guard::Root($g) => $e,
            Guard::Keyed($g) => $e,
        }
    };
}

/// What `_end_error` tells the async layer: return the value quietly (a shed call), return it
/// after logging the failure, or re-raise the exception.
pub const RETURN: u8 = 0;
pub const RETURN_AFTER_FAILURE: u8 = 1;
pub const RAISE: u8 = 2;

/// What the manager can do, looked up on the manager as it is now.
pub fn capabilities(manager: &Bound<'_, PyAny>) -> Capabilities {
    let callable = |name: &str| manager.getattr(name).is_ok_and(|m| m.is_callable());
    let prefix = manager
        .getattr("prefix")
        .is_ok_and(|p| p.is_instance_of::<PyString>());
    Capabilities {
        per_key: callable("invalidate") || callable("delete"),
        flush_all: prefix && callable("invalidate_by_prefix"),
    }
}

/// `manager.<name>`, looked up on every call (tests swap methods after the wrapper is built).
fn lookup<'py>(manager: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    match manager.getattr(name) {
        Ok(m) if m.is_callable() => Ok(m),
        _ => Err(PyAttributeError::new_err(format!(
            "cache manager '{}' has no callable '{name}' method",
            manager.get_type().name()?
        ))),
    }
}

/// The manager method that removes one key: `invalidate`, else `delete`.
fn per_key_method<'py>(manager: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    lookup(manager, "invalidate").or_else(|_| lookup(manager, "delete"))
}

fn ticket_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A path the registry refused (its length was checked when `key_path` returned it).
fn path_error(e: fact_resilience_core::RegistryError) -> PyErr {
    PyValueError::new_err(format!("key_path: {e}"))
}

/// A keyed guard always comes with its hierarchy; this names the broken invariant instead of
/// panicking across FFI.
fn no_hierarchy() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(
        "ResilientCacheWrapper: a keyed guard without its hierarchy",
    )
}

impl PyWrapper {
    /// `(ticket, method, flush)` for an admitted call; `(-1, fallback_value, None)` for one
    /// answered with the fallback; raises the breaker's error for a refused one.
    pub(crate) fn begin<'py>(
        &self,
        py: Python<'py>,
        op: CacheOp,
        key: &Bound<'py, PyAny>,
        write_seen: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let manager = self.cache_manager.bind(py);
        let breaker = self.circuit_breaker.bind(py).get();
        let (policy, method) = {
            let g = self.guard();
            (g.guard.policy(), g.guard.method(op))
        };
        let keyed = matches!(op, CacheOp::Get | CacheOp::Store | CacheOp::Invalidate);
        // Everything that can fail or run Python comes before the permit is taken.
        let path = match &self.hierarchy {
            Some(h) if keyed => Some(h.path(key)?),
            _ => None,
        };
        if write_seen && op.writes() {
            // By the manager call that carries it out: FACT's `invalidate` is a prefix one.
            self.origin_written(method, key);
        }
        let key = match policy {
            StaleKeys::PerKey if keyed => Some(CacheKey::from_py(key)?),
            _ => None,
        };
        let call = match method {
            CacheOp::Invalidate => per_key_method(manager)?,
            m => lookup(manager, m.name())?,
        };
        let degrade = self.enable_graceful_degradation;
        let registry = self
            .hierarchy
            .as_ref()
            .map(|h| h.registry(py))
            .transpose()?;
        let now = breaker.clock.now(py)?;
        let (begin, moved) = {
            let mut g = self.guard();
            match (&mut g.guard, &registry) {
                (Guard::Keyed(guard), Some(registry)) => {
                    let segments: Option<Vec<&str>> = path
                        .as_ref()
                        .map(|p| p.iter().map(String::as_str).collect());
                    let mut r = registry.lock();
                    let gate = r.gate(segments.as_deref()).map_err(path_error)?;
                    breaker.with(now, |b, now| {
                        let (begin, (moved, _)) =
                            guard.begin(&mut (b, gate), op, key.as_ref(), degrade, now);
                        (begin, moved)
                    })
                }
                (Guard::Root(guard), _) => {
                    breaker.with(now, |b, now| guard.begin(b, op, key.as_ref(), degrade, now))
                }
                (Guard::Keyed(_), None) => return Err(no_hierarchy()),
            }
        };
        if let Err(e) = breaker.listeners.notify(py, moved) {
            // A listener raised SystemExit or the like: give the slot back, then propagate.
            if let Begin::Run { ticket, .. } = begin {
                let _ = self.end_kind(py, ticket.to_bits(), OutcomeKind::Cancelled, None);
            }
            return Err(e);
        }
        match begin {
            Begin::Run {
                ticket,
                flush,
                method: _,
            } => {
                let flush = match flush {
                    None => None,
                    Some(f) => Some(self.flush_calls(py, manager, f).inspect_err(|_| {
                        // The flush cannot even be attempted: the call fails, keys kept.
                        let _ = self.end_kind(py, ticket.to_bits(), OutcomeKind::Cancelled, None);
                    })?),
                };
                let ticket = ticket.to_bits() as i64;
                (ticket, call, flush).into_pyobject(py)
            }
            Begin::Fallback { .. } => {
                let value = self.fallback_value(py, op)?;
                (-1i64, value, py.None()).into_pyobject(py)
            }
            Begin::Refuse(rejection) => {
                let name = PyString::new(py, op.name());
                Err(errors::rejection_error(
                    py,
                    breaker.error_class.as_ref(),
                    rejection,
                    name.as_any(),
                ))
            }
        }
    }

    /// The calls that carry out `flush`, as `[(method, arg), ...]`: one `invalidate_many(keys)`
    /// if the manager has it, else the per-key method per key; everything is
    /// `invalidate_by_prefix(manager.prefix)`.
    fn flush_calls<'py>(
        &self,
        py: Python<'py>,
        manager: &Bound<'py, PyAny>,
        flush: Flush<CacheKey>,
    ) -> PyResult<Bound<'py, PyList>> {
        let calls = PyList::empty(py);
        match flush {
            Flush::All => {
                let prefix = manager.getattr("prefix")?;
                calls.append((lookup(manager, "invalidate_by_prefix")?, prefix))?;
            }
            Flush::Keys(keys) => {
                let keys: Vec<_> = keys.iter().map(|k| k.to_py(py)).collect();
                if let Ok(many) = lookup(manager, "invalidate_many") {
                    calls.append((many, PyList::new(py, keys)?))?;
                } else {
                    let one = per_key_method(manager)?;
                    for k in keys {
                        calls.append((&one, k))?;
                    }
                }
            }
        }
        Ok(calls)
    }

    pub(crate) fn flushed(&self, ticket: u64) -> PyResult<()> {
        let ticket = Ticket::from_bits(ticket);
        let mut g = self.guard();
        each!(&mut g.guard, guard => guard.flushed(ticket)).map_err(ticket_error)
    }

    /// Ends a call whose operation returned `result`: the result itself, or for a store
    /// `True` (False only if the manager returned literally False).
    pub(crate) fn end_ok<'py>(
        &self,
        py: Python<'py>,
        ticket: u64,
        result: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.end_kind(py, ticket, OutcomeKind::Success, None)? {
            End::Stored => {
                let stored = !result.is(PyBool::new(py, false).as_any());
                Ok(PyBool::new(py, stored).to_owned().into_any())
            }
            _ => Ok(result),
        }
    }

    /// Ends a call that raised `exc`: `(RETURN | RETURN_AFTER_FAILURE, fallback)` or
    /// `(RAISE, None)`.
    pub(crate) fn end_error<'py>(
        &self,
        py: Python<'py>,
        ticket: u64,
        op: CacheOp,
        exc: &Bound<'py, PyAny>,
    ) -> PyResult<(u8, Bound<'py, PyAny>)> {
        let breaker = self.circuit_breaker.bind(py).get();
        let kind = breaker.outcome_kind(py, exc);
        let (record, escaped) = match kind {
            OutcomeKind::Failure | OutcomeKind::Timeout => {
                let (r, e) = breaker.describe(py, exc, PyString::new(py, op.name()).as_any());
                (Some(r), e)
            }
            _ => (None, None),
        };
        let end = self.end_kind(py, ticket, kind, record.as_ref())?;
        if let Some(e) = escaped {
            return Err(e); // e.g. KeyboardInterrupt from the error's __str__: after recording
        }
        match end {
            End::Fallback { .. } => {
                let action = if kind == OutcomeKind::Shed {
                    RETURN
                } else {
                    RETURN_AFTER_FAILURE
                };
                Ok((action, self.fallback_value(py, op)?))
            }
            _ => Ok((RAISE, py.None().into_bound(py))),
        }
    }

    fn end_kind(
        &self,
        py: Python<'_>,
        ticket: u64,
        kind: OutcomeKind,
        record: Option<&crate::calls::FailureText>,
    ) -> PyResult<End> {
        let breaker = self.circuit_breaker.bind(py).get();
        let now = breaker.clock.now_for_outcome(py);
        let failure = record.map(|r| r.as_failure());
        let outcome = match (kind, failure) {
            (OutcomeKind::Failure, Some(f)) => Outcome::Failure(f),
            (OutcomeKind::Timeout, Some(f)) => Outcome::Timeout(f),
            (OutcomeKind::Shed, _) => Outcome::Shed,
            (OutcomeKind::Success, _) => Outcome::Success,
            _ => Outcome::Cancelled,
        };
        let ticket = Ticket::from_bits(ticket);
        let registry = self
            .hierarchy
            .as_ref()
            .map(|h| h.registry(py))
            .transpose()?;
        let result: Result<(End, Option<Transition>), GuardError> = {
            let mut g = self.guard();
            match (&mut g.guard, &registry) {
                (Guard::Keyed(guard), Some(registry)) => {
                    // The permit names its breakers: the call ends without its path.
                    let mut r = registry.lock();
                    let gate = r.gate(None).map_err(path_error)?;
                    breaker.with(now, |b, now| {
                        guard
                            .end(&mut (b, gate), ticket, outcome, now)
                            .map(|(end, (moved, _))| (end, moved))
                    })
                }
                (Guard::Root(guard), _) => {
                    breaker.with(now, |b, now| guard.end(b, ticket, outcome, now))
                }
                (Guard::Keyed(_), None) => return Err(no_hierarchy()),
            }
        };
        let (end, moved) = result.map_err(ticket_error)?;
        breaker.listeners.notify(py, moved)?;
        Ok(end)
    }

    /// `fallback_responses[op's key]`, or None when the key is missing.
    fn fallback_value<'py>(&self, py: Python<'py>, op: CacheOp) -> PyResult<Bound<'py, PyAny>> {
        Ok(self
            .fallback_responses
            .bind(py)
            .get_item(op.fallback_key())?
            .unwrap_or_else(|| py.None().into_bound(py)))
    }
}

/// A call's permit with a hierarchy: the root breaker's token and the path's permits (none for
/// a call without a key).
pub type KeyedPermit = (u128, Option<Box<PathPermit>>);

/// The cache guard, admitting through the wrapper's breaker alone or, with a hierarchy, through
/// it and a registry path (the permit type differs, so the guard does).
pub enum Guard {
    Root(CacheGuard<CacheKey>),
    Keyed(CacheGuard<CacheKey, KeyedPermit>),
}

impl Guard {
    fn new(keyed: bool, policy: StaleKeys, caps: Capabilities, capacity: usize) -> Guard {
        if keyed {
            Guard::Keyed(CacheGuard::new(policy, caps, capacity))
        } else {
            Guard::Root(CacheGuard::new(policy, caps, capacity))
        }
    }

    pub fn policy(&self) -> StaleKeys {
        each!(self, g => g.policy())
    }

    pub fn capabilities(&self) -> Capabilities {
        each!(self, g => g.capabilities())
    }

    pub fn capacity(&self) -> usize {
        each!(self, g => g.capacity())
    }

    pub fn method(&self, op: CacheOp) -> CacheOp {
        each!(self, g => g.method(op))
    }

    pub fn counters(&self) -> CacheCounters {
        each!(self, g => g.counters())
    }

    pub fn clear_pending(&mut self) {
        each!(self, g => g.clear_pending())
    }

    pub fn set_policy(&mut self, policy: StaleKeys, caps: Capabilities) {
        each!(self, g => g.set_policy(policy, caps))
    }
}

/// The guard and the option it was resolved from (kept to re-resolve for a new manager).
pub struct GuardState {
    pub guard: Guard,
    pub option: StaleKeysOption,
}

impl GuardState {
    /// The guard for `manager` under `option` (`keyed`: with a hierarchy); a `ValueError`
    /// naming `stale_keys` if the manager cannot honour it.
    pub fn new(
        manager: &Bound<'_, PyAny>,
        option: StaleKeysOption,
        capacity: usize,
        keyed: bool,
    ) -> PyResult<GuardState> {
        let caps = capabilities(manager);
        let policy = option
            .resolve(caps)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(GuardState {
            guard: Guard::new(keyed, policy, caps, capacity),
            option,
        })
    }
}

impl GuardState {
    /// The counters as the `"guard"` dict of `get_metrics()`.
    pub fn counters_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let c = self.guard.counters();
        let d = pyo3::types::PyDict::new(py);
        d.set_item("stale_keys", self.guard.policy().name())?;
        d.set_item("fallbacks", c.fallbacks)?;
        d.set_item("shed", c.shed)?;
        d.set_item("timeouts", c.timeouts)?;
        d.set_item("cancelled", c.cancelled)?;
        d.set_item("flushes", c.flushes)?;
        d.set_item("flush_failures", c.flush_failures)?;
        d.set_item("pending_keys", c.pending_keys)?;
        d.set_item("pending_all", c.pending_all)?;
        d.set_item("dropped_keys", c.dropped_keys)?;
        d.set_item("in_flight", c.in_flight)?;
        Ok(d)
    }
}
