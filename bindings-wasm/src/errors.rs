//! Every error the binding throws. Each converts into a real JS error whose message names the
//! field as the caller wrote it (`config.timeoutSeconds`, `snapshot.counters[2]`): a
//! `TypeError` for a value of the wrong shape or type, a `RangeError` for a value out of
//! bounds, a plain `Error` otherwise.
//!
//! Numbers in messages are formatted by JS (`Number.prototype.toString`): Rust's float
//! formatting would cost about a quarter of the module's size budget.

use fact_resilience_core::ConfigError;
use std::fmt;
use wasm_bindgen::JsValue;

/// A number shown as JS shows it.
#[derive(Clone, Copy, Debug)]
pub struct Num(pub f64);

impl fmt::Display for Num {
    #[cfg(target_arch = "wasm32")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: String = js_sys::Number::from(self.0)
            .to_string_with_radix(10)
            .map(String::from)
            .unwrap_or_default();
        f.write_str(&s)
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A JS input (config or snapshot) had the wrong shape, type or range.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A field that does not exist.
    #[error("{path} is not a known field")]
    Unknown {
        /// Where, e.g. `config.failureTreshold`.
        path: String,
    },
    /// A required field was absent.
    #[error("{path} is missing")]
    Missing {
        /// Where.
        path: String,
    },
    /// A value of the wrong JS type.
    #[error("{path} must be {expected}, got {got}")]
    Type {
        /// Where.
        path: String,
        /// What was expected (`a number`, `an object`, ...).
        expected: &'static str,
        /// What was found (`typeof`, or `null`/`an array`).
        got: String,
    },
    /// A number outside what the field accepts.
    #[error("{path} must be {expected}, got {value}")]
    Range {
        /// Where.
        path: String,
        /// The accepted range, in words.
        expected: &'static str,
        /// The refused value.
        value: Num,
    },
}

/// Building or replacing a configuration failed (`breakerCreate`, `breakerSetConfig`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigInputError {
    /// The object itself was malformed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The core refused a value (thresholds, durations, factors).
    #[error("{prefix}.{} must be {}, got {}", rule(.error).0, rule(.error).1, rule(.error).2)]
    Rule {
        /// `config` or `snapshot.config`.
        prefix: &'static str,
        /// The core's verdict.
        error: ConfigError,
    },
}

/// Restoring a snapshot failed (`breakerRestore`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The snapshot was malformed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Its config was refused.
    #[error(transparent)]
    Config(#[from] ConfigInputError),
    /// It was written in a format version this build does not read.
    #[error("snapshot.version {found} is not supported (expected {expected})")]
    Version {
        /// The version found.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
}

/// A call named a breaker that does not exist (disposed).
#[derive(Debug, thiserror::Error)]
#[error("no such breaker (handle {handle}): it was disposed")]
pub struct NoSuchBreaker {
    /// The handle given.
    pub handle: u32,
}

/// Converting a result to JS failed (should not happen: every value sent is JSON-like).
#[derive(Debug, thiserror::Error)]
#[error("could not convert {what} to a JS value")]
pub struct ExportError {
    /// What was being converted.
    pub what: &'static str,
}

/// The JS (camelCase) name of each core `Config` field.
pub const FIELDS: [(&str, &str); 11] = [
    ("failure_threshold", "failureThreshold"),
    ("success_threshold", "successThreshold"),
    ("timeout_seconds", "timeoutSeconds"),
    ("rolling_window_seconds", "rollingWindowSeconds"),
    ("window_buckets", "windowBuckets"),
    ("gradual_recovery", "gradualRecovery"),
    ("recovery_factor", "recoveryFactor"),
    ("max_recent_failures", "maxRecentFailures"),
    ("max_message_bytes", "maxMessageBytes"),
    ("half_open_max_in_flight", "halfOpenMaxInFlight"),
    ("probe_lease_seconds", "probeLeaseSeconds"),
];

/// The JS spelling of a core field name.
pub fn js_field(snake: &str) -> &str {
    FIELDS
        .iter()
        .find(|(s, _)| *s == snake)
        .map_or(snake, |(_, js)| js)
}

/// A core rule as (JS field, bound in words, refused value).
fn rule(e: &ConfigError) -> (&str, &'static str, Num) {
    const DURATION: &str = "a finite number of seconds > 0 and at most 100 years";
    let (bound, value) = match *e {
        ConfigError::TimeoutSeconds { value }
        | ConfigError::RollingWindowSeconds { value }
        | ConfigError::ProbeLeaseSeconds { value } => (DURATION, value),
        ConfigError::RecoveryFactor { value } => ("in (0, 1]", value),
        ConfigError::HalfOpenMaxInFlightZero => ("at least 1 (or null for unlimited)", 0.0),
        ConfigError::WindowBuckets { value } => ("in 1..=4096", f64::from(value)),
        _ => ("at least 1", 0.0),
    };
    (js_field(e.field()), bound, Num(value))
}

fn js_error(msg: String, type_error: bool) -> JsValue {
    if type_error {
        js_sys::TypeError::new(&msg).into()
    } else {
        js_sys::RangeError::new(&msg).into()
    }
}

impl InputError {
    fn is_type_error(&self) -> bool {
        !matches!(self, InputError::Range { .. })
    }
}

impl ConfigInputError {
    fn is_type_error(&self) -> bool {
        matches!(self, ConfigInputError::Input(e) if e.is_type_error())
    }
}

impl From<ConfigInputError> for JsValue {
    fn from(e: ConfigInputError) -> JsValue {
        let t = e.is_type_error();
        js_error(e.to_string(), t)
    }
}

impl From<RestoreError> for JsValue {
    fn from(e: RestoreError) -> JsValue {
        let t = match &e {
            RestoreError::Input(i) => i.is_type_error(),
            RestoreError::Config(c) => c.is_type_error(),
            RestoreError::Version { .. } => false,
        };
        js_error(e.to_string(), t)
    }
}

impl From<NoSuchBreaker> for JsValue {
    fn from(e: NoSuchBreaker) -> JsValue {
        js_sys::Error::new(&e.to_string()).into()
    }
}

impl From<ExportError> for JsValue {
    fn from(e: ExportError) -> JsValue {
        js_sys::Error::new(&e.to_string()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_rules_are_named_in_camel_case() {
        let e = ConfigInputError::Rule {
            prefix: "config",
            error: ConfigError::TimeoutSeconds { value: -1.0 },
        };
        assert_eq!(
            e.to_string(),
            "config.timeoutSeconds must be a finite number of seconds > 0 and at most 100 years, got -1"
        );
        let e = ConfigInputError::Rule {
            prefix: "config",
            error: ConfigError::FailureThresholdZero,
        };
        assert_eq!(
            e.to_string(),
            "config.failureThreshold must be at least 1, got 0"
        );
    }

    #[test]
    fn every_core_field_has_a_js_name() {
        let fields = [
            ConfigError::FailureThresholdZero,
            ConfigError::SuccessThresholdZero,
            ConfigError::TimeoutSeconds { value: 0.0 },
            ConfigError::RollingWindowSeconds { value: 0.0 },
            ConfigError::WindowBuckets { value: 0 },
            ConfigError::RecoveryFactor { value: 0.0 },
            ConfigError::MaxRecentFailuresZero,
            ConfigError::MaxMessageBytesZero,
            ConfigError::HalfOpenMaxInFlightZero,
            ConfigError::ProbeLeaseSeconds { value: 0.0 },
        ];
        for e in fields {
            assert!(!js_field(e.field()).contains('_'), "{}", e.field());
        }
    }
}
