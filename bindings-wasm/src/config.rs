//! The config crossing the boundary. JS checks the object's shape and types (unknown keys,
//! wrong types, non-integer counts: see `js/interop.js`, which names fields as written) and
//! passes the eleven values as numbers to [`config_stage`]; the core then checks the rules.
//! A refused value comes back as the field's index in [`FIELDS`], and JS writes the message
//! (`config.timeoutSeconds must be … got NaN`) with the value it passed. No message, and no
//! number, is formatted in Rust: `core::fmt` float formatting alone would cost several KB
//! of the module's size budget.
//!
//! A staged config is consumed by the next `breakerCreate`, `breakerSetConfig` or
//! `breakerRestore` (the JS layer always stages right before).

use fact_resilience_core::{Config, ConfigError};
use std::cell::RefCell;
use wasm_bindgen::prelude::wasm_bindgen;

/// The core's `Config` fields in the order of the JS table `CONFIG_FIELDS` (`js/interop.js`)
/// and of [`config_to_numbers`].
pub const FIELDS: [&str; 11] = [
    "failure_threshold",
    "success_threshold",
    "timeout_seconds",
    "rolling_window_seconds",
    "window_buckets",
    "gradual_recovery",
    "recovery_factor",
    "max_recent_failures",
    "max_message_bytes",
    "half_open_max_in_flight",
    "probe_lease_seconds",
];

thread_local! {
    static STAGED: RefCell<Option<Config>> = const { RefCell::new(None) };
}

/// `1 + ` the index in [`FIELDS`] of the field a core rule refused (`FIELDS.len() + 1` for a
/// field this build does not know).
///
/// A match on the variant, not a search of [`FIELDS`] for `e.field()`: comparing the names
/// cost 526 B after wasm-opt (376 B gzipped) of the size budget. The test below checks each
/// variant's index against the core's `field()`; a variant the core adds must be added to both.
pub fn error_code(e: &ConfigError) -> i32 {
    1 + match e {
        ConfigError::FailureThresholdZero => 0,
        ConfigError::SuccessThresholdZero => 1,
        ConfigError::TimeoutSeconds { .. } => 2,
        ConfigError::RollingWindowSeconds { .. } => 3,
        ConfigError::WindowBuckets { .. } => 4,
        ConfigError::RecoveryFactor { .. } => 6,
        ConfigError::MaxRecentFailuresZero => 7,
        ConfigError::MaxMessageBytesZero => 8,
        ConfigError::HalfOpenMaxInFlightZero => 9,
        ConfigError::ProbeLeaseSeconds { .. } => 10,
        _ => FIELDS.len() as i32,
    }
}

/// Checks a config and stages it for the next create, set-config or restore. Counts arrive as
/// whole numbers in `[0, 2^32)` (checked by JS); `None` is `null`. Returns 0, or the refused
/// field's [`error_code`].
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(js_name = configStage)]
pub fn config_stage(
    failure_threshold: u32,
    success_threshold: u32,
    timeout_seconds: f64,
    rolling_window_seconds: f64,
    window_buckets: u32,
    gradual_recovery: bool,
    recovery_factor: f64,
    max_recent_failures: u32,
    max_message_bytes: u32,
    half_open_max_in_flight: Option<u32>,
    probe_lease_seconds: Option<f64>,
) -> i32 {
    let c = Config {
        failure_threshold,
        success_threshold,
        timeout_seconds,
        rolling_window_seconds,
        window_buckets,
        gradual_recovery,
        recovery_factor,
        max_recent_failures,
        max_message_bytes,
        half_open_max_in_flight,
        probe_lease_seconds,
    };
    match c.validate() {
        Ok(()) => {
            STAGED.set(Some(c));
            0
        }
        Err(e) => error_code(&e),
    }
}

/// The default config as numbers (see [`config_to_numbers`]): JS fills absent fields from it.
#[wasm_bindgen(js_name = configDefaults)]
pub fn config_defaults() -> Vec<f64> {
    let mut out = Vec::with_capacity(FIELDS.len());
    config_to_numbers(&Config::default(), &mut out);
    out
}

/// The staged config (the defaults if none was staged), unstaging it.
pub fn take_staged() -> Config {
    STAGED.take().unwrap_or_default()
}

/// A config as the numbers `breakerConfig` returns, in [`FIELDS`] order: booleans as 0/1,
/// `None` as NaN (no valid value is NaN).
pub fn config_to_numbers(c: &Config, out: &mut Vec<f64>) {
    out.extend_from_slice(&[
        f64::from(c.failure_threshold),
        f64::from(c.success_threshold),
        c.timeout_seconds,
        c.rolling_window_seconds,
        f64::from(c.window_buckets),
        f64::from(u8::from(c.gradual_recovery)),
        c.recovery_factor,
        f64::from(c.max_recent_failures),
        f64::from(c.max_message_bytes),
        c.half_open_max_in_flight.map_or(f64::NAN, f64::from),
        c.probe_lease_seconds.unwrap_or(f64::NAN),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_rule_names_a_known_field() {
        let errors = [
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
        for e in errors {
            let code = error_code(&e);
            assert!((1..=FIELDS.len() as i32).contains(&code), "{}", e.field());
            assert_eq!(FIELDS[code as usize - 1], e.field());
        }
    }

    #[test]
    fn a_refused_config_is_not_staged() {
        let nan = f64::NAN;
        assert_eq!(
            config_stage(5, 3, nan, 300.0, 60, true, 0.5, 50, 256, None, None),
            3
        );
        assert_eq!(take_staged(), Config::default());
        assert_eq!(
            config_stage(
                7,
                3,
                60.0,
                300.0,
                60,
                true,
                0.5,
                50,
                256,
                Some(2),
                Some(1.5)
            ),
            0
        );
        let c = take_staged();
        assert_eq!(
            (c.failure_threshold, c.half_open_max_in_flight),
            (7, Some(2))
        );
        let mut out = Vec::new();
        config_to_numbers(&c, &mut out);
        assert_eq!(out.len(), FIELDS.len());
        assert_eq!(out[10], 1.5);
    }
}
