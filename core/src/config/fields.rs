//! Every config field, declared once: name, type, default, unit, rule and doc. From this one
//! table come [`Config`] and its `Default`, validation, the by-index and by-name
//! [`Config::get`] / [`Config::set`] the bindings use, and [`FIELDS`], which the generator
//! (`make gen`) turns into the Python stubs, the TypeScript type and the docs' tables.
//!
//! To add a field: one entry below (and the behaviour that reads it in `Settings`).

use super::rule::FieldRule;
use super::{FailureWeights, FieldKind, FieldValue, MAX_WINDOW_BUCKETS, MIN_RECOVERY_FACTOR};

/// One field of [`Config`], as the bindings and the docs see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Field {
    /// The name in snake_case (Rust, Python, vectors); JS uses its camelCase.
    pub name: &'static str,
    /// The value's type.
    pub kind: FieldKind,
    /// The default value.
    pub default: FieldValue,
    /// What a value must be.
    pub rule: FieldRule,
}

impl Field {
    /// The unit ("seconds", "calls", ...), or empty.
    pub fn unit(&self) -> &'static str {
        self.index().map_or("", |i| UNITS[i])
    }

    /// What the field does, in one or more sentences.
    pub fn doc(&self) -> &'static str {
        self.index().map_or("", |i| DOCS[i])
    }

    fn index(&self) -> Option<usize> {
        FIELDS.iter().position(|f| f.name == self.name)
    }
}

macro_rules! kind_type {
    (U32) => { u32 };
    (F64) => { f64 };
    (Bool) => { bool };
    (OptU32) => { Option<u32> };
    (OptF64) => { Option<f64> };
}

macro_rules! config_fields {
    ($(
        #[doc = $doc:literal]
        $name:ident: $kind:ident = $default:expr, unit $unit:literal, rule $rule:expr;
    )*) => {
        /// Circuit-breaker configuration. Defaults are FACT's (`CircuitBreakerConfig`); fields
        /// beyond FACT default to FACT's behaviour. See [`FIELDS`] for units and rules.
        #[derive(Clone, Debug, PartialEq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
        pub struct Config {
            $(#[doc = $doc] pub $name: kind_type!($kind),)*
            /// Weight of a failure by its kind (`Failure::error_type`, e.g. the exception class
            /// name) for the consecutive rule, which then trips when the weights of the run add
            /// up to `failure_threshold`; a kind not listed weighs the `"default"` entry, or 1.
            /// Empty (the default): every failure weighs 1. Not in [`FIELDS`]: not a number.
            pub failure_weights: FailureWeights,
        }

        impl Default for Config {
            fn default() -> Self {
                Config { $($name: $default,)* failure_weights: FailureWeights::new() }
            }
        }

        /// Every field of [`Config`], in declaration order.
        pub const FIELDS: &[Field] = &[$(Field {
            name: stringify!($name),
            kind: FieldKind::$kind,
            default: FieldValue::$kind($default),
            rule: $rule,
        },)*];

        // Units and docs apart from `FIELDS`: only the docs and Python's stubs read them, and a
        // binding that reads only `FIELDS` (wasm, with a size budget) then carries no text.
        const UNITS: &[&str] = &[$($unit,)*];
        const DOCS: &[&str] = &[$($doc,)*];

        impl Config {
            /// Checks every field; the first bad one is reported.
            ///
            /// ```
            /// use fact_resilience_core::{Config, ConfigError};
            ///
            /// assert!(Config::default().validate().is_ok());
            /// let bad = Config { recovery_factor: 1.5, ..Config::default() };
            /// assert_eq!(bad.validate().unwrap_err().field(), "recovery_factor");
            /// assert_eq!(
            ///     bad.validate().unwrap_err().to_string(),
            ///     "recovery_factor must be in [0.001, 1] (at least one probe per 1000 \
            ///      half-open calls, so the circuit can close), got 1.5"
            /// );
            /// ```
            pub fn validate(&self) -> Result<(), crate::ConfigError> {
                // One loop over the table rather than a check per field: the same order, and
                // less code in a binding with a size budget (wasm).
                for (i, f) in FIELDS.iter().enumerate() {
                    if let Some(value) = self.get_at(i) {
                        f.rule.check(f.name, value)?;
                    }
                }
                self.failure_weights.validate()
            }

            /// The value of the field at `index` in [`FIELDS`], or `None` past the end.
            pub fn get_at(&self, index: usize) -> Option<FieldValue> {
                match index {
                    $(i if i == Index::$name as usize => Some(FieldValue::$kind(self.$name)),)*
                    _ => None,
                }
            }

            /// Sets the field at `index` in [`FIELDS`] (not validated: see
            /// [`Config::validate`]). Refused, changing nothing, past the end or for a value of
            /// another kind.
            pub fn set_at(&mut self, index: usize, value: FieldValue) -> Result<(), FieldError> {
                match (index, value) {
                    $((i, FieldValue::$kind(v)) if i == Index::$name as usize => self.$name = v,)*
                    _ => {
                        return Err(match FIELDS.get(index) {
                            Some(f) => FieldError::WrongKind { field: f.name, expected: f.kind },
                            None => FieldError::Unknown,
                        });
                    }
                }
                Ok(())
            }

            /// The value of the field `name`, or `None` for a name that is not a field.
            pub fn get(&self, name: &str) -> Option<FieldValue> {
                self.get_at(FIELDS.iter().position(|f| f.name == name)?)
            }

            /// Sets the field `name` (not validated: see [`Config::validate`]). Refused, changing
            /// nothing, for a name that is not a field or a value of another kind.
            pub fn set(&mut self, name: &str, value: FieldValue) -> Result<(), FieldError> {
                let index = FIELDS.iter().position(|f| f.name == name).ok_or(FieldError::Unknown)?;
                self.set_at(index, value)
            }
        }

        /// Each field's index in [`FIELDS`], by name.
        #[allow(non_camel_case_types, dead_code)]
        enum Index {
            $($name,)*
        }
    };
}

/// A by-name [`Config::set`] that does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// No field has that name.
    #[error("not a config field")]
    Unknown,
    /// The value is not of the field's kind.
    #[error("{field} must be {expected}")]
    WrongKind {
        /// The field.
        field: &'static str,
        /// Its kind.
        expected: FieldKind,
    },
}

