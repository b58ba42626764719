//! `CacheCircuitBreaker` (native half): the class, its construction and its methods.
//!
//! The core `Breaker` sits behind a lock that is held only inside core calls: never while
//! Python code runs (the operation, a clock callable, a listener, an error class), so a
//! re-entrant call or a GIL switch cannot deadlock. Decisions (admission, outcomes,
//! transitions, metrics) are the core's; this file converts arguments and results, and the
//! Python subclass in `_breaker.py` only awaits. The steps of one guarded call are in
//! `calls.rs`, the listeners in `listeners.rs`, and `Permit` in `permit.rs`.

use crate::clock::{ClockSource, WallClock};
use crate::config::{Fields, PyConfig};
use crate::errors::{self, type_error};
use crate::health::{self, PyHealthThresholds};
use crate::interop::{self, state_member};
use crate::listeners::Listeners;
use crate::metrics::PyMetrics;
use crate::permit::PyPermit;
use fact_resilience_core::{Breaker, HealthThresholds, Instant, Permit, State, Transition};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyInt, PyList, PyString, PyTuple, PyType};

/// The state guarded by the breaker's lock.
struct Inner {
    core: Breaker,
    /// The caller's config object (never a copy); `None` for a breaker made without one until
    /// `config` is first read: the core already holds the default, and an idle breaker need
    /// not carry a Python object for it.
    config: Option<Py<PyConfig>>,
    /// The config version last given to the core; `None` after the object was replaced.
    applied: Option<u64>,
    /// What `health_report()` evaluates against when given no thresholds (`None`: the
    /// defaults, kept out of line so that an idle breaker is small).
    thresholds: Option<Box<HealthThresholds>>,
}

impl Inner {
    /// Gives the core the config's current fields if they changed since last time.
    #[inline]
    fn sync_config(&mut self) {
        let Some(cfg) = &self.config else {
            return;
        };
        let cfg = cfg.get();
        if self.applied != Some(cfg.version()) {
            let (fields, version) = cfg.snapshot();
            // Fields are validated on every assignment, so the core cannot refuse them.
            if self.core.set_config(fields.core).is_ok() {
                self.applied = Some(version);
            }
        }
    }
}

/// The native half of `CacheCircuitBreaker`; `fact_resilience.CacheCircuitBreaker` subclasses
/// it and adds the `async` methods.
///
/// The core sits behind a spin lock rather than `std::sync::Mutex`: its critical sections are
/// a few dozen nanoseconds of pure Rust, entered and left with the GIL held and without calling
/// Python, so on a GIL build no other thread can ever find it taken (and under contention a
/// spin is shorter than a futex sleep). Its release is a plain store, cheaper than a mutex's
/// release on the two lock round-trips every call makes (`core/BENCHMARKS.md` has the figures).
#[pyclass(
    frozen,
    subclass,
    module = "fact_resilience._native",
    name = "CacheCircuitBreaker"
)]
pub struct PyBreaker {
    inner: spin::mutex::SpinMutex<Inner>,
    pub(crate) clock: ClockSource,
    pub(crate) wall: WallClock,
    pub(crate) error_class: Option<Py<PyAny>>,
    pub(crate) neutral: Py<PyTuple>,
    pub(crate) listeners: Listeners,
}

impl PyBreaker {
    #[inline]
    fn lock(&self) -> spin::mutex::SpinMutexGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Runs `f` on the locked core at the current time, with the config synced first.
    #[inline]
    pub(crate) fn with<R>(&self, now: Instant, f: impl FnOnce(&mut Breaker, Instant) -> R) -> R {
        let mut g = self.lock();
        g.sync_config();
        f(&mut g.core, now)
    }

