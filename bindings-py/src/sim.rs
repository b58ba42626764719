//! The core's simulator and FACT's presets, for `fact-resilience simulate`.
//!
//! Reports come back as plain dicts (JSON-safe) with times in seconds from the trace's start.

use crate::config::{Fields, PyConfig};
use fact_resilience_core::{
    Call, Config, Instant, MAX_SCENARIO_CALLS, PRESETS, Reason, Scenario, SimReport, Simulation,
    State, TimelineFigures, Transition,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::time::Duration;

/// FACT's named presets as `{name: CircuitBreakerConfig}`, in the guide's order.
#[pyfunction]
pub fn presets(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    for name in PRESETS {
        let core = Config::preset(name).expect("every listed preset exists");
        let config = PyConfig::from_fields(Fields {
            core,
            ..Fields::default()
        });
        out.set_item(name, Py::new(py, config)?)?;
    }
    Ok(out)
}

/// The built-in scenarios' names, in the core's order.
pub fn scenario_names() -> Vec<&'static str> {
    Scenario::ALL.iter().map(|&(name, _)| name).collect()
}

/// Calls simulated between checks for Ctrl-C (and, for a scenario, between releases of the
/// GIL's detachment): small enough to answer promptly, large enough to cost nothing.
const CHUNK: usize = 1 << 16;

/// Runs a built-in scenario: `rate` calls/s for `duration` seconds, outcomes drawn with `seed`.
/// Refuses more than `MAX_SCENARIO_CALLS` calls; Ctrl-C interrupts a long run.
#[pyfunction]
#[pyo3(signature = (config, scenario, rate, duration, seed, sample_every))]
pub fn simulate_scenario<'py>(
    py: Python<'py>,
    config: PyRef<'_, PyConfig>,
    scenario: &str,
    rate: f64,
    duration: f64,
    seed: u64,
    sample_every: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let s = Scenario::from_name(scenario)
        .ok_or_else(|| PyValueError::new_err(format!("scenario: unknown scenario {scenario:?}")))?;
    let duration = seconds("duration", duration)?;
    let every = seconds("sample_every", sample_every)?;
    let n = Scenario::call_count(rate, duration);
    if n > MAX_SCENARIO_CALLS {
        return Err(PyValueError::new_err(format!(
            "rate, duration: rate x duration must be at most {MAX_SCENARIO_CALLS} calls, got {n}"
        )));
    }
    let core = core_config(&config);
    let mut sim = s
        .simulation(&core, every)
        .map_err(|e| crate::errors::config_error(&e))?;
    let mut calls = s.calls(rate, duration, seed);
    loop {
        let done = py.detach(|| {
            for _ in 0..CHUNK {
                match calls.next() {
                    Some(c) => sim.offer(c),
                    None => return true,
                }
            }
            false
        });
        py.check_signals()?;
        if done {
            break;
        }
    }
    report_dict(py, &sim.finish(), Instant::ZERO)
}

/// Replays a recorded trace through every config in one pass: `calls` is an iterable of
/// `(time_seconds, ok, latency_ms, error_kind)` in arrival order (`error_kind` a str, empty
/// when the trace names none), pulled one at a time (a trace of any length takes constant
/// memory). Returns one report per config, in order.
#[pyfunction]
#[pyo3(signature = (configs, calls, sample_every))]
pub fn simulate_trace<'py>(
    py: Python<'py>,
    configs: Vec<PyRef<'_, PyConfig>>,
    calls: &Bound<'py, PyAny>,
    sample_every: f64,
) -> PyResult<Bound<'py, PyList>> {
    let every = seconds("sample_every", sample_every)?;
    let cores: Vec<Config> = configs.iter().map(|c| core_config(c)).collect();
    let mut sims: Vec<Simulation> = Vec::new();
    let mut start = Instant::ZERO;
    for (i, item) in calls.try_iter()?.enumerate() {
        let item = item?;
        let (t, ok, lat, kind): (f64, bool, f64, Bound<'py, PyAny>) =
            item.extract().map_err(|_| {
                PyValueError::new_err(format!(
                    "calls[{i}]: expected a (time_seconds, ok, latency_ms, error_kind) tuple"
                ))
            })?;
        let kind = kind
            .cast_into::<pyo3::types::PyString>()
            .map_err(|_| PyValueError::new_err(format!("calls[{i}]: error_kind must be a str")))?;
        let kind = kind.to_cow()?;
        let at = Instant::from_nanos(nanos(seconds("calls: time_seconds", t)?));
        let latency = seconds("calls: latency_ms", lat / 1000.0)?;
        if i == 0 {
            start = at;
            sims = cores
                .iter()
                .map(|c| Simulation::new(c, at, every))
                .collect::<Result<_, _>>()
                .map_err(|e| crate::errors::config_error(&e))?;
        }
        let call = Call {
            at,
            ok,
            latency,
            kind: &kind,
        };
        for sim in &mut sims {
            sim.offer(call);
        }
        if i % CHUNK == CHUNK - 1 {
            py.check_signals()?;
        }
    }
    if sims.is_empty() {
        sims = cores
            .iter()
            .map(|c| Simulation::new(c, start, every))
            .collect::<Result<_, _>>()
            .map_err(|e| crate::errors::config_error(&e))?;
    }
    let out = PyList::empty(py);
    for sim in sims {
        out.append(report_dict(py, &sim.finish(), start)?)?;
    }
    Ok(out)
}

