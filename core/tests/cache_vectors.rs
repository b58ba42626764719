//! The one loader of the cache-layer vectors: replays every `tests/vectors/cache/*.json`
//! through the public `CacheGuard` + `Breaker` API against an in-memory cache, carrying out
//! each answer as a binding would. The format is defined in `tests/vectors/README.md`.

mod common;

use common::{At, Checked, close, json_files, parse_config, vectors_dir};
use fact_resilience_core::{
    Begin, Breaker, CacheGuard, CacheOp, Capabilities, End, Failure, Fallback, Flush, Instant,
    OutcomeKind, Rejection, StaleKeysOption,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// Fewer vectors than this means the suite lost files (or cannot find them).
const MIN_CACHE_VECTORS: usize = 25;
/// The in-memory cache's own prefix: `invalidate_by_prefix(PREFIX)` clears it.
const PREFIX: &str = "fact";

/// The cache behind the guard: a map, and the calls made on it during one step.
#[derive(Default)]
struct FakeCache {
    entries: BTreeMap<String, String>,
    calls: Vec<Value>,
}

impl FakeCache {
    /// Records a call of `method` on `arg`; carries it out unless `failed` says it raised.
    fn call(
        &mut self,
        method: CacheOp,
        arg: &str,
        value: &str,
        failed: Option<OutcomeKind>,
    ) -> Value {
        self.calls.push(json!([method.name(), arg]));
        if failed.is_some() {
            return Value::Null;
        }
        match method {
            CacheOp::Get => self.entries.get(arg).map_or(Value::Null, |v| json!(v)),
            CacheOp::Store => {
                self.entries.insert(arg.to_owned(), value.to_owned());
                json!({ "stored": arg })
            }
            CacheOp::Invalidate => json!(u32::from(self.entries.remove(arg).is_some())),
            CacheOp::InvalidateByPrefix => {
                let before = self.entries.len();
                self.entries
                    .retain(|k, _| arg != PREFIX && !k.starts_with(arg));
                json!(before - self.entries.len())
            }
        }
    }
}

fn fallback_json(f: Fallback) -> Value {
    match f {
        Fallback::Stored => json!(true),
        Fallback::Missing => Value::Null,
        Fallback::Zero => json!(0),
    }
}

/// The name a vector gives the error a call ends with.
fn raised_name(kind: OutcomeKind) -> &'static str {
    match kind {
        OutcomeKind::Failure => "error",
        other => other.name(),
    }
}

fn outcome_of(name: &str, at: &At) -> Result<Option<OutcomeKind>, String> {
    match name {
        "ok" => Ok(None),
        "error" => Ok(Some(OutcomeKind::Failure)),
        other => OutcomeKind::from_name(other)
            .filter(|k| *k != OutcomeKind::Success)
            .map(Some)
            .ok_or_else(|| at.fail(format_args!("unknown cache outcome {other:?}"))),
    }
}

fn op_of(name: &str, at: &At) -> Result<CacheOp, String> {
    CacheOp::ALL
        .into_iter()
        .find(|op| op.name() == name)
        .ok_or_else(|| at.fail(format_args!("unknown call {name:?}")))
}

/// What one call answered: a value, or the name of what it raised.
enum Answer {
    Returned(Value),
    Raised(String),
}

struct Replay<'a> {
    at: At<'a>,
    breaker: Breaker,
    guard: CacheGuard,
    cache: FakeCache,
    degrade: bool,
    now: u64,
}

