//! [`Backoff`]: how long the circuit stays OPEN this time.
//!
//! `timeout_seconds`, multiplied by `open_backoff_multiplier` for each failed probe since the
//! circuit last closed, capped at `max_timeout_seconds` (never below `timeout_seconds`), then
//! cut by `jitter * u` for a `u` in `[0, 1)` drawn when the circuit opens. The factor and the
//! cut are kept, not the duration, so that a `timeout_seconds` changed while OPEN still counts
//! from when the circuit opened. With the defaults (multiplier 1, jitter 0) the open time is
//! `timeout_seconds` exactly, with no float arithmetic.
//!
//! The generator is splitmix64: small, fast, and the same sequence in every binding and in the
//! reference model, so a seeded run (`jitter_seed`) is reproducible.

use crate::config::{MAX_DURATION_SECONDS, Settings};
use core::time::Duration;

/// The state of one breaker's backoff. See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    /// `multiplier ^ failed probes` since the circuit last closed (kept finite).
    factor: f64,
    /// The share cut off this open time, `jitter * u`.
    cut: f64,
    /// splitmix64 state.
    rng: u64,
}

/// Beyond this the factor stops growing: any timeout times it is past the 100-year cap.
const MAX_FACTOR: f64 = 1e18;

impl Backoff {
    /// No backoff yet, the generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Backoff {
            factor: 1.0,
            cut: 0.0,
            rng: seed,
        }
    }

    /// Restarts the generator from `seed`.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = seed;
    }

    /// How long the current (or last) OPEN period lasts under `s`.
    #[inline]
    pub fn open_time(&self, s: &Settings) -> Duration {
        if self.factor == 1.0 && self.cut == 0.0 {
            return s.timeout;
        }
        self.backed_off(s)
    }

    #[cold]
    #[inline(never)]
    fn backed_off(&self, s: &Settings) -> Duration {
        let base = s.timeout.as_secs_f64();
        let mut secs = base * self.factor;
        if let Some(cap) = s.max_timeout {
            secs = secs.min(cap.as_secs_f64());
        }
        secs = secs.max(base).min(MAX_DURATION_SECONDS) * (1.0 - self.cut);
        Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_nanos(1))
    }

    /// The circuit opens: after a failed probe the factor grows; a jitter is drawn if set.
    pub fn opened(&mut self, s: &Settings, after_failed_probe: bool) {
        if after_failed_probe {
            self.factor = (self.factor * s.open_backoff_multiplier).min(MAX_FACTOR);
        }
        self.cut = if s.jitter > 0.0 {
            s.jitter * self.unit()
        } else {
            0.0
        };
    }

    /// The circuit closed (or was reset): no backoff, no cut.
    pub fn closed(&mut self) {
        self.factor = 1.0;
        self.cut = 0.0;
    }

    /// The next number of the generator in `[0, 1)`, with 53 random bits.
    fn unit(&mut self) -> f64 {
        (splitmix64(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One step of splitmix64 (Steele, Lea and Flood, 2014).
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_settings as settings;

    #[test]
    fn splitmix64_matches_its_reference_sequence() {
        // The first outputs for seed 0, as published with the algorithm.
        let mut s = 0;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn failed_probes_multiply_the_open_time_up_to_the_cap_and_a_close_resets_it() {
        let s = settings(|c| {
            c.timeout_seconds = 10.0;
            c.open_backoff_multiplier = 2.0;
            c.max_timeout_seconds = Some(35.0);
        });
        let mut b = Backoff::new(1);
        b.opened(&s, false);
        assert_eq!(b.open_time(&s), Duration::from_secs(10));
        let times: [u64; 3] = core::array::from_fn(|_| {
            b.opened(&s, true);
            b.open_time(&s).as_secs()
        });
        assert_eq!(times, [20, 35, 35]);
        b.closed();
        assert_eq!(b.open_time(&s), Duration::from_secs(10));
    }

    #[test]
    fn a_cap_below_the_timeout_does_not_shorten_it() {
        let s = settings(|c| {
            c.timeout_seconds = 10.0;
            c.open_backoff_multiplier = 2.0;
            c.max_timeout_seconds = Some(1.0);
        });
        let mut b = Backoff::new(1);
        b.opened(&s, true);
        assert_eq!(b.open_time(&s), Duration::from_secs(10));
    }

    #[test]
    fn jitter_cuts_up_to_its_share_and_the_same_seed_draws_the_same_cuts() {
        let s = settings(|c| {
            c.timeout_seconds = 100.0;
            c.jitter = 0.5;
        });
        let draw = |seed| {
            let mut b = Backoff::new(seed);
            [0; 8].map(|_| {
                b.opened(&s, false);
                b.open_time(&s)
            })
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        assert!(
            a.iter()
                .all(|d| *d > Duration::from_secs(50) && *d <= Duration::from_secs(100))
        );
    }
}
