//! `ResilientCacheWrapper` (native half): the wrapped objects, the degradation switch, the
//! fallback values, the sync members (`generate_hash`, `get_metrics`), and the cache guard.
//! The async members (`store`, `get`, ...) are in the Python subclass in `_wrapper.py`, which
//! carries out one call through `_begin` / `_flushed` / `_end_ok` / `_end_error`
//! (`cache_calls.rs`): the core's `CacheGuard` decides fallbacks, what a failure means, and
//! which keys to remember and invalidate.
//!
//! Opt-in beside FACT's contract (keyword-only, off by default): a `hierarchy` (per-key and
//! hierarchical breakers, `hierarchy.rs`) and origin protection for `get_or_load`
//! (`wrapper_origin.rs`).

use crate::breaker::PyBreaker;
use crate::cache_calls::GuardState;
use crate::errors::type_error;
use crate::hierarchy::Hierarchy;
use crate::manager_metrics::cache_metrics;
use crate::origin::origin_config;
use crate::wrapper_origin::WrapperOrigin;
use fact_resilience_core::{CacheOp, StaleKeysOption};
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyBool, PyDict, PyInt, PyTuple};
use std::sync::{Mutex, MutexGuard};

/// The native half of `ResilientCacheWrapper`.
#[pyclass(
    subclass,
    module = "fact_resilience._native",
    name = "ResilientCacheWrapper"
)]
pub struct PyWrapper {
    pub(crate) cache_manager: Py<PyAny>,
    pub(crate) circuit_breaker: Py<PyBreaker>,
    pub(crate) enable_graceful_degradation: bool,
    pub(crate) fallback_responses: Py<PyDict>,
    guard: Mutex<GuardState>,
    /// `max_pending_invalidations=None`: tracking switched off.
    tracking: bool,
    /// `hierarchy=` and `key_path=` (None: the wrapper's breaker alone admits every call).
    pub(crate) hierarchy: Option<Hierarchy>,
    /// `get_or_load`'s origin protection.
    pub(crate) origin: WrapperOrigin,
}

/// `origin_busy_fallback` as given, None included (not given: raise `ORIGIN_BUSY`).
fn any_value(v: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
    Ok(Some(v.clone().unbind()))
}

fn default_fallbacks(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for op in CacheOp::ALL {
        let value = match op.fallback() {
            fact_resilience_core::Fallback::Stored => PyBool::new(py, true).to_owned().into_any(),
            fact_resilience_core::Fallback::Missing => py.None().into_bound(py),
            fact_resilience_core::Fallback::Zero => PyInt::new(py, 0).into_any(),
        };
        d.set_item(op.fallback_key(), value)?;
    }
    Ok(d)
}

fn breaker_arg(v: &Bound<'_, PyAny>) -> PyResult<Py<PyBreaker>> {
    if v.is_none() {
        let py = v.py();
        let cls = py
            .import("fact_resilience._breaker")?
            .getattr("CacheCircuitBreaker")?;
        return Ok(cls.call0()?.cast_into::<PyBreaker>()?.unbind());
    }
    Ok(v.cast::<PyBreaker>()
        .map_err(|_| type_error("circuit_breaker", "a CacheCircuitBreaker", v))?
        .clone()
        .unbind())
}

fn bool_arg(field: &str, v: &Bound<'_, PyAny>) -> PyResult<bool> {
    if v.is_instance_of::<PyBool>() {
        v.extract()
    } else {
        Err(type_error(field, "a bool", v))
    }
}

fn dict_arg(v: &Bound<'_, PyAny>) -> PyResult<Py<PyDict>> {
    if v.is_none() {
        return Ok(default_fallbacks(v.py())?.unbind());
    }
    Ok(v.cast::<PyDict>()
        .map_err(|_| type_error("fallback_responses", "a dict", v))?
        .clone()
        .unbind())
}