impl Replay<'_> {
    fn instant(&self) -> Instant {
        Instant::from_nanos(self.now)
    }

    fn call(&mut self, step: &Map<String, Value>) -> Result<Answer, String> {
        let op = op_of(step["call"].as_str().unwrap_or_default(), &self.at)?;
        let key = step.get("key").and_then(Value::as_str).unwrap_or("");
        let value = step.get("value").and_then(Value::as_str).unwrap_or("");
        let mut script = Vec::new();
        for s in step
            .get("cache")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            script.push(outcome_of(s.as_str().unwrap_or_default(), &self.at)?);
        }
        let mut script = script.into_iter();
        self.cache.calls.clear();
        let now = self.instant();
        let guard_key = (op != CacheOp::InvalidateByPrefix).then_some(key);
        let (begin, _) = self
            .guard
            .begin(&mut self.breaker, op, guard_key, self.degrade, now);
        let (ticket, method, flush) = match begin {
            Begin::Fallback { fallback, .. } => {
                return Ok(Answer::Returned(fallback_json(fallback)));
            }
            Begin::Refuse(Rejection::Open { .. }) => {
                return Ok(Answer::Raised("CIRCUIT_BREAKER_OPEN".into()));
            }
            Begin::Refuse(Rejection::Throttled) => {
                return Ok(Answer::Raised("CIRCUIT_BREAKER_THROTTLING".into()));
            }
            Begin::Run {
                ticket,
                method,
                flush,
            } => (ticket, method, flush),
        };
        let mut failed = None;
        if let Some(flush) = flush {
            let calls: Vec<(CacheOp, String)> = match flush {
                Flush::All => vec![(CacheOp::InvalidateByPrefix, PREFIX.to_owned())],
                Flush::Keys(keys) => keys.into_iter().map(|k| (CacheOp::Invalidate, k)).collect(),
            };
            for (m, k) in calls {
                failed = script.next().flatten();
                self.cache.call(m, &k, "", failed);
                if failed.is_some() {
                    break;
                }
            }
            if failed.is_none() {
                self.guard.flushed(ticket).map_err(|e| self.at.fail(e))?;
            }
        }
        let mut result = Value::Null;
        if failed.is_none() {
            failed = script.next().flatten();
            result = self.cache.call(method, key, value, failed);
        }
        let kind = failed.unwrap_or(OutcomeKind::Success);
        let failure = Failure {
            error_type: "CacheError",
            error_message: "boom",
            operation: op.name(),
            timestamp: self.now as f64 / 1e9,
        };
        let (end, _) = self
            .guard
            .end(&mut self.breaker, ticket, kind.with(failure), now)
            .map_err(|e| self.at.fail(e))?;
        Ok(match end {
            End::Value => Answer::Returned(result),
            End::Stored => Answer::Returned(json!(true)),
            End::Fallback { fallback, .. } => Answer::Returned(fallback_json(fallback)),
            End::Raise => Answer::Raised(raised_name(kind).into()),
        })
    }

    fn check(&self, expect: &Map<String, Value>, answer: Option<&Answer>) -> Checked {
        for (key, want) in expect {
            match key.as_str() {
                "returns" => match answer {
                    Some(Answer::Returned(v)) if v == want => {}
                    Some(Answer::Returned(v)) => return Err(self.at.mismatch("returns", want, v)),
                    Some(Answer::Raised(e)) => {
                        return Err(self.at.mismatch("returns", want, format!("raised {e}")));
                    }
                    None => return Err(self.at.fail("returns is only for a call")),
                },
                "raises" => match answer {
                    Some(Answer::Raised(e)) if want.as_str() == Some(e) => {}
                    Some(Answer::Raised(e)) => return Err(self.at.mismatch("raises", want, e)),
                    Some(Answer::Returned(v)) => {
                        return Err(self.at.mismatch("raises", want, format!("returned {v}")));
                    }
                    None => return Err(self.at.fail("raises is only for a call")),
                },
                "manager_calls" => {
                    let got = Value::Array(self.cache.calls.clone());
                    if &got != want {
                        return Err(self.at.mismatch("manager_calls", want, got));
                    }
                }
                "state" => {
                    let got = self.breaker.state().as_str();
                    if want.as_str() != Some(got) {
                        return Err(self.at.mismatch("state", want, got));
                    }
                }
                "guard" => self.check_guard(want)?,
                "breaker" => self.check_breaker(want)?,
                _ => return Err(self.at.fail(format_args!("unknown expectation {key:?}"))),
            }
        }
        Ok(())
    }

    fn check_guard(&self, want: &Value) -> Checked {
        let c = self.guard.counters();
        for (key, w) in want.as_object().into_iter().flatten() {
            let got = match key.as_str() {
                "fallbacks" => json!(c.fallbacks),
                "shed" => json!(c.shed),
                "timeouts" => json!(c.timeouts),
                "cancelled" => json!(c.cancelled),
                "flushes" => json!(c.flushes),
                "flush_failures" => json!(c.flush_failures),
                "pending_keys" => json!(c.pending_keys),
                "pending_all" => json!(c.pending_all),
                "dropped_keys" => json!(c.dropped_keys),
                "in_flight" => json!(c.in_flight),
                _ => return Err(self.at.fail(format_args!("unknown guard counter {key:?}"))),
            };
            if &got != w {
                return Err(self.at.mismatch(&format!("guard.{key}"), w, got));
            }
        }
        Ok(())
    }

    fn check_breaker(&self, want: &Value) -> Checked {
        let m = self.breaker.metrics(self.instant());
        for (key, w) in want.as_object().into_iter().flatten() {
            let got = match key.as_str() {
                "failure_count" => m.failure_count as f64,
                "success_count" => m.success_count as f64,
                "state_changes" => m.state_changes as f64,
                "rejected_count" => m.rejected_count as f64,
                "throttled_count" => m.throttled_count as f64,
                "neutral_count" => m.neutral_count as f64,
                _ => return Err(self.at.fail(format_args!("unknown breaker metric {key:?}"))),
            };
            if !w.as_f64().is_some_and(|w| close(w, got)) {
                return Err(self.at.mismatch(&format!("breaker.{key}"), w, got));
            }
        }
        Ok(())
    }
}

