//! `OriginGuard`: the core's origin protection (single-flight, budget, stale-if-error) for
//! Python. The core decides which load leads, joins, is busy or is answered stale, and which
//! slot holds each remembered value; this class keeps the values in those slots.

use crate::clock::ClockSource;
use crate::errors::{type_error, value_error};
use fact_resilience_core::{Load, LoadTicket, OriginConfig, OriginCounters, OriginGuard};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;
use std::time::Duration;

struct Inner {
    guard: OriginGuard<String>,
    /// The values remembered for stale-if-error, by the slot the core assigned.
    slots: Vec<Option<Py<PyAny>>>,
}

/// Decides how a miss reaches the origin: see the package README (Protecting the origin).
#[pyclass(module = "fact_resilience", name = "OriginGuard")]
pub struct PyOriginGuard {
    inner: Mutex<Inner>,
    clock: ClockSource,
}

impl PyOriginGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn put(&mut self, slot: u32, value: Py<PyAny>) {
        let i = slot as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(value);
    }
}

/// The core's `OriginConfig` from the Python arguments (shared with `ResilientCacheWrapper`);
/// a type or range the core cannot hold is refused here, naming the argument, and the core's
/// own rules (a budget of 0, a zero age...) by `OriginGuard::new`.
pub(crate) fn origin_config(
    single_flight: bool,
    origin_budget: Option<&Bound<'_, PyAny>>,
    stale_if_error_seconds: Option<&Bound<'_, PyAny>>,
    stale_capacity: i64,
) -> PyResult<OriginConfig> {
    let budget = match origin_budget {
        None => None,
        Some(b) if b.is_none() => None,
        Some(b) => {
            let n: i64 = b
                .extract()
                .map_err(|_| type_error("origin_budget", "an int or None", b))?;
            Some(
                u32::try_from(n)
                    .map_err(|_| value_error("origin_budget", "must be at least 1", n))?,
            )
        }
    };
    let stale_if_error = match stale_if_error_seconds {
        None => None,
        Some(s) if s.is_none() => None,
        Some(s) => {
            let secs: f64 = s.extract().map_err(|_| {
                type_error("stale_if_error_seconds", "a number of seconds or None", s)
            })?;
            Some(Duration::try_from_secs_f64(secs).map_err(|_| {
                value_error(
                    "stale_if_error_seconds",
                    "must be a finite number of seconds > 0",
                    secs,
                )
            })?)
        }
    };
    let stale_capacity = usize::try_from(stale_capacity)
        .map_err(|_| value_error("stale_capacity", "must be at least 1", stale_capacity))?;
    Ok(OriginConfig {
        single_flight,
        budget,
        stale_if_error,
        stale_capacity,
    })
}

#[pymethods]
impl PyOriginGuard {
    /// `single_flight`: concurrent loads of one key share one origin call. `origin_budget`:
    /// the most origin calls in flight (None: no limit). `stale_if_error_seconds`: how old a
    /// remembered value may be and still answer while the cache is down (None: off);
    /// `stale_capacity` values are kept at most.
    #[new]
    #[pyo3(signature = (*, single_flight = false, origin_budget = None, stale_if_error_seconds = None, stale_capacity = 1024, clock = None))]
    fn new(
        single_flight: bool,
        origin_budget: Option<&Bound<'_, PyAny>>,
        stale_if_error_seconds: Option<&Bound<'_, PyAny>>,
        stale_capacity: i64,
        clock: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let config = origin_config(
            single_flight,
            origin_budget,
            stale_if_error_seconds,
            stale_capacity,
        )?;
        let guard = OriginGuard::new(config).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyOriginGuard {
            inner: Mutex::new(Inner {
                guard,
                slots: Vec::new(),
            }),
            clock: ClockSource::from_arg(clock)?,
        })
    }

    /// A read of `key` missed (`cache_down`: the cache call was refused or failed). Returns
    /// `("lead", ticket)`: call the origin, then `end(ticket, ...)`; `("join", ticket)`: wait
    /// for that load's result; `("busy", None)`: the origin's budget is spent; or
    /// `("stale", value)`: answer with this value, remembered within the age limit.
    fn begin<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        cache_down: bool,
    ) -> PyResult<(&'static str, Py<PyAny>)> {
        let now = self.clock.now(py)?;
        let mut inner = self.lock();
        Ok(match inner.guard.begin(key, cache_down, now) {
            Load::Lead(t) => ("lead", t.to_bits().into_pyobject(py)?.into_any().unbind()),
            Load::Join(t) => ("join", t.to_bits().into_pyobject(py)?.into_any().unbind()),
            Load::Busy => ("busy", py.None()),
            Load::Stale { slot, .. } => {
                let value = inner.slots.get(slot as usize).and_then(|v| v.as_ref());
                (
                    "stale",
                    value.map_or_else(|| py.None(), |v| v.clone_ref(py)),
                )
            }
        })
    }

    /// The load holding `ticket` ended: with `value` if `ok`. Returns how many callers joined
    /// it and whether to put its value in the cache; the value is remembered for
    /// stale-if-error when the guard says so.
    #[pyo3(signature = (ticket, ok, value = None))]
    fn end(
        &self,
        py: Python<'_>,
        ticket: u64,
        ok: bool,
        value: Option<Py<PyAny>>,
    ) -> PyResult<(u32, bool)> {
        let now = self.clock.now_for_outcome(py);
        let mut inner = self.lock();
        let ended = inner
            .guard
            .end(LoadTicket::from_bits(ticket), ok, now)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        if let (Some(slot), Some(value)) = (ended.remember, value) {
            inner.put(slot, value);
        }
        Ok((ended.joined, ended.store))
    }

    /// `value` was served for `key` from the cache: remembered for stale-if-error.
    fn served(&self, py: Python<'_>, key: &str, value: Py<PyAny>) -> PyResult<()> {
        let now = self.clock.now(py)?;
        let mut inner = self.lock();
        if let Some(slot) = inner.guard.served(key, now) {
            inner.put(slot, value);
        }
        Ok(())
    }

    /// A write to `key` was seen: its remembered value is dropped, and a load of it in flight
    /// will not be remembered.
    fn written(&self, key: &str) {
        let mut inner = self.lock();
        if let Some(slot) = inner.guard.written(key)
            && let Some(v) = inner.slots.get_mut(slot as usize)
        {
            *v = None;
        }
    }

    /// Everything may have been written (a prefix or the whole cache was invalidated).
    fn written_all(&self) {
        let mut inner = self.lock();
        inner.guard.written_all();
        inner.slots.iter_mut().for_each(|v| *v = None);
    }

    /// `{"origin_calls", "joined", "busy", "stale_served", "in_flight", "remembered"}`.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.lock().guard.counters();
        counters_dict(py, &c)
    }
}

/// The core's `OriginCounters` as a dict (the guard's `counters()`, the wrapper's
/// `origin_metrics()`).
pub(crate) fn counters_dict<'py>(
    py: Python<'py>,
    c: &OriginCounters,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("origin_calls", c.origin_calls)?;
    d.set_item("joined", c.joined)?;
    d.set_item("busy", c.busy)?;
    d.set_item("stale_served", c.stale_served)?;
    d.set_item("in_flight", c.in_flight)?;
    d.set_item("remembered", c.remembered)?;
    Ok(d)
}
