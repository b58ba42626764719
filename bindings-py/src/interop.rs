//! Python objects the native module looks up once and reuses: the `CircuitState` members, the
//! package's own `CacheError`, the default neutral exceptions, and the `fact_resilience` logger.
//!
//! Each is imported lazily on first use, so importing `fact_resilience._native` never imports
//! the pure-Python half of the package (and so can never import it circularly).

use fact_resilience_core::{Reason, State};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple, PyType};

static STATES: PyOnceLock<[Py<PyAny>; 3]> = PyOnceLock::new();
static DEFAULT_NEUTRAL: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
static COROUTINE_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SHED_ERROR_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The `fact_resilience.CircuitState` member for `state` (the enum members are singletons, so
/// `get_state() is CircuitState.OPEN` holds).
pub fn state_member<'py>(py: Python<'py>, state: State) -> PyResult<Bound<'py, PyAny>> {
    let members = STATES.get_or_try_init(py, || -> PyResult<[Py<PyAny>; 3]> {
        let enum_type = py
            .import("fact_resilience._state")?
            .getattr("CircuitState")?;
        Ok([
            enum_type.getattr("CLOSED")?.unbind(),
            enum_type.getattr("OPEN")?.unbind(),
            enum_type.getattr("HALF_OPEN")?.unbind(),
        ])
    })?;
    let i = match state {
        State::Closed => 0,
        State::Open => 1,
        State::HalfOpen => 2,
    };
    Ok(members[i].bind(py).clone())
}

/// A stable snake_case name for a transition's reason.
pub fn reason_str<'py>(py: Python<'py>, reason: Reason) -> Bound<'py, PyString> {
    PyString::new(py, reason.as_str())
}

/// The package's own `CacheError` (used when no host class is registered).
pub fn default_error_class(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CLASS
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("fact_resilience._errors")?
                    .getattr("CacheError")?
                    .unbind(),
            )
        })
        .map(|c| c.bind(py).clone())
}

/// `BaseException.__new__`: an exception instance with its `args`, no `__init__` run.
pub fn exception_new(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static NEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    NEW.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            py.get_type::<pyo3::exceptions::PyBaseException>()
                .getattr("__new__")?
                .unbind(),
        )
    })
    .map(|f| f.bind(py))
}

/// `(asyncio.CancelledError,)`: outcomes that are neither success nor failure by default.
pub fn default_neutral(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    DEFAULT_NEUTRAL
        .get_or_try_init(py, || {
            let cancelled = py.import("asyncio")?.getattr("CancelledError")?;
            Ok::<_, PyErr>(PyTuple::new(py, [cancelled])?.unbind())
        })
        .map(|t| t.bind(py).clone())
}

/// `fact_resilience.CacheShedError`: a cache call the client shed for lack of capacity.
pub fn shed_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    SHED_ERROR_TYPE.import(py, "fact_resilience._errors", "CacheShedError")
}

/// `types.CoroutineType`, to catch an `async def` handed to a sync entry point.
pub fn coroutine_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    COROUTINE_TYPE.import(py, "types", "CoroutineType")
}

/// The `fact_resilience` logger.
pub fn logger(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("logging")?
                    .call_method1("getLogger", ("fact_resilience",))?
                    .unbind(),
            )
        })
        .map(|l| l.bind(py).clone())
}

/// Logs `err` (raised by `what`) on the `fact_resilience` logger with its traceback. Never
/// fails: if logging itself fails, the error goes to `sys.unraisablehook`.
pub fn log_error(py: Python<'_>, message: &str, what: &Bound<'_, PyAny>, err: PyErr) {
    let value = err.value(py).clone();
    let logged = logger(py).and_then(|log| {
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("exc_info", &value)?;
        log.call_method("error", (message, what), Some(&kwargs))
            .map(|_| ())
    });
    if let Err(e) = logged {
        e.write_unraisable(py, Some(what));
    }
}
