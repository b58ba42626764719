//! `CircuitBreakerConfig`: FACT's mutable, dataclass-like config, validated on construction and
//! on every assignment.
//!
//! Breakers keep a reference to this object, never a copy, and must see assignments on their
//! next call (FACT sets `breaker.config.timeout_seconds = 0.5` while OPEN). Every successful
//! assignment bumps [`PyConfig::version`]; a breaker compares it with the version it last
//! applied and re-reads the fields only when it changed.

use crate::errors::{config_error, type_error, value_error};
use fact_resilience_core::{Config, MAX_DURATION_SECONDS};
use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyTuple};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Parameter names in positional order (FACT's table order, then the compat aliases).
const POSITIONAL: [&str; 10] = [
    "failure_threshold",
    "success_threshold",
    "timeout_seconds",
    "rolling_window_seconds",
    "gradual_recovery",
    "recovery_factor",
    "health_check_interval",
    "max_recent_failures",
    "recovery_timeout",
    "half_open_max_calls",
];
/// Keyword-only extras beyond FACT, mapped to the core.
const KEYWORD_ONLY: [&str; 4] = [
    "max_message_bytes",
    "window_buckets",
    "half_open_max_in_flight",
    "probe_lease_seconds",
];

/// Every field, in the core's types plus the two that only the Python layer uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    /// What the core sees.
    pub core: Config,
    /// Seconds between health-monitor ticks.
    pub health_check_interval: f64,
    /// FACT fork compatibility: accepted and kept, no effect.
    pub half_open_max_calls: u32,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            core: Config::default(),
            health_check_interval: 30.0,
            half_open_max_calls: 3,
        }
    }
}

/// A field's value converted from Python, ready to apply without running Python code.
enum Value {
    Int(u32),
    Float(f64),
    Bool(bool),
    OptInt(Option<u32>),
    OptFloat(Option<f64>),
}

/// The shortest health-monitor tick: the monitor only applies a due OPEN -> HALF_OPEN move, so
/// ticking faster buys nothing, and a subnormal interval made it spin at 100 % CPU.
pub const MIN_HEALTH_CHECK_INTERVAL: f64 = 0.01;

impl Fields {
    fn validate(&self) -> PyResult<()> {
        self.core.validate().map_err(|e| config_error(&e))?;
        let h = self.health_check_interval;
        if !(MIN_HEALTH_CHECK_INTERVAL..=MAX_DURATION_SECONDS).contains(&h) {
            return Err(value_error(
                "health_check_interval",
                "must be finite, at least 0.01 (seconds) and at most 100 years",
                h,
            ));
        }
        if self.half_open_max_calls == 0 {
            return Err(value_error("half_open_max_calls", "must be at least 1", 0));
        }
        Ok(())
    }

