//! `ResilientCacheWrapper.get_or_load` (native steps): the core's `OriginGuard` decides whether a
//! miss leads an origin call, joins one, is busy or is answered with a remembered value; this
//! file keeps what the core leaves to the host (the remembered values in the slots it assigns,
//! and each single-flight load's shared result for the callers that join it) and builds the
//! `ORIGIN_BUSY` error. The async layer (`_origin.py`) calls the loader and awaits.
//!
//! Lock: the origin state's mutex, only around core calls and slot moves. Python objects that
//! may be freed by a step (a replaced value, an unused shared result) are dropped after it.

use crate::cache_key::CacheKey;
use crate::errors::{CODE_ORIGIN_BUSY, coded_error};
use crate::wrapper::PyWrapper;
use fact_resilience_core::{CacheOp, Load, LoadTicket, OriginConfig, OriginCounters, OriginGuard};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// What `_origin_begin` asks of the async layer.
pub const LEAD: u8 = 0;
pub const JOIN: u8 = 1;
pub const VALUE: u8 = 2;

struct OriginState {
    guard: OriginGuard<CacheKey>,
    /// The values remembered for stale-if-error, by the slot the core assigned.
    values: Vec<Option<Py<PyAny>>>,
    /// Each single-flight load's shared result (a `concurrent.futures.Future`), by ticket.
    flights: HashMap<u64, Py<PyAny>>,
}

/// The wrapper's origin protection: the guard, and the busy fallback (`None`: raise).
pub struct WrapperOrigin {
    state: Mutex<OriginState>,
    /// Whether writes must be told to the guard: origin options were given, or a load ran.
    /// Until then the guard has no remembered value and no load, so a write changes nothing.
    active: AtomicBool,
    busy_fallback: Option<Py<PyAny>>,
}

impl WrapperOrigin {
    /// The guard for `config` (refused with the core's message naming the argument).
    pub fn new(config: OriginConfig, busy_fallback: Option<Py<PyAny>>) -> PyResult<WrapperOrigin> {
        let guard = OriginGuard::new(config).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(WrapperOrigin {
            state: Mutex::new(OriginState {
                guard,
                values: Vec::new(),
                flights: HashMap::new(),
            }),
            active: AtomicBool::new(config != OriginConfig::default()),
            busy_fallback,
        })
    }

    fn lock(&self) -> MutexGuard<'_, OriginState> {
        // Each step is one core call: a panic cannot leave the state half-changed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn single_flight(&self) -> bool {
        self.lock().guard.config().single_flight
    }

    pub fn counters(&self) -> OriginCounters {
        self.lock().guard.counters()
    }

    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(v) = &self.busy_fallback {
            visit.call(v)?;
        }
        // The collector must not wait: a state held by a step right now is skipped this pass.
        if let Ok(s) = self.state.try_lock() {
            for v in s.values.iter().flatten().chain(s.flights.values()) {
                visit.call(v)?;
            }
        }
        Ok(())
    }
}

impl OriginState {
    /// Puts `value` in `slot`; returns the value it replaced (to drop outside the lock).
    fn put(&mut self, slot: u32, value: Py<PyAny>) -> Option<Py<PyAny>> {
        let i = slot as usize;
        if self.values.len() <= i {
            self.values.resize_with(i + 1, || None);
        }
        self.values[i].replace(value)
    }
}

impl PyWrapper {
    /// A store or invalidation of `key` was asked for (`invalidate_by_prefix`: of any key).
    pub(crate) fn origin_written(&self, op: CacheOp, key: &Bound<'_, PyAny>) {
        let origin = &self.origin;
        if !origin.active.load(Ordering::Relaxed) {
            return;
        }
        let dropped: Vec<Py<PyAny>> = if op == CacheOp::InvalidateByPrefix {
            let mut s = origin.lock();
            s.guard.written_all();
            s.values.iter_mut().filter_map(Option::take).collect()
        } else {
            // A key get_or_load cannot take was never loaded or remembered.
            let Ok(key) = CacheKey::from_py(key) else {
                return;
            };
            let mut s = origin.lock();
            let slot = s.guard.written(&key);
            slot.and_then(|i| s.values.get_mut(i as usize)?.take())
                .into_iter()
                .collect()
        };
        drop(dropped);
    }

