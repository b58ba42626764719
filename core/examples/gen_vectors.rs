//! Writes `tests/vectors/generated/random_NN.json`: long random traces whose expectations come
//! from the reference model in `core/tests/model/`. Deterministic: the same seeds give the same
//! files, byte for byte.
//!
//! Run with `cargo run -p fact-resilience-core --example gen_vectors`.

#[path = "../tests/model/mod.rs"]
mod model;

use fact_resilience_core::{Config, Transition};
use model::{Decision, Model, ModelPermit, Snapshot};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

const FILES: u64 = 12;
const STEPS: usize = 300;
/// Every this many steps, a step also carries the whole metrics set and the failure log.
const FULL_EVERY: usize = 10;

/// xorshift64*: small, seeded, good enough to pick steps.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

const MESSAGES: [&str; 6] = [
    "boom",
    "connection refused",
    "héllo wörld",
    "日本語のエラー",
    "timeout after 5000 ms",
    "",
];
const TYPES: [&str; 3] = ["CacheError", "TimeoutError", "Ünïcode"];
const OPERATIONS: [&str; 4] = ["get", "store", "invalidate", "invalidate_by_prefix"];

fn random_config(rng: &mut Rng) -> Config {
    Config {
        failure_threshold: 1 + rng.below(5) as u32,
        success_threshold: 1 + rng.below(3) as u32,
        timeout_seconds: *rng.pick(&[0.5, 1.0, 2.0, 5.0, 10.0]),
        rolling_window_seconds: *rng.pick(&[3.0, 10.0, 30.0]),
        window_buckets: 1 + rng.below(10) as u32,
        gradual_recovery: !rng.chance(4),
        recovery_factor: *rng.pick(&[1.0, 0.75, 0.5, 0.25, 0.1]),
        max_recent_failures: 1 + rng.below(5) as u32,
        max_message_bytes: 4 + rng.below(13) as u32,
        half_open_max_in_flight: if rng.chance(2) {
            None
        } else {
            Some(1 + rng.below(3) as u32)
        },
        probe_lease_seconds: if rng.chance(2) {
            None
        } else {
            Some(*rng.pick(&[0.25, 0.5, 1.0, 3.0]))
        },
        // Fields added later keep their defaults, so the generated traces stay as they are.
        ..Config::default()
    }
}

/// A valid config with one field made invalid.
fn broken_config(rng: &mut Rng) -> Config {
    let mut c = random_config(rng);
    match rng.below(10) {
        0 => c.failure_threshold = 0,
        1 => c.success_threshold = 0,
        2 => c.timeout_seconds = *rng.pick(&[0.0, -1.0, 1e300]),
        3 => c.rolling_window_seconds = *rng.pick(&[0.0, -5.0]),
        4 => c.window_buckets = 0,
        5 => c.recovery_factor = *rng.pick(&[0.0, 1.5, -0.25]),
        6 => c.max_recent_failures = 0,
        7 => c.max_message_bytes = 0,
        8 => c.half_open_max_in_flight = Some(0),
        _ => c.probe_lease_seconds = Some(*rng.pick(&[0.0, -2.0])),
    }
    c
}

/// The config as a JSON object, every field written out, in declaration order.
fn config_json(c: &Config) -> String {
    let fields: [(&str, Value); 11] = [
        ("failure_threshold", json!(c.failure_threshold)),
        ("success_threshold", json!(c.success_threshold)),
        ("timeout_seconds", json!(c.timeout_seconds)),
        ("rolling_window_seconds", json!(c.rolling_window_seconds)),
        ("window_buckets", json!(c.window_buckets)),
        ("gradual_recovery", json!(c.gradual_recovery)),
        ("recovery_factor", json!(c.recovery_factor)),
        ("max_recent_failures", json!(c.max_recent_failures)),
        ("max_message_bytes", json!(c.max_message_bytes)),
        ("half_open_max_in_flight", json!(c.half_open_max_in_flight)),
        ("probe_lease_seconds", json!(c.probe_lease_seconds)),
    ];
    object(
        &fields
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect::<Vec<_>>(),
    )
}

/// `{"k": v, ...}` in the given order; values are already JSON text.
fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    format!("{{{}}}", body.join(", "))
}

/// Nanoseconds as milliseconds that `round(ms * 1e6)` turns back into the same nanoseconds.
fn ms(ns: u64) -> Value {
    let ms = ns as f64 / 1e6;
    assert_eq!(
        (ms * 1e6).round() as u64,
        ns,
        "{ns} ns does not survive as ms"
    );
    json!(ms)
}

