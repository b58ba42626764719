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
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PySlice, PyString, PyTuple};

impl PyBreaker {
    /// Asks the core for a permit, returning any transition (a due OPEN -> HALF_OPEN) apart.
    #[inline]
    pub(crate) fn try_acquire(
        &self,
        py: Python<'_>,
    ) -> PyResult<(Result<Permit, Rejection>, Option<Transition>)> {
        let now = self.clock.now(py)?;
        // try_acquire applies a due OPEN -> HALF_OPEN move itself, and the first probe after
        // it is always admitted, so the move always arrives on the permit.
        Ok(self.with(now, |b, now| {
            let r = b.try_acquire(now);
            let moved = r.as_ref().ok().and_then(Permit::transition);
            (r, moved)
        }))
    }

    /// As `try_acquire`, with the transition's listeners run. If a listener raises a
    /// `BaseException` that is not an `Exception`, a granted permit is released (neutral)
    /// before it propagates, so no half-open slot is lost.
    #[inline]
    pub(crate) fn acquire_notified(&self, py: Python<'_>) -> PyResult<Result<Permit, Rejection>> {
        let (r, moved) = self.try_acquire(py)?;
        if let Err(e) = self.listeners.notify(py, moved) {
            if let Ok(p) = r {
                self.neutral(py, p);
            }
            return Err(e);
        }
        Ok(r)
    }

    /// Admits or raises the rejection error.
    #[inline]
    pub(crate) fn acquire_or_raise(
        &self,
        py: Python<'_>,
        operation: &Bound<'_, PyAny>,
    ) -> PyResult<Permit> {
        self.acquire_notified(py)?
            .map_err(|rej| self.rejection(py, rej, operation))
    }

    fn rejection(&self, py: Python<'_>, rej: Rejection, operation: &Bound<'_, PyAny>) -> PyErr {
        errors::rejection_error(py, self.error_class.as_ref(), rej, operation)
    }

    /// Records a success. Errs only with a `BaseException` that is not an `Exception` (e.g.
    /// `SystemExit` from a listener), after the outcome was recorded.
    #[inline]
    pub(crate) fn succeed(&self, py: Python<'_>, permit: Permit) -> PyResult<()> {
        let now = self.clock.now_for_outcome(py);
        let moved = self.with(now, |b, now| b.on_success(permit, now));
        self.listeners.notify(py, moved)
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

    /// The failure record of `exc` in `operation`, read before any lock is taken, converting
    /// no more of the message than the core keeps. A `BaseException` that is not an
    /// `Exception` raised while reading it (e.g. `KeyboardInterrupt` from `__str__`) comes
    /// back beside the record, for the caller to raise once the outcome is recorded.
    pub(crate) fn describe(
        &self,
        py: Python<'_>,
        exc: &Bound<'_, PyAny>,
        operation: &Bound<'_, PyAny>,
    ) -> (FailureText, Option<PyErr>) {
        let mut escaped = None;
        let ty = exc.get_type();
        let record = FailureText {
            error_type: text(py, ty.name(), usize::MAX, "<unknown>", &mut escaped),
            error_message: text(
                py,
                exc.str(),
                self.max_message_bytes(),
                "<unprintable exception>",
                &mut escaped,
            ),
            operation: text(py, operation.str(), usize::MAX, "<operation>", &mut escaped),
            timestamp: self.wall.now_for_record(py),
        };
        (record, escaped)
    }

    /// Records `exc` as a failure of `operation`. A `BaseException` that is not an `Exception`
    /// (e.g. `KeyboardInterrupt` from the exception's `__str__`, `SystemExit` from a listener)
    /// is returned after the failure was recorded, so the permit is never lost.
    pub(crate) fn fail(
        &self,
        py: Python<'_>,
        permit: Permit,
        exc: &Bound<'_, PyAny>,
        operation: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (record, escaped) = self.describe(py, exc, operation);
        let now = self.clock.now_for_outcome(py);
        let moved = self.with(now, |b, now| {
            b.on_failure(permit, &record.as_failure(), now)
        });
        let notified = self.listeners.notify(py, moved);
        match escaped {
            Some(e) => Err(e),
            None => notified,
        }
    }

    /// Reports `exc`: neutral or failure. Returns whether it counted as a failure.
    pub(crate) fn report_exception(
        &self,
        py: Python<'_>,
        permit: Permit,
        exc: &Bound<'_, PyAny>,
        operation: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if self.is_neutral(py, exc) {
            self.neutral(py, permit);
            Ok(false)
        } else {
            self.fail(py, permit, exc, operation)?;
            Ok(true)
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
                if let Some(kind) = awaitable_kind(py, &v)? {
                    if kind == "a coroutine" {
                        let _ = v.call_method0("close");
                    }
                    self.neutral(py, permit);
                    return Err(PyTypeError::new_err(format!(
                        "operation {} returned {kind} ({}): use `await breaker.execute(...)` \
                         for async operations",
                        operation_name.repr()?,
                        v.get_type().name()?
                    )));
                }
                self.succeed(py, permit)?;
                Ok(v)
            }
            Err(e) => {
                self.report_exception(py, permit, e.value(py), operation_name)?;
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

/// Whether a sync operation's result is something to await: `Some("a coroutine")` or
/// `Some("an awaitable")` (an `asyncio.Future`, anything with `__await__`), else `None`. Plain
/// values of the common builtin types skip the attribute lookup.
fn awaitable_kind(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<Option<&'static str>> {
    if v.is_none()
        || v.is_exact_instance_of::<PyString>()
        || v.is_exact_instance_of::<PyInt>()
        || v.is_exact_instance_of::<PyBool>()
        || v.is_exact_instance_of::<PyFloat>()
        || v.is_exact_instance_of::<PyDict>()
        || v.is_exact_instance_of::<PyList>()
        || v.is_exact_instance_of::<PyTuple>()
        || v.is_exact_instance_of::<PyBytes>()
    {
        return Ok(None);
    }
    let ty = v.get_type();
    if ty.is(interop::coroutine_type(py)?) {
        return Ok(Some("a coroutine"));
    }
    Ok(ty
        .hasattr(intern!(py, "__await__"))?
        .then_some("an awaitable"))
}

/// Text from a Python string: at most `max_bytes` worth of it is converted (the core keeps no
/// more), or `fallback` if producing it failed. A failure that is not an `Exception` is kept
/// in `escaped` (the first one) for the caller to raise.
fn text(
    py: Python<'_>,
    s: PyResult<Bound<'_, PyString>>,
    max_bytes: usize,
    fallback: &'static str,
    escaped: &mut Option<PyErr>,
) -> String {
    let s = match s {
        Ok(s) => s,
        Err(e) => {
            if !e.is_instance_of::<PyException>(py) && escaped.is_none() {
                *escaped = Some(e);
            }
            return fallback.to_owned();
        }
    };
    // Every char is at least one UTF-8 byte, so the first `max_bytes` chars hold all the
    // core keeps; converting the rest would be work thrown away.
    let head = match s.len() {
        Ok(n) if n > max_bytes => {
            let end = isize::try_from(max_bytes).unwrap_or(isize::MAX);
            match s.get_item(PySlice::new(py, 0, end, 1)) {
                Ok(h) => h.cast_into::<PyString>().ok(),
                Err(_) => None,
            }
        }
        _ => Some(s),
    };
    match head {
        Some(h) => h.to_string_lossy().into_owned(),
        None => fallback.to_owned(),
    }
}