    /// Converts one named value, checking its type (not yet its range: see `validate`). This
    /// may run Python code (`__float__`, `__repr__`), so it is never called under the lock.
    fn convert(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Value> {
        Ok(match name {
            "failure_threshold"
            | "success_threshold"
            | "max_recent_failures"
            | "half_open_max_calls"
            | "max_message_bytes"
            | "window_buckets" => Value::Int(int_field(name, v)?),
            "timeout_seconds"
            | "recovery_timeout"
            | "rolling_window_seconds"
            | "recovery_factor"
            | "health_check_interval" => Value::Float(float_field(name, v)?),
            "gradual_recovery" => Value::Bool(bool_field(name, v)?),
            "half_open_max_in_flight" => Value::OptInt(optional(v, |v| int_field(name, v))?),
            "probe_lease_seconds" => Value::OptFloat(optional(v, |v| float_field(name, v))?),
            _ => {
                return Err(PyAttributeError::new_err(format!(
                    "CircuitBreakerConfig has no field {name:?}"
                )));
            }
        })
    }

    /// Applies one converted value (pure Rust: safe under the lock).
    fn apply(&mut self, name: &str, value: Value) -> PyResult<()> {
        let c = &mut self.core;
        match (name, value) {
            ("failure_threshold", Value::Int(n)) => c.failure_threshold = n,
            ("success_threshold", Value::Int(n)) => c.success_threshold = n,
            ("max_recent_failures", Value::Int(n)) => c.max_recent_failures = n,
            ("half_open_max_calls", Value::Int(n)) => self.half_open_max_calls = n,
            ("max_message_bytes", Value::Int(n)) => c.max_message_bytes = n,
            ("window_buckets", Value::Int(n)) => c.window_buckets = n,
            ("timeout_seconds", Value::Float(s)) => c.timeout_seconds = s,
            ("recovery_timeout", Value::Float(s)) => {
                check_duration("recovery_timeout (alias of timeout_seconds)", s)?;
                c.timeout_seconds = s;
            }
            ("rolling_window_seconds", Value::Float(s)) => c.rolling_window_seconds = s,
            ("recovery_factor", Value::Float(f)) => c.recovery_factor = f,
            ("health_check_interval", Value::Float(s)) => self.health_check_interval = s,
            ("gradual_recovery", Value::Bool(b)) => c.gradual_recovery = b,
            ("half_open_max_in_flight", Value::OptInt(n)) => c.half_open_max_in_flight = n,
            ("probe_lease_seconds", Value::OptFloat(s)) => c.probe_lease_seconds = s,
            _ => {
                return Err(PyAttributeError::new_err(format!(
                    "CircuitBreakerConfig has no field {name:?}"
                )));
            }
        }
        Ok(())
    }

    /// Converts and applies one named value (for a config nobody else can see yet).
    fn set(&mut self, name: &str, v: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = Self::convert(name, v)?;
        self.apply(name, value)
    }
}

fn check_duration(field: &str, s: f64) -> PyResult<()> {
    if s > 0.0 && s <= MAX_DURATION_SECONDS {
        Ok(())
    } else {
        Err(value_error(
            field,
            "must be finite, > 0 and at most 100 years",
            s,
        ))
    }
}

fn optional<T>(
    v: &Bound<'_, PyAny>,
    f: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>,
) -> PyResult<Option<T>> {
    if v.is_none() {
        Ok(None)
    } else {
        f(v).map(Some)
    }
}

/// An `int` (not a `bool`) in `0..=u32::MAX`; 0 is refused later by validation with the
/// core's message.
fn int_field(field: &str, v: &Bound<'_, PyAny>) -> PyResult<u32> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(type_error(field, "an int", v));
    }
    match v.extract::<i64>() {
        Ok(n) if n < 0 => Err(value_error(field, "must be at least 1", n)),
        Ok(n) => u32::try_from(n).map_err(|_| value_error(field, "must be at most 4294967295", n)),
        Err(_) => Err(value_error(field, "must be at most 4294967295", v.repr()?)),
    }
}

/// A `float` or an `int` (not a `bool`).
fn float_field(field: &str, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    if v.is_instance_of::<PyBool>()
        || !(v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>())
    {
        return Err(type_error(field, "a number (int or float)", v));
    }
    v.extract::<f64>().map_err(|_| {
        value_error(
            field,
            "must be finite, > 0 and at most 100 years",
            v.repr().map(|r| r.to_string()).unwrap_or_default(),
        )
    })
}

fn bool_field(field: &str, v: &Bound<'_, PyAny>) -> PyResult<bool> {
    if v.is_instance_of::<PyBool>() {
        v.extract::<bool>()
    } else {
        Err(type_error(field, "a bool", v))
    }
}

/// Circuit-breaker configuration (FACT's `CircuitBreakerConfig`).
///
/// Mutable: breakers read the fields live. Every field is checked on construction and on
/// assignment; a bad type raises `TypeError`, a bad value `ValueError`, each naming the field.
#[pyclass(frozen, module = "fact_resilience", name = "CircuitBreakerConfig")]
pub struct PyConfig {
    fields: Mutex<Fields>,
    version: AtomicU64,
}

impl PyConfig {
    /// A config holding `fields` (already valid).
    pub fn from_fields(fields: Fields) -> Self {
        PyConfig {
            fields: Mutex::new(fields),
            version: AtomicU64::new(0),
        }
    }

