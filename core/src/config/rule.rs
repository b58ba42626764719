//! The rules a config value must meet, and [`ConfigError`], the refusal of one, naming the
//! field and the bound. A rule is declared beside its field in `fields.rs`; its message is
//! written here once, for every binding and the docs.

use super::FieldValue;
use alloc::format;
use alloc::string::String;

/// The longest duration a field accepts: 100 years, far below the ~584-year range of
/// [`crate::Instant`], so deadlines never saturate.
pub const MAX_DURATION_SECONDS: f64 = 100.0 * 365.25 * 24.0 * 3600.0;

/// What makes a value valid. An optional field may always be unset; the rule is for its value.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldRule {
    /// Any value of the field's type.
    Any,
    /// A count of at least this.
    AtLeast(u32),
    /// A count in `min..=max`.
    Between(u32, u32),
    /// Seconds: finite, > 0, at most [`MAX_DURATION_SECONDS`], and at least a nanosecond.
    Seconds,
    /// A number in `[min, max]`; `why` says why the bound is there.
    Fraction {
        /// The smallest value accepted.
        min: f64,
        /// The largest value accepted.
        max: f64,
        /// Why, for the message (may be empty).
        why: &'static str,
    },
}

/// Why a [`Config`](crate::Config) was refused: the field, the rule it broke, and the value.
/// The message is the same in every binding (which may rename the field, e.g. camelCase).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A count below its minimum.
    #[error("{field} must be at least {min}{unset}, got {value}")]
    TooSmall {
        /// The field.
        field: &'static str,
        /// The smallest count accepted.
        min: u32,
        /// `" (or unset for none)"` for an optional field, else empty.
        unset: &'static str,
        /// The refused value.
        value: u32,
    },
    /// A count outside its range.
    #[error("{field} must be in {min}..={max}, got {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The smallest count accepted.
        min: u32,
        /// The largest count accepted.
        max: u32,
        /// The refused value.
        value: u32,
    },
    /// A duration that is not finite, not positive, under a nanosecond, or over 100 years.
    #[error("{field} must be finite, > 0 and at most 100 years, got {value}")]
    Seconds {
        /// The field.
        field: &'static str,
        /// The refused value.
        value: f64,
    },
    /// A number outside `[min, max]`.
    #[error("{field} must be in [{min}, {max}]{why}, got {value}")]
    Fraction {
        /// The field.
        field: &'static str,
        /// The smallest value accepted.
        min: f64,
        /// The largest value accepted.
        max: f64,
        /// Why the bound is there, as `" (...)"`, or empty.
        why: &'static str,
        /// The refused value.
        value: f64,
    },
}

impl ConfigError {
    /// The name of the offending `Config` field.
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::TooSmall { field, .. }
            | ConfigError::OutOfRange { field, .. }
            | ConfigError::Seconds { field, .. }
            | ConfigError::Fraction { field, .. } => field,
        }
    }
}

impl FieldRule {
    /// Checks `value` of `field`; an unset optional value always passes.
    pub fn check(&self, field: &'static str, value: FieldValue) -> Result<(), ConfigError> {
        let unset = if value.is_optional() {
            " (or unset for none)"
        } else {
            ""
        };
        let Some(v) = value.number() else {
            return Ok(()); // unset, or a bool
        };
        match *self {
            FieldRule::Any => Ok(()),
            FieldRule::AtLeast(min) if v >= f64::from(min) => Ok(()),
            FieldRule::AtLeast(min) => Err(ConfigError::TooSmall {
                field,
                min,
                unset,
                value: v as u32,
            }),
            FieldRule::Between(min, max) if v >= f64::from(min) && v <= f64::from(max) => Ok(()),
            FieldRule::Between(min, max) => Err(ConfigError::OutOfRange {
                field,
                min,
                max,
                value: v as u32,
            }),
            FieldRule::Seconds if seconds(v).is_some() => Ok(()),
            FieldRule::Seconds => Err(ConfigError::Seconds { field, value: v }),
            FieldRule::Fraction { min, max, .. } if v >= min && v <= max => Ok(()),
            FieldRule::Fraction { min, max, why } => Err(ConfigError::Fraction {
                field,
                min,
                max,
                why,
                value: v,
            }),
        }
    }

    /// The rule in words, for the docs ("at least 1", "in [0.001, 1]"...).
    pub fn describe(&self) -> String {
        match *self {
            FieldRule::Any => String::from("any"),
            FieldRule::AtLeast(min) => format!("at least {min}"),
            FieldRule::Between(min, max) => format!("{min} to {max}"),
            FieldRule::Seconds => String::from("finite, > 0, at most 100 years"),
            FieldRule::Fraction { min, max, .. } => format!("in [{min}, {max}]"),
        }
    }
}

/// Seconds as a `Duration` of at least 1 ns, or `None` if not finite, not positive, too large,
/// or too small to be a nanosecond.
pub(crate) fn seconds(s: f64) -> Option<core::time::Duration> {
    if !(s > 0.0 && s <= MAX_DURATION_SECONDS) {
        return None; // also catches NaN
    }
    core::time::Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
}
