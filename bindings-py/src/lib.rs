//! `fact_resilience._native`: pyo3 classes over `fact-resilience-core`.
//!
//! Every method converts its inputs, calls the core and converts the result. The Python package
//! (`bindings-py/python/fact_resilience/`) re-exports these names, defines `CircuitState` and
//! `CacheError`, and adds the `async` methods, which only await and translate.
#![forbid(unsafe_code)]

mod breaker;
mod cache_calls;
mod cache_key;
mod calls;
mod clock;
mod config;
mod errors;
mod health;
mod hierarchy;
mod interop;
mod listeners;
mod manager_metrics;
mod metrics;
mod origin;
mod permit;
mod refusal;
mod registry;
mod sim;
mod wrapper;
mod wrapper_origin;

use pyo3::prelude::*;

/// Registers the exception class raised for refused calls (e.g. FACT's `CacheError`), or
/// restores the package's own with `None`. It is built as
/// `cls(message, error_code=..., context=...)`.
#[pyfunction]
#[pyo3(signature = (cls))]
fn set_error_class(cls: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    errors::set_error_class(cls.filter(|c| !c.is_none()))
}

/// The exception class raised for refused calls by breakers without their own `error_class`.
#[pyfunction]
fn get_error_class(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    errors::error_class(py)
}

/// Test hook: panics in Rust, to prove a panic surfaces as a Python exception.
#[pyfunction]
fn _panic_for_tests() {
    panic!("deliberate panic from fact_resilience._native._panic_for_tests");
}

/// Cargo's version in PEP 440 form (`1.2.3-rc.1` -> `1.2.3rc1`).
fn pep440(v: &str) -> String {
    v.replacen("-alpha.", "a", 1)
        .replacen("-beta.", "b", 1)
        .replacen("-rc.", "rc", 1)
        .replacen('-', "+", 1)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", pep440(env!("CARGO_PKG_VERSION")))?;
    m.add("CIRCUIT_BREAKER_OPEN", errors::CODE_OPEN)?;
    m.add("CIRCUIT_BREAKER_THROTTLING", errors::CODE_THROTTLING)?;
    m.add("_END_AFTER_FAILURE", cache_calls::RETURN_AFTER_FAILURE)?;
    m.add("_END_RAISE", cache_calls::RAISE)?;
    m.add("_LOAD_LEAD", wrapper_origin::LEAD)?;
    m.add("_LOAD_JOIN", wrapper_origin::JOIN)?;
    m.add("_LOAD_VALUE", wrapper_origin::VALUE)?;
    m.add("ORIGIN_BUSY", errors::CODE_ORIGIN_BUSY)?;
    m.add(
        "MAX_SCENARIO_CALLS",
        fact_resilience_core::MAX_SCENARIO_CALLS,
    )?;
    m.add("SCENARIOS", sim::scenario_names())?;
    m.add(
        "SLOW_CALL_SECONDS",
        fact_resilience_core::SLOW_CALL.as_secs_f64(),
    )?;
    m.add(
        "MIN_HEALTH_CHECK_INTERVAL",
        config::MIN_HEALTH_CHECK_INTERVAL,
    )?;
    m.add_class::<config::PyConfig>()?;
    config::install_fields(m.py())?;
    m.add_function(wrap_pyfunction!(config::_config_fields, m)?)?;
    m.add_class::<clock::PyManualClock>()?;
    m.add_class::<metrics::PyFailureRecord>()?;
    m.add_class::<metrics::PyMetrics>()?;
    m.add_class::<permit::PyPermit>()?;
    m.add_class::<refusal::PyRefusal>()?;
    m.add_class::<breaker::PyBreaker>()?;
    m.add_class::<health::PyHealthThresholds>()?;
    health::register(m)?;
    m.add_class::<wrapper::PyWrapper>()?;
    m.add_class::<registry::PyRegistry>()?;
    m.add_class::<registry::PyPathPermit>()?;
    m.add_class::<origin::PyOriginGuard>()?;
    m.add_function(wrap_pyfunction!(sim::presets, m)?)?;
    m.add_function(wrap_pyfunction!(sim::simulate_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(sim::simulate_trace, m)?)?;
    m.add_function(wrap_pyfunction!(sim::timeline_figures, m)?)?;
    m.add_function(wrap_pyfunction!(set_error_class, m)?)?;
    m.add_function(wrap_pyfunction!(get_error_class, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(clock::_clock_kind, m)?)?;
    Ok(())
}
