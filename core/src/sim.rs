//! [`simulate`]: what a configuration would have done with a stream of calls, on virtual time.
//!
//! A trace is a sequence of [`Call`]s in arrival order, each saying whether the cache would
//! have succeeded and how long it would have taken. The simulator offers each call to a
//! [`Breaker`]; an admitted call's outcome is reported when its latency has elapsed (calls
//! overlap, as they do in a real service), a refused call never reaches the cache. Nothing
//! sleeps: a day of traffic replays in milliseconds. Built-in [`Scenario`]s generate traces.

use crate::breaker::{Breaker, Permit, Rejection};
use crate::clock::Instant;
use crate::config::{Config, ConfigError};
use crate::metrics::Failure;
use crate::state::{Reason, State, Transition};
use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::time::Duration;

/// One call offered to the cache.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Call {
    /// When it arrives. Calls must come in non-decreasing order (an earlier one is clamped).
    pub at: Instant,
    /// Whether the cache would succeed.
    pub ok: bool,
    /// How long the cache would take to answer.
    pub latency: Duration,
}

/// The failure rate and state at one instant, for plotting.
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
}

/// What happened during a simulation.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SimReport {
    /// Calls offered.
    pub calls: u64,
    /// Calls that reached the cache.
    pub admitted: u64,
    /// Calls refused while OPEN.
    pub rejected: u64,
    /// Calls turned away while HALF_OPEN.
    pub throttled: u64,
    /// Admitted calls that failed: load put on a failing cache.
    pub failed_admitted: u64,
    /// Times the circuit entered OPEN.
    pub trips: u64,
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
    /// State and failure rate every `sample_every` (empty if that was zero).
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
pub fn simulate(
    config: &Config,
    calls: impl IntoIterator<Item = Call>,
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
    start: Instant,
    last: Instant,
}

impl Simulation {
    /// A fresh breaker with `config` at `start` (the first call's arrival).
    pub fn new(
        config: &Config,
        start: Instant,
        sample_every: Duration,
    ) -> Result<Self, ConfigError> {
        Ok(Simulation {
            sim: Sim {
                breaker: Breaker::new(config.clone(), start)?,
                pending: BinaryHeap::new(),
                seq: 0,
                report: SimReport::default(),
                recovered_once: false,
                next_sample: (!sample_every.is_zero()).then_some(start),
                sample_every,
            },
            start,
            last: start,
        })
    }

    /// Offers the next call (one arriving earlier than the previous is taken as arriving with it).
    pub fn offer(&mut self, call: Call) {
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
        self.sim.finish(self.start, end)
    }
}

/// An admitted call waiting for its outcome: (done at, sequence, ok, permit token).
type Pending = Reverse<(Instant, u64, bool, u128)>;

struct Sim {
    breaker: Breaker,
    pending: BinaryHeap<Pending>,
    seq: u64,
    report: SimReport,
    recovered_once: bool,
    next_sample: Option<Instant>,
    sample_every: Duration,
}

impl Sim {
    fn offer(&mut self, at: Instant, call: Call) {
        let r = &mut self.report;
        r.calls += 1;
        if !call.ok {
            r.fault_end = Some(at);
        }
        match self.breaker.try_acquire(at) {
            Ok(permit) => {
                self.report.admitted += 1;
                self.note(permit.transition());
                if call.latency.is_zero() {
                    self.outcome(permit, call.ok, at);
                } else {
                    self.seq += 1;
                    let done = at.saturating_add(call.latency);
                    self.pending
                        .push(Reverse((done, self.seq, call.ok, permit.to_token())));
                }
            }
            Err(Rejection::Open { .. }) => r.rejected += 1,
            Err(Rejection::Throttled) => r.throttled += 1,
        }
    }

    /// Reports every outcome due by `t`; returns the time of the last one (or ZERO).
    fn complete_until(&mut self, t: Instant) -> Instant {
        let mut last = Instant::ZERO;
        while let Some(&Reverse((done, _, ok, bits))) = self.pending.peek() {
            if done > t {
                break;
            }
            self.pending.pop();
            self.sample_until(done);
            self.outcome(Permit::from_token(bits), ok, done);
            last = done;
        }
        last
    }

