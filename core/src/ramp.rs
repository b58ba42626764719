//! [`Ramp`]: after HALF_OPEN -> CLOSED, the share of calls admitted rises linearly from
//! `recovery_factor` to 1 over `ramp_seconds`, with the half-open gate's deterministic rule:
//! the `n`-th call offered during the ramp is admitted iff `admitted < ceil(n * share - 1e-9)`
//! at the share of that instant, and the first always. A recovered cache then meets the
//! callers that waited through the outage a share at a time, not all at once.

use crate::clock::{Instant, duration_nanos};
use crate::config::Settings;
use crate::half_open::ceil_quota;

/// The ramp after one close. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ramp {
    since: Instant,
    attempts: u32,
    admitted: u32,
}

impl Ramp {
    /// A ramp starting at `since` (when the circuit closed).
    pub fn new(since: Instant) -> Self {
        Ramp {
            since,
            attempts: 0,
            admitted: 0,
        }
    }

    /// The share admitted at `now`, or `None` once the ramp is over (or switched off).
    pub fn share(&self, s: &Settings, now: Instant) -> Option<f64> {
        let ramp = duration_nanos(s.ramp?);
        let elapsed = now.as_nanos().saturating_sub(self.since.as_nanos());
        (elapsed < ramp)
            .then(|| s.recovery_factor + (1.0 - s.recovery_factor) * (elapsed as f64 / ramp as f64))
    }

    /// Decides one call offered at `share`; `true` admits it.
    pub fn admit(&mut self, share: f64) -> bool {
        self.attempts = self.attempts.saturating_add(1);
        if self.admitted != 0 && u64::from(self.admitted) >= ceil_quota(self.attempts, share) {
            return false;
        }
        self.admitted = self.admitted.saturating_add(1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use core::time::Duration;

    fn settings() -> Settings {
        let c = Config {
            recovery_factor: 0.5,
            ramp_seconds: 10.0,
            ..Config::default()
        };
        c.settings().unwrap()
    }

    #[test]
    fn the_share_rises_linearly_from_the_recovery_factor_and_the_ramp_ends() {
        let s = settings();
        let r = Ramp::new(Instant::ZERO);
        let at = |secs| Instant::ZERO.saturating_add(Duration::from_secs(secs));
        assert_eq!(r.share(&s, at(0)), Some(0.5));
        assert_eq!(r.share(&s, at(5)), Some(0.75));
        assert_eq!(r.share(&s, at(10)), None);
        let off = Config::default().settings().unwrap();
        assert_eq!(r.share(&off, at(0)), None);
    }

    #[test]
    fn at_half_share_calls_alternate_starting_with_an_admit() {
        let mut r = Ramp::new(Instant::ZERO);
        let got: [bool; 6] = core::array::from_fn(|_| r.admit(0.5));
        assert_eq!(got, [true, false, true, false, true, false]);
    }
}