const FRACTION_WHY: &str =
    " (at least one probe per 1000 half-open calls, so the circuit can close)";

config_fields! {
    /// Consecutive failures in CLOSED that open the circuit.
    failure_threshold: U32 = 5, unit "failures", rule FieldRule::AtLeast(1);
    /// Successful probes in HALF_OPEN that close the circuit.
    success_threshold: U32 = 3, unit "probes", rule FieldRule::AtLeast(1);
    /// Time spent OPEN before the next call may probe.
    timeout_seconds: F64 = 60.0, unit "seconds", rule FieldRule::Seconds;
    /// History behind `failure_rate`.
    rolling_window_seconds: F64 = 300.0, unit "seconds", rule FieldRule::Seconds;
    /// Time buckets the rolling window is divided into: more buckets, finer expiry, more memory (4 bytes each).
    window_buckets: U32 = 60, unit "buckets", rule FieldRule::Between(1, MAX_WINDOW_BUCKETS);
    /// Throttle calls in HALF_OPEN to `recovery_factor` of those offered.
    gradual_recovery: Bool = true, unit "", rule FieldRule::Any;
    /// Share of HALF_OPEN calls let through when `gradual_recovery` is on.
    recovery_factor: F64 = 0.5, unit "share", rule FieldRule::Fraction { min: MIN_RECOVERY_FACTOR, max: 1.0, why: FRACTION_WHY };
    /// Failure records kept for `recent_failures` (oldest dropped first).
    max_recent_failures: U32 = 50, unit "records", rule FieldRule::AtLeast(1);
    /// Longest stored error text; longer text is cut on a char boundary.
    max_message_bytes: U32 = 256, unit "bytes", rule FieldRule::AtLeast(1);
    /// Most probes in flight at once in HALF_OPEN; unset for unlimited (as FACT).
    half_open_max_in_flight: OptU32 = None, unit "probes", rule FieldRule::AtLeast(1);
    /// Time after which an unanswered HALF_OPEN probe is presumed lost, freeing its slot; unset for never.
    probe_lease_seconds: OptF64 = None, unit "seconds", rule FieldRule::Seconds;
    /// Failure rate that opens a CLOSED circuit, counted over the rolling window since the circuit last closed, once it holds `minimum_calls` calls; unset for off.
    failure_rate_threshold: OptF64 = None, unit "share", rule FieldRule::Share;
    /// Fewest calls in the window before a rate rule (`failure_rate_threshold`, slow calls) may open the circuit.
    minimum_calls: U32 = 20, unit "calls", rule FieldRule::AtLeast(1);
    /// A call slower than this (admission to outcome) is slow, and so is a call still in flight past it (judged at most one window bucket late); unset for off.
    slow_call_duration_seconds: OptF64 = None, unit "seconds", rule FieldRule::Seconds;
    /// Share of slow calls over the rolling window (since the circuit last closed, with at least `minimum_calls` calls) that opens a CLOSED circuit, when `slow_call_duration_seconds` is set.
    slow_call_rate_threshold: F64 = 1.0, unit "share", rule FieldRule::Share;
    /// Each re-open after a failed probe multiplies the open time by this (1 for none), up to `max_timeout_seconds`; a close resets it.
    open_backoff_multiplier: F64 = 1.0, unit "factor", rule FieldRule::Fraction { min: 1.0, max: 1000.0, why: "" };
    /// Longest open time the backoff reaches (never below `timeout_seconds`); unset for no cap but 100 years.
    max_timeout_seconds: OptF64 = None, unit "seconds", rule FieldRule::Seconds;
    /// Each open time is cut by a random share of up to this, so that a fleet does not probe in lockstep (0 for none).
    jitter: F64 = 0.0, unit "share", rule FieldRule::Fraction { min: 0.0, max: 1.0, why: "" };
    /// Seed of the jitter's generator, for reproducible runs; unset: derived from the instant the breaker was created.
    jitter_seed: OptU32 = None, unit "", rule FieldRule::AtLeast(1);
    /// After HALF_OPEN -> CLOSED, the share of calls admitted rises linearly from `recovery_factor` to 1 over this time (others are throttled), so a recovered cache is not stampeded; 0 for off.
    ramp_seconds: F64 = 0.0, unit "seconds", rule FieldRule::SecondsOrZero;
}
