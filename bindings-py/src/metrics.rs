//! `FailureRecord` and `CircuitBreakerMetrics`: plain snapshots, detached from the breaker.

use crate::interop::state_member;
use fact_resilience_core::{FailureRecord, Metrics};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

/// One remembered failure (FACT's `FailureRecord`).
#[pyclass(frozen, module = "fact_resilience", name = "FailureRecord")]
pub struct PyFailureRecord {
    /// Wall-clock seconds since the epoch (`time.time()`).
    #[pyo3(get)]
    timestamp: f64,
    /// The exception's class name.
    #[pyo3(get)]
    error_type: String,
    /// `str(exc)`, cut to `max_message_bytes`.
    #[pyo3(get)]
    error_message: String,
    /// The operation name the caller gave.
    #[pyo3(get)]
    operation: String,
}

impl From<&FailureRecord> for PyFailureRecord {
    fn from(r: &FailureRecord) -> Self {
        PyFailureRecord {
            timestamp: r.timestamp,
            error_type: r.error_type.clone(),
            error_message: r.error_message.clone(),
            operation: r.operation.clone(),
        }
    }
}

#[pymethods]
impl PyFailureRecord {
    #[new]
    fn new(timestamp: f64, error_type: String, error_message: String, operation: String) -> Self {
        PyFailureRecord {
            timestamp,
            error_type,
            error_message,
            operation,
        }
    }

    /// The record as a plain dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("timestamp", self.timestamp)?;
        d.set_item("error_type", &self.error_type)?;
        d.set_item("error_message", &self.error_message)?;
        d.set_item("operation", &self.operation)?;
        Ok(d)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyFailureRecord>().is_ok_and(|o| {
            let o = o.get();
            (
                self.timestamp,
                &self.error_type,
                &self.error_message,
                &self.operation,
            ) == (o.timestamp, &o.error_type, &o.error_message, &o.operation)
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = |s: &str| -> PyResult<String> { Ok(PyString::new(py, s).repr()?.to_string()) };
        Ok(format!(
            "FailureRecord(timestamp={:?}, error_type={}, error_message={}, operation={})",
            self.timestamp,
            r(&self.error_type)?,
            r(&self.error_message)?,
            r(&self.operation)?
        ))
    }
}

/// A point-in-time view of a breaker (FACT's `CircuitBreakerMetrics`).
#[pyclass(frozen, module = "fact_resilience", name = "CircuitBreakerMetrics")]
pub struct PyMetrics {
    /// The state, as a `CircuitState` member.
    #[pyo3(get)]
    state: Py<PyAny>,
    /// Failures since creation or reset.
    #[pyo3(get)]
    failure_count: u64,
    /// Successes since creation or reset.
    #[pyo3(get)]
    success_count: u64,
    /// `success_count + failure_count`.
    #[pyo3(get)]
    total_operations: u64,
    /// Failures / completed calls in the rolling window (0..1).
    #[pyo3(get)]
    failure_rate: f64,
    /// Completed calls in the rolling window.
    #[pyo3(get)]
    window_calls: u64,
    /// Real transitions since creation or reset.
    #[pyo3(get)]
    state_changes: u64,
    /// Seconds since the last transition.
    #[pyo3(get)]
    time_in_current_state: f64,
    /// The newest failures, oldest first (a list: slicing works).
    #[pyo3(get)]
    recent_failures: Py<PyList>,
    /// Epoch seconds of the newest failure, or None.
    #[pyo3(get)]
    last_failure_time: Option<f64>,
    /// Failures in a row while CLOSED.
    #[pyo3(get)]
    consecutive_failures: u32,
    /// Calls refused while OPEN.
    #[pyo3(get)]
    rejected_count: u64,
    /// Calls turned away in HALF_OPEN.
    #[pyo3(get)]
    throttled_count: u64,
    /// Calls reported neutral (e.g. cancelled).
    #[pyo3(get)]
    neutral_count: u64,
    /// Probes admitted in the current HALF_OPEN episode.
    #[pyo3(get)]
    half_open_admitted: u32,
    /// Probes that succeeded in the current HALF_OPEN episode.
    #[pyo3(get)]
    half_open_successes: u32,
    /// Probes in flight in the current HALF_OPEN episode.
    #[pyo3(get)]
    half_open_in_flight: u32,
    /// Slow calls the slow-call rule counts now (completed, or in flight past the duration);
    /// 0 while the rule is off.
    #[pyo3(get)]
    slow_call_count: u64,
    /// `slow_call_count` over the calls that rule judges (0..1).
    #[pyo3(get)]
    slow_call_rate: f64,
    /// Calls admitted in the rolling window and not yet reported, counted while a rate rule
    /// is on; 0 otherwise.
    #[pyo3(get)]
    calls_in_flight: u64,
    /// Seconds the circuit stays OPEN this time (backoff and jitter applied); outside OPEN,
    /// the last open time, or `timeout_seconds` after a close.
    #[pyo3(get)]
    open_duration: f64,
    /// The share of calls the post-close ramp admits now; 1.0 when no ramp runs.
    #[pyo3(get)]
    ramp_share: f64,
    /// The summed `failure_weights` of the current run (equal to `consecutive_failures`
    /// without weights).
    #[pyo3(get)]
    consecutive_failure_weight: f64,
}

impl PyMetrics {
    /// A snapshot from the core's metrics and failure log.
    pub fn build(py: Python<'_>, m: &Metrics, failures: &[FailureRecord]) -> PyResult<Self> {
        let list = PyList::empty(py);
        for r in failures {
            list.append(Py::new(py, PyFailureRecord::from(r))?)?;
        }
        Ok(PyMetrics {
            state: state_member(py, m.state)?.unbind(),
            failure_count: m.failure_count,
            success_count: m.success_count,
            total_operations: m.total_operations,
            failure_rate: m.failure_rate,
            window_calls: m.window_calls,
            state_changes: m.state_changes,
            time_in_current_state: m.time_in_current_state.as_secs_f64(),
            recent_failures: list.unbind(),
            last_failure_time: m.last_failure_time,
            consecutive_failures: m.consecutive_failures,
            rejected_count: m.rejected_count,
            throttled_count: m.throttled_count,
            neutral_count: m.neutral_count,
            half_open_admitted: m.half_open_admitted,
            half_open_successes: m.half_open_successes,
            half_open_in_flight: m.half_open_in_flight,
            slow_call_count: m.slow_call_count,
            slow_call_rate: m.slow_call_rate,
            calls_in_flight: m.calls_in_flight,
            open_duration: m.open_duration.as_secs_f64(),
            ramp_share: m.ramp_share,
            consecutive_failure_weight: m.consecutive_failure_weight,
        })
    }
}

#[pymethods]
impl PyMetrics {
    /// Records held in `recent_failures`.
    #[getter]
    fn recent_failures_count(&self, py: Python<'_>) -> usize {
        self.recent_failures.bind(py).len()
    }

