//! The loader of the registry's vectors, `tests/vectors/registry/*.json`: each replayed
//! through the public `Registry` API. The format is in `tests/vectors/README.md`.

mod common;

use common::{At, Checked, each_step, parse_config, refused_naming, replay_dir};
use core::time::Duration;
use fact_resilience_core::{
    Config, Failure, Instant, Level, PathPermit, Registry, RegistryConfig, Rejection, State,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// Fewer vectors than this means the suite lost files (or cannot find them).
const MIN_VECTORS: usize = 20;

fn failure(now: Instant) -> Failure<'static> {
    Failure {
        error_type: "VectorError",
        error_message: "",
        operation: "get",
        timestamp: now.as_nanos() as f64 / 1e9,
    }
}

fn strs(v: &Value, at: &At) -> Result<Vec<String>, String> {
    v.as_array()
        .and_then(|a| a.iter().map(|s| s.as_str().map(String::from)).collect())
        .ok_or_else(|| at.fail(format_args!("expected an array of strings, got {v}")))
}

fn level(v: &Value, at: &At) -> Result<Level, String> {
    let name = v["name"]
        .as_str()
        .ok_or_else(|| at.fail("level without a name"))?;
    let mut level = Level::new(name, parse_config(&v["config"], at)?);
    if let Some(prefixes) = v.get("prefixes").and_then(Value::as_object) {
        for (prefix, config) in prefixes {
            level
                .prefixes
                .push((prefix.clone(), parse_config(config, at)?));
        }
    }
    Ok(level)
}

/// The registry's config: `levels` root first, or `parents` as `[name, parent]` links.
fn registry_config(v: &Value, at: &At) -> Result<Result<RegistryConfig, String>, String> {
    let max_breakers = v["max_breakers"]
        .as_u64()
        .ok_or_else(|| at.fail("registry.max_breakers missing"))? as usize;
    if let Some(links) = v.get("parents") {
        let links: Vec<(String, Option<String>)> = links
            .as_array()
            .ok_or_else(|| at.fail("registry.parents must be an array"))?
            .iter()
            .map(|l| {
                (
                    l[0].as_str().unwrap_or_default().to_owned(),
                    l[1].as_str().map(String::from),
                )
            })
            .collect();
        let borrowed: Vec<(&str, Option<&str>)> = links
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_deref()))
            .collect();
        return Ok(
            RegistryConfig::from_parents(&borrowed, &Config::default(), max_breakers)
                .map_err(|e| e.to_string()),
        );
    }
    let levels = v["levels"]
        .as_array()
        .ok_or_else(|| at.fail("registry.levels must be an array"))?
        .iter()
        .map(|l| level(l, at))
        .collect::<Result<Vec<_>, _>>()?;
    let config = RegistryConfig {
        levels,
        max_breakers,
    };
    Ok(config
        .validate()
        .map(|()| config)
        .map_err(|e| e.to_string()))
}

fn state_name(s: State) -> &'static str {
    s.as_str()
}

fn transitions_json(moved: impl Iterator<Item = (usize, State)>) -> Value {
    Value::from(
        moved
            .map(|(level, to)| Value::from(vec![Value::from(level), Value::from(state_name(to))]))
            .collect::<Vec<_>>(),
    )
}

struct Run {
    registry: Registry,
    now: Instant,
    calls: BTreeMap<String, PathPermit>,
}

fn replay(file: &str, v: &Value) -> Checked {
    let at = At { file, step: None };
    let config = registry_config(&v["registry"], &at)?;
    if let Some(field) = v.get("registry_error").and_then(Value::as_str) {
        return refused_naming(&at, "registry_error", field, config);
    }
    let config = config.map_err(|e| at.fail(e))?;
    let mut run = Run {
        registry: Registry::new(config).map_err(|e| at.fail(e))?,
        now: Instant::ZERO,
        calls: BTreeMap::new(),
    };
    each_step(file, v, |at, op, step| {
        match op {
            "acquire" => acquire(&mut run, step, at)?,
            "success" | "failure" | "neutral" => outcome(&mut run, op, step, at)?,
            "advance" => {
                let ms = step["ms"]
                    .as_u64()
                    .ok_or_else(|| at.fail("advance without ms"))?;
                run.now = run.now.saturating_add(Duration::from_millis(ms));
            }
            "expect" => expect(&run, step, at)?,
            other => return Err(at.fail(format_args!("unknown op {other:?}"))),
        }
        Ok(())
    })
}