    /// Runs a core command (`force_open`, `force_closed`, `reset`) at the clock's time and
    /// notifies the listeners of its transition.
    fn command(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Breaker, Instant) -> Option<Transition>,
    ) -> PyResult<()> {
        let now = self.clock.now(py)?;
        let moved = self.with(now, f);
        self.listeners.notify(py, moved)
    }

    /// The core's health report now, under `thresholds` or the breaker's own.
    fn report(
        &self,
        py: Python<'_>,
        thresholds: Option<HealthThresholds>,
    ) -> PyResult<fact_resilience_core::HealthReport> {
        let now = self.clock.now(py)?;
        let mut g = self.lock();
        g.sync_config();
        let t = thresholds.unwrap_or_else(|| g.thresholds.as_deref().copied().unwrap_or_default());
        Ok(g.core.health(now, &t))
    }

    /// The config's `max_message_bytes`: how much of an error's text the core keeps.
    pub(crate) fn max_message_bytes(&self) -> usize {
        let limit = match &self.lock().config {
            Some(c) => c.get().max_message_bytes_value(),
            None => Fields::default().core.max_message_bytes,
        };
        usize::try_from(limit).unwrap_or(usize::MAX)
    }
}

fn is_exception_type(t: &Bound<'_, PyAny>) -> bool {
    t.cast::<PyType>()
        .ok()
        .and_then(|t| t.is_subclass_of::<pyo3::exceptions::PyBaseException>().ok())
        .unwrap_or(false)
}

fn neutral_tuple(py: Python<'_>, arg: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTuple>> {
    let Some(arg) = arg.filter(|a| !a.is_none()) else {
        return Ok(interop::default_neutral(py)?.unbind());
    };
    let expected = "an exception class or an iterable of exception classes";
    let items: Vec<Bound<'_, PyAny>> = if is_exception_type(arg) {
        vec![arg.clone()]
    } else {
        let iter = arg
            .try_iter()
            .map_err(|_| type_error("neutral_exceptions", expected, arg))?;
        iter.collect::<PyResult<_>>()?
    };
    for t in &items {
        if !is_exception_type(t) {
            return Err(type_error("neutral_exceptions", expected, t));
        }
    }
    Ok(PyTuple::new(py, items)?.unbind())
}

fn check_callable(operation: &Bound<'_, PyAny>) -> PyResult<()> {
    if operation.is_callable() {
        Ok(())
    } else {
        Err(type_error("operation", "callable", operation))
    }
}

fn check_name(operation_name: &Bound<'_, PyAny>) -> PyResult<()> {
    if operation_name.is_instance_of::<PyString>() {
        Ok(())
    } else {
        Err(type_error("operation_name", "a str", operation_name))
    }
}

