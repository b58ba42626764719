//! What the vector loaders share: finding the files, naming where a check failed, comparing
//! numbers, and reading a `Config` from a vector.
#![allow(dead_code)] // each test crate uses its own subset

use fact_resilience_core::Config;
use serde_json::Value;
use std::fmt::Display;
use std::path::{Path, PathBuf};

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// The breaker's vectors: every file except those under `cache/` (see `cache_vectors.rs`) and
/// `health/` (see `health_vectors.rs`).
pub fn breaker_vector_files() -> Vec<PathBuf> {
    let (cache, health) = (vectors_dir().join("cache"), vectors_dir().join("health"));
    json_files(&vectors_dir())
        .into_iter()
        .filter(|p| !p.starts_with(&cache) && !p.starts_with(&health))
        .collect()
}

pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Where a check happened, for messages: file, step index and op.
pub struct At<'a> {
    pub file: &'a str,
    pub step: Option<(usize, &'a str)>,
}

impl At<'_> {
    pub fn fail(&self, what: impl Display) -> String {
        match self.step {
            Some((i, op)) => format!("{}: step {i} ({op}): {what}", self.file),
            None => format!("{}: {what}", self.file),
        }
    }

    pub fn mismatch(&self, key: &str, expected: impl Display, actual: impl Display) -> String {
        self.fail(format_args!("{key}: expected {expected}, actual {actual}"))
    }
}

pub type Checked = Result<(), String>;

/// Numbers compare within 1e-9 (relative to the larger magnitude above 1).
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

pub fn parse_config(v: &Value, at: &At) -> Result<Config, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| at.fail("config must be an object"))?;
    let mut c = Config::default();
    for (key, val) in obj {
        let bad = || at.fail(format_args!("config.{key}: unusable value {val}"));
        let u32_of = |val: &Value| {
            val.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(bad)
        };
        let f64_of = |val: &Value| val.as_f64().ok_or_else(bad);
        match key.as_str() {
            "failure_threshold" => c.failure_threshold = u32_of(val)?,
            "success_threshold" => c.success_threshold = u32_of(val)?,
            "timeout_seconds" => c.timeout_seconds = f64_of(val)?,
            "rolling_window_seconds" => c.rolling_window_seconds = f64_of(val)?,
            "window_buckets" => c.window_buckets = u32_of(val)?,
            "gradual_recovery" => c.gradual_recovery = val.as_bool().ok_or_else(bad)?,
            "recovery_factor" => c.recovery_factor = f64_of(val)?,
            "max_recent_failures" => c.max_recent_failures = u32_of(val)?,
            "max_message_bytes" => c.max_message_bytes = u32_of(val)?,
            "half_open_max_in_flight" => {
                c.half_open_max_in_flight = if val.is_null() {
                    None
                } else {
                    Some(u32_of(val)?)
                }
            }
            "probe_lease_seconds" => {
                c.probe_lease_seconds = if val.is_null() {
                    None
                } else {
                    Some(f64_of(val)?)
                }
            }
            _ => return Err(at.fail(format_args!("unknown config field {key:?}"))),
        }
    }
    Ok(c)
}
