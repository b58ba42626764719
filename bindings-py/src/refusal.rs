//! `_Refusal`: what a refused call's `CacheError` is built from, kept unformatted until read.
//!
//! The package's own `CacheError` for a refused call is created as
//! `BaseException.__new__(CacheError, refusal)`: no Python `__init__` chain, no message
//! formatted, no context dict built. `_errors.CacheError` turns the refusal into the usual
//! `args == (message,)`, `message`, `error_code` and `context` the first time any of them is
//! read, so every read sees exactly what `CacheError(message, error_code=..., context=...)`
//! would hold. `str(refusal)` is the message, so even C code reading `args[0]` directly prints
//! the right text.

use crate::errors::{CODE_OPEN, CODE_THROTTLING};
use fact_resilience_core::{Rejection, State};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::time::Duration;

/// A refused call, as the core answered it, with the operation's name.
#[pyclass(frozen, module = "fact_resilience._native", name = "_Refusal")]
pub struct PyRefusal {
    /// `Some(retry_after)` when OPEN; `None` when HALF_OPEN throttled the call.
    retry_after: Option<Duration>,
    operation: Py<PyAny>,
}

impl PyRefusal {
    pub(crate) fn new(rejection: Rejection, operation: &Bound<'_, PyAny>) -> Self {
        let retry_after = match rejection {
            Rejection::Open { retry_after } => Some(retry_after),
            Rejection::Throttled => None,
        };
        PyRefusal {
            retry_after,
            operation: operation.clone().unbind(),
        }
    }

    /// The `error_code`.
    pub(crate) fn code(&self) -> &'static str {
        match self.retry_after {
            Some(_) => CODE_OPEN,
            None => CODE_THROTTLING,
        }
    }

    /// The message, with the code in it (FACT's tests look for the code in `str(e)`).
    pub(crate) fn message(&self, py: Python<'_>) -> PyResult<String> {
        let op = self.operation.bind(py).repr()?;
        let op = op.to_cow()?;
        Ok(match self.retry_after {
            Some(d) => join(&[
                "[",
                CODE_OPEN,
                "] circuit breaker is open: ",
                &op,
                " rejected, retry in ",
                &millis(d),
                "s",
            ]),
            None => join(&[
                "[",
                CODE_THROTTLING,
                "] circuit breaker is half-open and throttling recovery: ",
                &op,
                " rejected",
            ]),
        })
    }

    /// The `context`: `{"operation", "state", "retry_after_seconds"}`.
    pub(crate) fn context<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let context = PyDict::new(py);
        context.set_item(intern!(py, "operation"), &self.operation)?;
        let (state, retry) = match self.retry_after {
            Some(d) => (State::Open, Some(d.as_secs_f64())),
            None => (State::HalfOpen, None),
        };
        context.set_item(intern!(py, "state"), state.as_str())?;
        context.set_item(intern!(py, "retry_after_seconds"), retry)?;
        Ok(context)
    }
}

#[pymethods]
impl PyRefusal {
    /// `(message, error_code, context)`, built now.
    fn fields<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyString>, &'static str, Bound<'py, PyDict>)> {
        let message = PyString::new(py, &self.message(py)?);
        Ok((message, self.code(), self.context(py)?))
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        self.message(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(PyString::new(py, &self.message(py)?).repr()?.to_string())
    }
}

/// The pieces joined, in one allocation.
fn join(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| s.push_str(p));
    s
}

/// A duration as seconds to the nearest millisecond, e.g. `"59.999"` (integer arithmetic:
/// exact-precision float formatting is several times dearer).
fn millis(d: Duration) -> String {
    let ms = (d.as_nanos() + 500_000) / 1_000_000;
    format!("{}.{:03}", ms / 1000, ms % 1000)
}
