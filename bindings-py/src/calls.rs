//! One guarded call on a `CacheCircuitBreaker`: asking the core for a permit, running the
//! operation, and reporting its outcome (success, failure or neutral) back to the core.
//!
//! The `#[pymethods]` in `breaker.rs` (`execute_sync`, `call_with_fallback`, `acquire`,
//! `record_*` and the async layer's `_acquire` / `_succeed` / `_fail` / `_neutral`) are built
//! from these steps.

use crate::breaker::PyBreaker;
use crate::errors;
use crate::interop;
use fact_resilience_core::{Failure, OutcomeKind, Permit, Rejection, Transition};
use pyo3::exceptions::{PyException, PyTimeoutError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::borrow::Cow;

impl PyBreaker {
    /// Asks the core for a permit, returning any transition (a due OPEN -> HALF_OPEN) apart.
    #[inline]
    pub(crate) fn try_acquire(
        &self,
        py: Python<'_>,
    ) -> PyResult<(Result<Permit, Rejection>, Option<Transition>)> {
        let now = self.clock.now(py)?;
        Ok(self.with(now, |b, now| {
            let moved = b.poll(now);
            let r = b.try_acquire(now);
            let moved = moved.or_else(|| r.as_ref().ok().and_then(Permit::transition));
            (r, moved)
        }))
    }

    /// Admits or raises the rejection error.
    #[inline]
    pub(crate) fn acquire_or_raise(
        &self,
        py: Python<'_>,
        operation: &Bound<'_, PyAny>,
    ) -> PyResult<Permit> {
        let (r, moved) = self.try_acquire(py)?;
        self.listeners.notify(py, moved);
        r.map_err(|rej| self.rejection(py, rej, operation))
    }

    fn rejection(&self, py: Python<'_>, rej: Rejection, operation: &Bound<'_, PyAny>) -> PyErr {
        errors::rejection_error(py, self.error_class.as_ref(), rej, operation)
    }

    #[inline]
    pub(crate) fn succeed(&self, py: Python<'_>, permit: Permit) {
        let now = self.clock.now_for_outcome(py);
        let moved = self.with(now, |b, now| b.on_success(permit, now));
        self.listeners.notify(py, moved);
    }

    pub(crate) fn neutral(&self, py: Python<'_>, permit: Permit) {
        let now = self.clock.now_for_outcome(py);
        self.with(now, |b, now| b.on_neutral(permit, now));
    }

    /// Whether `exc` is neither success nor failure: not an `Exception`, or one of
    /// `neutral_exceptions`.
    pub(crate) fn is_neutral(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> bool {
        !exc.is_instance_of::<PyException>()
            || exc.is_instance(self.neutral.bind(py)).unwrap_or(false)
    }

    /// What kind of cache outcome `exc` is: neutral ones are `Cancelled`, a
    /// `CacheShedError` is `Shed`, a `TimeoutError` is `Timeout`, anything else `Failure`.
    pub(crate) fn outcome_kind(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> OutcomeKind {
        if self.is_neutral(py, exc) {
            OutcomeKind::Cancelled
        } else if interop::shed_error_type(py).is_ok_and(|t| exc.is_instance(t).unwrap_or(false)) {
            OutcomeKind::Shed
        } else if exc.is_instance_of::<PyTimeoutError>() {
            OutcomeKind::Timeout
        } else {
            OutcomeKind::Failure
        }
    }

    /// The failure record of `exc` in `operation`, read before any lock is taken.
    pub(crate) fn describe(
        &self,
        py: Python<'_>,
        exc: &Bound<'_, PyAny>,
        operation: &Bound<'_, PyAny>,
    ) -> FailureText {
        let ty = exc.get_type();
        FailureText {
            error_type: text(ty.name().map(|n| n.into_any()), "<unknown>"),
            error_message: text(exc.str().map(|s| s.into_any()), "<unprintable exception>"),
            operation: text(operation.str().map(|s| s.into_any()), "<operation>"),
            timestamp: self.wall.now_for_record(py),
        }
    }

    /// Records `exc` as a failure of `operation`.
    pub(crate) fn fail(
        &self,
        py: Python<'_>,
        permit: Permit,
        exc: &Bound<'_, PyAny>,
        operation: &Bound<'_, PyAny>,
    ) {
        let record = self.describe(py, exc, operation);
        let now = self.clock.now_for_outcome(py);
        let moved = self.with(now, |b, now| {
            b.on_failure(permit, &record.as_failure(), now)
        });
        self.listeners.notify(py, moved);
    }

    /// Reports `exc`: neutral or failure. Returns whether it counted as a failure.
    pub(crate) fn report_exception(
        &self,
        py: Python<'_>,
        permit: Permit,
        exc: &Bound<'_, PyAny>,
        operation: &Bound<'_, PyAny>,
    ) -> bool {
        if self.is_neutral(py, exc) {
            self.neutral(py, permit);
            false
        } else {
            self.fail(py, permit, exc, operation);
            true
        }
    }

    /// Runs `operation(*args, **kwargs)` on an already granted permit.
    pub(crate) fn run_sync<'py>(
        &self,
        py: Python<'py>,
        permit: Permit,
        operation: &Bound<'py, PyAny>,
        operation_name: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // Zero arguments (the common case) take the vectorcall path.
        let result = if args.is_empty() && kwargs.is_none_or(|k| k.is_empty()) {
            operation.call0()
        } else {
            operation.call(args, kwargs)
        };
        match result {
            Ok(v) => {
                if v.get_type().is(interop::coroutine_type(py)?) {
                    let _ = v.call_method0("close");
                    self.neutral(py, permit);
                    return Err(PyTypeError::new_err(format!(
                        "operation {} returned a coroutine: use `await breaker.execute(...)` \
                         for async operations",
                        operation_name.repr()?
                    )));
                }
                self.succeed(py, permit);
                Ok(v)
            }
            Err(e) => {
                self.report_exception(py, permit, e.value(py), operation_name);
                Err(e)
            }
        }
    }
}

/// A failure's texts, owned, so the core can borrow them as a `Failure`.
pub(crate) struct FailureText {
    error_type: String,
    error_message: String,
    operation: String,
    timestamp: f64,
}

impl FailureText {
    pub(crate) fn as_failure(&self) -> Failure<'_> {
        Failure {
            error_type: &self.error_type,
            error_message: &self.error_message,
            operation: &self.operation,
            timestamp: self.timestamp,
        }
    }
}

/// Text from a Python string, or `fallback` if producing it failed.
fn text(s: PyResult<Bound<'_, PyAny>>, fallback: &'static str) -> String {
    s.ok()
        .and_then(|s| {
            s.cast::<PyString>()
                .ok()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| Cow::Borrowed(fallback).into_owned())
}
