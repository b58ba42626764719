//! The one loader of the breaker's conformance vectors: replays every `tests/vectors/**/*.json`
//! (the hand-written ones and `generated/`; `cache/` has its own loader, `cache_vectors.rs`) through the public `Breaker` API and checks every
//! expectation. The format is defined in `tests/vectors/README.md`.

use fact_resilience_core::{Breaker, Config, Failure, Instant, Permit, Rejection, Transition};
mod common;

use common::{At, Checked, breaker_vector_files, close, json_files, parse_config, vectors_dir};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// Fewer hand-written vectors than this means the suite lost files (or cannot find them).
const MIN_HAND_WRITTEN: usize = 40;

fn str_field<'v>(step: &'v Map<String, Value>, key: &str, at: &At) -> Result<&'v str, String> {
    step.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| at.fail(format_args!("missing string field {key:?}")))
}

fn transition_json(t: &Option<Transition>) -> Value {
    match t {
        None => Value::Null,
        Some(t) => serde_json::json!({
            "from": t.from.as_str(), "to": t.to.as_str(), "reason": t.reason.as_str()
        }),
    }
}

/// Replays one vector file.
struct Replay<'a> {
    at: At<'a>,
    breaker: Breaker,
    now: u64,
    permits: HashMap<String, Permit>,
}

