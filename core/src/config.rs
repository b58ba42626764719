//! [`Config`]: the knobs, in FACT's names and units, and the rules that make a value valid.
//!
//! `Config` is plain data so that every binding can fill it from its own language. The core
//! never runs on an unchecked `Config`: [`Config::validate`] turns it into [`Settings`], whose
//! types cannot hold a bad value, and only `Settings` reach the state machine.

use core::num::NonZeroU32;
use core::time::Duration;

/// The longest duration a field accepts: 100 years, far below the ~584-year range of
/// [`crate::Instant`], so deadlines never saturate.
pub const MAX_DURATION_SECONDS: f64 = 100.0 * 365.25 * 24.0 * 3600.0;

/// The smallest `recovery_factor`: HALF_OPEN admits at least one probe per 1,000 calls
/// offered, so it can close within `success_threshold * 1000` offered calls. A smaller factor
/// (1e-9, or a subnormal) would keep the circuit half-open for practically ever.
pub const MIN_RECOVERY_FACTOR: f64 = 0.001;

/// The most buckets a rolling window may have (32 KiB of counters): finer expiry than this
/// buys nothing, and a bound keeps a bad value from asking for gigabytes.
pub const MAX_WINDOW_BUCKETS: u32 = 4096;

/// Circuit-breaker configuration. Defaults are FACT's (`CircuitBreakerConfig`); fields beyond
/// FACT default to FACT's behaviour.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Config {
    /// Consecutive failures in CLOSED that open the circuit. Default 5; at least 1.
    pub failure_threshold: u32,
    /// Successful probes in HALF_OPEN that close the circuit. Default 3; at least 1.
    pub success_threshold: u32,
    /// Seconds spent OPEN before the next call may probe. Default 60; finite and > 0.
    pub timeout_seconds: f64,
    /// Seconds of history behind `failure_rate`. Default 300; finite and > 0.
    pub rolling_window_seconds: f64,
    /// Time buckets the rolling window is divided into: more buckets, finer expiry, more
    /// memory (8 bytes each). Default 60; 1 to [`MAX_WINDOW_BUCKETS`].
    pub window_buckets: u32,
    /// Throttle calls in HALF_OPEN to `recovery_factor` of those offered. Default true.
    pub gradual_recovery: bool,
    /// Share of HALF_OPEN calls let through when `gradual_recovery` is on. Default 0.5;
    /// in [[`MIN_RECOVERY_FACTOR`], 1], so that HALF_OPEN can always close.
    pub recovery_factor: f64,
    /// Failure records kept for `recent_failures` (oldest dropped first). Default 50; at least 1.
    pub max_recent_failures: u32,
    /// Longest stored error text in bytes; longer text is cut on a char boundary. Default 256;
    /// at least 1.
    pub max_message_bytes: u32,
    /// Most probes in flight at once in HALF_OPEN. Default `None` (unlimited, as FACT).
    pub half_open_max_in_flight: Option<u32>,
    /// Seconds after which an unanswered HALF_OPEN probe is presumed lost, freeing its
    /// in-flight slot. Default `None` (a probe holds its slot until its outcome arrives).
    pub probe_lease_seconds: Option<f64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            failure_threshold: 5,
            success_threshold: 3,
            timeout_seconds: 60.0,
            rolling_window_seconds: 300.0,
            window_buckets: 60,
            gradual_recovery: true,
            recovery_factor: 0.5,
            max_recent_failures: 50,
            max_message_bytes: 256,
            half_open_max_in_flight: None,
            probe_lease_seconds: None,
        }
    }
}

/// Why a [`Config`] was refused. Each variant names its field; `field()` gives it as a string.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `failure_threshold` was 0.
    #[error("failure_threshold must be at least 1, got 0")]
    FailureThresholdZero,
    /// `success_threshold` was 0.
    #[error("success_threshold must be at least 1, got 0")]
    SuccessThresholdZero,
    /// `timeout_seconds` was not a finite number in (0, MAX_DURATION_SECONDS].
    #[error("timeout_seconds must be finite, > 0 and at most 100 years, got {value}")]
    TimeoutSeconds {
        /// The refused value.
        value: f64,
    },
    /// `rolling_window_seconds` was not a finite number in (0, MAX_DURATION_SECONDS].
    #[error("rolling_window_seconds must be finite, > 0 and at most 100 years, got {value}")]
    RollingWindowSeconds {
        /// The refused value.
        value: f64,
    },
    /// `window_buckets` was 0 or more than [`MAX_WINDOW_BUCKETS`].
    #[error("window_buckets must be in 1..=4096, got {value}")]
    WindowBuckets {
        /// The refused value.
        value: u32,
    },
    /// `recovery_factor` was outside [[`MIN_RECOVERY_FACTOR`], 1].
    #[error(
        "recovery_factor must be in [0.001, 1] (at least one probe per 1000 half-open calls, \
         so the circuit can close), got {value}"
    )]
    RecoveryFactor {
        /// The refused value.
        value: f64,
    },
    /// `max_recent_failures` was 0.
    #[error("max_recent_failures must be at least 1, got 0")]
    MaxRecentFailuresZero,
    /// `max_message_bytes` was 0.
    #[error("max_message_bytes must be at least 1, got 0")]
    MaxMessageBytesZero,
    /// `half_open_max_in_flight` was `Some(0)`.
    #[error("half_open_max_in_flight must be at least 1 (or unset for unlimited), got 0")]
    HalfOpenMaxInFlightZero,
    /// `probe_lease_seconds` was not a finite number in (0, MAX_DURATION_SECONDS].
    #[error("probe_lease_seconds must be finite, > 0 and at most 100 years, got {value}")]
    ProbeLeaseSeconds {
        /// The refused value.
        value: f64,
    },
}