fn transition_json(t: Option<Transition>) -> String {
    match t {
        None => "null".to_owned(),
        Some(t) => {
            json!({"from": t.from.as_str(), "to": t.to.as_str(), "reason": t.reason.as_str()})
                .to_string()
        }
    }
}

fn metrics_json(s: &Snapshot, full: bool) -> String {
    let mut fields: Vec<(&str, String)> = vec![
        ("failure_count", s.failure_count.to_string()),
        ("success_count", s.success_count.to_string()),
        ("state_changes", s.state_changes.to_string()),
        ("consecutive_failures", s.consecutive_failures.to_string()),
        ("rejected_count", s.rejected_count.to_string()),
        ("throttled_count", s.throttled_count.to_string()),
        ("half_open_in_flight", s.half_open_in_flight.to_string()),
    ];
    if full {
        fields.extend([
            ("total_operations", s.total_operations.to_string()),
            ("failure_rate", json!(s.failure_rate).to_string()),
            ("window_calls", s.window_calls.to_string()),
            ("neutral_count", s.neutral_count.to_string()),
            ("half_open_admitted", s.half_open_admitted.to_string()),
            ("half_open_successes", s.half_open_successes.to_string()),
            ("recent_failures_count", s.recent_failures_count.to_string()),
            (
                "time_in_current_state_ms",
                ms(s.time_in_current_state_ns).to_string(),
            ),
            ("last_failure_time", json!(s.last_failure_time).to_string()),
        ]);
    }
    object(&fields)
}

fn recent_failures_json(m: &Model) -> String {
    let records: Vec<String> = m
        .recent_failures()
        .iter()
        .map(|r| {
            object(&[
                ("error_type", json!(r.error_type).to_string()),
                ("error_message", json!(r.error_message).to_string()),
                ("operation", json!(r.operation).to_string()),
                ("timestamp", json!(r.timestamp).to_string()),
            ])
        })
        .collect();
    format!("[{}]", records.join(", "))
}

/// How far the clock moves: mostly around the configured timeouts and leases.
fn advance_ns(rng: &mut Rng, m: &Model, now: u64) -> u64 {
    match rng.below(10) {
        0 => 0,
        1 => 1 + rng.below(1_000),
        2..=4 => 1_000_000 * (1 + rng.below(500)),
        5..=7 => 1_000_000 * (1 + rng.below(3_000)),
        // Land right on, or 1 ns around, the next deadline.
        _ => match m.next_deadline() {
            Some(d) if d > now => d - now - 1 + rng.below(3),
            _ => 1_000_000 * rng.below(10_000),
        },
    }
}

