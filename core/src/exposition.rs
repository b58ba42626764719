//! The metric families every binding exports (Prometheus in Python and JS, OpenTelemetry
//! instruments), declared once: names, kinds, labels and help text, and the rule for a
//! namespace Prometheus accepts. Units are base units (seconds, ratios), counters get `_total`
//! appended by the exporter, and every series carries a `breaker` label with the breaker's name.

/// What kind of series a family is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Goes up and down.
    Gauge,
    /// Only goes up (until the breaker is reset); exported as `<name>_total`.
    Counter,
}

impl MetricKind {
    /// `"gauge"` or `"counter"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Gauge => "gauge",
            MetricKind::Counter => "counter",
        }
    }
}

/// One metric family: `<namespace>_<name>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricFamily {
    /// The name after the namespace (without `_total`).
    pub name: &'static str,
    /// Gauge or counter.
    pub kind: MetricKind,
    /// Labels beside `breaker`.
    pub labels: &'static [&'static str],
    /// The HELP text.
    pub help: &'static str,
}

/// The default namespace.
pub const DEFAULT_NAMESPACE: &str = "fact_resilience";

/// Every family, in the order exporters write them.
pub const METRIC_FAMILIES: [MetricFamily; 7] = [
    MetricFamily {
        name: "state",
        kind: MetricKind::Gauge,
        labels: &["state"],
        help: "1 for the circuit's current state (closed, open, half_open), 0 for the others.",
    },
    MetricFamily {
        name: "calls",
        kind: MetricKind::Counter,
        labels: &["outcome"],
        help: "Calls by outcome: success, failure, rejected (open), throttled (half-open), \
               neutral, shed (a wrapper's calls that never reached the cache for lack of \
               capacity; those that held a permit are also counted as neutral).",
    },
    MetricFamily {
        name: "transitions",
        kind: MetricKind::Counter,
        labels: &["from", "to", "reason"],
        help: "State transitions by from, to and reason.",
    },
    MetricFamily {
        name: "failure_rate",
        kind: MetricKind::Gauge,
        labels: &[],
        help: "Failures over completed calls in the rolling window (0 to 1).",
    },
    MetricFamily {
        name: "time_in_state_seconds",
        kind: MetricKind::Gauge,
        labels: &[],
        help: "Seconds since the circuit entered its current state.",
    },
    MetricFamily {
        name: "health_status",
        kind: MetricKind::Gauge,
        labels: &[],
        help: "The health report's status: 0 ok, 1 warning, 2 critical.",
    },
    MetricFamily {
        name: "health_alert",
        kind: MetricKind::Gauge,
        labels: &["rule", "severity"],
        help: "1 while the health rule fires, 0 otherwise.",
    },
];

/// A namespace Prometheus would refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamespaceError {
    /// Empty, or a character outside `[a-zA-Z0-9_]`, or a leading digit.
    #[error(
        "namespace must match [a-zA-Z_][a-zA-Z0-9_]* (a Prometheus metric name prefix), got {namespace:?}"
    )]
    Invalid {
        /// The namespace given (cut to 64 bytes).
        namespace: alloc::string::String,
    },
}

/// Checks a namespace: a Prometheus metric name prefix without `:` (reserved for recording
/// rules).
///
/// ```
/// use fact_resilience_core::check_namespace;
/// assert!(check_namespace("fact_resilience").is_ok());
/// assert!(check_namespace("my-app").is_err());
/// assert!(check_namespace("9lives").is_err());
/// ```
pub fn check_namespace(namespace: &str) -> Result<(), NamespaceError> {
    let mut chars = namespace.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        let mut end = namespace.len().min(64);
        while !namespace.is_char_boundary(end) {
            end -= 1; // terminates: 0 is always a boundary
        }
        Err(NamespaceError::Invalid {
            namespace: namespace.get(..end).unwrap_or_default().into(),
        })
    }
}