impl ConfigError {
    /// The name of the offending `Config` field.
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::FailureThresholdZero => "failure_threshold",
            ConfigError::SuccessThresholdZero => "success_threshold",
            ConfigError::TimeoutSeconds { .. } => "timeout_seconds",
            ConfigError::RollingWindowSeconds { .. } => "rolling_window_seconds",
            ConfigError::WindowBuckets { .. } => "window_buckets",
            ConfigError::RecoveryFactor { .. } => "recovery_factor",
            ConfigError::MaxRecentFailuresZero => "max_recent_failures",
            ConfigError::MaxMessageBytesZero => "max_message_bytes",
            ConfigError::HalfOpenMaxInFlightZero => "half_open_max_in_flight",
            ConfigError::ProbeLeaseSeconds { .. } => "probe_lease_seconds",
        }
    }
}

/// A validated [`Config`], in the types the state machine works with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settings {
    pub failure_threshold: NonZeroU32,
    pub success_threshold: NonZeroU32,
    pub timeout: Duration,
    pub rolling_window: Duration,
    pub window_buckets: NonZeroU32,
    pub gradual_recovery: bool,
    pub recovery_factor: f64,
    pub max_recent_failures: NonZeroU32,
    pub max_message_bytes: NonZeroU32,
    pub half_open_max_in_flight: Option<NonZeroU32>,
    pub probe_lease: Option<Duration>,
}

impl Config {
    /// Checks every field; the first bad one is reported.
    ///
    /// ```
    /// use fact_resilience_core::{Config, ConfigError};
    ///
    /// assert!(Config::default().validate().is_ok());
    /// let bad = Config { recovery_factor: 1.5, ..Config::default() };
    /// assert_eq!(bad.validate(), Err(ConfigError::RecoveryFactor { value: 1.5 }));
    /// assert_eq!(bad.validate().unwrap_err().field(), "recovery_factor");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.settings().map(|_| ())
    }

    pub(crate) fn settings(&self) -> Result<Settings, ConfigError> {
        let nz = |v: u32, e: ConfigError| NonZeroU32::new(v).ok_or(e);
        Ok(Settings {
            failure_threshold: nz(self.failure_threshold, ConfigError::FailureThresholdZero)?,
            success_threshold: nz(self.success_threshold, ConfigError::SuccessThresholdZero)?,
            timeout: seconds(self.timeout_seconds).ok_or(ConfigError::TimeoutSeconds {
                value: self.timeout_seconds,
            })?,
            rolling_window: seconds(self.rolling_window_seconds).ok_or(
                ConfigError::RollingWindowSeconds {
                    value: self.rolling_window_seconds,
                },
            )?,
            window_buckets: NonZeroU32::new(self.window_buckets)
                .filter(|n| n.get() <= MAX_WINDOW_BUCKETS)
                .ok_or(ConfigError::WindowBuckets {
                    value: self.window_buckets,
                })?,
            gradual_recovery: self.gradual_recovery,
            recovery_factor: if self.recovery_factor >= MIN_RECOVERY_FACTOR
                && self.recovery_factor <= 1.0
            {
                self.recovery_factor
            } else {
                return Err(ConfigError::RecoveryFactor {
                    value: self.recovery_factor,
                });
            },
            max_recent_failures: nz(self.max_recent_failures, ConfigError::MaxRecentFailuresZero)?,
            max_message_bytes: nz(self.max_message_bytes, ConfigError::MaxMessageBytesZero)?,
            half_open_max_in_flight: match self.half_open_max_in_flight {
                None => None,
                Some(n) => Some(nz(n, ConfigError::HalfOpenMaxInFlightZero)?),
            },
            probe_lease: match self.probe_lease_seconds {
                None => None,
                Some(s) => Some(seconds(s).ok_or(ConfigError::ProbeLeaseSeconds { value: s })?),
            },
        })
    }
}