fn capabilities(cache: &Map<String, Value>) -> Capabilities {
    let caps = cache.get("capabilities");
    let flag = |name, default| {
        caps.and_then(|c| c.get(name))
            .and_then(Value::as_bool)
            .unwrap_or(default)
    };
    Capabilities {
        per_key: flag("per_key", false),
        flush_all: flag("flush_all", true),
    }
}

/// The guard a vector's `cache` block describes, or `None` when the vector expects building
/// it to fail (`cache_error`) and it did.
fn guard_of(doc: &Value, at: &At) -> Result<Option<(CacheGuard, bool)>, String> {
    let empty = Map::new();
    let cache = doc
        .get("cache")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let caps = capabilities(cache);
    let option = cache
        .get("stale_keys")
        .and_then(Value::as_str)
        .map_or(Ok(StaleKeysOption::Auto), StaleKeysOption::from_name)
        .map_err(|e| at.fail(e))?;
    let policy = match (option.resolve(caps), doc.get("cache_error")) {
        (Err(_), Some(field)) if field == "stale_keys" => return Ok(None),
        (Ok(_), Some(field)) => return Err(at.mismatch("cache_error", field, "accepted")),
        (Err(e), _) => return Err(at.fail(e)),
        (Ok(p), None) => p,
    };
    let capacity = cache
        .get("max_pending")
        .and_then(Value::as_u64)
        .unwrap_or(1024);
    let degrade = cache
        .get("degrade")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Ok(Some((
        CacheGuard::new(policy, caps, capacity as usize),
        degrade,
    )))
}

impl Replay<'_> {
    /// Runs one step (advance, set, call) and checks its expectations.
    fn step(&mut self, step: &Map<String, Value>) -> Checked {
        let mut answer = None;
        if let Some(seconds) = step.get("advance") {
            let s = seconds
                .as_f64()
                .filter(|s| *s >= 0.0)
                .ok_or_else(|| self.at.fail("advance needs seconds >= 0"))?;
            self.now += (s * 1e9).round() as u64;
        } else if let Some(set) = step.get("set") {
            if let Some(d) = set.get("degrade").and_then(Value::as_bool) {
                self.degrade = d;
            }
        } else if step.contains_key("call") {
            answer = Some(self.call(step)?);
        }
        match step.get("expect").and_then(Value::as_object) {
            Some(expect) => self.check(expect, answer.as_ref()),
            None => Ok(()),
        }
    }
}

fn replay(path: &Path) -> Checked {
    let name = path.display().to_string();
    let at = At {
        file: &name,
        step: None,
    };
    let text = std::fs::read_to_string(path).map_err(|e| at.fail(e))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| at.fail(e))?;
    let config = parse_config(doc.get("config").unwrap_or(&json!({})), &at)?;
    let Some((guard, degrade)) = guard_of(&doc, &at)? else {
        return Ok(());
    };
    let mut r = Replay {
        breaker: Breaker::new(config, Instant::ZERO).map_err(|e| at.fail(e))?,
        guard,
        cache: FakeCache::default(),
        degrade,
        now: 0,
        at,
    };
    let steps = doc["steps"]
        .as_array()
        .ok_or_else(|| r.at.fail("no steps"))?;
    for (i, step) in steps.iter().enumerate() {
        let step = step
            .as_object()
            .ok_or_else(|| r.at.fail("a step must be an object"))?;
        let label = match (
            step.get("call").and_then(Value::as_str),
            step.contains_key("advance"),
        ) {
            (Some(call), _) => call,
            (None, true) => "advance",
            (None, false) => "check",
        };
        r.at = At {
            file: &name,
            step: Some((i, label)),
        };
        r.step(step)?;
    }
    if r.guard.counters().in_flight != 0 {
        return Err(r.at.fail("a call was left in flight"));
    }
    Ok(())
}

fn cache_files() -> Vec<std::path::PathBuf> {
    json_files(&vectors_dir().join("cache"))
}

#[test]
fn every_cache_vector_passes() {
    let files = cache_files();
    let failures: Vec<String> = files.iter().filter_map(|f| replay(f).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cache vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn enough_cache_vectors_are_found() {
    let n = cache_files().len();
    assert!(
        n >= MIN_CACHE_VECTORS,
        "found {n} cache vectors, expected at least {MIN_CACHE_VECTORS}"
    );
}
