//! [`simulate`]: what a configuration would have done with a stream of calls, on virtual time.
//!
//! A trace is a sequence of [`Call`]s in arrival order, each saying whether the cache would
//! have succeeded, how long it would have taken and, for a failure, its kind (which
//! `failure_weights` reads). The simulator offers each call to a [`Breaker`]; an admitted
//! call's outcome is reported when its latency has elapsed (calls overlap, as they do in a
//! real service), a refused call never reaches the cache. Nothing sleeps: a day of traffic
//! replays in milliseconds. Built-in [`Scenario`]s generate traces.

mod figures;
mod scenario;

pub use figures::TimelineFigures;
pub use scenario::Scenario;

use crate::breaker::{Breaker, Permit, Rejection};
use crate::clock::Instant;
use crate::config::{Config, ConfigError, DEFAULT_KIND};
use crate::metrics::Failure;
use crate::state::{Reason, State, Transition};
use alloc::collections::BinaryHeap;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::time::Duration;

/// One call offered to the cache.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Call<'a> {
    /// When it arrives. Calls must come in non-decreasing order (an earlier one is clamped).
    pub at: Instant,
    /// Whether the cache would succeed.
    pub ok: bool,
    /// How long the cache would take to answer.
    pub latency: Duration,
    /// The kind of a failure (an exception class name, say): the key `failure_weights` looks
    /// up. Empty: `"SimulatedFailure"`. Ignored for a success.
    pub kind: &'a str,
}

/// The failure kind of a [`Call`] that names none.
pub const SIMULATED_FAILURE: &str = "SimulatedFailure";

/// What a simulation calls a slow cache call when it counts [`SimReport::slow_admitted`]: one
/// yardstick for every config compared, whatever their own `slow_call_duration_seconds`.
pub const SLOW_CALL: Duration = Duration::from_millis(100);

/// The breaker's figures at one instant, for plotting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// When.
    pub at: Instant,
    /// The state (as [`Breaker::state`]).
    pub state: State,
    /// The rolling-window failure rate.
    pub failure_rate: f64,
    /// Completed calls inside the window (0: the rate is undefined, not zero).
    pub window_calls: u64,
    /// The slow-call rule's rate (0.0 while the rule is off).
    pub slow_call_rate: f64,
    /// The share of calls the post-close ramp admits (1.0 when no ramp runs).
    pub ramp_share: f64,
}

/// What happened during a simulation.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SimReport {
    /// Calls offered (waiting callers' retries included).
    pub calls: u64,
    /// Calls that reached the cache.
    pub admitted: u64,
    /// Calls refused while OPEN.
    pub rejected: u64,
    /// Calls turned away while HALF_OPEN or by the post-close ramp.
    pub throttled: u64,
    /// Admitted calls that failed: load put on a failing cache.
    pub failed_admitted: u64,
    /// Admitted calls that took at least [`SLOW_CALL`]: callers kept waiting on the cache.
    pub slow_admitted: u64,
    /// The most calls admitted within one second of the run (seconds counted from its start):
    /// the peak load the cache saw.
    pub peak_admitted_per_second: u64,
    /// Retries of waiting callers released when the circuit closed (see
    /// [`Simulation::callers_wait`]).
    pub retries: u64,
    /// Times the circuit entered OPEN.
    pub trips: u64,
    /// When the circuit first entered OPEN.
    pub first_trip: Option<Instant>,
    /// Trips that came after the circuit had recovered (closed from HALF_OPEN) at least once.
    pub flaps: u64,
    /// Time spent OPEN.
    pub time_open: Duration,
    /// Time spent HALF_OPEN.
    pub time_half_open: Duration,
    /// From the first call's arrival to the last outcome.
    pub duration: Duration,
    /// Arrival of the last call the cache would have failed (the end of the fault).
    pub fault_end: Option<Instant>,
    /// From `fault_end` until the circuit was CLOSED again (zero if it was CLOSED then);
    /// `None` if it never closed before the trace ended, or there was no fault.
    pub recovery_time: Option<Duration>,
    /// Every transition, in order.
    pub timeline: Vec<Transition>,
    /// The breaker's figures every `sample_every` (empty if that was zero).
    pub samples: Vec<Sample>,
}

impl SimReport {
    /// Flaps per hour of simulated time (0 for an empty trace).
    pub fn flaps_per_hour(&self) -> f64 {
        let hours = self.duration.as_secs_f64() / 3600.0;
        if hours > 0.0 {
            self.flaps as f64 / hours
        } else {
            0.0
        }
    }
}

