//! [`HalfOpenGate`]: which calls may probe the cache while the circuit is HALF_OPEN.
//!
//! Admission is deterministic so that tests and replicas agree: with gradual recovery on, the
//! `n`-th call offered is admitted iff `admitted < ceil(n * recovery_factor - 1e-9)`, and the
//! first call is always admitted. Factor 0.5 gives admit, throttle, admit, throttle, ...; 1.0
//! admits every call. An optional cap on probes in flight is checked first; a call turned away
//! by the cap is not counted as offered. An optional probe lease frees the slots of probes
//! whose outcome never came back.

use crate::clock::Instant;
use crate::config::Settings;

/// Counters of the current HALF_OPEN episode; all zero when the circuit is not HALF_OPEN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HalfOpenGate {
    /// Calls offered while throttling (gradual recovery on).
    pub attempts: u32,
    /// Calls admitted as probes.
    pub admitted: u32,
    /// Probes that succeeded.
    pub successes: u32,
    /// Admitted probes whose outcome has not arrived.
    pub in_flight: u32,
    /// When the newest probe was admitted (for the lease).
    pub newest_probe_at: Instant,
}

impl HalfOpenGate {
    /// When every probe in flight will have outlived the lease, if a lease is set and a probe
    /// is in flight. The newest probe decides, so no probe's slot is freed early.
    pub fn lease_deadline(&self, s: &Settings) -> Option<Instant> {
        match s.probe_lease {
            Some(lease) if self.in_flight > 0 => Some(self.newest_probe_at.saturating_add(lease)),
            _ => None,
        }
    }

    /// Whether the lease deadline has passed at `now`.
    pub fn leases_expired(&self, s: &Settings, now: Instant) -> bool {
        self.lease_deadline(s).is_some_and(|d| now >= d)
    }

    /// Frees every in-flight slot (their outcomes will arrive stale).
    pub fn forget_in_flight(&mut self) {
        self.in_flight = 0;
    }

    /// Decides one call; `true` admits it as a probe.
    pub fn admit(&mut self, s: &Settings, now: Instant) -> bool {
        if s.half_open_max_in_flight
            .is_some_and(|max| self.in_flight >= max.get())
        {
            return false;
        }
        if s.gradual_recovery {
            self.attempts = self.attempts.saturating_add(1);
            let quota = ceil_quota(self.attempts, s.recovery_factor);
            if self.admitted != 0 && u64::from(self.admitted) >= quota {
                return false;
            }
        }
        self.admitted = self.admitted.saturating_add(1);
        self.in_flight = self.in_flight.saturating_add(1);
        self.newest_probe_at = now;
        true
    }

    /// A probe's outcome arrived.
    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

/// `ceil(attempts * factor - 1e-9)`, clamped at 0, without `std`'s float functions. The
/// epsilon absorbs float error so that, e.g., `3 * 0.1` counts as 0.3, not 0.30000000000000004.
pub(crate) fn ceil_quota(attempts: u32, factor: f64) -> u64 {
    let x = f64::from(attempts) * factor - 1e-9;
    let t = x as u64; // truncates toward zero; negative and NaN become 0
    if (t as f64) < x { t + 1 } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use core::time::Duration;

    use crate::config::test_settings as settings;

    /// Offers `n` calls, completing each admitted probe at once; returns the pattern.
    fn pattern(s: &Settings, n: usize) -> Vec<bool> {
        let mut g = HalfOpenGate::default();
        (0..n)
            .map(|_| {
                let ok = g.admit(s, Instant::ZERO);
                if ok {
                    g.release();
                }
                ok
            })
            .collect()
    }

    #[test]
    fn quota_is_a_ceiling_with_float_slack() {
        assert_eq!(ceil_quota(1, 0.5), 1);
        assert_eq!(ceil_quota(2, 0.5), 1);
        assert_eq!(ceil_quota(3, 0.5), 2);
        assert_eq!(ceil_quota(10, 0.1), 1);
        assert_eq!(ceil_quota(3, 0.1), 1);
        assert_eq!(ceil_quota(1, 1e-12), 0);
    }

    #[test]
    fn half_factor_alternates_starting_with_admit() {
        let s = settings(|_| {});
        assert_eq!(pattern(&s, 6), [true, false, true, false, true, false]);
    }

    #[test]
    fn factor_one_admits_everything() {
        let s = settings(|c| c.recovery_factor = 1.0);
        assert!(pattern(&s, 20).into_iter().all(|a| a));
    }

    #[test]
    fn factor_one_tenth_admits_one_in_ten_and_the_first_always() {
        let s = settings(|c| c.recovery_factor = 0.1);
        let p = pattern(&s, 20);
        let admitted: Vec<usize> = (0..20).filter(|&i| p[i]).collect();
        assert_eq!(admitted, [0, 10]);
        let tiny = settings(|c| c.recovery_factor = crate::config::MIN_RECOVERY_FACTOR);
        assert_eq!(pattern(&tiny, 3), [true, false, false]);
    }

    #[test]
    fn without_gradual_recovery_every_call_probes() {
        let s = settings(|c| {
            c.gradual_recovery = false;
            c.recovery_factor = 0.1;
        });
        assert!(pattern(&s, 10).into_iter().all(|a| a));
    }

    #[test]
    fn in_flight_cap_turns_calls_away_without_counting_them() {
        let s = settings(|c| {
            c.recovery_factor = 1.0;
            c.half_open_max_in_flight = Some(2);
        });
        let mut g = HalfOpenGate::default();
        assert!(g.admit(&s, Instant::ZERO));
        assert!(g.admit(&s, Instant::ZERO));
        assert!(!g.admit(&s, Instant::ZERO));
        assert_eq!(g.attempts, 2);
        g.release();
        assert!(g.admit(&s, Instant::ZERO));
    }

    #[test]
    fn leases_expire_only_when_the_newest_probe_is_overdue() {
        let s = settings(|c| c.probe_lease_seconds = Some(1.0));
        let mut g = HalfOpenGate::default();
        let t0 = Instant::ZERO;
        assert!(!g.leases_expired(&s, t0), "nothing in flight");
        assert!(g.admit(&s, t0));
        let t1 = t0.saturating_add(Duration::from_millis(999));
        assert!(!g.leases_expired(&s, t1));
        let t2 = t0.saturating_add(Duration::from_secs(1));
        assert!(g.leases_expired(&s, t2));
        g.forget_in_flight();
        assert_eq!(g.in_flight, 0);
        assert!(settings(|_| {}).probe_lease.is_none());
    }
}
