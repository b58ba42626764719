//! [`Config`]: the knobs, in FACT's names and units, and the rules that make a value valid.
//!
//! Every field is declared once, in `fields.rs`; its rule's message is written once, in
//! `rule.rs`. `Config` is plain data so that every binding can fill it from its own language,
//! by name ([`Config::set`], [`FIELDS`]). The core never runs on an unchecked `Config`:
//! validation turns it into [`Settings`], whose types cannot hold a bad value, and only
//! `Settings` reach the state machine.

mod fields;
mod rule;
mod weights;

pub use fields::{Config, FIELDS, Field, FieldError};
pub use rule::{ConfigError, FieldRule, MAX_DURATION_SECONDS};
/// What `failure_weights` does (see [`weights::DOC`]).
pub use weights::DOC as FAILURE_WEIGHTS_DOC;
pub use weights::{DEFAULT_KIND, FailureWeights};

use alloc::sync::Arc;
use core::num::NonZeroU32;
use core::time::Duration;

/// The smallest `recovery_factor`: HALF_OPEN admits at least one probe per 1,000 calls
/// offered, so it can close within `success_threshold * 1000` offered calls. A smaller factor
/// (1e-9, or a subnormal) would keep the circuit half-open for practically ever.
pub const MIN_RECOVERY_FACTOR: f64 = 0.001;

/// The most buckets a rolling window may have (16 KiB of counters): finer expiry than this
/// buys nothing, and a bound keeps a bad value from asking for gigabytes.
pub const MAX_WINDOW_BUCKETS: u32 = 4096;

/// The type of a [`Field`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// A whole number in `0..2^32`.
    U32,
    /// A number.
    F64,
    /// A boolean.
    Bool,
    /// A whole number, or unset.
    OptU32,
    /// A number, or unset.
    OptF64,
}

impl core::fmt::Display for FieldKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FieldKind::U32 => "a whole number",
            FieldKind::F64 => "a number",
            FieldKind::Bool => "a boolean",
            FieldKind::OptU32 => "a whole number or unset",
            FieldKind::OptF64 => "a number or unset",
        })
    }
}

/// A field's value, for by-name access.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue {
    /// See [`FieldKind::U32`].
    U32(u32),
    /// See [`FieldKind::F64`].
    F64(f64),
    /// See [`FieldKind::Bool`].
    Bool(bool),
    /// See [`FieldKind::OptU32`].
    OptU32(Option<u32>),
    /// See [`FieldKind::OptF64`].
    OptF64(Option<f64>),
}

impl FieldValue {
    /// The value as a number (`None` for unset, or a boolean).
    pub fn number(self) -> Option<f64> {
        match self {
            FieldValue::U32(n) | FieldValue::OptU32(Some(n)) => Some(f64::from(n)),
            FieldValue::F64(x) | FieldValue::OptF64(Some(x)) => Some(x),
            FieldValue::Bool(_) | FieldValue::OptU32(None) | FieldValue::OptF64(None) => None,
        }
    }

    /// Whether the field may be unset.
    pub fn is_optional(self) -> bool {
        matches!(self, FieldValue::OptU32(_) | FieldValue::OptF64(_))
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
    pub failure_rate_threshold: Option<f64>,
    pub minimum_calls: NonZeroU32,
    pub slow_call: Option<Duration>,
    pub slow_call_rate_threshold: f64,
    pub open_backoff_multiplier: f64,
    pub max_timeout: Option<Duration>,
    pub jitter: f64,
    pub jitter_seed: Option<u32>,
    pub ramp: Option<Duration>,
    /// `None` while no weight is set: every failure weighs 1.
    pub failure_weights: Option<FailureWeights>,
}

impl Settings {
    /// Whether a rule reads the rate window (see `Breaker::rates`): decided once here, so
    /// that with every policy off the hot path tests one `Option`.
    pub fn rate_rules(&self) -> bool {
        self.failure_rate_threshold.is_some() || self.slow_call.is_some()
    }
}

/// A config with its [`Settings`], as the breakers made from it hold them: immutable and
/// behind an `Arc`, so that breakers made from one config (a registry level's keys) share one
/// copy instead of carrying the whole config each.
#[derive(Debug)]
pub(crate) struct Profile {
    pub config: Config,
    pub settings: Settings,
}

impl Profile {
    /// `config` validated, or the first rule it breaks. With `std`, every default config
    /// shares one profile, so that breakers built without a config (each binding's
    /// `CacheCircuitBreaker()`) do not each carry a copy.
    pub fn new(config: Config) -> Result<Arc<Profile>, ConfigError> {
        let settings = config.settings()?;
        #[cfg(feature = "std")]
        if config.is_exactly_default() {
            static DEFAULT: std::sync::OnceLock<Arc<Profile>> = std::sync::OnceLock::new();
            let shared = DEFAULT.get_or_init(|| Arc::new(Profile { config, settings }));
            return Ok(Arc::clone(shared));
        }
        Ok(Arc::new(Profile { config, settings }))
    }
}

impl Config {
    /// Whether every field holds its default, floats bit for bit (`-0.0` is not `0.0` here:
    /// a breaker sharing the default profile reports the default config back exactly).
    #[cfg(feature = "std")]
    fn is_exactly_default(&self) -> bool {
        let same = |a: Option<FieldValue>, b: FieldValue| match (a, b) {
            (Some(FieldValue::F64(x)), FieldValue::F64(y)) => x.to_bits() == y.to_bits(),
            (Some(FieldValue::OptF64(x)), FieldValue::OptF64(y)) => {
                x.map(f64::to_bits) == y.map(f64::to_bits)
            }
            (a, b) => a == Some(b),
        };
        *self == Config::default() && FIELDS.iter().all(|f| same(self.get(f.name), f.default))
    }