/// Seconds as a `Duration` of at least 1 ns, or `None` if not finite, not positive, too large,
/// or too small to be a nanosecond.
fn seconds(s: f64) -> Option<Duration> {
    if !(s > 0.0 && s <= MAX_DURATION_SECONDS) {
        return None; // also catches NaN
    }
    Duration::try_from_secs_f64(s).ok().filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(change: impl FnOnce(&mut Config)) -> ConfigError {
        let mut c = Config::default();
        change(&mut c);
        c.validate().expect_err("config should be refused")
    }

    #[test]
    fn defaults_are_facts_and_valid() {
        let c = Config::default();
        assert_eq!((c.failure_threshold, c.success_threshold), (5, 3));
        assert_eq!((c.timeout_seconds, c.rolling_window_seconds), (60.0, 300.0));
        assert!(c.gradual_recovery);
        assert_eq!(c.recovery_factor, 0.5);
        assert_eq!(c.max_recent_failures, 50);
        assert_eq!(c.max_message_bytes, 256);
        assert_eq!(c.half_open_max_in_flight, None);
        assert_eq!(c.probe_lease_seconds, None);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn every_bad_value_has_its_own_variant_naming_the_field() {
        let cases: [(ConfigError, &str); 10] = [
            (refused(|c| c.failure_threshold = 0), "failure_threshold"),
            (refused(|c| c.success_threshold = 0), "success_threshold"),
            (refused(|c| c.timeout_seconds = 0.0), "timeout_seconds"),
            (
                refused(|c| c.rolling_window_seconds = -1.0),
                "rolling_window_seconds",
            ),
            (
                refused(|c| c.window_buckets = MAX_WINDOW_BUCKETS + 1),
                "window_buckets",
            ),
            (refused(|c| c.recovery_factor = 0.0), "recovery_factor"),
            (
                refused(|c| c.max_recent_failures = 0),
                "max_recent_failures",
            ),
            (refused(|c| c.max_message_bytes = 0), "max_message_bytes"),
            (
                refused(|c| c.half_open_max_in_flight = Some(0)),
                "half_open_max_in_flight",
            ),
            (
                refused(|c| c.probe_lease_seconds = Some(f64::NAN)),
                "probe_lease_seconds",
            ),
        ];
        for (i, (err, field)) in cases.iter().enumerate() {
            assert_eq!(err.field(), *field);
            assert!(alloc::format!("{err}").starts_with(field), "{err}");
            for (other, _) in &cases[i + 1..] {
                assert_ne!(core::mem::discriminant(err), core::mem::discriminant(other));
            }
        }
    }

    #[test]
    fn durations_must_be_finite_positive_and_bounded() {
        for bad in [
            0.0,
            -0.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            1e-12,
        ] {
            assert_eq!(
                refused(|c| c.timeout_seconds = bad).field(),
                "timeout_seconds",
                "{bad}"
            );
        }
        let ok = Config {
            timeout_seconds: 1e-9,
            ..Config::default()
        };
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn recovery_factor_bounds_are_open_then_closed() {
        assert!(
            Config {
                recovery_factor: 1.0,
                ..Config::default()
            }
            .validate()
            .is_ok()
        );
        assert!(
            Config {
                recovery_factor: MIN_RECOVERY_FACTOR,
                ..Config::default()
            }
            .validate()
            .is_ok()
        );
        for bad in [0.0, -0.1, 1.0000001, f64::NAN] {
            assert_eq!(
                refused(|c| c.recovery_factor = bad).field(),
                "recovery_factor"
            );
        }
    }

    // Issue 10: a factor of 1e-9 was accepted, and HALF_OPEN then needed about 3e9 offered
    // calls to gather the default three probes.
    #[test]
    fn recovery_factor_too_small_to_ever_close_is_refused() {
        for tiny in [1e-9, 5e-324, MIN_RECOVERY_FACTOR * 0.999] {
            let err = refused(|c| c.recovery_factor = tiny);
            assert_eq!(err, ConfigError::RecoveryFactor { value: tiny });
            assert!(alloc::format!("{err}").contains("[0.001, 1]"), "{err}");
        }
    }

    #[test]
    fn smallest_recovery_factor_closes_within_the_documented_bound() {
        use crate::{Breaker, Instant};
        let config = Config {
            failure_threshold: 1,
            success_threshold: 3,
            timeout_seconds: 1.0,
            recovery_factor: MIN_RECOVERY_FACTOR,
            ..Config::default()
        };
        let bound = (f64::from(config.success_threshold) / MIN_RECOVERY_FACTOR) as u32;
        let mut b = Breaker::new(config, Instant::ZERO).unwrap();
        let failure = crate::Failure {
            error_type: "E",
            error_message: "",
            operation: "get",
            timestamp: 0.0,
        };
        let p = b.try_acquire(Instant::ZERO).unwrap();
        let _ = b.on_failure(p, &failure, Instant::ZERO);
        let now = Instant::from_nanos(2_000_000_000);
        let mut offered = 0u32;
        while b.state() != crate::State::Closed {
            assert!(
                offered < bound,
                "still {:?} after {offered} calls",
                b.state()
            );
            offered += 1;
            if let Ok(p) = b.try_acquire(now) {
                let _ = b.on_success(p, now);
            }
        }
    }
}
