//! The JS config object: FACT's fields in camelCase (`failureThreshold`, `timeoutSeconds`, ...),
//! every field optional (absent or `undefined` takes the default), unknown fields refused.
//! Read field by field (see [`crate::read`]) so every error names the field as written; written
//! back with serde-wasm-bindgen.

use crate::errors::{ConfigInputError, FIELDS};
use crate::read::{Obj, boolean, count, nullable, number};
use fact_resilience_core::Config;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// Reads a JS value as a whole config. `undefined`/`null` give the defaults; `prefix` names
/// the value in errors (`config`, or `snapshot.config`).
pub fn config_from_js(value: JsValue, prefix: &'static str) -> Result<Config, ConfigInputError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Config::default());
    }
    let o = Obj::new(value, prefix.into())?;
    let mut c = Config::default();
    let known: Vec<&str> = FIELDS.iter().map(|(_, js)| *js).collect();
    o.only(&known)?;
    for key in o.keys() {
        let (v, p) = (o.get(&key), o.at(&key));
        match key.as_str() {
            "failureThreshold" => c.failure_threshold = count(&p, &v)?,
            "successThreshold" => c.success_threshold = count(&p, &v)?,
            "timeoutSeconds" => c.timeout_seconds = number(&p, &v)?,
            "rollingWindowSeconds" => c.rolling_window_seconds = number(&p, &v)?,
            "windowBuckets" => c.window_buckets = count(&p, &v)?,
            "gradualRecovery" => c.gradual_recovery = boolean(&p, &v)?,
            "recoveryFactor" => c.recovery_factor = number(&p, &v)?,
            "maxRecentFailures" => c.max_recent_failures = count(&p, &v)?,
            "maxMessageBytes" => c.max_message_bytes = count(&p, &v)?,
            "halfOpenMaxInFlight" => c.half_open_max_in_flight = nullable(&v, || count(&p, &v))?,
            "probeLeaseSeconds" => c.probe_lease_seconds = nullable(&v, || number(&p, &v))?,
            _ => {} // unreachable: `only` checked the keys
        }
    }
    c.validate()
        .map_err(|error| ConfigInputError::Rule { prefix, error })?;
    Ok(c)
}

/// The JS view of a [`Config`]: every field present, unset options `null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsConfig {
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
}

impl From<&Config> for JsConfig {
    fn from(c: &Config) -> Self {
        JsConfig {
            failure_threshold: c.failure_threshold,
            success_threshold: c.success_threshold,
            timeout_seconds: c.timeout_seconds,
            rolling_window_seconds: c.rolling_window_seconds,
            window_buckets: c.window_buckets,
            gradual_recovery: c.gradual_recovery,
            recovery_factor: c.recovery_factor,
            max_recent_failures: c.max_recent_failures,
            max_message_bytes: c.max_message_bytes,
            half_open_max_in_flight: c.half_open_max_in_flight,
            probe_lease_seconds: c.probe_lease_seconds,
        }
    }
}