impl PyWrapper {
    pub(crate) fn guard(&self) -> MutexGuard<'_, GuardState> {
        // A panic while holding it cannot leave the guard inconsistent (each step is one call).
        self.guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn op_arg(op: &str) -> PyResult<CacheOp> {
    CacheOp::ALL
        .into_iter()
        .find(|o| o.name() == op)
        .ok_or_else(|| PyValueError::new_err(format!("unknown cache operation '{op}'")))
}

fn stale_keys_arg(v: &str) -> PyResult<StaleKeysOption> {
    StaleKeysOption::from_name(v).map_err(|e| PyValueError::new_err(format!("{e}, got {v:?}")))
}

#[pymethods]
impl PyWrapper {
    #[new]
    #[pyo3(signature = (
        cache_manager, circuit_breaker = None, enable_graceful_degradation = true,
        fallback_responses = None, *, max_pending_invalidations = Some(1024), stale_keys = "auto",
        hierarchy = None, key_path = None, single_flight = None, origin_budget = None,
        stale_if_error_seconds = None, stale_capacity = 1024, origin_busy_fallback = None
    ),
    text_signature = "(cache_manager, circuit_breaker=None, enable_graceful_degradation=True, \
        fallback_responses=None, *, max_pending_invalidations=1024, stale_keys='auto', \
        hierarchy=None, key_path=None, single_flight=False, origin_budget=None, \
        stale_if_error_seconds=None, stale_capacity=1024, origin_busy_fallback=...)")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        cache_manager: &Bound<'_, PyAny>,
        circuit_breaker: Option<&Bound<'_, PyAny>>,
        enable_graceful_degradation: bool,
        fallback_responses: Option<&Bound<'_, PyAny>>,
        max_pending_invalidations: Option<i64>,
        stale_keys: &str,
        hierarchy: Option<&Bound<'_, PyAny>>,
        key_path: Option<&Bound<'_, PyAny>>,
        single_flight: Option<&Bound<'_, PyAny>>,
        origin_budget: Option<&Bound<'_, PyAny>>,
        stale_if_error_seconds: Option<&Bound<'_, PyAny>>,
        stale_capacity: i64,
        #[pyo3(from_py_with = any_value)] origin_busy_fallback: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let none = py.None().into_bound(py);
        let capacity = max_pending_invalidations
            .map(|n| {
                usize::try_from(n).map_err(|_| {
                    PyValueError::new_err(format!(
                        "max_pending_invalidations must be >= 0 or None, got {n}"
                    ))
                })
            })
            .transpose()?;
        let option = match capacity {
            None => StaleKeysOption::Off,
            Some(_) => stale_keys_arg(stale_keys)?,
        };
        let hierarchy = Hierarchy::from_args(hierarchy, key_path)?;
        let config = origin_config(
            single_flight.map_or(Ok(false), |v| bool_arg("single_flight", v))?,
            origin_budget,
            stale_if_error_seconds,
            stale_capacity,
        )?;
        Ok(PyWrapper {
            guard: Mutex::new(GuardState::new(
                cache_manager,
                option,
                capacity.unwrap_or(0),
                hierarchy.is_some(),
            )?),
            tracking: capacity.is_some(),
            cache_manager: cache_manager.clone().unbind(),
            circuit_breaker: breaker_arg(circuit_breaker.unwrap_or(&none))?,
            enable_graceful_degradation,
            fallback_responses: dict_arg(fallback_responses.unwrap_or(&none))?,
            hierarchy,
            origin: WrapperOrigin::new(config, origin_busy_fallback)?,
        })
    }

    /// The most keys remembered for invalidation before falling back to a prefix flush, or
    /// None when skipped writes are not tracked. Read-only: set it in the constructor.
    #[getter]
    fn max_pending_invalidations(&self) -> Option<usize> {
        self.tracking.then(|| self.guard().guard.capacity())
    }

    /// The stale-key policy in force: `"per_key"`, `"prefix"` or `"off"` (resolved from
    /// `stale_keys` and what the manager can do).
    #[getter]
    fn stale_keys(&self) -> &'static str {
        self.guard().guard.policy().name()
    }

    /// Keys awaiting invalidation (not counting a batch being flushed right now).
    #[getter]
    fn pending_invalidations(&self) -> u64 {
        self.guard().guard.counters().pending_keys
    }

    /// Whether the next flush invalidates the whole prefix.
    #[getter]
    fn pending_overflowed(&self) -> bool {
        self.guard().guard.counters().pending_all
    }

    /// Forgets every pending invalidation (for a host that flushed the cache itself).
    fn clear_pending_invalidations(&self) {
        self.guard().guard.clear_pending();
    }

    // ---- one cache call, for the async layer (see cache_calls.rs) --------------------------

    fn _begin<'py>(
        &self,
        py: Python<'py>,
        op: &str,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.begin(py, op_arg(op)?, key, true)
    }

    /// `_begin` for the store of a value `get_or_load` just loaded, which the origin guard
    /// must not take for a write (it would forget that very value).
    fn _begin_loaded<'py>(
        &self,
        py: Python<'py>,
        op: &str,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.begin(py, op_arg(op)?, key, false)
    }

    fn _flushed(&self, ticket: u64) -> PyResult<()> {
        self.flushed(ticket)
    }

    fn _end_ok<'py>(
        &self,
        py: Python<'py>,
        ticket: u64,
        result: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.end_ok(py, ticket, result)
    }

    fn _end_error<'py>(
        &self,
        py: Python<'py>,
        ticket: u64,
        op: &str,
        exc: &Bound<'py, PyAny>,
    ) -> PyResult<(u8, Bound<'py, PyAny>)> {
        self.end_error(py, ticket, op_arg(op)?, exc)
    }

    // ---- get_or_load, for the async layer (see wrapper_origin.rs) -------------------------

    fn _origin_begin<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        cache_down: bool,
        flight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(u8, Py<PyAny>)> {
        self.origin_begin(py, key, cache_down, flight)
    }

    #[pyo3(signature = (ticket, ok, value = None))]
    fn _origin_end(
        &self,
        py: Python<'_>,
        ticket: u64,
        ok: bool,
        value: Option<Py<PyAny>>,
    ) -> PyResult<(Option<Py<PyAny>>, bool)> {
        self.origin_end(py, ticket, ok, value)
    }

    fn _origin_served(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: Py<PyAny>,
    ) -> PyResult<()> {
        self.origin_served(py, key, value)
    }

    /// Whether concurrent loads of one key share one origin call.
    #[getter]
    fn _single_flight(&self) -> bool {
        self.origin.single_flight()
    }

    /// The origin guard's counters: `{"origin_calls", "joined", "busy", "stale_served",
    /// "in_flight", "remembered"}` (`get_or_load` only; loads are counted with or without the
    /// origin options).
    fn origin_metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.origin_counters_dict(py)
    }

    /// The wrapped cache manager (the very object passed in).
    #[getter]
    fn cache_manager(&self, py: Python<'_>) -> Py<PyAny> {
        self.cache_manager.clone_ref(py)
    }

    /// A new manager gets the stale-key policy its capabilities allow (pending keys of the
    /// old one are forgotten).
    #[setter]
    fn set_cache_manager(&mut self, value: Bound<'_, PyAny>) -> PyResult<()> {
        let (option, capacity) = {
            let g = self.guard();
            (g.option, g.guard.capacity())
        };
        let fresh = GuardState::new(&value, option, capacity, self.hierarchy.is_some())?;
        let mut g = self.guard();
        let caps = fresh.guard.capabilities();
        g.guard.set_policy(fresh.guard.policy(), caps);
        drop(g);
        self.cache_manager = value.unbind();
        Ok(())
    }

    /// The breaker (the very object passed in, or the default one built).
    #[getter]
    fn circuit_breaker(&self, py: Python<'_>) -> Py<PyBreaker> {
        self.circuit_breaker.clone_ref(py)
    }

    #[setter]
    fn set_circuit_breaker(&mut self, value: Bound<'_, PyAny>) -> PyResult<()> {
        self.circuit_breaker = breaker_arg(&value)?;
        Ok(())
    }

    /// Serve `fallback_responses` instead of raising when the breaker refuses a call or the
    /// manager fails. Read on every call.
    #[getter]
    fn enable_graceful_degradation(&self) -> bool {
        self.enable_graceful_degradation
    }

    #[setter]
    fn set_enable_graceful_degradation(&mut self, value: Bound<'_, PyAny>) -> PyResult<()> {
        self.enable_graceful_degradation = bool_arg("enable_graceful_degradation", &value)?;
        Ok(())
    }

    /// Values served under degradation, by operation (`invalidate_by_prefix` uses
    /// `"invalidate"`; a missing key gives None). The dict itself, not a copy.
    #[getter]
    fn fallback_responses(&self, py: Python<'_>) -> Py<PyDict> {
        self.fallback_responses.clone_ref(py)
    }

    #[setter]
    fn set_fallback_responses(&mut self, value: Bound<'_, PyAny>) -> PyResult<()> {
        self.fallback_responses = dict_arg(&value)?;
        Ok(())
    }

    /// The manager's `generate_hash(query)` (not through the breaker), or the SHA-256 hex of
    /// `query` if the manager has none.
    fn generate_hash<'py>(&self, query: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = query.py();
        match self.cache_manager.bind(py).getattr("generate_hash") {
            Ok(f) => f.call1((query,)),
            Err(e) if e.is_instance_of::<PyAttributeError>(py) => {
                let data = query.str()?.call_method1("encode", ("utf-8",))?;
                py.import("hashlib")?
                    .call_method1("sha256", (data,))?
                    .call_method0("hexdigest")
            }
            Err(e) => Err(e),
        }
    }

    /// `{"cache": <the manager's metrics, or {}>, "circuit_breaker": <breaker metrics dict>}`.
    /// JSON-safe; never raises for the cache part.
    fn get_metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("cache", cache_metrics(self.cache_manager.bind(py)))?;
        let breaker = self.circuit_breaker.bind(py);
        let m = breaker
            .call_method0("get_metrics")?
            .call_method0("to_dict")?;
        d.set_item("circuit_breaker", m)?;
        let guard = self.guard().counters_dict(py)?;
        d.set_item("pending_invalidations", guard.get_item("pending_keys")?)?;
        d.set_item("pending_overflowed", guard.get_item("pending_all")?)?;
        d.set_item("guard", guard)?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ResilientCacheWrapper(cache_manager={}, circuit_breaker={}, enable_graceful_degradation={})",
            self.cache_manager.bind(py).repr()?,
            self.circuit_breaker.bind(py).repr()?,
            if self.enable_graceful_degradation {
                "True"
            } else {
                "False"
            }
        ))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.cache_manager)?;
        visit.call(&self.circuit_breaker)?;
        visit.call(&self.fallback_responses)?;
        if let Some(h) = &self.hierarchy {
            h.traverse(&visit)?;
        }
        self.origin.traverse(&visit)?;
        Ok(())
    }
}