/// The most samples a report keeps. When a run would take more, every other sample is dropped
/// and the interval doubles, so memory stays bounded whatever the trace: a trace spanning a
/// microsecond whose outcomes land hours later would otherwise ask for billions of samples.
pub const MAX_SAMPLES: usize = 1024;

/// The most calls a built-in [`Scenario`] may generate (`rate * duration`): a generous
/// what-if stays within it, while a typo (`--rate 1e12`) would otherwise run for years.
pub const MAX_SCENARIO_CALLS: u64 = 100_000_000;

/// Replays `calls` through a fresh breaker with `config`, sampling every `sample_every`
/// (`Duration::ZERO`: no samples; at most [`MAX_SAMPLES`] are kept).
pub fn simulate<'a>(
    config: &Config,
    calls: impl IntoIterator<Item = Call<'a>>,
    sample_every: Duration,
) -> Result<SimReport, ConfigError> {
    let mut calls = calls.into_iter().peekable();
    let start = calls.peek().map_or(Instant::ZERO, |c| c.at);
    let mut sim = Simulation::new(config, start, sample_every)?;
    for call in calls {
        sim.offer(call);
    }
    Ok(sim.finish())
}

/// A simulation fed one call at a time, for hosts that stream a trace (or run several configs
/// over it in one pass) instead of handing [`simulate`] an iterator.
pub struct Simulation {
    sim: Sim,
    last: Instant,
}

impl Simulation {
    /// A fresh breaker with `config` at `start` (the first call's arrival).
    pub fn new(
        config: &Config,
        start: Instant,
        sample_every: Duration,
    ) -> Result<Self, ConfigError> {
        let weighed = config
            .failure_weights
            .iter()
            .map(|(k, _)| String::from(k))
            .collect();
        Ok(Simulation {
            sim: Sim {
                breaker: Breaker::new(config.clone(), start)?,
                pending: BinaryHeap::new(),
                seq: 0,
                report: SimReport::default(),
                recovered_once: false,
                next_sample: (!sample_every.is_zero()).then_some(start),
                sample_every,
                start,
                second: (0, 0),
                weighed,
                callers_wait: false,
                waiting: 0,
                latency: Duration::ZERO,
            },
            last: start,
        })
    }

    /// Callers refused while OPEN wait, and all retry the instant the circuit closes: the
    /// thundering herd a recovered cache meets, which `ramp_seconds` spreads out. Each retry
    /// succeeds and takes the latest call's latency. Off by default: a refused call is gone.
    pub fn callers_wait(mut self, on: bool) -> Self {
        self.sim.callers_wait = on;
        self
    }

    /// Offers the next call (one arriving earlier than the previous is taken as arriving with it).
    pub fn offer(&mut self, call: Call<'_>) {
        let at = call.at.max(self.last);
        self.last = at;
        self.sim.complete_until(at);
        self.sim.sample_until(at);
        self.sim.offer(at, call);
    }

    /// Lets every outstanding call complete and returns the report.
    pub fn finish(mut self) -> SimReport {
        let end = self
            .sim
            .complete_until(Instant::from_nanos(u64::MAX))
            .max(self.last);
        self.sim.sample_until(end);
        self.sim.finish(end)
    }
}

/// An admitted call waiting for its outcome: (done at, sequence, failure kind, permit token).
/// The kind is `None` for a success, else an index into `Sim::weighed` (`Some(len)`: a kind
/// the config does not weigh), so a pending call owns no string.
type Pending = Reverse<(Instant, u64, Option<usize>, u128)>;

struct Sim {
    breaker: Breaker,
    pending: BinaryHeap<Pending>,
    seq: u64,
    report: SimReport,
    recovered_once: bool,
    next_sample: Option<Instant>,
    sample_every: Duration,
    /// The first call's arrival: where the run's duration and its seconds (for the peak) start.
    start: Instant,
    /// (second of the run, calls admitted in it), for the peak.
    second: (u64, u64),
    /// The kinds `failure_weights` lists, in its order.
    weighed: Vec<String>,
    callers_wait: bool,
    /// Callers refused while OPEN since the circuit last closed (when `callers_wait`).
    waiting: u64,
    /// The latest call's latency: a waiting caller's retry takes it.
    latency: Duration,
}

