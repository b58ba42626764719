//! The registry against a simple model: one plain `Breaker` per path prefix, kept forever,
//! admitting root first. Random calls, outcomes and waits must get the same admissions and
//! transitions from both; a breaker the registry dropped must have been idle; and right after
//! an admission the registry is within its bound unless no kept breaker could go.

use core::time::Duration;
use fact_resilience_core::{
    Breaker, Config, Failure, Instant, Level, PathPermit, Permit, Registry, RegistryConfig,
    Rejection, State,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const SERVICES: [&str; 2] = ["s0", "s1"];
const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];

#[derive(Clone, Debug)]
enum Op {
    Call { service: usize, key: usize },
    End { held: usize, outcome: u8 },
    Wait { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..SERVICES.len(), 0..KEYS.len()).prop_map(|(service, key)| Op::Call { service, key }),
        4 => (0..8usize, 0..3u8).prop_map(|(held, outcome)| Op::End { held, outcome }),
        2 => (0..4_000u64).prop_map(|ms| Op::Wait { ms }),
    ]
}

fn level_config(threshold: u32, gradual: bool) -> Config {
    Config {
        failure_threshold: threshold,
        success_threshold: 1,
        timeout_seconds: 1.0,
        rolling_window_seconds: 6.0,
        gradual_recovery: gradual,
        ..Config::default()
    }
}

fn failure() -> Failure<'static> {
    Failure {
        error_type: "E",
        error_message: "",
        operation: "get",
        timestamp: 0.0,
    }
}

struct Model {
    configs: [Config; 2],
    breakers: BTreeMap<Vec<String>, Breaker>,
}

impl Model {
    fn acquire(&mut self, path: &[&str], now: Instant) -> Result<Vec<Permit>, (usize, Rejection)> {
        let mut permits = Vec::new();
        for level in 0..path.len() {
            let prefix: Vec<String> = path[..=level].iter().map(|s| s.to_string()).collect();
            let config = self.configs[level].clone();
            let b = self
                .breakers
                .entry(prefix)
                .or_insert_with(|| Breaker::new(config, now).unwrap());
            match b.try_acquire(now) {
                Ok(p) => permits.push(p),
                Err(r) => {
                    for (l, p) in permits.into_iter().enumerate().rev() {
                        self.breaker(&path[..=l]).on_neutral(p, now);
                    }
                    return Err((level, r));
                }
            }
        }
        Ok(permits)
    }

    fn breaker(&mut self, prefix: &[&str]) -> &mut Breaker {
        let key: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        self.breakers.get_mut(&key).unwrap()
    }
}

struct Held {
    path: [&'static str; 2],
    registry: PathPermit,
    model: Vec<Permit>,
}

fn run(ops: Vec<Op>, max_breakers: usize, gradual: bool) -> Result<(), TestCaseError> {
    let configs = [level_config(3, gradual), level_config(2, gradual)];
    let mut registry = Registry::new(RegistryConfig {
        levels: vec![
            Level::new("service", configs[0].clone()),
            Level::new("key", configs[1].clone()),
        ],
        max_breakers,
    })
    .unwrap();
    let mut model = Model {
        configs,
        breakers: BTreeMap::new(),
    };
    let mut held: Vec<Held> = Vec::new();
    let mut now = Instant::from_nanos(1_000_000_000);
    for op in ops {
        match op {
            Op::Wait { ms } => now = now.saturating_add(Duration::from_millis(ms)),
            Op::Call { service, key } => {
                let path = [SERVICES[service], KEYS[key]];
                let got = registry.try_acquire(&path, now).unwrap();
                let want = model.acquire(&path, now);
                match (got, want) {
                    (Ok(permit), Ok(model_permits)) => {
                        let moved: Vec<(usize, State)> =
                            permit.transitions().map(|(l, t)| (l, t.to)).collect();
                        let want: Vec<(usize, State)> = model_permits
                            .iter()
                            .enumerate()
                            .filter_map(|(l, p)| Some((l, p.transition()?.to)))
                            .collect();
                        prop_assert_eq!(moved, want);
                        held.push(Held {
                            path,
                            registry: permit,
                            model: model_permits,
                        });
                    }
                    (Err(refused), Err((level, rejection))) => {
                        prop_assert_eq!((refused.level, refused.rejection), (level, rejection));
                    }
                    (got, want) => {
                        return Err(TestCaseError::fail(format!(
                            "admission differs at {path:?}: registry {:?}, model {:?}",
                            got.map(|_| ()),
                            want.map(|_| ())
                        )));
                    }
                }
                check_bound(&registry, &model, &held, max_breakers, now)?;
            }
            Op::End { held: i, outcome } => {
                if held.is_empty() {
                    continue;
                }
                let h = held.remove(i % held.len());
                let mut want = Vec::new();
                for (level, p) in h.model.into_iter().enumerate().rev() {
                    let b = model.breaker(&h.path[..=level]);
                    let t = match outcome {
                        0 => b.on_success(p, now),
                        1 => b.on_failure(p, &failure(), now),
                        _ => {
                            b.on_neutral(p, now);
                            None
                        }
                    };
                    if let Some(t) = t {
                        want.push((level, t.to));
                    }
                }
                want.sort_by_key(|&(level, _)| level);
                let moved = match outcome {
                    0 => registry.on_success(h.registry, now),
                    1 => registry.on_failure(h.registry, &failure(), now),
                    _ => {
                        registry.on_neutral(h.registry, now);
                        Default::default()
                    }
                };
                let moved: Vec<(usize, State)> = moved.iter().map(|(l, t)| (l, t.to)).collect();
                prop_assert_eq!(moved, want);
            }
        }
        check_dropped(&registry, &model, now)?;
    }
    Ok(())
}

/// Every breaker the registry kept matches the model's state; every one it dropped is idle
/// in the model (so the registry's fresh one will decide the same).
fn check_dropped(registry: &Registry, model: &Model, now: Instant) -> Result<(), TestCaseError> {
    for (prefix, b) in &model.breakers {
        let path: Vec<&str> = prefix.iter().map(String::as_str).collect();
        match registry.breaker(&path) {
            Some(kept) => prop_assert_eq!(kept.state(), b.state(), "{:?}", prefix),
            None => prop_assert!(b.is_idle(now), "dropped a busy breaker {:?}", prefix),
        }
    }
    Ok(())
}

/// Right after an admission the registry holds at most the bound, unless none of the kept
/// breakers could go (each is busy, holds a call, or has a kept child).
fn check_bound(
    registry: &Registry,
    model: &Model,
    held: &[Held],
    max_breakers: usize,
    now: Instant,
) -> Result<(), TestCaseError> {
    prop_assert!(registry.len() <= model.breakers.len());
    if registry.len() <= max_breakers {
        return Ok(());
    }
    for (prefix, b) in &model.breakers {
        let path: Vec<&str> = prefix.iter().map(String::as_str).collect();
        if registry.breaker(&path).is_none() {
            continue;
        }
        let has_child = path.len() == 1
            && KEYS
                .iter()
                .any(|k| registry.breaker(&[path[0], k]).is_some());
        let holds_call = held.iter().any(|h| h.path[..path.len()] == path[..]);
        prop_assert!(
            has_child || holds_call || !b.is_idle(now),
            "{} kept, bound {}, but {:?} could go",
            registry.len(),
            max_breakers,
            prefix
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]
    #[test]
    fn the_registry_decides_as_one_breaker_per_prefix(
        ops in prop::collection::vec(op(), 1..120),
        max_breakers in 1..8usize,
        gradual in any::<bool>(),
    ) {
        run(ops, max_breakers, gradual)?;
    }
}
