//! `CircuitBreakerConfig`: FACT's mutable, dataclass-like config, validated on construction and
//! on every assignment.
//!
//! Breakers keep a reference to this object, never a copy, and must see assignments on their
//! next call (FACT sets `breaker.config.timeout_seconds = 0.5` while OPEN). Every successful
//! assignment bumps [`PyConfig::version`]; a breaker compares it with the version it last
//! applied and re-reads the fields only when it changed.

use crate::errors::{config_error, type_error, value_error};
use fact_resilience_core::{
    Config, FAILURE_WEIGHTS_DOC, FIELDS, FailureWeights, FieldKind, FieldRule, FieldValue,
    MAX_DURATION_SECONDS,
};
use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyCFunction, PyDict, PyFloat, PyInt, PyList, PyTuple};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Parameter names in positional order: FACT's table order, with its compat aliases. Every
/// other core field is keyword-only, in the core's declaration order.
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

/// FACT's fields that the core does not have: the health monitor's period, and the fork's
/// names. Every other field is the core's (`fact_resilience_core::FIELDS`).
const HEALTH_CHECK_INTERVAL: &str = "health_check_interval";
const HALF_OPEN_MAX_CALLS: &str = "half_open_max_calls";
const RECOVERY_TIMEOUT: &str = "recovery_timeout";
/// The core's one field that is not a number (not in `FIELDS`): a dict here.
const FAILURE_WEIGHTS: &str = "failure_weights";
/// A converted value: one of the core's numbers, or the weights.
pub enum Value {
    Field(FieldValue),
    Weights(FailureWeights),
}

/// Every field, in the core's types plus the two that only the Python layer uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    /// What the core sees.
    pub core: Config,
    /// Seconds between health-monitor ticks.
    pub health_check_interval: f64,
    /// FACT fork compatibility: accepted and kept, no effect (a warning says so when set).
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

/// The shortest health-monitor tick: the monitor only applies a due OPEN -> HALF_OPEN move, so
/// ticking faster buys nothing, and a subnormal interval made it spin at 100 % CPU.
pub const MIN_HEALTH_CHECK_INTERVAL: f64 = 0.01;

/// The kind of a field: the core's, or one of FACT's own.
fn kind_of(name: &str) -> PyResult<FieldKind> {
    match name {
        HEALTH_CHECK_INTERVAL | RECOVERY_TIMEOUT => Ok(FieldKind::F64),
        HALF_OPEN_MAX_CALLS => Ok(FieldKind::U32),
        _ => FIELDS
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.kind)
            .ok_or_else(|| {
                PyAttributeError::new_err(format!("CircuitBreakerConfig has no field {name:?}"))
            }),
    }
}

impl Fields {
    fn validate(&self) -> PyResult<()> {
        self.core.validate().map_err(|e| config_error(&e))?;
        let h = self.health_check_interval;
        if !(MIN_HEALTH_CHECK_INTERVAL..=MAX_DURATION_SECONDS).contains(&h) {
            return Err(value_error(
                HEALTH_CHECK_INTERVAL,
                "must be finite, at least 0.01 (seconds) and at most 100 years",
                h,
            ));
        }
        if self.half_open_max_calls == 0 {
            return Err(value_error(HALF_OPEN_MAX_CALLS, "must be at least 1", 0));
        }
        Ok(())
    }