fn core_config(config: &PyConfig) -> Config {
    let (Fields { core, .. }, _) = config.snapshot();
    core
}

/// A non-negative, finite number of seconds.
fn seconds(name: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| {
        PyValueError::new_err(format!("{name}: must be a finite number >= 0, got {s}"))
    })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn report_dict<'py>(
    py: Python<'py>,
    r: &SimReport,
    start: Instant,
) -> PyResult<Bound<'py, PyDict>> {
    let secs = |t: Instant| t.saturating_duration_since(start).as_secs_f64();
    let d = PyDict::new(py);
    d.set_item("calls", r.calls)?;
    d.set_item("admitted", r.admitted)?;
    d.set_item("rejected", r.rejected)?;
    d.set_item("throttled", r.throttled)?;
    d.set_item("failed_admitted", r.failed_admitted)?;
    d.set_item("slow_admitted", r.slow_admitted)?;
    d.set_item("peak_admitted_per_second", r.peak_admitted_per_second)?;
    d.set_item("retries", r.retries)?;
    d.set_item("trips", r.trips)?;
    d.set_item("first_trip_seconds", r.first_trip.map(secs))?;
    d.set_item("flaps", r.flaps)?;
    d.set_item("flaps_per_hour", r.flaps_per_hour())?;
    d.set_item("time_open_seconds", r.time_open.as_secs_f64())?;
    d.set_item("time_half_open_seconds", r.time_half_open.as_secs_f64())?;
    d.set_item("duration_seconds", r.duration.as_secs_f64())?;
    d.set_item("fault_end_seconds", r.fault_end.map(secs))?;
    d.set_item("recovery_seconds", r.recovery_time.map(|t| t.as_secs_f64()))?;
    let timeline = PyList::empty(py);
    for t in &r.timeline {
        let e = PyDict::new(py);
        e.set_item("at_seconds", secs(t.at))?;
        e.set_item("from", t.from.as_str())?;
        e.set_item("to", t.to.as_str())?;
        e.set_item("reason", t.reason.as_str())?;
        timeline.append(e)?;
    }
    d.set_item("timeline", timeline)?;
    let samples = PyList::empty(py);
    for s in &r.samples {
        let e = PyDict::new(py);
        e.set_item("at_seconds", secs(s.at))?;
        e.set_item("state", s.state.as_str())?;
        e.set_item("failure_rate", s.failure_rate)?;
        e.set_item("window_calls", s.window_calls)?;
        e.set_item("slow_call_rate", s.slow_call_rate)?;
        e.set_item("ramp_share", s.ramp_share)?;
        samples.append(e)?;
    }
    d.set_item("samples", samples)?;
    Ok(d)
}

fn instant_of(field: &str, seconds: f64) -> PyResult<Instant> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok(Instant::from_nanos((seconds * 1e9) as u64))
    } else {
        Err(PyValueError::new_err(format!(
            "{field} must be finite seconds >= 0, got {seconds}"
        )))
    }
}

fn state_of(field: &str, name: &str) -> PyResult<State> {
    State::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "{field} must be 'closed', 'open' or 'half_open', got {name:?}"
        ))
    })
}

/// The core's figures for a real breaker's logged transitions, as `simulate` computes them:
/// `transitions` are `(t, from, to)` with `t` in seconds since `0`; the breaker was in `state`
/// at `end`; the faults ended at `fault_end`. Returns `{"time_open", "time_half_open",
/// "recovery_time"}` in seconds (`recovery_time` None if it never closed).
#[pyfunction]
#[pyo3(signature = (transitions, end, state, fault_end=None))]
pub fn timeline_figures<'py>(
    py: Python<'py>,
    transitions: Vec<(f64, String, String)>,
    end: f64,
    state: &str,
    fault_end: Option<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let timeline = transitions
        .iter()
        .map(|(t, from, to)| {
            Ok(Transition {
                from: state_of("transitions[].from", from)?,
                to: state_of("transitions[].to", to)?,
                // The figures depend on states and times only.
                reason: Reason::Reset,
                at: instant_of("transitions[].t", *t)?,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let fault_end = fault_end.map(|f| instant_of("fault_end", f)).transpose()?;
    let f = TimelineFigures::of(
        &timeline,
        Instant::ZERO,
        instant_of("end", end)?,
        state_of("state", state)?,
        fault_end,
    );
    let d = PyDict::new(py);
    d.set_item("time_open", f.time_open.as_secs_f64())?;
    d.set_item("time_half_open", f.time_half_open.as_secs_f64())?;
    d.set_item("recovery_time", f.recovery_time.map(|r| r.as_secs_f64()))?;
    Ok(d)
}