    /// A read of `key` missed (`cache_down`: it was refused or failed). `flight` is the shared
    /// result a load leading under single-flight publishes to the callers that join it.
    /// Returns `(LEAD, ticket)`, `(JOIN, shared result)` or `(VALUE, value)` (a remembered
    /// value, or the busy fallback); raises `ORIGIN_BUSY` when busy without a fallback.
    pub(crate) fn origin_begin<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        cache_down: bool,
        flight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(u8, Py<PyAny>)> {
        let key = CacheKey::from_py(key)?;
        let origin = &self.origin;
        origin.active.store(true, Ordering::Relaxed);
        let now = self.circuit_breaker.bind(py).get().clock.now(py)?;
        let mut s = origin.lock();
        let answer = match s.guard.begin(&key, cache_down, now) {
            Load::Lead(ticket) => {
                let bits = ticket.to_bits();
                if let Some(f) = flight {
                    s.flights.insert(bits, f.clone().unbind());
                }
                (LEAD, bits.into_pyobject(py)?.into_any().unbind())
            }
            Load::Join(ticket) => {
                let shared = s.flights.get(&ticket.to_bits()).map(|f| f.clone_ref(py));
                (JOIN, shared.unwrap_or_else(|| py.None()))
            }
            Load::Stale { slot, .. } => {
                let value = s.values.get(slot as usize).and_then(Option::as_ref);
                (VALUE, value.map_or_else(|| py.None(), |v| v.clone_ref(py)))
            }
            Load::Busy => {
                let budget = s.guard.config().budget.unwrap_or(0);
                drop(s);
                return match &origin.busy_fallback {
                    Some(v) => Ok((VALUE, v.clone_ref(py))),
                    None => Err(self.busy_error(py, budget)),
                };
            }
        };
        Ok(answer)
    }

    /// The load holding `ticket` ended (`ok`: with `value`). Returns its shared result when
    /// callers joined it (the async layer settles it), else None, and whether to put the value
    /// in the cache (not when a write to the key was seen while it loaded: it may predate it).
    pub(crate) fn origin_end(
        &self,
        py: Python<'_>,
        ticket: u64,
        ok: bool,
        value: Option<Py<PyAny>>,
    ) -> PyResult<(Option<Py<PyAny>>, bool)> {
        let now = self
            .circuit_breaker
            .bind(py)
            .get()
            .clock
            .now_for_outcome(py);
        let mut s = self.origin.lock();
        let ended = s
            .guard
            .end(LoadTicket::from_bits(ticket), ok, now)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let shared = s.flights.remove(&ticket);
        // A slot may still hold the value of the key it was last given to: always overwrite.
        let replaced = match (ended.remember, value) {
            (Some(slot), Some(value)) => s.put(slot, value),
            (Some(slot), None) => s.values.get_mut(slot as usize).and_then(Option::take),
            (None, _) => None,
        };
        drop(s);
        drop(replaced);
        Ok((shared.filter(|_| ended.joined > 0), ended.store))
    }

    /// `value` was served for `key` from the cache: remembered for stale-if-error when it is on.
    pub(crate) fn origin_served(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: Py<PyAny>,
    ) -> PyResult<()> {
        let key = CacheKey::from_py(key)?;
        let now = self.circuit_breaker.bind(py).get().clock.now(py)?;
        let mut s = self.origin.lock();
        let replaced = match s.guard.served(&key, now) {
            Some(slot) => s.put(slot, value),
            None => None,
        };
        drop(s);
        drop(replaced);
        Ok(())
    }

    /// The core's `OriginCounters` as a dict.
    pub(crate) fn origin_counters_dict<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Bound<'py, PyDict>> {
        crate::origin::counters_dict(py, &self.origin.counters())
    }

    fn busy_error(&self, py: Python<'_>, budget: u32) -> PyErr {
        let message = format!(
            "[{CODE_ORIGIN_BUSY}] origin budget spent: {budget} loads in flight, \
             get_or_load refused"
        );
        let context = PyDict::new(py);
        let filled = context
            .set_item("operation", "get_or_load")
            .and_then(|()| context.set_item("origin_budget", budget));
        if let Err(e) = filled {
            return e;
        }
        let breaker = self.circuit_breaker.bind(py).get();
        coded_error(
            py,
            breaker.error_class.as_ref(),
            CODE_ORIGIN_BUSY,
            &message,
            context,
        )
    }
}