    /// Converts one named value, checking its type (not yet its range: see `validate`). This
    /// may run Python code (`__float__`, `__repr__`), so it is never called under the lock.
    fn convert(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Value> {
        if name == FAILURE_WEIGHTS {
            return weights_field(v).map(Value::Weights);
        }
        Ok(Value::Field(match kind_of(name)? {
            FieldKind::U32 => FieldValue::U32(int_field(name, v)?),
            FieldKind::F64 => FieldValue::F64(float_field(name, v)?),
            FieldKind::Bool => FieldValue::Bool(bool_field(name, v)?),
            FieldKind::OptU32 => FieldValue::OptU32(optional(v, |v| int_field(name, v))?),
            _ => FieldValue::OptF64(optional(v, |v| float_field(name, v))?),
        }))
    }

    /// Applies one converted value (pure Rust: safe under the lock).
    fn apply(&mut self, name: &str, value: Value) -> PyResult<()> {
        let value = match value {
            Value::Weights(w) => {
                self.core.failure_weights = w;
                return Ok(());
            }
            Value::Field(v) => v,
        };
        match (name, value) {
            (HEALTH_CHECK_INTERVAL, FieldValue::F64(s)) => self.health_check_interval = s,
            (HALF_OPEN_MAX_CALLS, FieldValue::U32(n)) => self.half_open_max_calls = n,
            (RECOVERY_TIMEOUT, FieldValue::F64(s)) => {
                check_duration("recovery_timeout (alias of timeout_seconds)", s)?;
                self.core.timeout_seconds = s;
            }
            _ => self
                .core
                .set(name, value)
                .map_err(|e| PyAttributeError::new_err(format!("{name}: {e}")))?,
        }
        Ok(())
    }

    /// A field's value as a Python object.
    fn get<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        if name == FAILURE_WEIGHTS {
            let d = PyDict::new(py);
            for (kind, w) in self.core.failure_weights.iter() {
                d.set_item(kind, w)?;
            }
            return Ok(d.into_any());
        }
        let value = match name {
            HEALTH_CHECK_INTERVAL => FieldValue::F64(self.health_check_interval),
            HALF_OPEN_MAX_CALLS => FieldValue::U32(self.half_open_max_calls),
            RECOVERY_TIMEOUT => FieldValue::F64(self.core.timeout_seconds),
            _ => self.core.get(name).ok_or_else(|| {
                PyAttributeError::new_err(format!("CircuitBreakerConfig has no field {name:?}"))
            })?,
        };
        Ok(match value {
            FieldValue::U32(n) | FieldValue::OptU32(Some(n)) => n.into_pyobject(py)?.into_any(),
            FieldValue::F64(x) | FieldValue::OptF64(Some(x)) => x.into_pyobject(py)?.into_any(),
            FieldValue::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
            _ => py.None().into_bound(py),
        })
    }

    /// Converts and applies one named value (for a config nobody else can see yet).
    fn set(&mut self, name: &str, v: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = Self::convert(name, v)?;
        self.apply(name, value)
    }
}

/// Every field a config exposes: FACT's positional ones, then the core's others.
fn field_names() -> impl Iterator<Item = &'static str> {
    POSITIONAL
        .into_iter()
        .chain(
            FIELDS
                .iter()
                .map(|f| f.name)
                .filter(|n| !POSITIONAL.contains(n)),
        )
        .chain([FAILURE_WEIGHTS])
}

/// A dict of `str` to a number (not a `bool`), each weight checked by the core's rule; the
/// message names the kind: `failure_weights['timeout'] must be finite and at least 0 ...`.
fn weights_field(v: &Bound<'_, PyAny>) -> PyResult<FailureWeights> {
    let d = v
        .cast::<PyDict>()
        .map_err(|_| type_error(FAILURE_WEIGHTS, "a dict of str to number", v))?;
    let mut out = FailureWeights::new();
    for (k, w) in d.iter() {
        let kind: String = k
            .extract()
            .map_err(|_| type_error(FAILURE_WEIGHTS, "a dict with str keys", &k))?;
        let field = format!("{FAILURE_WEIGHTS}[{}]", k.repr()?);
        let weight = float_field(&field, &w)?;
        if let Err(e) = FieldRule::Weight.check(FAILURE_WEIGHTS, FieldValue::F64(weight)) {
            return Err(value_error(&field, &e.rule.requirement(false), weight));
        }
        out.insert(kind, weight);
    }
    Ok(out)
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

/// Every field as a dict (`name`, `kind`, `default`, `unit`, `rule`, `requirement`, `doc`,
/// `positional`, `core`, `index` in the core's table), in signature order: what `make gen` writes the stubs and docs from.
#[pyfunction]
pub fn _config_fields(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let defaults = Fields::default();
    let out = PyList::empty(py);
    for name in field_names() {
        if name == FAILURE_WEIGHTS {
            let d = PyDict::new(py);
            d.set_item("name", name)?;
            d.set_item("kind", "dict[str, float]")?;
            d.set_item("default", defaults.get(py, name)?)?;
            d.set_item("unit", "")?;
            d.set_item("rule", FieldRule::Weight.describe())?;
            d.set_item("doc", field_doc(name))?;
            d.set_item("requirement", FieldRule::Weight.requirement(false))?;
            d.set_item("positional", false)?;
            d.set_item("core", true)?;
            d.set_item("index", FIELDS.len())?;
            out.append(d)?;
            continue;
        }
        let core = FIELDS.iter().find(|f| f.name == name);
        let kind = match kind_of(name)? {
            FieldKind::U32 => "int",
            FieldKind::F64 => "float",
            FieldKind::Bool => "bool",
            FieldKind::OptU32 => "Optional[int]",
            _ => "Optional[float]",
        };
        let kind = if name == RECOVERY_TIMEOUT {
            "Optional[float]"
        } else {
            kind
        };
        let d = PyDict::new(py);
        d.set_item("name", name)?;
        d.set_item("kind", kind)?;
        if name == RECOVERY_TIMEOUT {
            d.set_item("default", py.None())?;
        } else {
            d.set_item("default", defaults.get(py, name)?)?;
        }
        d.set_item(
            "unit",
            core.map_or(
                if name == HALF_OPEN_MAX_CALLS {
                    ""
                } else {
                    "seconds"
                },
                |f| f.unit(),
            ),
        )?;
        d.set_item(
            "rule",
            core.map_or_else(
                || match name {
                    HEALTH_CHECK_INTERVAL => "at least 0.01, at most 100 years".to_owned(),
                    RECOVERY_TIMEOUT => "as timeout_seconds".to_owned(),
                    _ => "at least 1".to_owned(),
                },
                |f| f.rule.describe(),
            ),
        )?;
        d.set_item("doc", field_doc(name))?;
        d.set_item(
            "requirement",
            core.map(|f| f.rule.requirement(f.default.is_optional())),
        )?;
        d.set_item("positional", POSITIONAL.contains(&name))?;
        d.set_item("core", core.is_some())?;
        d.set_item("index", FIELDS.iter().position(|f| f.name == name))?;
        out.append(d)?;
    }
    Ok(out)
}

/// What a field does: the core's doc, or FACT's own fields'.
fn field_doc(name: &str) -> &'static str {
    FIELDS.iter().find(|f| f.name == name).map_or(
        match name {
            HEALTH_CHECK_INTERVAL => "Period of the background health monitor (Python only).",
            FAILURE_WEIGHTS => FAILURE_WEIGHTS_DOC,
            RECOVERY_TIMEOUT => "Alias of timeout_seconds (the FACT fork's name).",
            _ => "Accepted for the FACT fork's name; has no effect.",
        },
        |f| f.doc().trim(),
    )
}

