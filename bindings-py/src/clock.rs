//! Time for the breaker: the monotonic clock it reads (the OS clock, a shared `ManualClock`, or
//! any Python callable returning monotonic seconds) and the wall clock stamped on failures.

use crate::errors::{type_error, value_error};
use crate::interop::log_error;
use fact_resilience_core::{Clock, Instant, ManualClock, wall_clock_seconds};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};
use std::sync::OnceLock;
use std::time::Duration;

/// Seconds as whole nanoseconds, refusing what is not finite or is negative.
fn seconds_to_nanos(field: &str, s: f64) -> PyResult<u64> {
    if s.is_finite() && s >= 0.0 {
        Ok((s * 1e9).round().min(u64::MAX as f64) as u64)
    } else {
        Err(value_error(field, "must be finite and >= 0", s))
    }
}

fn seconds_arg(field: &str, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    if v.is_instance_of::<PyBool>()
        || !(v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>())
    {
        return Err(type_error(field, "a number of seconds", v));
    }
    v.extract::<f64>()
}

/// A clock that moves only when told to, for tests and what-if runs of a configuration.
///
/// Pass it as `CacheCircuitBreaker(config, clock=clock)`; several breakers may share one.
/// It is also a callable returning its time in seconds.
#[pyclass(frozen, module = "fact_resilience", name = "ManualClock")]
pub struct PyManualClock {
    pub(crate) clock: ManualClock,
}

#[pymethods]
impl PyManualClock {
    #[new]
    #[pyo3(signature = (start = 0.0))]
    fn new(start: f64) -> PyResult<Self> {
        let clock = ManualClock::new();
        clock.set(Instant::from_nanos(seconds_to_nanos("start", start)?));
        Ok(PyManualClock { clock })
    }

    /// Moves the clock forward by `seconds` (>= 0).
    fn advance(&self, seconds: &Bound<'_, PyAny>) -> PyResult<()> {
        let s = seconds_arg("seconds", seconds)?;
        let ns = seconds_to_nanos("seconds", s)?;
        self.clock.advance(Duration::from_nanos(ns));
        Ok(())
    }

    /// Moves the clock forward by exactly `nanoseconds`.
    fn advance_ns(&self, nanoseconds: u64) {
        self.clock.advance(Duration::from_nanos(nanoseconds));
    }

    /// Sets the time in seconds; an earlier time than the current one is ignored.
    fn set(&self, seconds: &Bound<'_, PyAny>) -> PyResult<()> {
        let s = seconds_arg("seconds", seconds)?;
        self.clock
            .set(Instant::from_nanos(seconds_to_nanos("seconds", s)?));
        Ok(())
    }

    /// The current time in seconds.
    fn now(&self) -> f64 {
        self.clock.now().as_nanos() as f64 / 1e9
    }

    /// The current time in whole nanoseconds.
    fn now_ns(&self) -> u64 {
        self.clock.now().as_nanos()
    }

    fn __call__(&self) -> f64 {
        self.now()
    }

    fn __repr__(&self) -> String {
        format!("ManualClock(now={})", self.now())
    }
}

/// The process-wide default clock. It counts nanoseconds from its first use, read from the
/// OS monotonic clock (`std::time::Instant`) until the CPU's TSC has been calibrated against it
/// (quanta) on a background thread, then from the TSC: cheaper than `clock_gettime`, which
/// matters with two reads per call (see `core/BENCHMARKS.md`). Calibration busy-waits for at
/// least half a millisecond and, on a busy machine, up to 200 ms; in the background, neither
/// the import nor the first breaker waits for it. Where the thread cannot run (or a process
/// forked before it finished), the OS clock simply stays in use.
pub struct FastClock {
    origin: std::time::Instant,
    tsc: OnceLock<Tsc>,
}

static FAST_CLOCK: OnceLock<FastClock> = OnceLock::new();

/// The calibrated TSC, joined onto the OS clock's timeline at `base`.
struct Tsc {
    clock: quanta::Clock,
    /// The TSC reading taken at the switch.
    raw0: u64,
    /// Nanoseconds since `origin` on the OS clock, read just after `raw0`: TSC instants are
    /// `base` plus the TSC time since `raw0`, so none is earlier than an OS-clock instant read
    /// before the switch.
    base: u64,
}

