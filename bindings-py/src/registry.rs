//! `BreakerRegistry`: the core's `Registry` (breakers by path in a hierarchy, bounded) for
//! Python, and the `PathPermit` it hands out. The core decides; this file converts.

use crate::clock::ClockSource;
use crate::config::{Fields, PyConfig};
use crate::errors::{rejection_error, type_error, value_error};
use crate::interop::state_member;
use crate::metrics::PyMetrics;
use fact_resilience_core::{
    Config, Failure, Level, PathPermit, PathTransitions, Registry, RegistryConfig, RegistryError,
    State, wall_clock_seconds,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping, PyString, PyTuple};
use std::sync::Mutex;

fn registry_error(e: &RegistryError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn core_config(config: &Bound<'_, PyAny>, field: &str) -> PyResult<Config> {
    let config = config
        .cast::<PyConfig>()
        .map_err(|_| type_error(field, "a CircuitBreakerConfig", config))?;
    let (Fields { core, .. }, _) = config.get().snapshot();
    Ok(core)
}

/// One entry of `levels`: a name, `(name, config)` or `(name, config, {prefix: config})`.
fn level(item: &Bound<'_, PyAny>, i: usize) -> PyResult<Level> {
    let field = format!("levels[{i}]");
    if let Ok(name) = item.cast::<PyString>() {
        return Ok(Level::new(name.to_cow()?, Config::default()));
    }
    let parts = item
        .cast::<PyTuple>()
        .map_err(|_| type_error(&field, "a name, or (name, config[, prefixes])", item))?;
    if !(2..=3).contains(&parts.len()) {
        return Err(type_error(
            &field,
            "a name, or (name, config[, prefixes])",
            item,
        ));
    }
    let name = parts.get_item(0)?;
    let name = name
        .cast::<PyString>()
        .map_err(|_| type_error(&format!("{field}[0]"), "a str", &name))?;
    let mut level = Level::new(
        name.to_cow()?,
        core_config(&parts.get_item(1)?, &format!("{field}[1]"))?,
    );
    if parts.len() == 3 {
        let prefixes = parts.get_item(2)?;
        let prefixes = prefixes.cast::<PyMapping>().map_err(|_| {
            type_error(
                &format!("{field}[2]"),
                "a mapping of prefix to config",
                &prefixes,
            )
        })?;
        for item in prefixes.items()?.iter() {
            let (prefix, config): (String, Bound<'_, PyAny>) = item.extract()?;
            let config = core_config(&config, &format!("{field}[2][{prefix:?}]"))?;
            level.prefixes.push((prefix, config));
        }
    }
    Ok(level)
}

/// Breakers by path in a hierarchy, created on first use and dropped when idle beyond
/// `max_breakers`. See the package README (Per-key breakers).
#[pyclass(module = "fact_resilience", name = "BreakerRegistry")]
pub struct PyRegistry {
    inner: Mutex<Registry>,
    clock: ClockSource,
}

/// Leave to run one call on a path, from `BreakerRegistry.acquire`; report it once.
#[pyclass(frozen, module = "fact_resilience", name = "PathPermit")]
pub struct PyPathPermit {
    permit: Mutex<Option<PathPermit>>,
    path: Vec<String>,
}

#[pymethods]
impl PyPathPermit {
    /// The path the call was admitted on.
    #[getter]
    fn path(&self) -> Vec<String> {
        self.path.clone()
    }

    /// Whether an outcome was already reported.
    #[getter]
    fn reported(&self) -> bool {
        self.permit.lock().map_or(true, |p| p.is_none())
    }

    fn __repr__(&self) -> String {
        format!(
            "PathPermit(path={:?}, reported={})",
            self.path,
            if self.reported() { "True" } else { "False" }
        )
    }
}

impl PyPathPermit {
    fn take(&self) -> PyResult<PathPermit> {
        self.permit
            .lock()
            .ok()
            .and_then(|mut p| p.take())
            .ok_or_else(|| PyRuntimeError::new_err("permit: its outcome was already reported"))
    }
}

fn transitions<'py>(py: Python<'py>, moved: &PathTransitions) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for (level, t) in moved.iter() {
        out.append((level, state_member(py, t.to)?))?;
    }
    Ok(out)
}