impl Sim {
    fn offer(&mut self, at: Instant, call: Call<'_>) {
        let r = &mut self.report;
        r.calls += 1;
        self.latency = call.latency;
        if !call.ok {
            r.fault_end = Some(at);
        }
        match self.breaker.try_acquire(at) {
            Ok(permit) => {
                self.admitted(at, call.latency);
                self.note(permit.transition());
                let kind = (!call.ok).then(|| self.kind_slot(call.kind));
                if call.latency.is_zero() {
                    self.outcome(permit, kind, at);
                } else {
                    self.seq += 1;
                    let done = at.saturating_add(call.latency);
                    self.pending
                        .push(Reverse((done, self.seq, kind, permit.to_token())));
                }
            }
            Err(Rejection::Open { .. }) => {
                r.rejected += 1;
                if self.callers_wait {
                    self.waiting += 1;
                }
            }
            Err(Rejection::Throttled) => r.throttled += 1,
        }
    }

    fn admitted(&mut self, at: Instant, latency: Duration) {
        let r = &mut self.report;
        r.admitted += 1;
        if latency >= SLOW_CALL {
            r.slow_admitted += 1;
        }
        let second = at.saturating_duration_since(self.start).as_secs();
        if self.second.0 != second {
            self.second = (second, 0);
        }
        self.second.1 += 1;
        r.peak_admitted_per_second = r.peak_admitted_per_second.max(self.second.1);
    }

    fn kind_slot(&self, kind: &str) -> usize {
        let kind = if kind.is_empty() {
            SIMULATED_FAILURE
        } else {
            kind
        };
        self.weighed
            .iter()
            .position(|k| k == kind)
            .unwrap_or(self.weighed.len())
    }

    /// Reports every outcome due by `t`; returns the time of the last one (or ZERO).
    fn complete_until(&mut self, t: Instant) -> Instant {
        let mut last = Instant::ZERO;
        while let Some(&Reverse((done, _, kind, bits))) = self.pending.peek() {
            if done > t {
                break;
            }
            self.pending.pop();
            self.sample_until(done);
            self.outcome(Permit::from_token(bits), kind, done);
            last = done;
        }
        last
    }

    /// Reports a call's outcome: a success, or a failure of the kind in slot `kind`.
    fn outcome(&mut self, permit: Permit, kind: Option<usize>, at: Instant) {
        let t = match kind {
            None => self.breaker.on_success(permit, at),
            Some(slot) => {
                self.report.failed_admitted += 1;
                // A kind the config does not list weighs what "default" weighs.
                let error_type = self.weighed.get(slot).map_or(DEFAULT_KIND, |k| k.as_str());
                let failure = Failure {
                    error_type,
                    error_message: "",
                    operation: "get",
                    timestamp: at.as_nanos() as f64 / 1e9,
                };
                self.breaker.on_failure(permit, &failure, at)
            }
        };
        let closed = self.note(t);
        if closed && self.waiting > 0 {
            self.release_waiting(at);
        }
    }

    /// The waiting callers all retry at `at`, the instant the circuit closed.
    fn release_waiting(&mut self, at: Instant) {
        let latency = self.latency;
        for _ in 0..core::mem::take(&mut self.waiting) {
            self.report.retries += 1;
            let retry = Call {
                at,
                ok: true,
                latency,
                kind: "",
            };
            self.offer(at, retry);
        }
    }

    /// Records a transition; returns whether it closed the circuit.
    fn note(&mut self, t: Option<Transition>) -> bool {
        let Some(t) = t else { return false };
        match (t.to, t.reason) {
            (State::Open, _) => {
                self.report.trips += 1;
                self.report.first_trip.get_or_insert(t.at);
                if self.recovered_once {
                    self.report.flaps += 1;
                }
            }
            (State::Closed, Reason::ProbesSucceeded) => self.recovered_once = true,
            _ => {}
        }
        self.report.timeline.push(t);
        t.to == State::Closed
    }

    fn sample_until(&mut self, t: Instant) {
        while let Some(at) = self.next_sample.filter(|&at| at <= t) {
            let m = self.breaker.metrics(at);
            self.report.samples.push(Sample {
                at,
                state: m.state,
                failure_rate: m.failure_rate,
                window_calls: m.window_calls,
                slow_call_rate: m.slow_call_rate,
                ramp_share: m.ramp_share,
            });
            let samples = &mut self.report.samples;
            let mut last = at;
            if samples.len() > MAX_SAMPLES {
                // Samples sit at start + k * every; keeping the even k leaves start + j * 2every.
                let mut k = 0;
                samples.retain(|_| {
                    k += 1;
                    k % 2 == 1
                });
                last = samples.last().map_or(at, |s| s.at);
                self.sample_every = self.sample_every.saturating_mul(2);
            }
            let next = last.saturating_add(self.sample_every);
            self.next_sample = (next > at).then_some(next);
        }
    }

