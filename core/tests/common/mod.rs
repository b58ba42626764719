//! What the vector loaders share: finding the files, naming where a check failed, comparing
//! numbers, and reading a `Config` from a vector.
#![allow(dead_code)] // each test crate uses its own subset

use fact_resilience_core::{Config, FIELDS, FieldKind, FieldValue};
use serde_json::Value;
use std::fmt::Display;
use std::path::{Path, PathBuf};

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// The directories of vectors that are not the breaker's, each with its own loader.
pub const OTHER_VECTORS: [&str; 4] = ["cache", "health", "registry", "origin"];

/// The breaker's vectors: every file except those under [`OTHER_VECTORS`] (see
/// `cache_vectors.rs`, `health_vectors.rs`, `registry_vectors.rs`, `origin_vectors.rs`).
pub fn breaker_vector_files() -> Vec<PathBuf> {
    let others: Vec<PathBuf> = OTHER_VECTORS
        .iter()
        .map(|d| vectors_dir().join(d))
        .collect();
    json_files(&vectors_dir())
        .into_iter()
        .filter(|p| !others.iter().any(|o| p.starts_with(o)))
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
        if key == "failure_weights" {
            let weights = val
                .as_object()
                .ok_or_else(|| at.fail("config.failure_weights must be an object"))?;
            for (kind, w) in weights {
                let w = w.as_f64().ok_or_else(|| {
                    at.fail(format_args!("config.failure_weights.{kind}: not a number"))
                })?;
                c.failure_weights.insert(kind.as_str(), w);
            }
            continue;
        }
        let field = FIELDS
            .iter()
            .find(|f| f.name == key)
            .ok_or_else(|| at.fail(format_args!("unknown config field {key:?}")))?;
        let bad = || at.fail(format_args!("config.{key}: unusable value {val}"));
        let count = || {
            val.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(bad)
        };
        let value = match field.kind {
            FieldKind::U32 => FieldValue::U32(count()?),
            FieldKind::F64 => FieldValue::F64(val.as_f64().ok_or_else(bad)?),
            FieldKind::Bool => FieldValue::Bool(val.as_bool().ok_or_else(bad)?),
            FieldKind::OptU32 if val.is_null() => FieldValue::OptU32(None),
            FieldKind::OptU32 => FieldValue::OptU32(Some(count()?)),
            FieldKind::OptF64 if val.is_null() => FieldValue::OptF64(None),
            FieldKind::OptF64 => FieldValue::OptF64(Some(val.as_f64().ok_or_else(bad)?)),
            _ => return Err(bad()),
        };
        c.set(key, value).map_err(|e| at.fail(e))?;
    }
    Ok(c)
}

/// Replays every vector in `tests/vectors/<dir>/` with `replay` (at least `min` of them, or the
/// suite lost files) and fails with every failing step's message at once.
pub fn replay_dir(dir: &str, min: usize, replay: impl Fn(&str, &Value) -> Checked) {
    let files = json_files(&vectors_dir().join(dir));
    assert!(files.len() >= min, "only {} {dir} vectors", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Err(e) = replay(&name, &v) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// For a vector that expects its setup refused (`key` names the field the message starts
/// with): checks that `built` was refused so.
pub fn refused_naming<T>(at: &At, key: &str, field: &str, built: Result<T, String>) -> Checked {
    match built {
        Err(message) if message.starts_with(field) => Ok(()),
        Err(message) => Err(at.mismatch(key, field, message)),
        Ok(_) => Err(at.mismatch(key, field, "accepted")),
    }
}

/// Runs `step` on each of vector `v`'s `steps` in order, with an `At` naming the step and its
/// `op`; the first failure ends the replay.
pub fn each_step(
    file: &str,
    v: &Value,
    mut step: impl FnMut(&At, &str, &Value) -> Checked,
) -> Checked {
    let at = At { file, step: None };
    let steps = v["steps"].as_array().ok_or_else(|| at.fail("no steps"))?;
    for (i, s) in steps.iter().enumerate() {
        let op = s["op"].as_str().unwrap_or("?");
        step(
            &At {
                file,
                step: Some((i, op)),
            },
            op,
            s,
        )?;
    }
    Ok(())
}