    /// The metrics as a JSON-safe dict: `state` is its string value and `recent_failures`
    /// becomes `recent_failures_count`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("state", self.state.bind(py).getattr("value")?)?;
        d.set_item("failure_count", self.failure_count)?;
        d.set_item("success_count", self.success_count)?;
        d.set_item("total_operations", self.total_operations)?;
        d.set_item("failure_rate", self.failure_rate)?;
        d.set_item("state_changes", self.state_changes)?;
        d.set_item("time_in_current_state", self.time_in_current_state)?;
        d.set_item("recent_failures_count", self.recent_failures_count(py))?;
        d.set_item("last_failure_time", self.last_failure_time)?;
        d.set_item("consecutive_failures", self.consecutive_failures)?;
        d.set_item("rejected_count", self.rejected_count)?;
        d.set_item("throttled_count", self.throttled_count)?;
        d.set_item("neutral_count", self.neutral_count)?;
        d.set_item("window_calls", self.window_calls)?;
        d.set_item("half_open_admitted", self.half_open_admitted)?;
        d.set_item("half_open_successes", self.half_open_successes)?;
        d.set_item("half_open_in_flight", self.half_open_in_flight)?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "CircuitBreakerMetrics(state={}, failure_count={}, success_count={}, \
             total_operations={}, failure_rate={:?}, state_changes={}, recent_failures=[{} records])",
            self.state.bind(py).repr()?,
            self.failure_count,
            self.success_count,
            self.total_operations,
            self.failure_rate,
            self.state_changes,
            self.recent_failures_count(py)
        ))
    }
}