    fn finish(mut self, end: Instant) -> SimReport {
        let (r, start) = (&mut self.report, self.start);
        r.duration = end.saturating_duration_since(start);
        let f = TimelineFigures::of(&r.timeline, start, end, self.breaker.state(), r.fault_end);
        r.time_open = f.time_open;
        r.time_half_open = f.time_half_open;
        r.recovery_time = f.recovery_time;
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn call(ms: u64, ok: bool) -> Call<'static> {
        Call {
            at: Instant::from_nanos(ms * 1_000_000),
            ok,
            latency: Duration::ZERO,
            kind: "",
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_small_trace_matches_hand_computed_figures() {
        // threshold 2, timeout 1 s, one probe closes, every call probes.
        let config = Config {
            failure_threshold: 2,
            success_threshold: 1,
            timeout_seconds: 1.0,
            gradual_recovery: false,
            ..Config::default()
        };
        let trace = vec![
            call(0, true),
            call(100, false),
            call(200, false), // trips at 200 ms
            call(300, false), // rejected
            call(700, true),  // rejected (fault already over: last failure at 300)
            call(1200, true), // half-opens at 1200, probe succeeds, closes
            call(1300, true),
        ];
        let r = simulate(&config, trace, Duration::ZERO).unwrap();
        assert_eq!((r.calls, r.admitted, r.rejected, r.throttled), (7, 5, 2, 0));
        assert_eq!(r.failed_admitted, 2);
        assert_eq!((r.trips, r.flaps), (1, 0));
        assert_eq!(r.time_open, ms(1000));
        assert_eq!(r.time_half_open, Duration::ZERO);
        assert_eq!(r.fault_end, Some(Instant::from_nanos(300_000_000)));
        assert_eq!(r.recovery_time, Some(ms(900)));
        assert_eq!(r.duration, ms(1300));
        let states: Vec<(State, State)> = r.timeline.iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(
            states,
            [
                (State::Closed, State::Open),
                (State::Open, State::HalfOpen),
                (State::HalfOpen, State::Closed)
            ]
        );
    }

    #[test]
    fn latency_delays_outcomes_so_calls_overlap() {
        let config = Config {
            failure_threshold: 2,
            ..Config::default()
        };
        let slow = |ms_at: u64| Call {
            at: Instant::from_nanos(ms_at * 1_000_000),
            ok: false,
            latency: ms(50),
            kind: "",
        };
        // Three failing calls 10 ms apart, each taking 50 ms: all three are admitted before
        // the first failure lands, so the cache sees all three.
        let r = simulate(&config, [slow(0), slow(10), slow(20)], Duration::ZERO).unwrap();
        assert_eq!((r.admitted, r.failed_admitted, r.trips), (3, 3, 1));
        assert_eq!(r.duration, ms(70));
    }

    #[test]
    fn recovery_never_happens_without_traffic() {
        let config = Config {
            failure_threshold: 1,
            ..Config::default()
        };
        let r = simulate(&config, [call(0, false)], Duration::ZERO).unwrap();
        assert_eq!(r.trips, 1);
        assert_eq!(r.recovery_time, None);
    }

    #[test]
    fn no_fault_means_no_recovery_figure() {
        let r = simulate(&Config::default(), [call(0, true)], Duration::ZERO).unwrap();
        assert_eq!((r.fault_end, r.recovery_time), (None, None));
    }

    #[test]
    fn flaps_count_trips_after_a_recovery() {
        let config = Config {
            failure_threshold: 1,
            success_threshold: 1,
            timeout_seconds: 1.0,
            ..Config::default()
        };
        let trace = [
            call(0, false),
            call(1000, true),
            call(1100, false),
            call(2100, true),
        ];
        let r = simulate(&config, trace, Duration::ZERO).unwrap();
        assert_eq!((r.trips, r.flaps), (2, 1));
        assert!((r.flaps_per_hour() - 3600.0 / 2.1).abs() < 1e-6);
    }

    #[test]
    fn samples_are_taken_on_the_virtual_clock() {
        let trace = [call(0, false), call(1000, true), call(2500, true)];
        let r = simulate(&Config::default(), trace, ms(1000)).unwrap();
        let at: Vec<u64> = r
            .samples
            .iter()
            .map(|s| s.at.as_nanos() / 1_000_000)
            .collect();
        assert_eq!(at, [0, 1000, 2000]);
        assert_eq!(r.samples[1].failure_rate, 1.0);
        assert_eq!(r.samples[2].failure_rate, 0.5);
        assert_eq!(r.samples[2].window_calls, 2);
    }

    #[test]
    fn invalid_config_is_refused() {
        let bad = Config {
            failure_threshold: 0,
            ..Config::default()
        };
        assert_eq!(
            simulate(&bad, [call(0, true)], Duration::ZERO)
                .unwrap_err()
                .field(),
            "failure_threshold"
        );
    }

    #[test]
    fn every_builtin_scenario_trips_and_recovers_a_default_breaker() {
        for (name, s) in Scenario::ALL {
            assert_eq!(Scenario::from_name(name), Some(s));
            let calls = s.calls(20.0, Duration::from_secs(600), 7);
            let r = simulate(&Config::default(), calls, Duration::ZERO).unwrap();
            assert_eq!(r.calls, 12_000, "{name}");
            assert!(r.trips >= 1, "{name}: {r:?}");
            assert!(r.recovery_time.is_some(), "{name} never recovered");
        }
        assert_eq!(Scenario::from_name("earthquake"), None);
    }

    #[test]
    fn samples_stay_bounded_when_outcomes_land_long_after_arrivals() {
        let trace = (0..1000u64).map(|i| Call {
            at: Instant::from_nanos(i),
            ok: false,
            latency: Duration::from_secs(100),
            kind: "",
        });
        let r = simulate(&Config::default(), trace, Duration::from_nanos(1)).unwrap();
        assert!(r.samples.len() <= MAX_SAMPLES, "{}", r.samples.len());
        assert!(r.samples.len() > MAX_SAMPLES / 4, "{}", r.samples.len());
        let gaps: Vec<u64> = r
            .samples
            .windows(2)
            .map(|w| w[1].at.as_nanos() - w[0].at.as_nanos())
            .collect();
        assert!(
            gaps.windows(2).all(|g| g[0] == g[1]),
            "samples stay evenly spaced"
        );
        assert!(r.samples.last().unwrap().at.as_nanos() > 50_000_000_000);
    }

    #[test]
    fn a_simulation_fed_call_by_call_matches_simulate() {
        let config = Config::default();
        let calls: Vec<Call> = Scenario::Flapping
            .calls(20.0, Duration::from_secs(600), 7)
            .collect();
        let whole = simulate(&config, calls.iter().copied(), Duration::from_secs(1)).unwrap();
        let mut sim = Simulation::new(&config, calls[0].at, Duration::from_secs(1)).unwrap();
        for c in &calls {
            sim.offer(*c);
        }
        assert_eq!(sim.finish(), whole);
    }

    fn failure(at_ms: u64, kind: &str) -> Call<'_> {
        Call {
            kind,
            ..call(at_ms, false)
        }
    }

    fn weighted(weights: &[(&str, f64)]) -> Config {
        let mut config = Config {
            failure_threshold: 1,
            ..Config::default()
        };
        for &(kind, w) in weights {
            config.failure_weights.insert(kind, w);
        }
        config
    }

    #[test]
    fn failures_weigh_what_the_config_says_their_kind_weighs() {
        // Threshold 1: a TemporaryError weighs 0.3, so the fourth in a row trips (1.2), and a
        // kind the config does not list weighs the "default" entry (0.5: the second trips).
        let config = weighted(&[("TemporaryError", 0.3), ("default", 0.5)]);
        let temporary: Vec<Call> = (0..5).map(|i| failure(i * 10, "TemporaryError")).collect();
        let r = simulate(&config, temporary, Duration::ZERO).unwrap();
        assert_eq!((r.failed_admitted, r.rejected), (4, 1));
        assert_eq!(r.first_trip, Some(Instant::from_nanos(30_000_000)));
        let other: Vec<Call> = (0..3).map(|i| failure(i * 10, "KeyError")).collect();
        let r = simulate(&config, other, Duration::ZERO).unwrap();
        assert_eq!(r.first_trip, Some(Instant::from_nanos(10_000_000)));
        // A call naming no kind is a SimulatedFailure, which the config may weigh too.
        let config = weighted(&[(SIMULATED_FAILURE, 0.5)]);
        let plain = [call(0, false), call(10, false), call(20, false)];
        let r = simulate(&config, plain, Duration::ZERO).unwrap();
        assert_eq!(r.first_trip, Some(Instant::from_nanos(10_000_000)));
    }

    #[test]
    fn a_pending_failure_keeps_its_kind_until_it_lands() {
        let config = weighted(&[("TemporaryError", 0.5)]);
        let slow = |at_ms| Call {
            latency: ms(100),
            ..failure(at_ms, "TemporaryError")
        };
        let r = simulate(&config, [slow(0), slow(10), slow(20)], Duration::ZERO).unwrap();
        assert_eq!(r.first_trip, Some(Instant::from_nanos(110_000_000)));
        assert_eq!(r.slow_admitted, 3);
    }

    /// Threshold 1, timeout 1 s, one probe closes: the failure at 0 trips, the calls at 100 to
    /// 900 ms are refused, the call at 1 s half-opens and its success closes.
    fn herd_trace() -> Vec<Call<'static>> {
        let mut trace = vec![call(0, false)];
        trace.extend((1..=10).map(|i| call(i * 100, true)));
        trace
    }