impl PyRegistry {
    /// The registry, locked (also by `ResilientCacheWrapper`, around core calls only).
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many segments a path names.
    pub(crate) fn level_count(&self) -> usize {
        self.lock().config().levels.len()
    }

    fn report(
        &self,
        py: Python<'_>,
        permit: &Bound<'_, PyPathPermit>,
        exc: Option<&Bound<'_, PyAny>>,
        neutral: bool,
    ) -> PyResult<Py<PyList>> {
        let p = permit.get().take()?;
        let now = self.clock.now_for_outcome(py);
        let text = match exc {
            Some(e) => Some((
                e.get_type().name()?.to_string(),
                e.str().map(|s| s.to_string()).unwrap_or_default(),
            )),
            None => None,
        };
        let mut r = self.lock();
        let moved = if neutral {
            r.on_neutral(p, now);
            PathTransitions::default()
        } else if let Some((error_type, message)) = &text {
            let failure = Failure {
                error_type,
                error_message: message,
                operation: "call",
                timestamp: wall_clock_seconds(),
            };
            r.on_failure(p, &failure, now)
        } else {
            r.on_success(p, now)
        };
        drop(r);
        Ok(transitions(py, &moved)?.unbind())
    }
}

#[pymethods]
impl PyRegistry {
    /// `levels`, root first: each a name (default config), `(name, config)` or
    /// `(name, config, {prefix: config})`; or a mapping of level name to parent name (`None`
    /// for the root), every level with the default config. `max_breakers` bounds the idle
    /// breakers kept; `clock` as for `CacheCircuitBreaker`.
    #[new]
    #[pyo3(signature = (levels, *, max_breakers = 100_000, clock = None))]
    fn new(
        levels: &Bound<'_, PyAny>,
        max_breakers: i64,
        clock: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let max_breakers = usize::try_from(max_breakers)
            .map_err(|_| value_error("max_breakers", "must be at least 1", max_breakers))?;
        let config = if let Ok(parents) = levels.cast::<PyMapping>() {
            let mut links: Vec<(String, Option<String>)> = Vec::new();
            for item in parents.items()?.iter() {
                let (name, parent): (String, Option<String>) = item.extract().map_err(|_| {
                    type_error(
                        "levels",
                        "a mapping of level name to parent name or None",
                        levels,
                    )
                })?;
                links.push((name, parent));
            }
            let borrowed: Vec<(&str, Option<&str>)> = links
                .iter()
                .map(|(n, p)| (n.as_str(), p.as_deref()))
                .collect();
            RegistryConfig::from_parents(&borrowed, &Config::default(), max_breakers)
                .map_err(|e| registry_error(&e))?
        } else {
            let items = levels.try_iter().map_err(|_| {
                type_error(
                    "levels",
                    "a sequence of levels or a mapping of parents",
                    levels,
                )
            })?;
            let mut out = Vec::new();
            for (i, item) in items.enumerate() {
                out.push(level(&item?, i)?);
            }
            RegistryConfig {
                levels: out,
                max_breakers,
            }
        };
        let registry = Registry::new(config).map_err(|e| registry_error(&e))?;
        Ok(PyRegistry {
            inner: Mutex::new(registry),
            clock: ClockSource::from_arg(clock)?,
        })
    }

    /// The levels' names, root first.
    #[getter]
    fn levels(&self) -> Vec<String> {
        self.lock()
            .config()
            .levels
            .iter()
            .map(|l| l.name.clone())
            .collect()
    }