    /// The config in the state machine's types, or the first rule it breaks.
    pub(crate) fn settings(&self) -> Result<Settings, ConfigError> {
        self.validate()?;
        // Validated: every count below is at least 1 and every duration in range, so the
        // fallbacks are never taken; they only spare the core a panic path.
        let nz = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        let secs = |s: f64| rule::seconds(s).unwrap_or(Duration::from_nanos(1));
        Ok(Settings {
            failure_threshold: nz(self.failure_threshold),
            success_threshold: nz(self.success_threshold),
            timeout: secs(self.timeout_seconds),
            rolling_window: secs(self.rolling_window_seconds),
            window_buckets: nz(self.window_buckets),
            gradual_recovery: self.gradual_recovery,
            recovery_factor: self.recovery_factor,
            max_recent_failures: nz(self.max_recent_failures),
            max_message_bytes: nz(self.max_message_bytes),
            half_open_max_in_flight: self.half_open_max_in_flight.map(nz),
            probe_lease: self.probe_lease_seconds.map(secs),
            failure_rate_threshold: self.failure_rate_threshold,
            minimum_calls: nz(self.minimum_calls),
            slow_call: self.slow_call_duration_seconds.map(secs),
            slow_call_rate_threshold: self.slow_call_rate_threshold,
            open_backoff_multiplier: self.open_backoff_multiplier,
            max_timeout: self.max_timeout_seconds.map(secs),
            jitter: self.jitter,
            jitter_seed: self.jitter_seed,
            ramp: rule::seconds(self.ramp_seconds),
            failure_weights: (!self.failure_weights.is_empty())
                .then(|| self.failure_weights.clone()),
        })
    }
}

/// The default config's settings with `change` applied, for the state machine's unit tests.
#[cfg(test)]
pub(crate) fn test_settings(change: impl FnOnce(&mut Config)) -> Settings {
    let mut c = Config::default();
    change(&mut c);
    c.settings().unwrap()
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
    fn every_bad_value_is_refused_naming_its_field_and_bound() {
        let cases: [(ConfigError, &str); 10] = [
            (
                refused(|c| c.failure_threshold = 0),
                "failure_threshold must be at least 1, got 0",
            ),
            (
                refused(|c| c.success_threshold = 0),
                "success_threshold must be at least 1, got 0",
            ),
            (
                refused(|c| c.timeout_seconds = 0.0),
                "timeout_seconds must be finite, > 0",
            ),
            (
                refused(|c| c.rolling_window_seconds = -1.0),
                "rolling_window_seconds must be",
            ),
            (
                refused(|c| c.window_buckets = MAX_WINDOW_BUCKETS + 1),
                "window_buckets must be in 1..=4096, got 4097",
            ),
            (
                refused(|c| c.recovery_factor = 0.0),
                "recovery_factor must be in [0.001, 1] (",
            ),
            (
                refused(|c| c.max_recent_failures = 0),
                "max_recent_failures must be at least 1",
            ),
            (
                refused(|c| c.max_message_bytes = 0),
                "max_message_bytes must be at least 1",
            ),
            (
                refused(|c| c.half_open_max_in_flight = Some(0)),
                "half_open_max_in_flight must be at least 1 (or unset for none), got 0",
            ),
            (
                refused(|c| c.probe_lease_seconds = Some(f64::NAN)),
                "probe_lease_seconds must be",
            ),
        ];
        for (err, message) in &cases {
            let text = alloc::format!("{err}");
            assert!(text.starts_with(message), "{text}");
            assert!(text.starts_with(err.field()), "{text}");
        }
    }

    #[test]
    fn every_field_is_in_the_table_readable_and_settable_by_name() {
        let mut c = Config::default();
        for f in FIELDS {
            assert_eq!(c.get(f.name), Some(f.default), "{}", f.name);
            assert_eq!(c.set(f.name, f.default), Ok(()));
            assert!(!f.doc().trim().is_empty() && !f.rule.describe().is_empty());
        }
        assert_eq!(c, Config::default());
        assert_eq!(c.get("nope"), None);
        assert_eq!(c.set("nope", FieldValue::U32(1)), Err(FieldError::Unknown));
        assert_eq!(
            c.set("failure_threshold", FieldValue::F64(1.5)),
            Err(FieldError::WrongKind {
                field: "failure_threshold",
                expected: FieldKind::U32
            })
        );
        c.set("probe_lease_seconds", FieldValue::OptF64(Some(2.0)))
            .unwrap();
        assert_eq!(c.probe_lease_seconds, Some(2.0));
    }

    #[cfg(feature = "std")]
    #[test]
    fn only_the_exact_default_config_shares_the_default_profile() {
        let a = Profile::new(Config::default()).unwrap();
        let b = Profile::new(Config::default()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let negative_zero = Config {
            ramp_seconds: -0.0,
            ..Config::default()
        };
        let c = Profile::new(negative_zero).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(c.config.ramp_seconds.is_sign_negative(), "kept as given");
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
            assert!(err.field == "recovery_factor" && err.value == FieldValue::F64(tiny));
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
