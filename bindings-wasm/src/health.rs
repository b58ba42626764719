//! The health report, readiness, transition counts and the metric families, exported to JS.
//! The rules, defaults, bounds, policies and families are the core's
//! (`fact_resilience_core::health`, `::exposition`); this file passes numbers and strings
//! across, as [`crate::breaker`] does, and the JS layer (`js/interop.js`, `js/prometheus.js`)
//! builds the objects and writes the messages.
//!
//! Thresholds cross as six numbers in [`Rule::ALL`] order (the names: `healthRuleNames`).
//! A refused one comes back as a code, `(index + 1) << 2 | kind`, kind being 0 not finite,
//! 1 negative, 2 a failure rate above 1, 3 a rule this build does not know; JS names the field
//! as the caller wrote it.

use crate::interop::{instant, pack_transition, state_code};
use crate::registry;
use fact_resilience_core::{
    DEFAULT_NAMESPACE, HealthError, HealthThresholds, METRIC_FAMILIES, ReadinessPolicy, Rule,
    Severity,
};
use wasm_bindgen::prelude::wasm_bindgen;

const SEVERITIES: [Severity; 3] = [Severity::Ok, Severity::Warning, Severity::Critical];

/// Thresholds from six numbers in [`Rule::ALL`] order (missing ones read as NaN, refused).
fn thresholds(t: &[f64]) -> HealthThresholds {
    let at = |i: usize| t.get(i).copied().unwrap_or(f64::NAN);
    HealthThresholds {
        critical_open_seconds: at(0),
        critical_state_changes_per_hour: at(1),
        critical_failure_rate: at(2),
        warning_failure_rate: at(3),
        warning_recovery_attempts: at(4),
        warning_half_open_seconds: at(5),
    }
}

fn rule_index(rule: Rule) -> u32 {
    Rule::ALL.iter().position(|r| *r == rule).unwrap_or(0) as u32
}

/// The code of a refused threshold (see the module doc).
pub fn threshold_error_code(e: &HealthError) -> i32 {
    let kind = match e {
        HealthError::NotFinite { .. } => 0,
        HealthError::Negative { .. } => 1,
        HealthError::RateAboveOne { .. } => 2,
        _ => 3,
    };
    let index = Rule::ALL
        .iter()
        .position(|r| r.as_str() == e.field())
        .unwrap_or(Rule::ALL.len());
    ((index as i32 + 1) << 2) | kind
}

/// The six rules' names (the core's threshold fields, snake_case), in [`Rule::ALL`] order.
#[wasm_bindgen(js_name = healthRuleNames)]
pub fn rule_names() -> Vec<String> {
    Rule::ALL.iter().map(|r| r.as_str().into()).collect()
}

/// Per rule, in [`Rule::ALL`] order: its default threshold, then its severity's level.
#[wasm_bindgen(js_name = healthRuleTable)]
pub fn rule_table() -> Vec<f64> {
    Rule::ALL
        .iter()
        .flat_map(|r| [r.default_threshold(), f64::from(r.severity().level())])
        .collect()
}

/// The severities' names by level: `["ok", "warning", "critical"]`.
#[wasm_bindgen(js_name = severityNames)]
pub fn severity_names() -> Vec<String> {
    SEVERITIES.iter().map(|s| s.as_str().into()).collect()
}

/// The readiness policies' names, in the order of `breakerHealth`'s readiness bits.
#[wasm_bindgen(js_name = readinessPolicyNames)]
pub fn readiness_policy_names() -> Vec<String> {
    ReadinessPolicy::ALL
        .iter()
        .map(|p| p.as_str().into())
        .collect()
}

/// 0 if the core accepts the thresholds (six numbers, [`Rule::ALL`] order), else the code of
/// the first it refuses (see the module doc).
#[wasm_bindgen(js_name = healthCheckThresholds)]
pub fn check_thresholds(t: &[f64]) -> i32 {
    thresholds(t)
        .validate()
        .map_or_else(|e| threshold_error_code(&e), |()| 0)
}

/// The order of `breakerHealth`'s output.
pub const HEALTH_LAYOUT: &str = "status (severity level), readiness bits (bit i set: ready \
    under readinessPolicyNames()[i]), state, timeInStateSeconds, failureRate, windowCalls, \
    stateChangesLastHour, recoveryAttempts, then per alert that fired, in rule order: rule \
    index, severity level, value, threshold";

/// Numbers before the alerts in [`HEALTH_LAYOUT`].
pub const HEALTH_HEAD: usize = 8;

