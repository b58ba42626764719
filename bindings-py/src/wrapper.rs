//! `ResilientCacheWrapper` (native half): the wrapped objects, the degradation switch, the
//! fallback values, and the sync members (`generate_hash`, `get_metrics`). The async members
//! (`store`, `get`, ...) are in the Python subclass in `_async.py`.
//!
//! It also holds the pending invalidations (`fact_resilience_core::PendingInvalidations`): the
//! keys whose store or invalidation was skipped while degraded. `_async.py` records them and,
//! on the next admitted call, flushes them through `_pending_begin` / `_pending_end` before the
//! call itself runs. The set sits behind a `std::sync::Mutex` that is never held while Python
//! runs.

use crate::breaker::PyBreaker;
use crate::errors::type_error;
use fact_resilience_core::{Flush, PendingInvalidations};
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use std::sync::{Mutex, MutexGuard};

/// Keys awaiting invalidation, and the batch a flush in progress has taken out.
#[derive(Default)]
struct Pending {
    /// `None`: tracking is off (`max_pending_invalidations=None`).
    set: Option<PendingInvalidations>,
    in_flight: Option<Flush>,
}

impl Pending {
    fn new(capacity: Option<usize>) -> Self {
        Pending {
            set: capacity.map(PendingInvalidations::new),
            in_flight: None,
        }
    }
}

/// The native half of `ResilientCacheWrapper`.
#[pyclass(
    subclass,
    module = "fact_resilience._native",
    name = "ResilientCacheWrapper"
)]
pub struct PyWrapper {
    cache_manager: Py<PyAny>,
    circuit_breaker: Py<PyBreaker>,
    enable_graceful_degradation: bool,
    fallback_responses: Py<PyDict>,
    pending: Mutex<Pending>,
}

fn default_fallbacks(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("store", true)?;
    d.set_item("get", py.None())?;
    d.set_item("invalidate", 0)?;
    Ok(d)
}

fn breaker_arg(v: &Bound<'_, PyAny>) -> PyResult<Py<PyBreaker>> {
    if v.is_none() {
        let py = v.py();
        let cls = py
            .import("fact_resilience._async")?
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

/// A JSON-safe copy: scalars kept, dicts and sequences copied, anything else as `str()`.
fn json_safe<'py>(v: &Bound<'py, PyAny>, depth: u32) -> PyResult<Bound<'py, PyAny>> {
    let py = v.py();
    if v.is_none()
        || v.is_instance_of::<PyBool>()
        || v.is_instance_of::<PyInt>()
        || v.is_instance_of::<PyFloat>()
        || v.is_instance_of::<PyString>()
    {
        return Ok(v.clone());
    }
    if depth < 16 {
        if let Ok(d) = v.cast::<PyDict>() {
            let out = PyDict::new(py);
            for (k, x) in d.iter() {
                let key = if k.is_instance_of::<PyString>() {
                    k
                } else {
                    k.str()?.into_any()
                };
                out.set_item(key, json_safe(&x, depth + 1)?)?;
            }
            return Ok(out.into_any());
        }
        if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
            let out = PyList::empty(py);
            for x in v.try_iter()? {
                out.append(json_safe(&x?, depth + 1)?)?;
            }
            return Ok(out.into_any());
        }
    }
    Ok(v.str()?.into_any())
}

/// The manager's metrics as a dict, or `{}` if it has none or they cannot be read.
fn cache_metrics<'py>(manager: &Bound<'py, PyAny>) -> Bound<'py, PyDict> {
    let py = manager.py();
    let read = || -> PyResult<Bound<'py, PyAny>> {
        let Ok(get_metrics) = manager.getattr("get_metrics") else {
            return Ok(PyDict::new(py).into_any());
        };
        let m = get_metrics.call0()?;
        if m.is_instance_of::<PyDict>() {
            return json_safe(&m, 0);
        }
        let dataclasses = py.import("dataclasses")?;
        if !m.is_instance_of::<PyType>()
            && dataclasses
                .call_method1("is_dataclass", (&m,))?
                .is_truthy()?
        {
            return json_safe(&dataclasses.call_method1("asdict", (&m,))?, 0);
        }
        if let Ok(to_dict) = m.getattr("to_dict") {
            let d = to_dict.call0()?;
            if d.is_instance_of::<PyDict>() {
                return json_safe(&d, 0);
            }
        }
        let vars = py.import("builtins")?.getattr("vars")?.call1((&m,))?;
        let out = PyDict::new(py);
        for (k, x) in vars.cast::<PyDict>()?.iter() {
            if k.cast::<PyString>()
                .is_ok_and(|s| !s.to_string_lossy().starts_with('_'))
            {
                out.set_item(k, json_safe(&x, 1)?)?;
            }
        }
        Ok(out.into_any())
    };
    match read() {
        Ok(d) => d.cast_into::<PyDict>().unwrap_or_else(|_| PyDict::new(py)),
        Err(_) => PyDict::new(py),
    }
}

