//! The loader of the origin-protection vectors, `tests/vectors/origin/*.json`: each replayed
//! through the public `OriginGuard` API, with the host's side (the values in their slots)
//! played by a map. The format is in `tests/vectors/README.md`.

mod common;

use common::{At, Checked, each_step, refused_naming, replay_dir};
use core::time::Duration;
use fact_resilience_core::{Instant, Load, LoadTicket, OriginConfig, OriginGuard};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Fewer vectors than this means the suite lost files (or cannot find them).
const MIN_VECTORS: usize = 15;

fn origin_config(v: &Value, at: &At) -> Result<OriginConfig, String> {
    let mut c = OriginConfig::default();
    for (key, val) in v
        .as_object()
        .ok_or_else(|| at.fail("origin must be an object"))?
    {
        let bad = || at.fail(format_args!("origin.{key}: unusable value {val}"));
        match key.as_str() {
            "single_flight" => c.single_flight = val.as_bool().ok_or_else(bad)?,
            "origin_budget" => c.budget = Some(val.as_u64().ok_or_else(bad)? as u32),
            "stale_if_error_seconds" => {
                c.stale_if_error = Some(Duration::from_secs_f64(val.as_f64().ok_or_else(bad)?))
            }
            "stale_capacity" => c.stale_capacity = val.as_u64().ok_or_else(bad)? as usize,
            other => return Err(at.fail(format_args!("unknown origin field {other:?}"))),
        }
    }
    Ok(c)
}

/// The host's side: the loads by name (with their key), and which key's value each slot
/// holds.
struct Run {
    guard: OriginGuard<String>,
    now: Instant,
    loads: BTreeMap<String, (LoadTicket, String)>,
    slots: BTreeMap<u32, String>,
}

fn replay(file: &str, v: &Value) -> Checked {
    let at = At { file, step: None };
    let config = origin_config(&v["origin"], &at)?;
    let guard = OriginGuard::new(config).map_err(|e| e.to_string());
    if let Some(field) = v.get("origin_error").and_then(Value::as_str) {
        return refused_naming(&at, "origin_error", field, guard);
    }
    let mut run = Run {
        guard: guard.map_err(|e| at.fail(e))?,
        now: Instant::ZERO,
        loads: BTreeMap::new(),
        slots: BTreeMap::new(),
    };
    each_step(file, v, |at, op, step| {
        let key = step["key"].as_str().unwrap_or_default();
        match op {
            "begin" => begin(&mut run, step, at)?,
            "end" => end(&mut run, step, at)?,
            "served" => {
                if let Some(slot) = run.guard.served(key, run.now) {
                    run.slots.insert(slot, key.to_owned());
                }
            }
            "written" => {
                if let Some(slot) = run.guard.written(key) {
                    run.slots.remove(&slot);
                }
            }
            "written_all" => {
                run.guard.written_all();
                run.slots.clear();
            }
            "advance" => {
                let ms = step["ms"]
                    .as_u64()
                    .ok_or_else(|| at.fail("advance without ms"))?;
                run.now = run.now.saturating_add(Duration::from_millis(ms));
            }
            "expect" => {
                let c = run.guard.counters();
                let actual = json!({
                    "origin_calls": c.origin_calls, "joined": c.joined, "busy": c.busy,
                    "stale_served": c.stale_served, "in_flight": c.in_flight,
                    "remembered": c.remembered,
                });
                for (name, want) in step["counters"].as_object().into_iter().flatten() {
                    if actual.get(name) != Some(want) {
                        return Err(at.mismatch(name, want, &actual[name]));
                    }
                }
            }
            other => return Err(at.fail(format_args!("unknown op {other:?}"))),
        }
        Ok(())
    })
}

fn begin(run: &mut Run, step: &Value, at: &At) -> Checked {
    let key = step["key"]
        .as_str()
        .ok_or_else(|| at.fail("begin without a key"))?;
    let down = step["cache_down"].as_bool().unwrap_or(false);
    let load = run.guard.begin(key, down, run.now);
    let name_of = |t: LoadTicket, loads: &BTreeMap<String, (LoadTicket, String)>| {
        loads
            .iter()
            .find(|(_, (v, _))| *v == t)
            .map_or_else(|| "<unknown>".to_owned(), |(k, _)| k.clone())
    };
    let actual = match load {
        Load::Lead(t) => {
            let name = step["load"]
                .as_str()
                .ok_or_else(|| at.fail("a lead needs a load name"))?;
            run.loads.insert(name.to_owned(), (t, key.to_owned()));
            json!("lead")
        }
        Load::Join(t) => json!({ "join": name_of(t, &run.loads) }),
        Load::Busy => json!("busy"),
        Load::Stale { slot, age } => json!({
            "stale": run.slots.get(&slot).cloned().unwrap_or_default(),
            "age_ms": age.as_millis() as u64,
        }),
    };
    if actual != step["expect"] {
        return Err(at.mismatch("expect", &step["expect"], actual));
    }
    Ok(())
}

fn end(run: &mut Run, step: &Value, at: &At) -> Checked {
    let name = step["load"].as_str().unwrap_or_default();
    let (ticket, key) = run
        .loads
        .get(name)
        .cloned()
        .ok_or_else(|| at.fail(format_args!("no load {name:?}")))?;
    let ok = step["ok"].as_bool().unwrap_or(false);
    let expect = &step["expect"];
    match run.guard.end(ticket, ok, run.now) {
        Err(e) => {
            let field = expect["error"].as_str().unwrap_or("<ended>");
            if !e.to_string().starts_with(field) {
                return Err(at.mismatch("expect", expect, e));
            }
        }
        Ok(ended) => {
            if let Some(slot) = ended.remember {
                run.slots.insert(slot, key);
            }
            let actual = json!({
                "joined": ended.joined,
                "remember": ended.remember.is_some(),
                "store": ended.store,
            });
            if &actual != expect {
                return Err(at.mismatch("expect", expect, actual));
            }
        }
    }
    Ok(())
}

#[test]
fn every_origin_vector_replays() {
    replay_dir("origin", MIN_VECTORS, replay);
}
