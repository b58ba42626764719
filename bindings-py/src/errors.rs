//! Every mapping from a core error or refusal to a Python exception lives here.
//!
//! - [`ConfigError`] -> `ValueError` whose message starts with the field's name.
//! - Wrong Python types -> `TypeError` naming the field ([`type_error`]).
//! - [`Rejection`] -> the registered `CacheError` class, built as
//!   `cls(message, error_code=..., context={...})`, with the code inside the message (FACT's own
//!   `CacheError.__str__` prints only the message, and FACT's tests look for the code in it).
//!   A class that takes no keyword arguments (any builtin exception) is built as `cls(message)`
//!   with `error_code` and `context` set as attributes. The package's own `CacheError` is
//!   built from a `_Refusal` instead and settles into the same attributes when first read
//!   (`refusal.rs`).
//! - A load the origin guard answers busy -> the same class, code `ORIGIN_BUSY` ([`coded_error`]).

use crate::interop;
use crate::refusal::PyRefusal;
use fact_resilience_core::{ConfigError, Rejection};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};
use std::sync::Mutex;

/// `error_code` of a call refused because the circuit is OPEN.
pub const CODE_OPEN: &str = "CIRCUIT_BREAKER_OPEN";
/// `error_code` of a call turned away in HALF_OPEN.
pub const CODE_THROTTLING: &str = "CIRCUIT_BREAKER_THROTTLING";
/// `error_code` of a load refused because the origin's budget is spent.
pub const CODE_ORIGIN_BUSY: &str = "ORIGIN_BUSY";

/// The class registered with `set_error_class` (None: the package's own `CacheError`).
static ERROR_CLASS: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// A `ValueError` for a refused config, e.g. "recovery_factor must be in (0, 1], got 1.5".
pub fn config_error(err: &ConfigError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// A `ValueError` naming `field`.
pub fn value_error(field: &str, rule: &str, got: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{field} {rule}, got {got}"))
}

/// A `TypeError` naming `field`, the expected type and the type received.
pub fn type_error(field: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let got = got
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    PyTypeError::new_err(format!("{field} must be {expected}, got {got}"))
}

/// Checks that `cls` can be raised (a subclass of `BaseException`).
pub fn check_error_class(cls: &Bound<'_, PyAny>) -> PyResult<()> {
    let ok = cls
        .cast::<PyType>()
        .map(|t| t.is_subclass_of::<pyo3::exceptions::PyBaseException>())
        .unwrap_or(Ok(false))?;
    if ok {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "error_class must be an exception class, got {}",
            cls.repr()?
        )))
    }
}

/// Registers the class raised for refused calls by every breaker without its own
/// `error_class`; `None` restores the package's `CacheError`.
pub fn set_error_class(cls: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    if let Some(cls) = cls {
        check_error_class(cls)?;
    }
    let new = cls.map(|c| c.clone().unbind());
    let old = std::mem::replace(&mut *lock_class(), new);
    drop(old); // outside the lock: a decref may run Python code
    Ok(())
}

/// The class raised for refused calls when a breaker has none of its own.
pub fn error_class(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let registered = lock_class().as_ref().map(|c| c.clone_ref(py));
    match registered {
        Some(c) => Ok(c.into_bound(py)),
        None => interop::default_error_class(py),
    }
}

fn lock_class() -> std::sync::MutexGuard<'static, Option<Py<PyAny>>> {
    ERROR_CLASS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The exception for a refused call, as an instance of `cls` (or the registered class).
pub fn rejection_error(
    py: Python<'_>,
    cls: Option<&Py<PyAny>>,
    rejection: Rejection,
    operation: &Bound<'_, PyAny>,
) -> PyErr {
    match build_rejection(py, cls, rejection, operation) {
        Ok(err) => err,
        Err(err) => err, // the class itself failed to build: surface that
    }
}

fn build_rejection(
    py: Python<'_>,
    cls: Option<&Py<PyAny>>,
    rejection: Rejection,
    operation: &Bound<'_, PyAny>,
) -> PyResult<PyErr> {
    let cls = match cls {
        Some(c) => c.bind(py).clone(),
        None => error_class(py)?,
    };
    let refusal = PyRefusal::new(rejection, operation);
    if cls.is(interop::default_error_class(py)?) {
        // The package's own class settles the refusal into its attributes when first read
        // (`_errors.CacheError`): no `__init__` chain, no formatting on the refused call.
        let exc = interop::exception_new(py)?.call1((&cls, refusal))?;
        return Ok(PyErr::from_value(exc));
    }
    let code = refusal.code();
    let message = refusal.message(py)?;
    let context = refusal.context(py)?;
    build_coded(&cls, code, &message, context)
}

/// An exception of `cls` (or the registered class) with `error_code` `code`, for a refusal
/// that is not the breaker's (`ORIGIN_BUSY`); `message` carries the code.
pub fn coded_error(
    py: Python<'_>,
    cls: Option<&Py<PyAny>>,
    code: &str,
    message: &str,
    context: Bound<'_, PyDict>,
) -> PyErr {
    let built = match cls {
        Some(c) => Ok(c.bind(py).clone()),
        None => error_class(py),
    }
    .and_then(|cls| build_coded(&cls, code, message, context));
    match built {
        Ok(err) | Err(err) => err,
    }
}

fn build_coded(
    cls: &Bound<'_, PyAny>,
    code: &str,
    message: &str,
    context: Bound<'_, PyDict>,
) -> PyResult<PyErr> {
    let kwargs = PyDict::new(cls.py());
    kwargs.set_item("error_code", code)?;
    kwargs.set_item("context", &context)?;
    let exc = match cls.call((message,), Some(&kwargs)) {
        Ok(exc) => exc,
        // Builtin classes (ConnectionError, KeyError, ...) take no keyword arguments: build
        // them from the message alone and attach the code and context as attributes.
        Err(e) if e.is_instance_of::<PyTypeError>(cls.py()) => {
            let exc = cls.call1((message,))?;
            exc.setattr("error_code", code)?;
            exc.setattr("context", context)?;
            exc
        }
        Err(e) => return Err(e),
    };
    Ok(PyErr::from_value(exc))
}