/// Gives `CircuitBreakerConfig` one property per field and a `__signature__`, from the core's
/// field table (called once, when the module is made).
pub fn install_fields(py: Python<'_>) -> PyResult<()> {
    let cls = py.get_type::<PyConfig>();
    let property = py.import("builtins")?.getattr("property")?;
    let inspect = py.import("inspect")?;
    let parameter = inspect.getattr("Parameter")?;
    let defaults = Fields::default();
    let mut params = Vec::new();
    for name in field_names() {
        let get =
            PyCFunction::new_closure(py, None, None, move |args, _| -> PyResult<Py<PyAny>> {
                let this = args.get_item(0)?;
                let config = this.cast::<PyConfig>()?.get();
                let fields = config.lock().clone();
                Ok(fields.get(args.py(), name)?.unbind())
            })?;
        let set = PyCFunction::new_closure(py, None, None, move |args, _| -> PyResult<()> {
            let this = args.get_item(0)?;
            this.cast::<PyConfig>()?
                .get()
                .assign(name, &args.get_item(1)?)
        })?;
        cls.setattr(
            name,
            property.call1((get, set, py.None(), field_doc(name)))?,
        )?;
        let kind = if POSITIONAL.contains(&name) {
            "POSITIONAL_OR_KEYWORD"
        } else {
            "KEYWORD_ONLY"
        };
        let default = if name == RECOVERY_TIMEOUT {
            py.None().into_bound(py)
        } else {
            defaults.get(py, name)?
        };
        let kwargs = PyDict::new(py);
        kwargs.set_item("default", default)?;
        params.push(parameter.call((name, parameter.getattr(kind)?), Some(&kwargs))?);
    }
    let signature = inspect.getattr("Signature")?.call1((params,))?;
    cls.setattr("__signature__", signature)
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
    #[new]
    #[pyo3(signature = (*args, **kwargs))]
    fn new(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        if args.len() > POSITIONAL.len() {
            return Err(PyTypeError::new_err(format!(
                "CircuitBreakerConfig takes at most {} positional arguments ({} given)",
                POSITIONAL.len(),
                args.len()
            )));
        }
        let mut given: Vec<(&str, Bound<'_, PyAny>)> = Vec::new();
        for (name, v) in POSITIONAL.into_iter().zip(args.iter()) {
            given.push((name, v));
        }
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs.iter() {
                let k: String = k.extract()?;
                let Some(name) = field_names().find(|n| *n == k) else {
                    return Err(PyTypeError::new_err(format!(
                        "CircuitBreakerConfig got an unexpected keyword argument {k:?}"
                    )));
                };
                if given.iter().any(|(n, _)| *n == name) {
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

    /// The fields as a plain dict (JSON-safe), without the alias `recovery_timeout`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let f = self.lock().clone();
        let d = PyDict::new(py);
        for name in field_names().filter(|n| *n != RECOVERY_TIMEOUT) {
            d.set_item(name, f.get(py, name)?)?;
        }
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