    /// Bumped by every successful assignment.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The fields and the version they belong to.
    pub fn snapshot(&self) -> (Fields, u64) {
        let f = self.lock();
        (f.clone(), self.version())
    }

    /// Longest stored error text in bytes.
    pub fn max_message_bytes_value(&self) -> u32 {
        self.lock().core.max_message_bytes
    }

    /// Seconds between health-monitor ticks.
    pub fn health_check_interval_value(&self) -> f64 {
        self.lock().health_check_interval
    }

    fn lock(&self) -> MutexGuard<'_, Fields> {
        self.fields.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn assign(&self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        // Converting may run Python code that reads this very config: never under the lock.
        let value = Fields::convert(name, value)?;
        let mut guard = self.lock();
        let mut next = guard.clone();
        next.apply(name, value)?;
        next.validate()?;
        *guard = next;
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

#[pymethods]
impl PyConfig {
    #[getter]
    fn failure_threshold(&self) -> u32 {
        let f = self.lock();
        f.core.failure_threshold
    }

    #[setter]
    fn set_failure_threshold(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("failure_threshold", value)
    }

    #[getter]
    fn success_threshold(&self) -> u32 {
        let f = self.lock();
        f.core.success_threshold
    }

    #[setter]
    fn set_success_threshold(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("success_threshold", value)
    }

    #[getter]
    fn timeout_seconds(&self) -> f64 {
        let f = self.lock();
        f.core.timeout_seconds
    }

    #[setter]
    fn set_timeout_seconds(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("timeout_seconds", value)
    }

    #[getter]
    fn rolling_window_seconds(&self) -> f64 {
        let f = self.lock();
        f.core.rolling_window_seconds
    }

    #[setter]
    fn set_rolling_window_seconds(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("rolling_window_seconds", value)
    }

    #[getter]
    fn gradual_recovery(&self) -> bool {
        let f = self.lock();
        f.core.gradual_recovery
    }

    #[setter]
    fn set_gradual_recovery(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("gradual_recovery", value)
    }

    #[getter]
    fn recovery_factor(&self) -> f64 {
        let f = self.lock();
        f.core.recovery_factor
    }

    #[setter]
    fn set_recovery_factor(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("recovery_factor", value)
    }

    #[getter]
    fn health_check_interval(&self) -> f64 {
        let f = self.lock();
        f.health_check_interval
    }

    #[setter]
    fn set_health_check_interval(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("health_check_interval", value)
    }

    #[getter]
    fn max_recent_failures(&self) -> u32 {
        let f = self.lock();
        f.core.max_recent_failures
    }

    #[setter]
    fn set_max_recent_failures(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("max_recent_failures", value)
    }

    #[getter]
    fn recovery_timeout(&self) -> f64 {
        let f = self.lock();
        f.core.timeout_seconds
    }

    #[setter]
    fn set_recovery_timeout(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("recovery_timeout", value)
    }

    #[getter]
    fn half_open_max_calls(&self) -> u32 {
        let f = self.lock();
        f.half_open_max_calls
    }

    #[setter]
    fn set_half_open_max_calls(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("half_open_max_calls", value)
    }

    #[getter]
    fn max_message_bytes(&self) -> u32 {
        let f = self.lock();
        f.core.max_message_bytes
    }

    #[setter]
    fn set_max_message_bytes(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("max_message_bytes", value)
    }

    #[getter]
    fn window_buckets(&self) -> u32 {
        let f = self.lock();
        f.core.window_buckets
    }

    #[setter]
    fn set_window_buckets(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("window_buckets", value)
    }

    #[getter]
    fn half_open_max_in_flight(&self) -> Option<u32> {
        let f = self.lock();
        f.core.half_open_max_in_flight
    }

    #[setter]
    fn set_half_open_max_in_flight(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("half_open_max_in_flight", value)
    }

    #[getter]
    fn probe_lease_seconds(&self) -> Option<f64> {
        let f = self.lock();
        f.core.probe_lease_seconds
    }

    #[setter]
    fn set_probe_lease_seconds(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign("probe_lease_seconds", value)
    }

    #[new]
    #[pyo3(
        signature = (*args, **kwargs),
        text_signature = "(failure_threshold=5, success_threshold=3, timeout_seconds=60.0, \
            rolling_window_seconds=300.0, gradual_recovery=True, recovery_factor=0.5, \
            health_check_interval=30.0, max_recent_failures=50, recovery_timeout=None, \
            half_open_max_calls=3, *, max_message_bytes=256, window_buckets=60, \
            half_open_max_in_flight=None, probe_lease_seconds=None)"
    )]
    fn new(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        if args.len() > POSITIONAL.len() {
            return Err(PyTypeError::new_err(format!(
                "CircuitBreakerConfig takes at most {} positional arguments ({} given)",
                POSITIONAL.len(),
                args.len()
            )));
        }
        let mut given: Vec<(&str, Bound<'_, PyAny>)> = Vec::new();
        for (name, v) in POSITIONAL.iter().zip(args.iter()) {
            given.push((name, v));
        }
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs.iter() {
                let k: String = k.extract()?;
                let Some(name) = POSITIONAL
                    .iter()
                    .chain(KEYWORD_ONLY.iter())
                    .find(|n| **n == k)
                else {
                    return Err(PyTypeError::new_err(format!(
                        "CircuitBreakerConfig got an unexpected keyword argument {k:?}"
                    )));
                };
                if given.iter().any(|(n, _)| n == name) {
                    return Err(PyTypeError::new_err(format!(
                        "CircuitBreakerConfig got multiple values for argument {k:?}"
                    )));
                }
                given.push((name, v));
            }
        }
        // The alias is applied last so that it wins over timeout_seconds.
        given.sort_by_key(|(n, _)| *n == "recovery_timeout");
        let mut fields = Fields::default();
        for (name, v) in &given {
            if *name == "recovery_timeout" && v.is_none() {
                continue;
            }
            fields.set(name, v)?;
        }
        fields.validate()?;
        Ok(PyConfig::from_fields(fields))
    }