/// Fields of one step, as `(key, JSON text)` pairs in output order.
type Fields = Vec<(&'static str, String)>;

/// One random trace being generated: the model, its clock and the permits it holds.
struct Trace {
    rng: Rng,
    m: Model,
    now: u64,
    held: Vec<(String, ModelPermit)>,
    next_permit: u32,
}

impl Trace {
    /// One random step: its fields and the transition it caused.
    fn step(&mut self) -> (Fields, Option<Transition>) {
        let mut fields: Fields = Vec::new();
        let roll = self.rng.below(100);
        let transition = match roll {
            0..=21 => {
                let d = advance_ns(&mut self.rng, &self.m, self.now);
                self.now += d;
                fields.extend([
                    ("op", json!("advance").to_string()),
                    ("ms", ms(d).to_string()),
                ]);
                None
            }
            22..=51 => self.acquire(&mut fields),
            52..=90 if !self.held.is_empty() => self.report(roll, &mut fields),
            52..=93 => self.command("poll", &mut fields, Model::poll),
            94 => self.command("force_open", &mut fields, Model::force_open),
            95 => self.command("force_closed", &mut fields, Model::force_closed),
            96 => self.command("reset", &mut fields, Model::reset),
            97 | 98 => {
                let c = random_config(&mut self.rng);
                self.m.set_config(c.clone()).expect("valid");
                fields.extend([
                    ("op", json!("set_config").to_string()),
                    ("config", config_json(&c)),
                ]);
                None
            }
            _ => {
                let c = broken_config(&mut self.rng);
                let field = self.m.set_config(c.clone()).expect_err("broken");
                fields.extend([
                    ("op", json!("set_config").to_string()),
                    ("config", config_json(&c)),
                    ("error", json!(field).to_string()),
                ]);
                None
            }
        };
        (fields, transition)
    }

    fn acquire(&mut self, fields: &mut Fields) -> Option<Transition> {
        fields.push(("op", json!("acquire").to_string()));
        match self.m.try_acquire(self.now) {
            Decision::Admitted(p) => {
                self.next_permit += 1;
                let name = format!("p{}", self.next_permit);
                fields.extend([
                    ("permit", json!(name).to_string()),
                    ("expect", json!("admitted").to_string()),
                    ("probe", json!(p.probe).to_string()),
                ]);
                let transition = p.transition;
                self.held.push((name, p));
                transition
            }
            Decision::Open { retry_after_ns } => {
                fields.extend([
                    ("expect", json!("open").to_string()),
                    ("retry_after_ms", ms(retry_after_ns).to_string()),
                ]);
                None
            }
            Decision::Throttled => {
                fields.push(("expect", json!("throttled").to_string()));
                None
            }
        }
    }

    /// Reports the outcome of a held permit: success, failure or neutral by `roll`.
    fn report(&mut self, roll: u64, fields: &mut Fields) -> Option<Transition> {
        let (name, p) = self
            .held
            .remove(self.rng.below(self.held.len() as u64) as usize);
        let permit = json!(name).to_string();
        let now = self.now;
        match roll {
            52..=68 => {
                fields.extend([("op", json!("success").to_string()), ("permit", permit)]);
                self.m.on_success(p, now)
            }
            69..=86 => {
                let error_type = *self.rng.pick(&TYPES);
                let message = *self.rng.pick(&MESSAGES);
                let operation = *self.rng.pick(&OPERATIONS);
                fields.extend([
                    ("op", json!("failure").to_string()),
                    ("permit", permit),
                    ("error_type", json!(error_type).to_string()),
                    ("message", json!(message).to_string()),
                    ("operation", json!(operation).to_string()),
                ]);
                let ts = now as f64 / 1e9;
                self.m
                    .on_failure(p, error_type, message, operation, ts, now)
            }
            _ => {
                fields.extend([("op", json!("neutral").to_string()), ("permit", permit)]);
                self.m.on_neutral(p, now);
                None
            }
        }
    }

    fn command(
        &mut self,
        op: &str,
        fields: &mut Fields,
        f: fn(&mut Model, u64) -> Option<Transition>,
    ) -> Option<Transition> {
        fields.push(("op", json!(op).to_string()));
        f(&mut self.m, self.now)
    }
}

fn generate(index: u64) -> String {
    let mut rng = Rng::new(0xFAC7_0000 + index);
    let config = random_config(&mut rng);
    let mut t = Trace {
        m: Model::new(config.clone(), 0).expect("generated configs are valid"),
        rng,
        now: 0,
        held: Vec::new(),
        next_permit: 0,
    };
    let mut steps = Vec::with_capacity(STEPS);
    for i in 0..STEPS {
        let (mut fields, transition) = t.step();
        let full = i % FULL_EVERY == FULL_EVERY - 1;
        fields.extend([
            ("transition", transition_json(transition)),
            ("state", json!(t.m.state().as_str()).to_string()),
            ("metrics", metrics_json(&t.m.snapshot(t.now), full)),
        ]);
        if full {
            fields.push(("recent_failures", recent_failures_json(&t.m)));
        }
        steps.push(object(&fields));
    }
    render(index, &config, &steps)
}

fn render(index: u64, config: &Config, steps: &[String]) -> String {
    let name = format!("random_{index:02}");
    let mut out = String::new();
    let _ = writeln!(out, "{{");
    let _ = writeln!(out, "  \"name\": \"{name}\",");
    let _ = writeln!(
        out,
        "  \"description\": \"Random trace {index} (seed {:#x}) from core/examples/gen_vectors.rs; expectations from the reference model in core/tests/model. Regenerate, do not edit.\",",
        0xFAC7_0000 + index
    );
    let _ = writeln!(out, "  \"config\": {},", config_json(config));
    let _ = writeln!(out, "  \"steps\": [");
    let _ = writeln!(out, "    {}", steps.join(",\n    "));
    let _ = writeln!(out, "  ]");
    let _ = writeln!(out, "}}");
    out
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/generated");
    std::fs::create_dir_all(&dir).expect("create tests/vectors/generated");
    for index in 1..=FILES {
        let text = generate(index);
        let check: Value = serde_json::from_str(&text).expect("generated JSON parses");
        assert_eq!(check["steps"].as_array().map(Vec::len), Some(STEPS));
        let path = dir.join(format!("random_{index:02}.json"));
        std::fs::write(&path, text).expect("write vector");
        println!("wrote {}", path.display());
    }
}