    fn herd_config() -> Config {
        Config {
            failure_threshold: 1,
            success_threshold: 1,
            timeout_seconds: 1.0,
            gradual_recovery: false,
            ..Config::default()
        }
    }

    #[test]
    fn waiting_callers_all_retry_when_the_circuit_closes() {
        let run = |wait| {
            let mut sim = Simulation::new(&herd_config(), Instant::ZERO, Duration::ZERO)
                .unwrap()
                .callers_wait(wait);
            for c in herd_trace() {
                sim.offer(c);
            }
            sim.finish()
        };
        let alone = run(false);
        assert_eq!((alone.calls, alone.rejected, alone.retries), (11, 9, 0));
        assert_eq!(alone.peak_admitted_per_second, 1);
        let herd = run(true);
        assert_eq!((herd.calls, herd.rejected, herd.retries), (20, 9, 9));
        // Second 1 holds the probe and the nine retries.
        assert_eq!(herd.admitted, 11);
        assert_eq!(herd.peak_admitted_per_second, 10);
    }

    #[test]
    fn the_ramp_spreads_the_herd() {
        let config = Config {
            ramp_seconds: 10.0,
            recovery_factor: 0.3,
            ..herd_config()
        };
        let mut sim = Simulation::new(&config, Instant::ZERO, ms(100))
            .unwrap()
            .callers_wait(true);
        for c in herd_trace() {
            sim.offer(c);
        }
        sim.offer(call(2000, true));
        let r = sim.finish();
        assert_eq!(r.retries, 9);
        assert_eq!(r.admitted + r.throttled, 12);
        assert!(r.throttled >= 5, "{r:?}");
        assert!(r.peak_admitted_per_second <= 5, "{r:?}");
        // 0.1 s into the 10 s ramp from 0.3.
        let s = r
            .samples
            .iter()
            .find(|s| s.at == Instant::from_nanos(1_100_000_000));
        let share = s.unwrap().ramp_share;
        assert!((share - 0.307).abs() < 1e-9, "{share}");
    }