#[pymethods]
impl PyBreaker {
    #[new]
    #[pyo3(signature = (
        config = None, *, clock = None, wall_clock = None, error_class = None,
        neutral_exceptions = None, on_state_change = None
    ))]
    fn new(
        py: Python<'_>,
        config: Option<&Bound<'_, PyAny>>,
        clock: Option<&Bound<'_, PyAny>>,
        wall_clock: Option<&Bound<'_, PyAny>>,
        error_class: Option<&Bound<'_, PyAny>>,
        neutral_exceptions: Option<&Bound<'_, PyAny>>,
        on_state_change: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let config: Option<Py<PyConfig>> = match config {
            Some(c) if !c.is_none() => Some(
                c.cast::<PyConfig>()
                    .map_err(|_| type_error("config", "a CircuitBreakerConfig", c))?
                    .clone()
                    .unbind(),
            ),
            _ => None,
        };
        let clock = ClockSource::from_arg(clock)?;
        let wall = WallClock::from_arg(wall_clock)?;
        let error_class = match error_class {
            Some(c) if !c.is_none() => {
                errors::check_error_class(c)?;
                Some(c.clone().unbind())
            }
            _ => None,
        };
        let neutral = neutral_tuple(py, neutral_exceptions)?;
        let listeners = Listeners::from_arg(on_state_change)?;
        let (fields, version) = match &config {
            Some(c) => c.get().snapshot(),
            None => (Fields::default(), 0),
        };
        let now = clock.now(py)?;
        let core = Breaker::new(fields.core, now).map_err(|e| errors::config_error(&e))?;
        Ok(PyBreaker {
            inner: spin::mutex::SpinMutex::new(Inner {
                core,
                config,
                applied: Some(version),
                thresholds: None,
            }),
            clock,
            wall,
            error_class,
            neutral,
            listeners,
        })
    }

    // ---- configuration -------------------------------------------------------------------

    /// The config object in force (the very object passed in; read live). A breaker made
    /// without one gets its default object here, on first read.
    #[getter]
    fn config(&self, py: Python<'_>) -> PyResult<Py<PyConfig>> {
        if let Some(c) = &self.lock().config {
            return Ok(c.clone_ref(py));
        }
        // Made outside the lock: allocating may run the garbage collector, and with it code
        // that calls this breaker.
        let fresh = Py::new(py, PyConfig::from_fields(Fields::default()))?;
        let (config, unused) = {
            let mut g = self.lock();
            match &g.config {
                Some(c) => (c.clone_ref(py), Some(fresh)),
                None => {
                    g.applied = Some(fresh.get().version());
                    g.config = Some(fresh.clone_ref(py));
                    (fresh, None)
                }
            }
        };
        drop(unused); // outside the lock
        Ok(config)
    }

    #[setter]
    fn set_config(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let new = value
            .cast::<PyConfig>()
            .map_err(|_| type_error("config", "a CircuitBreakerConfig", value))?
            .clone()
            .unbind();
        let old = {
            let mut g = self.lock();
            g.applied = None;
            g.config.replace(new)
        };
        drop(old); // outside the lock
        Ok(())
    }

    /// The class raised for refused calls by this breaker, or None (the registered class).
    #[getter]
    fn error_class(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.error_class.as_ref().map(|c| c.clone_ref(py))
    }

    /// Exception types counted as neither success nor failure.
    #[getter]
    fn neutral_exceptions(&self, py: Python<'_>) -> Py<PyTuple> {
        self.neutral.clone_ref(py)
    }

    // ---- state ---------------------------------------------------------------------------

    /// The current state (no side effects: a due timeout is not applied).
    fn get_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.lock().core.state();
        state_member(py, s)
    }

    /// The current state, as `get_state()`.
    #[getter(state)]
    fn state_attr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.get_state(py)
    }

    fn is_open(&self) -> bool {
        self.lock().core.state() == State::Open
    }

    fn is_closed(&self) -> bool {
        self.lock().core.state() == State::Closed
    }

    fn is_half_open(&self) -> bool {
        self.lock().core.state() == State::HalfOpen
    }

    /// True if CLOSED or HALF_OPEN; if OPEN, True once the timeout has passed (the move to
    /// HALF_OPEN is made). Takes no throttle slot.
    fn is_call_permitted(&self, py: Python<'_>) -> PyResult<bool> {
        let now = self.clock.now(py)?;
        let (moved, state) = self.with(now, |b, now| (b.poll(now), b.state()));
        self.listeners.notify(py, moved)?;
        Ok(state != State::Open)
    }

    /// Applies a due OPEN -> HALF_OPEN move and returns the state.
    fn poll<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let now = self.clock.now(py)?;
        let (moved, state) = self.with(now, |b, now| (b.poll(now), b.state()));
        self.listeners.notify(py, moved)?;
        state_member(py, state)
    }

    /// Seconds until time alone changes something (the open timeout, a probe lease), or None.
    fn next_deadline_in(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        let now = self.clock.now(py)?;
        Ok(self.with(now, |b, now| {
            b.next_deadline()
                .map(|d| d.saturating_duration_since(now).as_secs_f64())
        }))
    }

    // ---- commands ------------------------------------------------------------------------

    /// Opens the circuit and restarts the open timer (not sticky).
    fn force_open(&self, py: Python<'_>) -> PyResult<()> {
        self.command(py, Breaker::force_open)
    }

    /// Closes the circuit; lifetime counters stay.
    fn force_closed(&self, py: Python<'_>) -> PyResult<()> {
        self.command(py, Breaker::force_closed)
    }

    /// Back to a fresh CLOSED breaker: every counter, the window and the log cleared.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        self.command(py, Breaker::reset)
    }

    /// A snapshot of the counters.
    fn get_metrics(&self, py: Python<'_>) -> PyResult<PyMetrics> {
        let now = self.clock.now(py)?;
        let (m, failures) = self.with(now, |b, now| {
            (
                b.metrics(now),
                b.recent_failures().cloned().collect::<Vec<_>>(),
            )
        });
        PyMetrics::build(py, &m, &failures)
    }

    // ---- health ---------------------------------------------------------------------------

    /// The thresholds `health_report()` uses by default (the seed's unless set).
    #[getter]
    fn health_thresholds(&self) -> PyHealthThresholds {
        PyHealthThresholds {
            core: self
                .lock()
                .thresholds
                .as_deref()
                .copied()
                .unwrap_or_default(),
        }
    }

    #[setter]
    fn set_health_thresholds(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = value
            .cast::<PyHealthThresholds>()
            .map_err(|_| type_error("health_thresholds", "a HealthThresholds", value))?;
        let boxed = Some(Box::new(t.get().core));
        self.lock().thresholds = boxed;
        Ok(())
    }

    /// The health report now: `{"status", "alerts", "figures"}` (no side effects).
    #[pyo3(signature = (thresholds = None))]
    fn health_report<'py>(
        &self,
        py: Python<'py>,
        thresholds: Option<&Bound<'py, PyHealthThresholds>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let given = thresholds.map(|t| t.get().core);
        let r = self.report(py, given)?;
        health::report_dict(py, &r)
    }

    /// Whether a readiness probe should pass under the policy `unready_when` (`"open"`,
    /// `"critical"` or `"warning"`), and the report it was read from, as `(ready, report)`.
    #[pyo3(signature = (unready_when = "open"))]
    fn readiness<'py>(
        &self,
        py: Python<'py>,
        unready_when: &str,
    ) -> PyResult<(bool, Bound<'py, PyDict>)> {
        let policy = health::policy(unready_when)?;
        let r = self.report(py, None)?;
        Ok((r.is_ready(policy), health::report_dict(py, &r)?))
    }

    /// Transitions since creation or reset as `[(from, to, reason, count)]`, every kind the
    /// breaker can make listed (zeros included).
    fn transition_counts(&self) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        self.lock()
            .core
            .transition_counts()
            .iter()
            .map(|(f, t, r, n)| (f.as_str(), t.as_str(), r.as_str(), n))
            .collect()
    }

    // ---- listeners -----------------------------------------------------------------------

    /// Registers `listener(from_state, to_state, reason)`, called after every transition
    /// (outside the breaker's lock). Returns `listener`, so it works as a decorator.
    fn on_state_change<'py>(&self, listener: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if !listener.is_callable() {
            return Err(type_error("listener", "callable", listener));
        }
        self.listeners.push(listener.clone().unbind());
        Ok(listener.clone())
    }

    /// Unregisters a listener; returns whether it was registered.
    fn remove_state_change_listener(&self, listener: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.listeners.remove(listener)
    }

    /// The registered listeners.
    #[getter]
    fn state_change_listeners<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.listeners.to_list(py)
    }

    // ---- sync execution ------------------------------------------------------------------

    /// Runs `operation(*args, **kwargs)` through the breaker and returns its result. Raises
    /// the registered `CacheError` (`CIRCUIT_BREAKER_OPEN` / `CIRCUIT_BREAKER_THROTTLING`)
    /// without calling it when refused; re-raises its exceptions unchanged.
    #[pyo3(signature = (operation, operation_name, *args, **kwargs))]
    fn execute_sync<'py>(
        &self,
        operation: &Bound<'py, PyAny>,
        operation_name: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = operation.py();
        check_callable(operation)?;
        check_name(operation_name)?;
        let permit = self.acquire_or_raise(py, operation_name)?;
        self.run_sync(py, permit, operation, operation_name, args, kwargs)
    }

    /// As `execute_sync`, but returns `fallback` instead of raising when the breaker refuses
    /// the call (the operation's own exceptions still propagate).
    #[pyo3(signature = (fallback, operation, operation_name, *args, **kwargs))]
    fn call_with_fallback<'py>(
        &self,
        fallback: &Bound<'py, PyAny>,
        operation: &Bound<'py, PyAny>,
        operation_name: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = operation.py();
        check_callable(operation)?;
        check_name(operation_name)?;
        let r = self.acquire_notified(py)?;
        match r {
            Ok(permit) => self.run_sync(py, permit, operation, operation_name, args, kwargs),
            Err(_) => Ok(fallback.clone()),
        }
    }

    // ---- low-level permits ---------------------------------------------------------------

    /// Asks to run one call named `operation`. Returns a `Permit`, or raises the registered
    /// `CacheError` when refused. Report the outcome exactly once.
    #[pyo3(signature = (operation = None))]
    fn acquire(&self, py: Python<'_>, operation: Option<&Bound<'_, PyAny>>) -> PyResult<PyPermit> {
        let operation = match operation {
            Some(o) => {
                check_name(o)?;
                o.clone()
            }
            None => PyString::new(py, "call").into_any(),
        };
        let permit = self.acquire_or_raise(py, &operation)?;
        Ok(PyPermit::new(permit, operation))
    }

    /// The call succeeded.
    fn record_success(&self, permit: &Bound<'_, PyPermit>) -> PyResult<()> {
        let p = permit.get().take()?;
        self.succeed(permit.py(), p)
    }

    /// The call failed with `exc` (always counted as a failure). `operation` defaults to the
    /// permit's.
    #[pyo3(signature = (permit, exc, operation = None))]
    fn record_failure(
        &self,
        permit: &Bound<'_, PyPermit>,
        exc: &Bound<'_, PyAny>,
        operation: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = permit.py();
        if !exc.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            return Err(type_error("exc", "an exception instance", exc));
        }
        let op = match operation {
            Some(o) => o.clone(),
            None => permit.get().operation.bind(py).clone(),
        };
        let p = permit.get().take()?;
        self.fail(py, p, exc, &op)
    }

    /// The call ended without a verdict: the permit is released, nothing is counted.
    fn record_neutral(&self, permit: &Bound<'_, PyPermit>) -> PyResult<()> {
        let p = permit.get().take()?;
        self.neutral(permit.py(), p);
        Ok(())
    }

    /// Reports `exc` as the outcome: neutral if it is not an `Exception` or is one of
    /// `neutral_exceptions`, else a failure. Returns whether it counted as a failure.
    fn record_exception(
        &self,
        permit: &Bound<'_, PyPermit>,
        exc: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let py = permit.py();
        if !exc.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            return Err(type_error("exc", "an exception instance", exc));
        }
        let op = permit.get().operation.bind(py).clone();
        let p = permit.get().take()?;
        self.report_exception(py, p, exc, &op)
    }

    // ---- the async layer's fast path (private: permits as ints) ----------------------------

    /// A permit as [`crossing`] gives it, or raises the rejection error.
    fn _acquire<'py>(&self, operation_name: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = operation_name.py();
        crossing(py, self.acquire_or_raise(py, operation_name)?)
    }

    /// As `_acquire`, after the argument checks `execute_sync` makes (for the async layer's
    /// `execute`: one set of checks for both).
    fn _admit<'py>(
        &self,
        operation: &Bound<'py, PyAny>,
        operation_name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        check_callable(operation)?;
        check_name(operation_name)?;
        self._acquire(operation_name)
    }

    /// As `_acquire_or`, after the checks of `_admit`.
    fn _admit_or<'py>(
        &self,
        operation: &Bound<'py, PyAny>,
        operation_name: &Bound<'py, PyAny>,
        default: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        check_callable(operation)?;
        check_name(operation_name)?;
        self._acquire_or(operation_name, default)
    }

    /// A permit as `_acquire` gives it, or `default` when refused (no exception is built).
    fn _acquire_or<'py>(
        &self,
        operation_name: &Bound<'py, PyAny>,
        default: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = operation_name.py();
        let r = self.acquire_notified(py)?;
        match r {
            Ok(p) => crossing(py, p),
            Err(_) => Ok(default.clone()),
        }
    }

    fn _succeed(&self, permit: &Bound<'_, PyAny>) -> PyResult<()> {
        self.succeed(permit.py(), landing(permit)?)
    }

    /// Reports `exc`; returns whether it counted as a failure.
    fn _fail(
        &self,
        permit: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        operation_name: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.report_exception(exc.py(), landing(permit)?, exc, operation_name)
    }

    fn _neutral(&self, permit: &Bound<'_, PyAny>) -> PyResult<()> {
        self.neutral(permit.py(), landing(permit)?);
        Ok(())
    }

    /// Seconds between health-monitor ticks (read live from the config).
    fn _health_check_interval(&self) -> f64 {
        match &self.lock().config {
            Some(c) => c.get().health_check_interval_value(),
            None => Fields::default().health_check_interval,
        }
    }

    // ---- Python protocol -----------------------------------------------------------------

    fn __repr__(&self) -> PyResult<String> {
        let (state, threshold) = {
            let g = self.lock();
            (
                g.core.state(),
                match &g.config {
                    Some(c) => c.get().snapshot().0.core.failure_threshold,
                    None => g.core.config().failure_threshold,
                },
            )
        };
        Ok(format!(
            "CacheCircuitBreaker(state='{}', failure_threshold={threshold})",
            state.as_str()
        ))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(g) = self.inner.try_lock()
            && let Some(c) = &g.config
        {
            visit.call(c)?;
        }
        self.listeners.traverse(&visit)?;
        if let ClockSource::Callable(f) = &self.clock {
            visit.call(f)?;
        }
        if let WallClock::Callable(f) = &self.wall {
            visit.call(f)?;
        }
        visit.call(&self.error_class)?;
        visit.call(&self.neutral)?;
        Ok(())
    }

    fn __clear__(&self) {
        self.listeners.clear();
    }
}

/// A permit for the async layer to hold: its [`Permit::to_token`] as one int when that fits
/// in 64 bits, which it does when the permit carries no admission instant (no rate rule was
/// on: the common case, one small int), else `(low, high)`, the token's two halves. Never one
/// int past 2^64: that costs several object operations each way, on every guarded call.
fn crossing(py: Python<'_>, p: Permit) -> PyResult<Bound<'_, PyAny>> {
    let t = p.to_token();
    let (low, high) = (t as u64, (t >> 64) as u64);
    if high == 0 {
        Ok(low.into_pyobject(py)?.into_any())
    } else {
        Ok((low, high).into_pyobject(py)?.into_any())
    }
}

/// The permit [`crossing`] handed out (never trusted, as [`Permit::from_token`]).
fn landing(permit: &Bound<'_, PyAny>) -> PyResult<Permit> {
    let (low, high): (u64, u64) = match permit.cast::<PyInt>() {
        Ok(bits) => (bits.extract()?, 0),
        Err(_) => permit.extract()?,
    };
    Ok(Permit::from_token(u128::from(high) << 64 | u128::from(low)))
}
