//! `Permit`: one admitted call, as handed out by `CacheCircuitBreaker.acquire()`.

use fact_resilience_core::Permit;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Leave to run one call, from `CacheCircuitBreaker.acquire()`. Report its outcome exactly
/// once with `record_success`, `record_failure` or `record_neutral`.
#[pyclass(frozen, module = "fact_resilience", name = "Permit")]
pub struct PyPermit {
    /// [`Permit::to_token`]: the bits, and the admission instant when a rate rule was on.
    token: u128,
    pub(crate) operation: Py<PyAny>,
    spent: AtomicBool,
}

#[pymethods]
impl PyPermit {
    /// Whether this call is a HALF_OPEN probe.
    #[getter]
    fn probe(&self) -> bool {
        Permit::from_token(self.token).is_probe()
    }

    /// The breaker generation this permit was issued in.
    #[getter]
    fn generation(&self) -> u64 {
        Permit::from_token(self.token).generation()
    }

    /// The operation name given to `acquire`.
    #[getter]
    fn operation(&self, py: Python<'_>) -> Py<PyAny> {
        self.operation.clone_ref(py)
    }

    /// Whether an outcome was already reported.
    #[getter]
    fn reported(&self) -> bool {
        self.spent.load(Ordering::Acquire)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Permit(operation={}, probe={}, generation={}, reported={})",
            self.operation.bind(py).repr()?,
            self.probe(),
            self.generation(),
            self.reported()
        ))
    }
}

impl PyPermit {
    /// An unreported permit for a call named `operation`.
    pub(crate) fn new(permit: Permit, operation: Bound<'_, PyAny>) -> Self {
        PyPermit {
            token: permit.to_token(),
            operation: operation.unbind(),
            spent: AtomicBool::new(false),
        }
    }

    /// The core permit, or `RuntimeError` if an outcome was already reported.
    pub(crate) fn take(&self) -> PyResult<Permit> {
        if self.spent.swap(true, Ordering::AcqRel) {
            Err(PyRuntimeError::new_err(
                "this permit's outcome was already reported",
            ))
        } else {
            Ok(Permit::from_token(self.token))
        }
    }
}