impl Replay<'_> {
    fn instant(&self) -> Instant {
        Instant::from_nanos(self.now)
    }

    fn take_permit(&mut self, step: &Map<String, Value>) -> Result<Permit, String> {
        let name = str_field(step, "permit", &self.at)?;
        self.permits.remove(name).ok_or_else(|| {
            self.at
                .fail(format_args!("no permit named {name:?} is held"))
        })
    }

    /// Runs one step; returns the transition it caused.
    fn run(&mut self, step: &Map<String, Value>, op: &str) -> Result<Option<Transition>, String> {
        let now = self.instant();
        Ok(match op {
            "advance" => {
                let ms = step
                    .get("ms")
                    .and_then(Value::as_f64)
                    .filter(|ms| *ms >= 0.0)
                    .ok_or_else(|| self.at.fail("advance needs a non-negative \"ms\""))?;
                self.now = self.now.saturating_add((ms * 1e6).round() as u64);
                None
            }
            "acquire" => self.acquire(step)?,
            "success" => {
                let p = self.take_permit(step)?;
                self.breaker.on_success(p, now)
            }
            "failure" => {
                let p = self.take_permit(step)?;
                let text = |key, default| step.get(key).and_then(Value::as_str).unwrap_or(default);
                let failure = Failure {
                    error_type: text("error_type", "CacheError"),
                    error_message: text("message", "boom"),
                    operation: text("operation", "get"),
                    timestamp: self.now as f64 / 1e9,
                };
                self.breaker.on_failure(p, &failure, now)
            }
            "neutral" => {
                let p = self.take_permit(step)?;
                self.breaker.on_neutral(p, now);
                None
            }
            "poll" => self.breaker.poll(now),
            "force_open" => self.breaker.force_open(now),
            "force_closed" => self.breaker.force_closed(now),
            "reset" => self.breaker.reset(now),
            "set_config" => {
                let config = parse_config(
                    step.get("config")
                        .ok_or_else(|| self.at.fail("missing \"config\""))?,
                    &self.at,
                )?;
                self.set_config(config, step.get("error"))?;
                None
            }
            _ => return Err(self.at.fail(format_args!("unknown op {op:?}"))),
        })
    }

    fn acquire(&mut self, step: &Map<String, Value>) -> Result<Option<Transition>, String> {
        let expect = str_field(step, "expect", &self.at)?;
        let (actual, transition) = match self.breaker.try_acquire(self.instant()) {
            Ok(p) => {
                if let Some(probe) = step.get("probe")
                    && probe.as_bool() != Some(p.is_probe())
                {
                    return Err(self.at.mismatch("probe", probe, p.is_probe()));
                }
                let t = p.transition();
                if let Some(name) = step.get("permit").and_then(Value::as_str) {
                    if self.permits.contains_key(name) {
                        return Err(self.at.fail(format_args!("permit {name:?} is still held")));
                    }
                    self.permits.insert(name.to_owned(), p);
                }
                ("admitted", t)
            }
            Err(Rejection::Open { retry_after }) => {
                if let Some(want) = step.get("retry_after_ms") {
                    let got = retry_after.as_nanos() as f64 / 1e6;
                    if !want.as_f64().is_some_and(|w| close(w, got)) {
                        return Err(self.at.mismatch("retry_after_ms", want, got));
                    }
                }
                ("open", None)
            }
            Err(Rejection::Throttled) => ("throttled", None),
        };
        if actual != expect {
            return Err(self.at.mismatch("expect", expect, actual));
        }
        if actual != "open" && step.contains_key("retry_after_ms") {
            return Err(self
                .at
                .fail("retry_after_ms given but the call was not rejected as open"));
        }
        Ok(transition)
    }

    fn set_config(&mut self, config: Config, error: Option<&Value>) -> Checked {
        let Some(error) = error else {
            return self
                .breaker
                .set_config(config)
                .map_err(|e| self.at.fail(format_args!("set_config refused: {e}")));
        };
        let before = self.observable();
        match self.breaker.set_config(config) {
            Ok(()) => Err(self.at.mismatch("error", error, "accepted")),
            Err(e) if error.as_str() != Some(e.field()) => {
                Err(self.at.mismatch("error", error, e.field()))
            }
            Err(_) if self.observable() != before => {
                Err(self.at.fail("a refused set_config changed the breaker"))
            }
            Err(_) => Ok(()),
        }
    }

    /// Everything a host can read, to prove a refused command changed nothing.
    fn observable(&self) -> String {
        let now = self.instant();
        let log: Vec<_> = self.breaker.recent_failures().collect();
        format!(
            "{:?} {:?} {:?} {:?}",
            self.breaker.config(),
            self.breaker.metrics(now),
            self.breaker.next_deadline(),
            log
        )
    }

    fn check_metrics(&self, want: &Value) -> Checked {
        let want = want
            .as_object()
            .ok_or_else(|| self.at.fail("metrics must be an object"))?;
        let m = self.breaker.metrics(self.instant());
        for (key, w) in want {
            let got: Option<f64> = match key.as_str() {
                "failure_count" => Some(m.failure_count as f64),
                "success_count" => Some(m.success_count as f64),
                "total_operations" => Some(m.total_operations as f64),
                "failure_rate" => Some(m.failure_rate),
                "window_calls" => Some(m.window_calls as f64),
                "state_changes" => Some(m.state_changes as f64),
                "consecutive_failures" => Some(f64::from(m.consecutive_failures)),
                "rejected_count" => Some(m.rejected_count as f64),
                "throttled_count" => Some(m.throttled_count as f64),
                "neutral_count" => Some(m.neutral_count as f64),
                "half_open_admitted" => Some(f64::from(m.half_open_admitted)),
                "half_open_successes" => Some(f64::from(m.half_open_successes)),
                "half_open_in_flight" => Some(f64::from(m.half_open_in_flight)),
                "recent_failures_count" => Some(f64::from(m.recent_failures_count)),
                "slow_call_count" => Some(m.slow_call_count as f64),
                "slow_call_rate" => Some(m.slow_call_rate),
                "calls_in_flight" => Some(m.calls_in_flight as f64),
                "open_duration_ms" => Some(m.open_duration.as_nanos() as f64 / 1e6),
                "ramp_share" => Some(m.ramp_share),
                "consecutive_failure_weight" => Some(m.consecutive_failure_weight),
                "time_in_current_state_ms" => Some(m.time_in_current_state.as_nanos() as f64 / 1e6),
                "last_failure_time" => m.last_failure_time,
                _ => return Err(self.at.fail(format_args!("unknown metric {key:?}"))),
            };
            let ok = match (w.as_f64(), got) {
                (Some(w), Some(g)) => close(w, g),
                (None, None) => w.is_null(),
                _ => false,
            };
            if !ok {
                let got = got.map_or("null".to_owned(), |g| g.to_string());
                return Err(self.at.mismatch(&format!("metrics.{key}"), w, got));
            }
        }
        Ok(())
    }

    fn check_recent_failures(&self, want: &Value) -> Checked {
        let want = want
            .as_array()
            .ok_or_else(|| self.at.fail("recent_failures must be an array"))?;
        let got: Vec<_> = self.breaker.recent_failures().collect();
        let render = || format!("{got:?}");
        if want.len() != got.len() {
            return Err(self
                .at
                .mismatch("recent_failures (length)", want.len(), render()));
        }
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            for (key, actual) in [
                ("error_type", &g.error_type),
                ("error_message", &g.error_message),
                ("operation", &g.operation),
            ] {
                if let Some(w) = w.get(key)
                    && w.as_str() != Some(actual.as_str())
                {
                    let key = format!("recent_failures[{i}].{key}");
                    return Err(self.at.mismatch(&key, w, format!("{actual:?}")));
                }
            }
            if let Some(w) = w.get("timestamp")
                && !w.as_f64().is_some_and(|w| close(w, g.timestamp))
            {
                let key = format!("recent_failures[{i}].timestamp");
                return Err(self.at.mismatch(&key, w, g.timestamp));
            }
        }
        Ok(())
    }

    fn check(&self, step: &Map<String, Value>, transition: Option<Transition>) -> Checked {
        if let Some(want) = step.get("transition") {
            let got = transition_json(&transition);
            if *want != got {
                return Err(self.at.mismatch("transition", want, got));
            }
        }
        if let Some(want) = step.get("state") {
            let got = self.breaker.state().as_str();
            if want.as_str() != Some(got) {
                return Err(self.at.mismatch("state", want, got));
            }
        }
        if let Some(want) = step.get("metrics") {
            self.check_metrics(want)?;
        }
        if let Some(want) = step.get("recent_failures") {
            self.check_recent_failures(want)?;
        }
        Ok(())
    }
}

