//! Built-in [`Scenario`]s: deterministic traces of a fault for `simulate`.

use super::{Call, Simulation};
use crate::clock::Instant;
use crate::config::{Config, ConfigError};
use core::time::Duration;

/// The failure kinds the scenarios draw, as a Python host would name them: `failure_weights`
/// can weigh them.
const CONNECTION: &str = "ConnectionError";
const TIMEOUT: &str = "TimeoutError";
const TEMPORARY: &str = "TemporaryError";

/// A built-in fault pattern. Traces are deterministic for a given seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Healthy, then a total outage from 20% to 50% of the run (`ConnectionError`), then
    /// healthy.
    Outage,
    /// From 10% to 80% of the run, the cache is down 15 s of every 60 s (`ConnectionError`).
    Flapping,
    /// From 20% to 60% of the run, 40% of calls fail with a transient error
    /// (`TemporaryError`) and every call is slow (50 ms).
    Brownout,
    /// Until 80% of the run, 3% of calls fail at random (`TemporaryError`), plus a 3 s total
    /// outage every 90 s (`ConnectionError`).
    Intermittent,
    /// Latency climbs before errors start: from 20% to 40% of the run every call succeeds but
    /// slows from 1 ms to 200 ms; from 40% to 60%, 40% of calls fail (`TimeoutError`), at
    /// 200 ms.
    SlowBrownout,
    /// A total outage from 20% to 40% of the run (`ConnectionError`) during which refused
    /// callers wait, then all retry the instant the circuit closes
    /// ([`Simulation::callers_wait`]).
    ThunderingHerd,
}

impl Scenario {
    /// Every scenario, with its name.
    pub const ALL: [(&'static str, Scenario); 6] = [
        ("outage", Scenario::Outage),
        ("flapping", Scenario::Flapping),
        ("brownout", Scenario::Brownout),
        ("intermittent", Scenario::Intermittent),
        ("slow-brownout", Scenario::SlowBrownout),
        ("thundering-herd", Scenario::ThunderingHerd),
    ];

    /// The scenario with this name.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|&(_, s)| s)
    }

    /// A simulation of this scenario with `config`, starting at `Instant::ZERO`: fed
    /// [`Scenario::calls`], it runs the scenario (a thundering herd's callers wait).
    pub fn simulation(
        self,
        config: &Config,
        sample_every: Duration,
    ) -> Result<Simulation, ConfigError> {
        Ok(Simulation::new(config, Instant::ZERO, sample_every)?
            .callers_wait(self == Scenario::ThunderingHerd))
    }

    /// `rate` calls per second, evenly spaced, for `duration`, starting at `Instant::ZERO`.
    /// A non-positive or non-finite rate gives no calls.
    pub fn calls(
        self,
        rate: f64,
        duration: Duration,
        seed: u64,
    ) -> impl Iterator<Item = Call<'static>> {
        let total = duration.as_secs_f64();
        let n = Self::call_count(rate, duration);
        let gap = if n > 0 { 1.0 / rate } else { 0.0 };
        let mut rng = XorShift(seed | 1);
        (0..n).map(move |i| {
            let t = i as f64 * gap;
            let phase = if total > 0.0 { t / total } else { 0.0 };
            let (p_fail, latency_ms, kind) = self.condition(t, phase);
            let ok = p_fail <= 0.0 || rng.unit() >= p_fail;
            Call {
                at: Instant::from_nanos((t * 1e9) as u64),
                ok,
                latency: Duration::from_micros((latency_ms * 1000.0) as u64),
                kind,
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

    /// (failure probability, latency in ms, failure kind) at `t` seconds, `phase` of the way
    /// through.
    fn condition(self, t: f64, phase: f64) -> (f64, f64, &'static str) {
        const HEALTHY: (f64, f64, &str) = (0.0, 1.0, "");
        const DOWN: (f64, f64, &str) = (1.0, 1.0, CONNECTION);
        match self {
            Scenario::Outage if (0.2..0.5).contains(&phase) => DOWN,
            Scenario::Flapping if (0.1..0.8).contains(&phase) && t % 60.0 < 15.0 => DOWN,
            Scenario::Brownout if (0.2..0.6).contains(&phase) => (0.4, 50.0, TEMPORARY),
            Scenario::Intermittent if phase < 0.8 => {
                if t % 90.0 >= 87.0 {
                    DOWN
                } else {
                    (0.03, 1.0, TEMPORARY)
                }
            }
            Scenario::SlowBrownout if (0.2..0.4).contains(&phase) => {
                (0.0, 1.0 + 199.0 * (phase - 0.2) / 0.2, "")
            }
            Scenario::SlowBrownout if (0.4..0.6).contains(&phase) => (0.4, 200.0, TIMEOUT),
            Scenario::ThunderingHerd if (0.2..0.4).contains(&phase) => DOWN,
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
    use crate::sim::MAX_SCENARIO_CALLS;
    use alloc::vec::Vec;

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
    fn scenario_call_count_is_rate_times_duration() {
        assert_eq!(Scenario::call_count(20.0, Duration::from_secs(600)), 12_000);
        assert_eq!(Scenario::call_count(f64::NAN, Duration::from_secs(600)), 0);
        let huge = Scenario::call_count(1e12, Duration::from_secs(2_592_000));
        assert!(huge > MAX_SCENARIO_CALLS);
    }
}