impl PyWrapper {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding it cannot leave the set inconsistent (each method is one step).
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn key_in(flush: &Flush, key: &str) -> bool {
    match flush {
        Flush::All => true,
        Flush::Keys(keys) => keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok(),
    }
}

#[pymethods]
impl PyWrapper {
    #[new]
    #[pyo3(signature = (
        cache_manager, circuit_breaker = None, enable_graceful_degradation = true,
        fallback_responses = None, *, max_pending_invalidations = Some(1024)
    ),
    text_signature = "(cache_manager, circuit_breaker=None, enable_graceful_degradation=True, \
        fallback_responses=None, *, max_pending_invalidations=1024)")]
    fn new(
        py: Python<'_>,
        cache_manager: &Bound<'_, PyAny>,
        circuit_breaker: Option<&Bound<'_, PyAny>>,
        enable_graceful_degradation: bool,
        fallback_responses: Option<&Bound<'_, PyAny>>,
        max_pending_invalidations: Option<i64>,
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
        Ok(PyWrapper {
            cache_manager: cache_manager.clone().unbind(),
            circuit_breaker: breaker_arg(circuit_breaker.unwrap_or(&none))?,
            enable_graceful_degradation,
            fallback_responses: dict_arg(fallback_responses.unwrap_or(&none))?,
            pending: Mutex::new(Pending::new(capacity)),
        })
    }

    /// The most keys remembered for invalidation before falling back to a prefix flush, or
    /// None when skipped writes are not tracked. Read-only: set it in the constructor.
    #[getter]
    fn max_pending_invalidations(&self) -> Option<usize> {
        self.pending()
            .set
            .as_ref()
            .map(PendingInvalidations::capacity)
    }

    /// Keys awaiting invalidation (not counting a batch being flushed right now).
    #[getter]
    fn pending_invalidations(&self) -> usize {
        self.pending()
            .set
            .as_ref()
            .map_or(0, PendingInvalidations::len)
    }

    /// Whether the next flush invalidates the whole prefix.
    #[getter]
    fn pending_overflowed(&self) -> bool {
        self.pending()
            .set
            .as_ref()
            .is_some_and(PendingInvalidations::overflowed)
    }

    /// Forgets every pending invalidation (for a host that flushed the cache itself).
    fn clear_pending_invalidations(&self) {
        if let Some(set) = self.pending().set.as_mut() {
            set.clear();
        }
    }

    // ---- the async layer's private API for pending invalidations --------------------------

    /// Remembers that a store or invalidation of `key` was skipped.
    fn _pending_remember(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        let key = key.str()?.to_cow()?.into_owned();
        if let Some(set) = self.pending().set.as_mut() {
            let _ = set.remember(&key);
        }
        Ok(())
    }

    /// Remembers that a prefix invalidation was skipped: the next flush clears the prefix.
    fn _pending_remember_all(&self) {
        if let Some(set) = self.pending().set.as_mut() {
            set.remember_all();
        }
    }

    /// Called once a call is admitted, before it runs. Returns None (nothing to flush: go on),
    /// False (a flush in progress covers `key`: serve the fallback), or `(all, keys)`: flush
    /// those first, then report with `_pending_end`.
    #[pyo3(signature = (key = None))]
    fn _pending_begin<'py>(
        &self,
        py: Python<'py>,
        key: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let key = key.and_then(|k| k.cast::<PyString>().ok());
        let key = key.as_ref().map(|k| k.to_cow()).transpose()?;
        let key = key.as_deref();
        let flush = {
            let mut g = self.pending();
            if let Some(in_flight) = g.in_flight.as_ref() {
                return Ok(match key {
                    Some(k) if key_in(in_flight, k) => {
                        Some(PyBool::new(py, false).to_owned().into_any())
                    }
                    _ => None,
                });
            }
            let Some(flush) = g.set.as_mut().and_then(PendingInvalidations::take) else {
                return Ok(None);
            };
            g.in_flight = Some(flush.clone());
            flush
        };
        let out = match flush {
            Flush::All => (true, PyList::empty(py)),
            Flush::Keys(keys) => (false, PyList::new(py, keys)?),
        };
        Ok(Some(out.into_pyobject(py)?.into_any()))
    }

    /// Ends the flush begun by `_pending_begin`: forgets the batch if `ok`, else puts it back.
    fn _pending_end(&self, ok: bool) {
        let mut g = self.pending();
        let Some(flush) = g.in_flight.take() else {
            return;
        };
        if !ok && let Some(set) = g.set.as_mut() {
            set.restore(flush);
        }
    }

    /// The wrapped cache manager (the very object passed in).
    #[getter]
    fn cache_manager(&self, py: Python<'_>) -> Py<PyAny> {
        self.cache_manager.clone_ref(py)
    }

    #[setter]
    fn set_cache_manager(&mut self, value: Bound<'_, PyAny>) -> PyResult<()> {
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
        let (count, overflowed) = {
            let g = self.pending();
            g.set
                .as_ref()
                .map_or((0, false), |s| (s.len(), s.overflowed()))
        };
        d.set_item("pending_invalidations", count)?;
        d.set_item("pending_overflowed", overflowed)?;
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
        Ok(())
    }
}
