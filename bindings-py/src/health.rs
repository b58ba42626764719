//! `HealthThresholds` and the conversion of the core's health report to a Python dict. The
//! rules, defaults, bounds and readiness policies are the core's (`fact_resilience_core::health`);
//! this file only converts.

use fact_resilience_core::{HealthReport, HealthThresholds, ReadinessPolicy, Rule};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// The health report's thresholds; every argument left out takes the seed's default.
#[pyclass(frozen, module = "fact_resilience._native", name = "HealthThresholds")]
#[derive(Clone)]
pub struct PyHealthThresholds {
    pub core: HealthThresholds,
}

#[pymethods]
impl PyHealthThresholds {
    #[new]
    #[pyo3(signature = (
        *, critical_open_seconds = None, critical_state_changes_per_hour = None,
        critical_failure_rate = None, warning_failure_rate = None,
        warning_recovery_attempts = None, warning_half_open_seconds = None
    ))]
    fn new(
        critical_open_seconds: Option<f64>,
        critical_state_changes_per_hour: Option<f64>,
        critical_failure_rate: Option<f64>,
        warning_failure_rate: Option<f64>,
        warning_recovery_attempts: Option<f64>,
        warning_half_open_seconds: Option<f64>,
    ) -> PyResult<Self> {
        let given = [
            critical_open_seconds,
            critical_state_changes_per_hour,
            critical_failure_rate,
            warning_failure_rate,
            warning_recovery_attempts,
            warning_half_open_seconds,
        ];
        let mut core = HealthThresholds::default();
        for (rule, value) in Rule::ALL.into_iter().zip(given) {
            if let Some(v) = value {
                core.set(rule.as_str(), v)
                    .map_err(|e| PyValueError::new_err(e.to_string()))?;
            }
        }
        Ok(PyHealthThresholds { core })
    }

    /// `{field: value}` for all six thresholds.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for rule in Rule::ALL {
            d.set_item(rule.as_str(), self.core.get(rule))?;
        }
        Ok(d)
    }

    #[getter]
    fn critical_open_seconds(&self) -> f64 {
        self.core.critical_open_seconds
    }
    #[getter]
    fn critical_state_changes_per_hour(&self) -> f64 {
        self.core.critical_state_changes_per_hour
    }
    #[getter]
    fn critical_failure_rate(&self) -> f64 {
        self.core.critical_failure_rate
    }
    #[getter]
    fn warning_failure_rate(&self) -> f64 {
        self.core.warning_failure_rate
    }
    #[getter]
    fn warning_recovery_attempts(&self) -> f64 {
        self.core.warning_recovery_attempts
    }
    #[getter]
    fn warning_half_open_seconds(&self) -> f64 {
        self.core.warning_half_open_seconds
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyHealthThresholds>()
            .is_ok_and(|o| o.get().core == self.core)
    }

    fn __repr__(&self) -> String {
        let fields: Vec<String> = Rule::ALL
            .iter()
            .map(|r| format!("{}={:?}", r.as_str(), self.core.get(*r)))
            .collect();
        format!("HealthThresholds({})", fields.join(", "))
    }
}

/// The readiness policy called `name`, or a `ValueError` naming `unready_when`.
pub fn policy(name: &str) -> PyResult<ReadinessPolicy> {
    ReadinessPolicy::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = ReadinessPolicy::ALL.iter().map(|p| p.as_str()).collect();
        PyValueError::new_err(format!(
            "unready_when must be one of {}, got {name:?}",
            names.join(", ")
        ))
    })
}

/// The report as `{"status", "alerts": [{"rule", "severity", "value", "threshold"}],
/// "figures": {...}}`: plain, JSON-safe values.
pub fn report_dict<'py>(py: Python<'py>, r: &HealthReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("status", r.status.as_str())?;
    let alerts = PyList::empty(py);
    for a in r.alerts() {
        let x = PyDict::new(py);
        x.set_item("rule", a.rule.as_str())?;
        x.set_item("severity", a.severity.as_str())?;
        x.set_item("value", a.value)?;
        x.set_item("threshold", a.threshold)?;
        alerts.append(x)?;
    }
    d.set_item("alerts", alerts)?;
    let f = &r.figures;
    let figures = PyDict::new(py);
    figures.set_item("state", f.state.as_str())?;
    figures.set_item("time_in_state_seconds", f.time_in_state.as_secs_f64())?;
    figures.set_item("failure_rate", f.failure_rate)?;
    figures.set_item("window_calls", f.window_calls)?;
    figures.set_item("state_changes_last_hour", f.state_changes_last_hour)?;
    figures.set_item("recovery_attempts", f.recovery_attempts)?;
    d.set_item("figures", figures)?;
    Ok(d)
}

/// Raises `ValueError` unless `namespace` is a metric-name prefix Prometheus accepts.
#[pyfunction]
pub fn check_namespace(namespace: &str) -> PyResult<()> {
    fact_resilience_core::check_namespace(namespace)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Adds the exposition constants the core declares: `METRIC_FAMILIES` as
/// `((name, kind, labels, help), ...)`, `DEFAULT_NAMESPACE`, `HEALTH_STATUS_LEVELS`
/// (`{"ok": 0, "warning": 1, "critical": 2}`), `HEALTH_RULES` (`[(rule, severity)]`) and
/// `READINESS_POLICIES`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    use fact_resilience_core::{METRIC_FAMILIES, Severity};
    let families: Vec<(&str, &str, Vec<&str>, &str)> = METRIC_FAMILIES
        .iter()
        .map(|f| (f.name, f.kind.as_str(), f.labels.to_vec(), f.help))
        .collect();
    m.add("METRIC_FAMILIES", families)?;
    m.add("DEFAULT_NAMESPACE", fact_resilience_core::DEFAULT_NAMESPACE)?;
    let levels = PyDict::new(m.py());
    for s in [Severity::Ok, Severity::Warning, Severity::Critical] {
        levels.set_item(s.as_str(), s.level())?;
    }
    m.add("HEALTH_STATUS_LEVELS", levels)?;
    let policies: Vec<&str> = ReadinessPolicy::ALL.iter().map(|p| p.as_str()).collect();
    m.add("READINESS_POLICIES", policies)?;
    let rules: Vec<(&str, &str)> = Rule::ALL
        .iter()
        .map(|r| (r.as_str(), r.severity().as_str()))
        .collect();
    m.add("HEALTH_RULES", rules)?;
    m.add_function(wrap_pyfunction!(check_namespace, m)?)?;
    Ok(())
}