    /// The fields as a plain dict (JSON-safe).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let f = self.lock().clone();
        let d = PyDict::new(py);
        let c = &f.core;
        d.set_item("failure_threshold", c.failure_threshold)?;
        d.set_item("success_threshold", c.success_threshold)?;
        d.set_item("timeout_seconds", c.timeout_seconds)?;
        d.set_item("rolling_window_seconds", c.rolling_window_seconds)?;
        d.set_item("gradual_recovery", c.gradual_recovery)?;
        d.set_item("recovery_factor", c.recovery_factor)?;
        d.set_item("health_check_interval", f.health_check_interval)?;
        d.set_item("max_recent_failures", c.max_recent_failures)?;
        d.set_item("half_open_max_calls", f.half_open_max_calls)?;
        d.set_item("max_message_bytes", c.max_message_bytes)?;
        d.set_item("window_buckets", c.window_buckets)?;
        d.set_item("half_open_max_in_flight", c.half_open_max_in_flight)?;
        d.set_item("probe_lease_seconds", c.probe_lease_seconds)?;
        Ok(d)
    }

    /// An independent copy.
    fn copy(&self) -> Self {
        PyConfig::from_fields(self.lock().clone())
    }

    fn __copy__(&self) -> Self {
        self.copy()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.copy()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyConfig>() {
            Ok(o) => {
                let o = o.get();
                // One lock at a time: two threads comparing a == b and b == a cannot deadlock.
                std::ptr::eq(self, o) || {
                    let mine = self.lock().clone();
                    mine == *o.lock()
                }
            }
            Err(_) => false,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let d = self.to_dict(py)?;
        let mut parts = Vec::new();
        for (k, v) in d.iter() {
            parts.push(format!("{}={}", k.str()?, v.repr()?));
        }
        Ok(format!("CircuitBreakerConfig({})", parts.join(", ")))
    }
}