    fn outcome(&mut self, permit: Permit, ok: bool, at: Instant) {
        let t = if ok {
            self.breaker.on_success(permit, at)
        } else {
            self.report.failed_admitted += 1;
            let failure = Failure {
                error_type: "SimulatedFailure",
                error_message: "",
                operation: "get",
                timestamp: at.as_nanos() as f64 / 1e9,
            };
            self.breaker.on_failure(permit, &failure, at)
        };
        self.note(t);
    }

    fn note(&mut self, t: Option<Transition>) {
        let Some(t) = t else { return };
        match (t.to, t.reason) {
            (State::Open, _) => {
                self.report.trips += 1;
                if self.recovered_once {
                    self.report.flaps += 1;
                }
            }
            (State::Closed, Reason::ProbesSucceeded) => self.recovered_once = true,
            _ => {}
        }
        self.report.timeline.push(t);
    }

    fn sample_until(&mut self, t: Instant) {
        while let Some(at) = self.next_sample.filter(|&at| at <= t) {
            let m = self.breaker.metrics(at);
            self.report.samples.push(Sample {
                at,
                state: m.state,
                failure_rate: m.failure_rate,
                window_calls: m.window_calls,
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

    fn finish(mut self, start: Instant, end: Instant) -> SimReport {
        let r = &mut self.report;
        r.duration = end.saturating_duration_since(start);
        let f = TimelineFigures::of(&r.timeline, start, end, self.breaker.state(), r.fault_end);
        r.time_open = f.time_open;
        r.time_half_open = f.time_half_open;
        r.recovery_time = f.recovery_time;
        self.report
    }
}

/// What a run's transitions add up to: the same figures for a simulation and for a host that
/// logged a real breaker's transitions (the demo).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimelineFigures {
    /// Time spent OPEN.
    pub time_open: Duration,
    /// Time spent HALF_OPEN.
    pub time_half_open: Duration,
    /// Time from the end of the faults until the circuit was CLOSED (zero if it was CLOSED
    /// then); `None` if it never closed, or there was no fault end.
    pub recovery_time: Option<Duration>,
}

impl TimelineFigures {
    /// The figures of `timeline` (oldest first) between `start` and `end`, the breaker being
    /// in `state` at `end`; `fault_end`, when the faults stopped.
    pub fn of(
        timeline: &[Transition],
        start: Instant,
        end: Instant,
        state: State,
        fault_end: Option<Instant>,
    ) -> TimelineFigures {
        let mut f = TimelineFigures::default();
        let mut since = start;
        for t in timeline {
            let span = t.at.saturating_duration_since(since);
            match t.from {
                State::Open => f.time_open += span,
                State::HalfOpen => f.time_half_open += span,
                State::Closed => {}
            }
            since = t.at;
        }
        let tail = end.saturating_duration_since(since);
        match state {
            State::Open => f.time_open += tail,
            State::HalfOpen => f.time_half_open += tail,
            State::Closed => {}
        }
        f.recovery_time = fault_end.and_then(|at| recovery(timeline, at));
        f
    }
}

/// Time from `fault_end` until the circuit is CLOSED: zero if it is CLOSED then.
fn recovery(timeline: &[Transition], fault_end: Instant) -> Option<Duration> {
    let state_then = timeline
        .iter()
        .take_while(|t| t.at <= fault_end)
        .last()
        .map(|t| t.to);
    if state_then.unwrap_or(State::Closed) == State::Closed {
        return Some(Duration::ZERO);
    }
    timeline
        .iter()
        .find(|t| t.at > fault_end && t.to == State::Closed)
        .map(|t| t.at.saturating_duration_since(fault_end))
}

/// A built-in fault pattern. Traces are deterministic for a given seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Healthy, then a total outage from 20% to 50% of the run, then healthy.
    Outage,
    /// From 10% to 80% of the run, the cache is down 15 s of every 60 s.
    Flapping,
    /// From 20% to 60% of the run, 40% of calls fail and every call is slow (50 ms).
    Brownout,
    /// Until 80% of the run, 3% of calls fail at random, plus a 3 s total outage every 90 s.
    Intermittent,
    /// Latency climbs before errors start: from 20% to 40% of the run every call succeeds but
    /// slows from 1 ms to 200 ms; from 40% to 60%, 40% of calls fail, at 200 ms.
    SlowBrownout,
}

impl Scenario {
    /// Every scenario, with its name.
    pub const ALL: [(&'static str, Scenario); 5] = [
        ("outage", Scenario::Outage),
        ("flapping", Scenario::Flapping),
        ("brownout", Scenario::Brownout),
        ("intermittent", Scenario::Intermittent),
        ("slow-brownout", Scenario::SlowBrownout),
    ];

    /// The scenario with this name.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|&(_, s)| s)
    }

    /// `rate` calls per second, evenly spaced, for `duration`, starting at `Instant::ZERO`.
    /// A non-positive or non-finite rate gives no calls.
    pub fn calls(self, rate: f64, duration: Duration, seed: u64) -> impl Iterator<Item = Call> {
        let total = duration.as_secs_f64();
        let n = Self::call_count(rate, duration);
        let gap = if n > 0 { 1.0 / rate } else { 0.0 };
        let mut rng = XorShift(seed | 1);
        (0..n).map(move |i| {
            let t = i as f64 * gap;
            let phase = if total > 0.0 { t / total } else { 0.0 };
            let (p_fail, latency_ms) = self.condition(t, phase);
            let ok = p_fail <= 0.0 || rng.unit() >= p_fail;
            Call {
                at: Instant::from_nanos((t * 1e9) as u64),
                ok,
                latency: Duration::from_micros((latency_ms * 1000.0) as u64),
            }
        })
    }

    /// How many calls [`Scenario::calls`] generates: `rate * duration`, rounded down (0 for a
    /// non-positive or non-finite rate; saturating). Hosts compare it with
    /// [`MAX_SCENARIO_CALLS`] before running.
    pub fn call_count(rate: f64, duration: Duration) -> u64 {
        if rate > 0.0 && rate.is_finite() {
            (duration.as_secs_f64() * rate) as u64
        } else {
            0
        }
    }

    /// (failure probability, latency in ms) at `t` seconds, `phase` of the way through.
    fn condition(self, t: f64, phase: f64) -> (f64, f64) {
        const HEALTHY: (f64, f64) = (0.0, 1.0);
        match self {
            Scenario::Outage if (0.2..0.5).contains(&phase) => (1.0, 1.0),
            Scenario::Flapping if (0.1..0.8).contains(&phase) && t % 60.0 < 15.0 => (1.0, 1.0),
            Scenario::Brownout if (0.2..0.6).contains(&phase) => (0.4, 50.0),
            Scenario::Intermittent if phase < 0.8 => {
                if t % 90.0 >= 87.0 {
                    (1.0, 1.0)
                } else {
                    (0.03, 1.0)
                }
            }
            Scenario::SlowBrownout if (0.2..0.4).contains(&phase) => {
                (0.0, 1.0 + 199.0 * (phase - 0.2) / 0.2)
            }
            Scenario::SlowBrownout if (0.4..0.6).contains(&phase) => (0.4, 200.0),
            _ => HEALTHY,
        }
    }
}

/// xorshift64*: small, fast, and good enough to draw outcomes.
struct XorShift(u64);

impl XorShift {
    /// A uniform number in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn call(ms: u64, ok: bool) -> Call {
        Call {
            at: Instant::from_nanos(ms * 1_000_000),
            ok,
            latency: Duration::ZERO,
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
    fn scenarios_are_deterministic_per_seed() {
        let a: Vec<Call> = Scenario::Brownout
            .calls(10.0, Duration::from_secs(60), 1)
            .collect();
        let b: Vec<Call> = Scenario::Brownout
            .calls(10.0, Duration::from_secs(60), 1)
            .collect();
        let c: Vec<Call> = Scenario::Brownout
            .calls(10.0, Duration::from_secs(60), 2)
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Scenario::Outage
                .calls(f64::NAN, Duration::from_secs(60), 1)
                .count(),
            0
        );
    }

    // Issue 10: a trace spanning a microsecond with outcomes landing 100 s later asked for
    // about 6e10 samples (duration / 600 of the arrivals' span) and ran out of memory.
    #[test]
    fn samples_stay_bounded_when_outcomes_land_long_after_arrivals() {
        let trace = (0..1000u64).map(|i| Call {
            at: Instant::from_nanos(i),
            ok: false,
            latency: Duration::from_secs(100),
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

    #[test]
    fn scenario_call_count_is_rate_times_duration() {
        assert_eq!(Scenario::call_count(20.0, Duration::from_secs(600)), 12_000);
        assert_eq!(Scenario::call_count(f64::NAN, Duration::from_secs(600)), 0);
        let huge = Scenario::call_count(1e12, Duration::from_secs(2_592_000));
        assert!(huge > MAX_SCENARIO_CALLS);
    }
}
