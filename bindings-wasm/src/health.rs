//! The health report, readiness, transition counts and the metric families, exported to JS.
//! The rules, defaults, bounds, policies and families are the core's
//! (`fact_resilience_core::health`, `::exposition`); this file passes numbers and strings
//! across, the report and the counts as objects ([`crate::objects::to_js`]), and the JS layer
//! (`js/interop.js`, `js/prometheus.js`) writes the messages.
//!
//! Thresholds cross as six numbers in [`Rule::ALL`] order (the names: `healthRuleNames`).
//! A refused one comes back as a code, `(index + 1) << 2 | kind`, kind being 0 not finite,
//! 1 negative, 2 a failure rate above 1, 3 a rule this build does not know; JS names the field
//! as the caller wrote it.

use crate::interop::instant;
use crate::objects::Record;
use crate::registry;
use fact_resilience_core::{
    DEFAULT_NAMESPACE, HealthError, HealthThresholds, METRIC_FAMILIES, ReadinessPolicy, Rule,
    Severity,
};
use js_sys::Array;
use wasm_bindgen::prelude::*;

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

/// The code of a refused threshold (see the module doc).
pub fn threshold_error_code(e: &HealthError) -> i32 {
    let kind = match e {
        HealthError::NotFinite { .. } => 0,
        HealthError::Negative { .. } => 1,
        HealthError::RateAboveOne { .. } => 2,
        _ => 3,
    };
    // `black_box`: kept a loop, not one inlined string compare per rule (size budget).
    let index = core::hint::black_box(Rule::ALL)
        .iter()
        .position(|r| r.as_str() == e.field())
        .unwrap_or(Rule::ALL.len());
    ((index as i32 + 1) << 2) | kind
}

/// The core's health tables, read once by the JS layer: `{ rules: [{ name, threshold,
/// severity }], severities, policies }`: the six rules in [`Rule::ALL`] order (their names are
/// the threshold fields', snake_case; their default threshold and severity), the severities'
/// names by level, and the readiness policies' names in the order of `breakerHealth`'s
/// readiness bits.
#[wasm_bindgen(js_name = healthTables)]
pub fn tables() -> JsValue {
    let rules: Array = Rule::ALL
        .iter()
        .map(|r| {
            JsValue::from(
                Record::new()
                    .text("name", r.as_str())
                    .num("threshold", r.default_threshold())
                    .text("severity", r.severity().as_str()),
            )
        })
        .collect();
    let severities: Array = SEVERITIES
        .iter()
        .map(|s| JsValue::from_str(s.as_str()))
        .collect();
    let policies: Array = ReadinessPolicy::ALL
        .iter()
        .map(|p| JsValue::from_str(p.as_str()))
        .collect();
    Record::new()
        .set("rules", rules.into())
        .set("severities", severities.into())
        .set("policies", policies.into())
        .into()
}

/// 0 if the core accepts the thresholds (six numbers, [`Rule::ALL`] order), else the code of
/// the first it refuses (see the module doc).
#[wasm_bindgen(js_name = healthCheckThresholds)]
pub fn check_thresholds(t: &[f64]) -> i32 {
    thresholds(t)
        .validate()
        .map_or_else(|e| threshold_error_code(&e), |()| 0)
}

/// The health report at `now` under `thresholds` (checked first with
/// `healthCheckThresholds`: unchecked ones are not refused here), as `{ report, readyBits }`
/// (bit i set: ready under `readinessPolicyNames()[i]`); `null` when there is no such
/// breaker. No side effects, as `breakerMetrics`.
#[wasm_bindgen(js_name = breakerHealth)]
pub fn health(handle: u32, now_ms: f64, t: &[f64]) -> JsValue {
    let limits = thresholds(t);
    registry::with(handle, |b| {
        let r = b.health(instant(now_ms), &limits);
        let ready_bits = ReadinessPolicy::ALL
            .iter()
            .enumerate()
            .fold(0u32, |bits, (i, p)| bits | u32::from(r.is_ready(*p)) << i);
        let f = &r.figures;
        let alerts: Array = r
            .alerts()
            .map(|a| {
                JsValue::from(
                    Record::new()
                        .text("rule", a.rule.as_str())
                        .text("severity", a.severity.as_str())
                        .num("value", a.value)
                        .num("threshold", a.threshold),
                )
            })
            .collect();
        let figures = Record::new()
            .text("state", f.state.as_str())
            .num("timeInStateSeconds", f.time_in_state.as_secs_f64())
            .num("failureRate", f.failure_rate)
            .num("windowCalls", f.window_calls as f64)
            .num("stateChangesLastHour", f.state_changes_last_hour as f64)
            .num("recoveryAttempts", f64::from(f.recovery_attempts));
        let report = Record::new()
            .text("status", r.status.as_str())
            .set("alerts", alerts.into())
            .set("figures", figures.into());
        Record::new()
            .set("report", report.into())
            .num("readyBits", f64::from(ready_bits))
            .into()
    })
    .unwrap_or(JsValue::NULL)
}

/// Transitions since creation or reset, every kind the core counts (zeros included), as
/// `[{ from, to, reason, count }]`; `null` when there is no such breaker.
#[wasm_bindgen(js_name = breakerTransitionCounts)]
pub fn transition_counts(handle: u32) -> JsValue {
    registry::with(handle, |b| {
        let counts: Array = b
            .transition_counts()
            .iter()
            .map(|(from, to, reason, count)| {
                JsValue::from(
                    Record::new()
                        .text("from", from.as_str())
                        .text("to", to.as_str())
                        .text("reason", reason.as_str())
                        .num("count", count as f64),
                )
            })
            .collect();
        counts.into()
    })
    .unwrap_or(JsValue::NULL)
}

/// The metric families: `[{ name, kind, labels, help }]` (`kind` "gauge" or "counter";
/// `labels` beside `breaker`).
#[wasm_bindgen(js_name = metricFamilies)]
pub fn metric_families() -> JsValue {
    let families: Array = METRIC_FAMILIES
        .iter()
        .map(|f| {
            let labels: Array = f.labels.iter().map(|l| JsValue::from_str(l)).collect();
            JsValue::from(
                Record::new()
                    .text("name", f.name)
                    .text("kind", f.kind.as_str())
                    .set("labels", labels.into())
                    .text("help", f.help),
            )
        })
        .collect();
    families.into()
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

    fn defaults() -> Vec<f64> {
        Rule::ALL.iter().map(|r| r.default_threshold()).collect()
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
    fn the_namespace_rule_is_the_cores() {
        assert!(check_namespace("fact_resilience"));
        assert!(!check_namespace("my-app"));
    }
}
