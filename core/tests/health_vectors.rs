//! The loader of the health-report vectors, `tests/vectors/health/*.json` (format in
//! `tests/vectors/README.md`): each is replayed through the public `Breaker` API on a virtual
//! clock and every `health` step's expectation is checked.

use fact_resilience_core::{
    Breaker, Config, Failure, HealthReport, HealthThresholds, Instant, Permit,
};
mod common;

use common::{At, Checked, close, json_files, parse_config, replay_dir, vectors_dir};
use serde_json::{Map, Value, json};

/// Fewer than this means the suite lost files (or cannot find them).
const MIN_VECTORS: usize = 10;

fn report_json(r: &HealthReport) -> Value {
    let f = &r.figures;
    json!({
        "status": r.status.as_str(),
        "alerts": r.alerts().map(|a| json!({
            "rule": a.rule.as_str(), "severity": a.severity.as_str(),
            "value": a.value, "threshold": a.threshold,
        })).collect::<Vec<_>>(),
        "figures": {
            "state": f.state.as_str(),
            "time_in_state_seconds": f.time_in_state.as_secs_f64(),
            "failure_rate": f.failure_rate,
            "window_calls": f.window_calls,
            "state_changes_last_hour": f.state_changes_last_hour,
            "recovery_attempts": f.recovery_attempts,
        },
    })
}

/// `actual` matches `expected` where `expected` says something: objects by their keys (extra
/// keys in `actual` ignored), arrays element by element and of equal length, numbers within
/// 1e-9.
fn matches(expected: &Value, actual: &Value, path: &str, at: &At) -> Checked {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().try_for_each(|(k, v)| {
            let sub = format!("{path}.{k}");
            let got = a
                .get(k)
                .ok_or_else(|| at.fail(format_args!("{sub}: missing")))?;
            matches(v, got, &sub, at)
        }),
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .try_for_each(|(i, (e, a))| matches(e, a, &format!("{path}[{i}]"), at)),
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            close(e, a)
                .then_some(())
                .ok_or_else(|| at.mismatch(path, e, a))
        }
        _ if expected == actual => Ok(()),
        _ => Err(at.mismatch(path, expected, actual)),
    }
}

fn thresholds(v: Option<&Value>, at: &At) -> Result<HealthThresholds, String> {
    let mut t = HealthThresholds::default();
    for (k, val) in v.and_then(Value::as_object).into_iter().flatten() {
        let n = val
            .as_f64()
            .ok_or_else(|| at.fail(format_args!("thresholds.{k}: not a number")))?;
        t.set(k, n).map_err(|e| at.fail(e))?;
    }
    Ok(t)
}

fn replay(file: &str, v: &Map<String, Value>) -> Checked {
    let at = At { file, step: None };
    let limits = thresholds(v.get("thresholds"), &at);
    if let Some(field) = v.get("thresholds_error").and_then(Value::as_str) {
        let err = limits
            .err()
            .ok_or_else(|| at.fail("thresholds were accepted"))?;
        return err
            .contains(field)
            .then_some(())
            .ok_or_else(|| at.fail(format_args!("error {err:?} does not name {field}")));
    }
    let limits = limits?;
    let config = match v.get("config") {
        Some(c) => parse_config(c, &at)?,
        None => Config::default(),
    };
    let mut now = 0u64;
    let mut breaker = Breaker::new(config, Instant::ZERO).map_err(|e| at.fail(e))?;
    let steps = v
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| at.fail("no steps"))?;
    for (i, step) in steps.iter().enumerate() {
        let op = step.get("op").and_then(Value::as_str).unwrap_or("?");
        let at = At {
            file,
            step: Some((i, op)),
        };
        let t = Instant::from_nanos(now);
        match op {
            "advance" => {
                let ms = step.get("ms").and_then(Value::as_f64).unwrap_or(-1.0);
                if ms < 0.0 {
                    return Err(at.fail("advance needs ms >= 0"));
                }
                now += (ms * 1e6).round() as u64;
            }
            "call" => {
                let permit: Permit = breaker
                    .try_acquire(t)
                    .map_err(|r| at.fail(format_args!("call not admitted: {r:?}")))?;
                let _ = match step.get("outcome").and_then(Value::as_str) {
                    Some("success") => breaker.on_success(permit, t),
                    Some("failure") => {
                        let f = Failure {
                            error_type: "CacheError",
                            error_message: "boom",
                            operation: "get",
                            timestamp: now as f64 / 1e9,
                        };
                        breaker.on_failure(permit, &f, t)
                    }
                    other => return Err(at.fail(format_args!("unknown outcome {other:?}"))),
                };
            }
            "poll" => drop(breaker.poll(t)),
            "force_open" => drop(breaker.force_open(t)),
            "force_closed" => drop(breaker.force_closed(t)),
            "reset" => drop(breaker.reset(t)),
            "health" => {
                let expected = step.get("expect").ok_or_else(|| at.fail("no expect"))?;
                let actual = report_json(&breaker.health(t, &limits));
                matches(expected, &actual, "health", &at)?;
            }
            _ => return Err(at.fail("unknown op")),
        }
    }
    Ok(())
}

#[test]
fn every_health_vector_replays() {
    replay_dir("health", MIN_VECTORS, |name, v| {
        replay(name, v.as_object().expect("a vector is an object"))
    });
}

#[test]
fn every_rule_fires_in_some_vector() {
    // Each rule's vector also pins the figure equal to the threshold (not firing) just before;
    // this only guards against a rule losing its vector.
    let mut fired = std::collections::BTreeSet::new();
    for path in json_files(&vectors_dir().join("health")) {
        let text = std::fs::read_to_string(&path).unwrap();
        for rule in fact_resilience_core::Rule::ALL {
            if text.contains(&format!("\"rule\": \"{}\"", rule.as_str())) {
                fired.insert(rule.as_str());
            }
        }
    }
    assert_eq!(
        fired.len(),
        fact_resilience_core::Rule::ALL.len(),
        "{fired:?}"
    );
}
