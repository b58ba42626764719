//! `ResilientCacheWrapper` (native half): the wrapped objects, the degradation switch, the
//! fallback values, and the sync members (`generate_hash`, `get_metrics`). The async members
//! (`store`, `get`, ...) are in the Python subclass in `_async.py`.

use crate::breaker::PyBreaker;
use crate::errors::type_error;
use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

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

#[pymethods]
impl PyWrapper {
    #[new]
    #[pyo3(signature = (
        cache_manager, circuit_breaker = None, enable_graceful_degradation = true,
        fallback_responses = None
    ))]
    fn new(
        py: Python<'_>,
        cache_manager: &Bound<'_, PyAny>,
        circuit_breaker: Option<&Bound<'_, PyAny>>,
        enable_graceful_degradation: bool,
        fallback_responses: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let none = py.None().into_bound(py);
        Ok(PyWrapper {
            cache_manager: cache_manager.clone().unbind(),
            circuit_breaker: breaker_arg(circuit_breaker.unwrap_or(&none))?,
            enable_graceful_degradation,
            fallback_responses: dict_arg(fallback_responses.unwrap_or(&none))?,
        })
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