    #[test]
    fn the_thundering_herd_scenario_releases_its_waiting_callers() {
        let config = Config::default();
        let mut sim = Scenario::ThunderingHerd
            .simulation(&config, Duration::ZERO)
            .unwrap();
        for c in Scenario::ThunderingHerd.calls(20.0, Duration::from_secs(600), 1) {
            sim.offer(c);
        }
        let r = sim.finish();
        assert!(r.retries > 0 && r.retries <= r.rejected, "{r:?}");
        assert_eq!(r.calls, 12_000 + r.retries);
        assert!(r.peak_admitted_per_second > 20 * 10, "{r:?}");
    }

    #[test]
    fn samples_carry_the_slow_call_rate() {
        let config = Config {
            slow_call_duration_seconds: Some(0.05),
            slow_call_rate_threshold: 1.0,
            minimum_calls: 100,
            ..Config::default()
        };
        let slow = |at_ms| Call {
            latency: ms(60),
            ..call(at_ms, true)
        };
        let trace = [slow(0), call(10, true), slow(20), slow(30), call(200, true)];
        let r = simulate(&config, trace, ms(10)).unwrap();
        // At 100 ms three of the four calls done took 60 ms, past the 50 ms duration.
        let at_100 = r
            .samples
            .iter()
            .find(|s| s.at == Instant::from_nanos(100_000_000));
        let rate = at_100.unwrap().slow_call_rate;
        assert!((rate - 0.75).abs() < 1e-9, "{rate}");
        assert_eq!(r.slow_admitted, 0, "60 ms is under the 100 ms yardstick");
    }
}