/// The keys a step of each op may carry, besides `op` and the expectations.
fn allowed_keys(op: &str) -> &'static [&'static str] {
    match op {
        "advance" => &["ms"],
        "acquire" => &["permit", "expect", "retry_after_ms", "probe"],
        "success" | "neutral" => &["permit"],
        "failure" => &["permit", "error_type", "message", "operation"],
        "set_config" => &["config", "error"],
        _ => &[],
    }
}

const EXPECTATIONS: [&str; 4] = ["transition", "state", "metrics", "recent_failures"];

/// Replays one vector; the error names the file, step, key, expected and actual values.
fn replay(path: &Path) -> Checked {
    let file = path
        .strip_prefix(vectors_dir())
        .unwrap_or(path)
        .display()
        .to_string();
    let at = At {
        file: &file,
        step: None,
    };
    let text = std::fs::read_to_string(path).map_err(|e| at.fail(e))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| at.fail(e))?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if name != stem {
        return Err(at.mismatch("name", stem, format!("{name:?}")));
    }
    if !v.get("description").is_some_and(Value::is_string) {
        return Err(at.fail("missing description"));
    }
    let config = match v.get("config") {
        None => Config::default(),
        Some(c) => parse_config(c, &at)?,
    };
    let built = Breaker::new(config, Instant::ZERO);
    if let Some(field) = v.get("config_error") {
        return match built {
            Ok(_) => Err(at.mismatch("config_error", field, "accepted")),
            Err(e) if field.as_str() != Some(e.field()) => {
                Err(at.mismatch("config_error", field, e.field()))
            }
            Err(_) => Ok(()),
        };
    }
    let breaker = built.map_err(|e| at.fail(format_args!("config refused: {e}")))?;
    let steps = v
        .get("steps")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| at.fail("needs a non-empty \"steps\" array or \"config_error\""))?;
    let mut replay = Replay {
        at,
        breaker,
        now: 0,
        permits: HashMap::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        let step = step
            .as_object()
            .ok_or_else(|| replay.at.fail(format_args!("step {i} is not an object")))?;
        let op = step
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("<missing>");
        let at = At {
            file: &file,
            step: Some((i, op)),
        };
        let allowed = allowed_keys(op);
        if let Some(k) = step.keys().find(|k| {
            *k != "op" && !allowed.contains(&k.as_str()) && !EXPECTATIONS.contains(&k.as_str())
        }) {
            return Err(at.fail(format_args!("unexpected key {k:?}")));
        }
        replay.at = at;
        let transition = replay.run(step, op)?;
        replay.check(step, transition)?;
    }
    Ok(())
}

#[test]
fn every_vector_passes() {
    let files = breaker_vector_files();
    let failures: Vec<String> = files.iter().filter_map(|f| replay(f).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn enough_hand_written_vectors_are_found() {
    let dir = vectors_dir();
    let hand: Vec<_> = json_files(&dir)
        .into_iter()
        .filter(|p| p.parent() == Some(dir.as_path()))
        .collect();
    assert!(
        hand.len() >= MIN_HAND_WRITTEN,
        "found {} hand-written vectors in {}, expected at least {MIN_HAND_WRITTEN}",
        hand.len(),
        dir.display()
    );
    assert!(
        dir.join("opens_after_threshold_consecutive_failures.json")
            .exists(),
        "the vector described in the README is missing"
    );
}

#[test]
fn generated_vectors_are_found() {
    let generated = json_files(&vectors_dir().join("generated"));
    assert!(
        generated.len() >= 12,
        "found {} generated vectors; run `cargo run -p fact-resilience-core --example gen_vectors`",
        generated.len()
    );
}