impl FastClock {
    fn global() -> &'static FastClock {
        FAST_CLOCK.get_or_init(|| {
            let spawned = std::thread::Builder::new()
                .name("fact-resilience-tsc".into())
                .spawn(|| FastClock::global().calibrate());
            drop(spawned); // if no thread can be spawned, the OS clock stays in use
            FastClock {
                origin: std::time::Instant::now(),
                tsc: OnceLock::new(),
            }
        })
    }

    /// Calibrates the TSC (slow) and switches to it.
    fn calibrate(&self) {
        let clock = quanta::Clock::new();
        let raw0 = clock.raw();
        let base = self.os_nanos();
        let _ = self.tsc.set(Tsc { clock, raw0, base });
    }

    fn os_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    #[inline]
    fn now(&self) -> Instant {
        Instant::from_nanos(match self.tsc.get() {
            Some(t) => t
                .base
                .saturating_add(t.clock.delta_as_nanos(t.raw0, t.clock.raw())),
            None => self.os_nanos(),
        })
    }
}

/// Which clock the default time source reads now: `"unused"` (no breaker has needed it yet),
/// `"os"` (the TSC is still being calibrated) or `"tsc"`. For tests and benchmarks.
#[pyfunction]
pub fn _clock_kind() -> &'static str {
    match FAST_CLOCK.get() {
        None => "unused",
        Some(c) if c.tsc.get().is_none() => "os",
        Some(_) => "tsc",
    }
}

/// Where a breaker reads monotonic time.
pub enum ClockSource {
    /// The process-wide monotonic clock (read in Rust).
    Monotonic(&'static FastClock),
    /// A `ManualClock` (read in Rust; shared with the Python object).
    Manual(ManualClock),
    /// A Python callable returning monotonic seconds.
    Callable(Py<PyAny>),
}

impl ClockSource {
    /// From the `clock=` argument: None, a `ManualClock`, or a callable.
    pub fn from_arg(clock: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        match clock {
            None => Ok(ClockSource::Monotonic(FastClock::global())),
            Some(c) if c.is_none() => Ok(ClockSource::Monotonic(FastClock::global())),
            Some(c) => {
                if let Ok(m) = c.cast::<PyManualClock>() {
                    Ok(ClockSource::Manual(m.get().clock.clone()))
                } else if c.is_callable() {
                    Ok(ClockSource::Callable(c.clone().unbind()))
                } else {
                    Err(type_error(
                        "clock",
                        "a ManualClock or a callable returning monotonic seconds",
                        c,
                    ))
                }
            }
        }
    }

    /// The current instant. Only a Python callable can fail.
    #[inline]
    pub fn now(&self, py: Python<'_>) -> PyResult<Instant> {
        match self {
            ClockSource::Monotonic(c) => Ok(c.now()),
            ClockSource::Manual(c) => Ok(c.now()),
            ClockSource::Callable(f) => {
                let v = f.bind(py).call0()?;
                let s = seconds_arg("clock()", &v)?;
                Ok(Instant::from_nanos(seconds_to_nanos("clock()", s)?))
            }
        }
    }

    /// The time for reporting an outcome. A failing clock callable must not lose the outcome,
    /// so its error is logged and the core's latest instant is used (earlier instants are
    /// clamped to it).
    pub fn now_for_outcome(&self, py: Python<'_>) -> Instant {
        self.now(py).unwrap_or_else(|e| {
            log_error(
                py,
                "clock %r failed; using the latest time seen",
                &self.obj(py),
                e,
            );
            Instant::ZERO
        })
    }

    fn obj<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self {
            ClockSource::Callable(f) => f.bind(py).clone(),
            _ => py.None().into_bound(py),
        }
    }
}

/// Where a breaker reads wall-clock time for failure records.
pub enum WallClock {
    /// `time.time()`, read in Rust.
    System,
    /// A Python callable returning seconds since the epoch.
    Callable(Py<PyAny>),
}

impl WallClock {
    /// From the `wall_clock=` argument: None or a callable.
    pub fn from_arg(wall: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        match wall {
            None => Ok(WallClock::System),
            Some(w) if w.is_none() => Ok(WallClock::System),
            Some(w) if w.is_callable() => Ok(WallClock::Callable(w.clone().unbind())),
            Some(w) => Err(type_error(
                "wall_clock",
                "a callable returning epoch seconds",
                w,
            )),
        }
    }

    /// Seconds since the epoch.
    pub fn now(&self, py: Python<'_>) -> PyResult<f64> {
        match self {
            WallClock::System => Ok(wall_clock_seconds()),
            WallClock::Callable(f) => {
                let v = f.bind(py).call0()?;
                seconds_arg("wall_clock()", &v)
            }
        }
    }

    /// The timestamp for a failure record. A failing callable is logged and `time.time()`
    /// used instead.
    pub fn now_for_record(&self, py: Python<'_>) -> f64 {
        self.now(py).unwrap_or_else(|e| {
            log_error(
                py,
                "wall_clock %r failed; using time.time()",
                &py.None().into_bound(py),
                e,
            );
            wall_clock_seconds()
        })
    }
}
