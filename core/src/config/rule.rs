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
    /// A share in `(0, 1]`: more than nothing, at most everything.
    Share,
    /// Seconds as [`FieldRule::Seconds`], or 0 for off.
    SecondsOrZero,
    /// A failure weight: finite and at least 0.
    Weight,
}

/// Why a [`Config`](crate::Config) was refused: the field, the rule it broke, and the value.
/// The message, `"{field} {requirement}, got {value}"`, is the same in every binding (which
/// may rename the field, e.g. camelCase, and renders the value in its own language).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The field.
    pub field: &'static str,
    /// The rule it broke.
    pub rule: FieldRule,
    /// The refused value.
    pub value: FieldValue,
}

impl ConfigError {
    /// The name of the offending `Config` field.
    pub fn field(&self) -> &'static str {
        self.field
    }
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let requirement = self.rule.requirement(self.value.is_optional());
        match self.value.number() {
            Some(v) if matches!(self.value, FieldValue::U32(_) | FieldValue::OptU32(_)) => {
                write!(f, "{} {requirement}, got {}", self.field, v as u32)
            }
            Some(v) => write!(f, "{} {requirement}, got {v}", self.field),
            None => write!(f, "{} {requirement}", self.field),
        }
    }
}

impl core::error::Error for ConfigError {}

impl FieldRule {
    /// Checks `value` of `field`; an unset optional value always passes.
    pub fn check(&self, field: &'static str, value: FieldValue) -> Result<(), ConfigError> {
        let ok = match (value.number(), *self) {
            (None, _) | (_, FieldRule::Any) => true, // unset, or a bool
            (Some(v), FieldRule::AtLeast(min)) => v >= f64::from(min),
            (Some(v), FieldRule::Between(min, max)) => v >= f64::from(min) && v <= f64::from(max),
            (Some(v), FieldRule::Seconds) => seconds(v).is_some(),
            (Some(v), FieldRule::Fraction { min, max, .. }) => v >= min && v <= max,
            (Some(v), FieldRule::Share) => v > 0.0 && v <= 1.0,
            (Some(v), FieldRule::SecondsOrZero) => v == 0.0 || seconds(v).is_some(),
            (Some(v), FieldRule::Weight) => v.is_finite() && v >= 0.0,
        };
        if ok {
            Ok(())
        } else {
            Err(ConfigError {
                field,
                rule: *self,
                value,
            })
        }
    }

    /// What a value must be, as the message says it after the field's name ("must be at
    /// least 1"); `optional`: the field may also be unset.
    pub fn requirement(&self, optional: bool) -> String {
        let unset = if optional { " (or unset for none)" } else { "" };
        match *self {
            FieldRule::Any => String::from("may be any value"),
            FieldRule::AtLeast(min) => format!("must be at least {min}{unset}"),
            FieldRule::Between(min, max) => format!("must be in {min}..={max}{unset}"),
            FieldRule::Seconds => format!("must be finite, > 0 and at most 100 years{unset}"),
            FieldRule::Fraction { min, max, why } => {
                format!("must be in [{min}, {max}]{why}{unset}")
            }
            FieldRule::Share => format!("must be in (0, 1]{unset}"),
            FieldRule::SecondsOrZero => {
                format!("must be 0 (off) or finite, > 0 and at most 100 years{unset}")
            }
            FieldRule::Weight => String::from("must be finite and at least 0 (each weight)"),
        }
    }

    /// The rule in words, for the docs' tables ("at least 1", "in [0.001, 1]"...).
    pub fn describe(&self) -> String {
        match *self {
            FieldRule::Any => String::from("any"),
            FieldRule::AtLeast(min) => format!("at least {min}"),
            FieldRule::Between(min, max) => format!("{min} to {max}"),
            FieldRule::Seconds => String::from("finite, > 0, at most 100 years"),
            FieldRule::Fraction { min, max, .. } => format!("in [{min}, {max}]"),
            FieldRule::Share => String::from("in (0, 1]"),
            FieldRule::SecondsOrZero => String::from("0 (off), or finite, > 0, at most 100 years"),
            FieldRule::Weight => String::from("each weight finite, >= 0"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_share_excludes_zero_and_includes_one() {
        let check =
            |v| FieldRule::Share.check("failure_rate_threshold", FieldValue::OptF64(Some(v)));
        assert!(check(1.0).is_ok() && check(1e-9).is_ok());
        for bad in [0.0, -0.5, 1.0000001, f64::NAN, f64::INFINITY] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check(0.0).unwrap_err().to_string(),
            "failure_rate_threshold must be in (0, 1] (or unset for none), got 0"
        );
        assert!(
            FieldRule::Share
                .check("x", FieldValue::OptF64(None))
                .is_ok()
        );
    }
}