fn acquire(run: &mut Run, step: &Value, at: &At) -> Checked {
    let path = strs(&step["path"], at)?;
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let expect = &step["expect"];
    let got = match run.registry.try_acquire(&path, run.now) {
        Err(e) => {
            let field = expect["error"].as_str().unwrap_or("<admitted>");
            return if e.to_string().starts_with(field) {
                Ok(())
            } else {
                Err(at.mismatch("expect", expect, e))
            };
        }
        Ok(got) => got,
    };
    match got {
        Ok(permit) => {
            if expect != "admitted" {
                return Err(at.mismatch("expect", expect, "admitted"));
            }
            if let Some(want) = step.get("expect_transitions") {
                let moved = transitions_json(permit.transitions().map(|(l, t)| (l, t.to)));
                if &moved != want {
                    return Err(at.mismatch("expect_transitions", want, moved));
                }
            }
            let call = step["call"]
                .as_str()
                .ok_or_else(|| at.fail("admitted without a call name"))?;
            run.calls.insert(call.to_owned(), permit);
        }
        Err(refused) => {
            let rejection = match refused.rejection {
                Rejection::Open { .. } => "open",
                Rejection::Throttled => "throttled",
            };
            let actual = serde_json::json!({ "refused": refused.level, "rejection": rejection });
            if expect != &actual {
                return Err(at.mismatch("expect", expect, actual));
            }
        }
    }
    Ok(())
}

fn outcome(run: &mut Run, op: &str, step: &Value, at: &At) -> Checked {
    let call = step["call"].as_str().unwrap_or_default();
    let permit = run
        .calls
        .remove(call)
        .ok_or_else(|| at.fail(format_args!("no call {call:?} in flight")))?;
    let now = run.now;
    let moved = match op {
        "success" => run.registry.on_success(permit, now),
        "failure" => run.registry.on_failure(permit, &failure(now), now),
        _ => {
            run.registry.on_neutral(permit, now);
            Default::default()
        }
    };
    if let Some(want) = step.get("expect_transitions") {
        let moved = transitions_json(moved.iter().map(|(l, t)| (l, t.to)));
        if &moved != want {
            return Err(at.mismatch("expect_transitions", want, moved));
        }
    }
    Ok(())
}

fn expect(run: &Run, step: &Value, at: &At) -> Checked {
    let r = &run.registry;
    if let Some(len) = step.get("len") {
        let len = len.as_u64().unwrap_or(u64::MAX) as usize;
        if r.len() != len {
            return Err(at.mismatch("len", len, r.len()));
        }
    }
    if let Some(evicted) = step.get("evicted").and_then(Value::as_u64)
        && r.evicted() != evicted
    {
        return Err(at.mismatch("evicted", evicted, r.evicted()));
    }
    for (key, kept) in [("kept", true), ("dropped", false)] {
        for path in step
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = strs(path, at)?;
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            if r.breaker(&path).is_some() != kept {
                return Err(at.fail(format_args!("{path:?} should be {key}")));
            }
        }
    }
    for pair in step
        .get("states")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let path = strs(&pair[0], at)?;
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let state = r.breaker(&path).map(|b| state_name(b.state()));
        if state != pair[1].as_str() {
            return Err(at.mismatch(
                &format!("state of {path:?}"),
                &pair[1],
                format!("{state:?}"),
            ));
        }
    }
    for pair in step
        .get("metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let path = strs(&pair[0], at)?;
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let m = r
            .metrics(&path, run.now)
            .ok_or_else(|| at.fail(format_args!("no breaker at {path:?}")))?;
        for (name, want) in pair[1].as_object().into_iter().flatten() {
            let actual = match name.as_str() {
                "total_operations" => m.total_operations,
                "failure_count" => m.failure_count,
                "success_count" => m.success_count,
                other => return Err(at.fail(format_args!("unknown metric {other:?}"))),
            };
            if want.as_u64() != Some(actual) {
                return Err(at.mismatch(&format!("{name} of {path:?}"), want, actual));
            }
        }
    }
    if let Some(want) = step.get("in_flight").and_then(Value::as_array) {
        let actual: Vec<u64> = r.summary(run.now).iter().map(|s| s.in_flight).collect();
        let want: Vec<u64> = want.iter().filter_map(Value::as_u64).collect();
        if actual != want {
            return Err(at.mismatch("in_flight", format!("{want:?}"), format!("{actual:?}")));
        }
    }
    Ok(())
}

#[test]
fn every_registry_vector_replays() {
    replay_dir("registry", MIN_VECTORS, replay);
}