    /// Asks to run one call on `path` (one segment per level). Raises the breaker error
    /// (`CacheError`, code `CIRCUIT_BREAKER_OPEN` or `..._THROTTLING`) of the first level that
    /// refuses, with `level` (its index) and `level_name` set on it and in its `context`.
    fn acquire(&self, py: Python<'_>, path: Vec<String>) -> PyResult<PyPathPermit> {
        let now = self.clock.now(py)?;
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let mut r = self.lock();
        let answer = r
            .try_acquire(&segments, now)
            .map_err(|e| registry_error(&e))?;
        let refused = match answer {
            Ok(permit) => {
                return Ok(PyPathPermit {
                    permit: Mutex::new(Some(permit)),
                    path,
                });
            }
            Err(refused) => refused,
        };
        let level_name = r.config().levels[refused.level].name.clone();
        drop(r);
        let operation = PyString::new(py, &segments[..=refused.level].join("/"));
        let err = rejection_error(py, None, refused.rejection, operation.as_any());
        let value = err.value(py);
        value.setattr("level", refused.level)?;
        value.setattr("level_name", &level_name)?;
        if let Ok(context) = value.getattr("context")
            && let Ok(context) = context.cast::<PyDict>()
        {
            context.set_item("level", &level_name)?;
        }
        Err(err)
    }

    /// The call succeeded; returns `[(level, CircuitState)]` for each level that moved.
    fn record_success(&self, permit: &Bound<'_, PyPathPermit>) -> PyResult<Py<PyList>> {
        self.report(permit.py(), permit, None, false)
    }

    /// The call failed with `exc`; returns the levels that moved, as `record_success`.
    fn record_failure(
        &self,
        permit: &Bound<'_, PyPathPermit>,
        exc: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyList>> {
        if !exc.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            return Err(type_error("exc", "an exception instance", exc));
        }
        self.report(permit.py(), permit, Some(exc), false)
    }

    /// The call ended without a verdict: every level releases its permit.
    fn record_neutral(&self, permit: &Bound<'_, PyPathPermit>) -> PyResult<()> {
        self.report(permit.py(), permit, None, true).map(drop)
    }

    /// The state of `path`'s breaker (a prefix names an upper level's), or None if none is kept.
    fn state<'py>(
        &self,
        py: Python<'py>,
        path: Vec<String>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let state: Option<State> = self.lock().breaker(&segments).map(|b| b.state());
        state.map(|s| state_member(py, s)).transpose()
    }

    /// The metrics of `path`'s breaker, or None if none is kept.
    fn metrics(&self, py: Python<'_>, path: Vec<String>) -> PyResult<Option<PyMetrics>> {
        let now = self.clock.now(py)?;
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let r = self.lock();
        let Some(b) = r.breaker(&segments) else {
            return Ok(None);
        };
        let m = b.metrics(now);
        let failures: Vec<_> = b.recent_failures().cloned().collect();
        PyMetrics::build(py, &m, &failures).map(Some)
    }

    /// Breakers kept.
    fn __len__(&self) -> usize {
        self.lock().len()
    }

    /// Idle breakers dropped so far to keep within `max_breakers`.
    #[getter]
    fn evicted(&self) -> u64 {
        self.lock().evicted()
    }

    /// Per level, root first: `{"level", "breakers", "closed", "open", "half_open",
    /// "window_calls", "window_failures", "in_flight"}`.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let now = self.clock.now(py)?;
        let r = self.lock();
        let out = PyList::empty(py);
        for (s, level) in r.summary(now).iter().zip(&r.config().levels) {
            let d = PyDict::new(py);
            d.set_item("level", &level.name)?;
            d.set_item("breakers", s.breakers)?;
            d.set_item("closed", s.closed)?;
            d.set_item("open", s.open)?;
            d.set_item("half_open", s.half_open)?;
            d.set_item("window_calls", s.window_calls)?;
            d.set_item("window_failures", s.window_failures)?;
            d.set_item("in_flight", s.in_flight)?;
            out.append(d)?;
        }
        Ok(out)
    }
}