/// The health report at `now` under `thresholds` (checked first with
/// `healthCheckThresholds`: unchecked ones are not refused here), in [`HEALTH_LAYOUT`] order;
/// empty when there is no such breaker. No side effects, as `breakerMetrics`.
#[wasm_bindgen(js_name = breakerHealth)]
pub fn health(handle: u32, now_ms: f64, t: &[f64]) -> Vec<f64> {
    let limits = thresholds(t);
    registry::with(handle, |b| {
        let r = b.health(instant(now_ms), &limits);
        let ready = ReadinessPolicy::ALL
            .iter()
            .enumerate()
            .fold(0u32, |bits, (i, p)| bits | u32::from(r.is_ready(*p)) << i);
        let f = &r.figures;
        let mut out = Vec::with_capacity(HEALTH_HEAD + 4 * Rule::ALL.len());
        out.extend_from_slice(&[
            f64::from(r.status.level()),
            f64::from(ready),
            f64::from(state_code(f.state)),
            f.time_in_state.as_secs_f64(),
            f.failure_rate,
            f.window_calls as f64,
            f.state_changes_last_hour as f64,
            f64::from(f.recovery_attempts),
        ]);
        for a in r.alerts() {
            out.extend_from_slice(&[
                f64::from(rule_index(a.rule)),
                f64::from(a.severity.level()),
                a.value,
                a.threshold,
            ]);
        }
        out
    })
    .unwrap_or_default()
}

/// Transitions since creation or reset, every kind the core counts (zeros included), as
/// pairs: the transition's code (`pack_transition`, as listeners get), its count. Empty when
/// there is no such breaker.
#[wasm_bindgen(js_name = breakerTransitionCounts)]
pub fn transition_counts(handle: u32) -> Vec<f64> {
    registry::with(handle, |b| {
        b.transition_counts()
            .iter()
            .flat_map(|(from, to, reason, n)| {
                [f64::from(pack_transition(from, to, reason)), n as f64]
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The metric families, four strings each: name, kind (`gauge` | `counter`), the labels
/// beside `breaker` joined by `,` (empty for none), help.
#[wasm_bindgen(js_name = metricFamilies)]
pub fn metric_families() -> Vec<String> {
    METRIC_FAMILIES
        .iter()
        .flat_map(|f| {
            [
                f.name.into(),
                f.kind.as_str().into(),
                f.labels.join(","),
                f.help.into(),
            ]
        })
        .collect()
}

/// The namespace exporters use unless told otherwise.
#[wasm_bindgen(js_name = defaultNamespace)]
pub fn default_namespace() -> String {
    DEFAULT_NAMESPACE.into()
}

/// Whether Prometheus accepts `namespace` as a metric-name prefix (the core's rule).
#[wasm_bindgen(js_name = checkNamespace)]
pub fn check_namespace(namespace: &str) -> bool {
    fact_resilience_core::check_namespace(namespace).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fact_resilience_core::{Breaker, Config, Instant};

    fn defaults() -> Vec<f64> {
        rule_table().iter().step_by(2).copied().collect()
    }

    #[test]
    fn refused_thresholds_name_the_rule_and_the_kind() {
        assert_eq!(check_thresholds(&defaults()), 0);
        let mut t = defaults();
        t[5] = f64::NAN;
        assert_eq!(check_thresholds(&t), 6 << 2, "kind 0: not finite");
        t[5] = -1.0;
        assert_eq!(check_thresholds(&t), (6 << 2) | 1);
        let mut t = defaults();
        t[2] = 1.5;
        assert_eq!(check_thresholds(&t), (3 << 2) | 2);
        assert_eq!(check_thresholds(&[]), 1 << 2, "missing reads as NaN");
    }

    #[test]
    fn a_report_lists_status_readiness_figures_and_alerts() {
        let config = Config {
            failure_threshold: 1,
            ..Config::default()
        };
        let h = registry::insert(Breaker::new(config, Instant::ZERO).unwrap());
        let _ = registry::with(h, |b| b.force_open(Instant::ZERO));
        let at = 301_000.0; // ms: OPEN for 301 s
        let n = health(h, at, &defaults());
        assert_eq!(n[0], 2.0, "critical");
        assert_eq!(n[1], 0.0, "ready under no policy");
        assert_eq!(n[2], 1.0, "open");
        assert_eq!(n[3], 301.0);
        assert_eq!(n.len(), HEALTH_HEAD + 4);
        assert_eq!(&n[HEALTH_HEAD..], &[0.0, 2.0, 301.0, 300.0]);
        let counts = transition_counts(h);
        assert_eq!(counts.len(), 16);
        let forced = counts.chunks(2).filter(|c| c[1] == 1.0).count();
        assert_eq!(forced, 1);
        registry::remove(h);
        assert!(health(h, at, &defaults()).is_empty());
        assert!(transition_counts(h).is_empty());
    }

    #[test]
    fn families_cross_as_four_strings_each() {
        let f = metric_families();
        assert_eq!(f.len(), 4 * METRIC_FAMILIES.len());
        assert_eq!(&f[..3], &["state", "gauge", "state"]);
        assert!(check_namespace("fact_resilience"));
        assert!(!check_namespace("my-app"));
    }
}
