//! The health report: the seed's alert thresholds evaluated from the breaker's own history.
//!
//! [`Breaker::health`](crate::Breaker::health) reads the breaker at `now` (no side effects,
//! like [`Breaker::metrics`](crate::Breaker::metrics): a due OPEN -> HALF_OPEN move is not
//! applied) and checks six rules, each a field of [`HealthThresholds`]. Every rule compares
//! strictly ("above", "more than", "longer than"): a figure equal to its threshold does not
//! fire. The report's status is the worst severity that fired, and every alert that fired is
//! listed with its measured value and threshold, so an operator sees why.
//!
//! The state changes of the last hour are counted in a fixed ring of 60 one-minute buckets
//! ([`ChangeCounter`]), so the memory is the same whatever the traffic: a change counts for
//! between 59 and 60 minutes after it happened, expiring one minute bucket at a time.

use crate::clock::Instant;
use crate::state::{Reason, State, Transition};
use core::time::Duration;

/// How bad a report is, or how bad one alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Severity {
    /// Nothing fired.
    Ok,
    /// Worth a look: a warning rule fired.
    Warning,
    /// Page someone: a critical rule fired.
    Critical,
}

impl Severity {
    /// `"ok"`, `"warning"` or `"critical"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// A number for gauges: 0 ok, 1 warning, 2 critical.
    pub const fn level(self) -> u8 {
        self as u8
    }
}

/// One rule of the report. Its name is the [`HealthThresholds`] field that sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Critical: OPEN for longer than `critical_open_seconds`.
    OpenTooLong,
    /// Critical: more than `critical_state_changes_per_hour` state changes in the last hour.
    Flapping,
    /// Critical: failure rate above `critical_failure_rate`.
    FailureRateCritical,
    /// Warning: failure rate above `warning_failure_rate`.
    FailureRateWarning,
    /// Warning: more than `warning_recovery_attempts` half-open entries since the last close.
    RecoveryAttempts,
    /// Warning: HALF_OPEN for longer than `warning_half_open_seconds`.
    HalfOpenTooLong,
}

impl Rule {
    /// Every rule, in the order a report lists them.
    pub const ALL: [Rule; 6] = [
        Rule::OpenTooLong,
        Rule::Flapping,
        Rule::FailureRateCritical,
        Rule::FailureRateWarning,
        Rule::RecoveryAttempts,
        Rule::HalfOpenTooLong,
    ];

    /// The threshold field's name, which is also the alert's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rule::OpenTooLong => "critical_open_seconds",
            Rule::Flapping => "critical_state_changes_per_hour",
            Rule::FailureRateCritical => "critical_failure_rate",
            Rule::FailureRateWarning => "warning_failure_rate",
            Rule::RecoveryAttempts => "warning_recovery_attempts",
            Rule::HalfOpenTooLong => "warning_half_open_seconds",
        }
    }

    /// How bad it is when it fires.
    pub const fn severity(self) -> Severity {
        match self {
            Rule::OpenTooLong | Rule::Flapping | Rule::FailureRateCritical => Severity::Critical,
            _ => Severity::Warning,
        }
    }

    /// The seed's recommended threshold.
    pub const fn default_threshold(self) -> f64 {
        match self {
            Rule::OpenTooLong => 300.0,
            Rule::Flapping => 10.0,
            Rule::FailureRateCritical => 0.5,
            Rule::FailureRateWarning => 0.1,
            Rule::RecoveryAttempts => 5.0,
            Rule::HalfOpenTooLong => 60.0,
        }
    }

    /// Whether the threshold is a failure rate (so at most 1).
    const fn is_rate(self) -> bool {
        matches!(self, Rule::FailureRateCritical | Rule::FailureRateWarning)
    }
}

/// The thresholds of the six rules. Defaults are the seed's. Each is a finite number >= 0;
/// the failure rates are at most 1.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct HealthThresholds {
    /// Critical when OPEN longer than this many seconds. Default 300.
    pub critical_open_seconds: f64,
    /// Critical when more state changes than this happened in the last hour. Default 10.
    pub critical_state_changes_per_hour: f64,
    /// Critical when the window's failure rate is above this. Default 0.5.
    pub critical_failure_rate: f64,
    /// Warning when the window's failure rate is above this. Default 0.1.
    pub warning_failure_rate: f64,
    /// Warning when the circuit half-opened more often than this since it last closed.
    /// Default 5.
    pub warning_recovery_attempts: f64,
    /// Warning when HALF_OPEN longer than this many seconds. Default 60.
    pub warning_half_open_seconds: f64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        let d = Rule::default_threshold;
        HealthThresholds {
            critical_open_seconds: d(Rule::OpenTooLong),
            critical_state_changes_per_hour: d(Rule::Flapping),
            critical_failure_rate: d(Rule::FailureRateCritical),
            warning_failure_rate: d(Rule::FailureRateWarning),
            warning_recovery_attempts: d(Rule::RecoveryAttempts),
            warning_half_open_seconds: d(Rule::HalfOpenTooLong),
        }
    }
}

/// A threshold that cannot be used. Each variant names the field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// Not a number, or infinite.
    #[error("health threshold {field} must be a finite number, got {value}")]
    NotFinite {
        /// The field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// Below zero.
    #[error("health threshold {field} must be >= 0, got {value}")]
    Negative {
        /// The field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A failure-rate threshold above 1 (a rate never exceeds 1, so it could never fire).
    #[error("health threshold {field} is a failure rate and must be at most 1, got {value}")]
    RateAboveOne {
        /// The field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// No such threshold.
    #[error(
        "unknown health threshold {name:?} (expected one of critical_open_seconds, \
         critical_state_changes_per_hour, critical_failure_rate, warning_failure_rate, \
         warning_recovery_attempts, warning_half_open_seconds)"
    )]
    UnknownField {
        /// The name given (cut to 64 bytes).
        name: alloc::string::String,
    },
}

impl HealthError {
    /// The field the error is about (for an unknown name: the name given).
    pub fn field(&self) -> &str {
        match self {
            HealthError::NotFinite { field, .. }
            | HealthError::Negative { field, .. }
            | HealthError::RateAboveOne { field, .. } => field,
            HealthError::UnknownField { name } => name,
        }
    }
}

impl HealthThresholds {
    /// The threshold of `rule`.
    pub fn get(&self, rule: Rule) -> f64 {
        match rule {
            Rule::OpenTooLong => self.critical_open_seconds,
            Rule::Flapping => self.critical_state_changes_per_hour,
            Rule::FailureRateCritical => self.critical_failure_rate,
            Rule::FailureRateWarning => self.warning_failure_rate,
            Rule::RecoveryAttempts => self.warning_recovery_attempts,
            Rule::HalfOpenTooLong => self.warning_half_open_seconds,
        }
    }

    fn slot(&mut self, rule: Rule) -> &mut f64 {
        match rule {
            Rule::OpenTooLong => &mut self.critical_open_seconds,
            Rule::Flapping => &mut self.critical_state_changes_per_hour,
            Rule::FailureRateCritical => &mut self.critical_failure_rate,
            Rule::FailureRateWarning => &mut self.warning_failure_rate,
            Rule::RecoveryAttempts => &mut self.warning_recovery_attempts,
            Rule::HalfOpenTooLong => &mut self.warning_half_open_seconds,
        }
    }

    /// Sets the threshold called `name` (a field name), checking the value. On error nothing
    /// changes. Bindings build thresholds from keyword arguments or objects through this.
    ///
    /// ```
    /// use fact_resilience_core::{HealthError, HealthThresholds};
    /// let mut t = HealthThresholds::default();
    /// t.set("warning_failure_rate", 0.2).unwrap();
    /// assert_eq!(t.warning_failure_rate, 0.2);
    /// let err = t.set("critical_failure_rate", -0.5).unwrap_err();
    /// assert_eq!(err.field(), "critical_failure_rate");
    /// assert!(matches!(t.set("nope", 1.0), Err(HealthError::UnknownField { .. })));
    /// ```
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), HealthError> {
        let rule = Rule::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| HealthError::UnknownField {
                name: cut(name, 64).into(),
            })?;
        check(rule, value)?;
        *self.slot(rule) = value;
        Ok(())
    }

    /// The first unusable threshold, if any.
    pub fn validate(&self) -> Result<(), HealthError> {
        Rule::ALL
            .into_iter()
            .try_for_each(|r| check(r, self.get(r)))
    }
}

fn check(rule: Rule, value: f64) -> Result<(), HealthError> {
    let field = rule.as_str();
    if !value.is_finite() {
        Err(HealthError::NotFinite { field, value })
    } else if value < 0.0 {
        Err(HealthError::Negative { field, value })
    } else if rule.is_rate() && value > 1.0 {
        Err(HealthError::RateAboveOne { field, value })
    } else {
        Ok(())
    }
}

fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1; // terminates: 0 is always a boundary
    }
    s.get(..end).unwrap_or_default()
}

/// One alert that fired.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alert {
    /// The rule (its name is the threshold field's).
    pub rule: Rule,
    /// The rule's severity.
    pub severity: Severity,
    /// The measured figure.
    pub value: f64,
    /// The threshold it exceeded.
    pub threshold: f64,
}

/// The figures the rules read, at the report's `now`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct HealthFigures {
    /// The state (a due timeout not applied).
    pub state: State,
    /// Time since the state was entered.
    pub time_in_state: Duration,
    /// The rolling window's failure rate.
    pub failure_rate: f64,
    /// Completed calls in the rolling window.
    pub window_calls: u64,
    /// State changes in the last hour (see [`ChangeCounter`]).
    pub state_changes_last_hour: u64,
    /// HALF_OPEN entries since the circuit last entered CLOSED (or was created or reset).
    pub recovery_attempts: u32,
}

impl HealthFigures {
    /// The figure `rule` compares against its threshold.
    pub fn value(&self, rule: Rule) -> f64 {
        let secs_in = |s: State| {
            if self.state == s {
                self.time_in_state.as_secs_f64()
            } else {
                0.0
            }
        };
        match rule {
            Rule::OpenTooLong => secs_in(State::Open),
            Rule::Flapping => self.state_changes_last_hour as f64,
            Rule::FailureRateCritical | Rule::FailureRateWarning => self.failure_rate,
            Rule::RecoveryAttempts => f64::from(self.recovery_attempts),
            Rule::HalfOpenTooLong => secs_in(State::HalfOpen),
        }
    }
}

/// What [`Breaker::health`](crate::Breaker::health) answers. Plain data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthReport {
    /// The worst severity that fired ([`Severity::Ok`] when none did).
    pub status: Severity,
    /// The figures behind the rules.
    pub figures: HealthFigures,
    alerts: [Option<Alert>; 6],
}

impl HealthReport {
    /// Evaluates every rule on `figures`.
    pub fn evaluate(figures: HealthFigures, thresholds: &HealthThresholds) -> HealthReport {
        let mut alerts = [None; 6];
        let mut status = Severity::Ok;
        for (slot, rule) in alerts.iter_mut().zip(Rule::ALL) {
            let (value, threshold) = (figures.value(rule), thresholds.get(rule));
            if value > threshold {
                status = status.max(rule.severity());
                *slot = Some(Alert {
                    rule,
                    severity: rule.severity(),
                    value,
                    threshold,
                });
            }
        }
        HealthReport {
            status,
            figures,
            alerts,
        }
    }

    /// The alerts that fired, in [`Rule::ALL`] order.
    pub fn alerts(&self) -> impl Iterator<Item = Alert> + '_ {
        self.alerts.iter().flatten().copied()
    }

    /// Whether a readiness probe should pass under `policy`.
    pub fn is_ready(&self, policy: ReadinessPolicy) -> bool {
        match policy {
            ReadinessPolicy::Open => self.figures.state != State::Open,
            ReadinessPolicy::Critical => self.status < Severity::Critical,
            ReadinessPolicy::Warning => self.status < Severity::Warning,
        }
    }
}

/// When a readiness probe should fail (HTTP 503), picked by the user. Named by what makes the
/// service unready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadinessPolicy {
    /// Unready while the circuit is OPEN (the cache is being bypassed). The default.
    #[default]
    Open,
    /// Unready while the health status is critical.
    Critical,
    /// Unready while the health status is warning or critical.
    Warning,
}

impl ReadinessPolicy {
    /// Every policy.
    pub const ALL: [ReadinessPolicy; 3] = [
        ReadinessPolicy::Open,
        ReadinessPolicy::Critical,
        ReadinessPolicy::Warning,
    ];

    /// `"open"`, `"critical"` or `"warning"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReadinessPolicy::Open => "open",
            ReadinessPolicy::Critical => "critical",
            ReadinessPolicy::Warning => "warning",
        }
    }

    /// The policy called `name`, or `None`.
    pub fn from_name(name: &str) -> Option<ReadinessPolicy> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Minutes in the ring of [`ChangeCounter`].
const MINUTES: usize = 60;
const MINUTE_NS: u64 = 60_000_000_000;

/// State changes in the last hour, in O(1) memory: 60 one-minute buckets aligned to
/// [`Instant::ZERO`]. A change in minute `m` counts while the current minute `c` has
/// `c - m < 60`. Invariant: slot `m % 60` holds minute `m` for every `m` in `(head - 60,
/// head]`. A bucket saturates at 65,535 changes.
#[derive(Clone, Debug)]
pub struct ChangeCounter {
    head: u64,
    slots: [u16; MINUTES],
}

impl Default for ChangeCounter {
    fn default() -> Self {
        ChangeCounter {
            head: 0,
            slots: [0; MINUTES],
        }
    }
}

impl ChangeCounter {
    /// Counts one change at `now` (times before the newest seen count in the newest minute).
    pub fn record(&mut self, now: Instant) {
        let minute = now.as_nanos() / MINUTE_NS;
        if minute > self.head {
            let clear = (minute - self.head).min(MINUTES as u64);
            for m in self.head + 1..=self.head + clear {
                self.slots[(m % MINUTES as u64) as usize] = 0;
            }
            self.head = minute;
        }
        let slot = &mut self.slots[(self.head % MINUTES as u64) as usize];
        *slot = slot.saturating_add(1);
    }

    /// Changes that still count at `now`.
    pub fn count(&self, now: Instant) -> u64 {
        let current = (now.as_nanos() / MINUTE_NS).max(self.head);
        (0..MINUTES as u64)
            .filter(|age| *age <= self.head && current - (self.head - age) < MINUTES as u64)
            .map(|age| u64::from(self.slots[((self.head - age) % MINUTES as u64) as usize]))
            .sum()
    }

    /// Forgets every change.
    pub fn clear(&mut self) {
        *self = ChangeCounter::default();
    }
}

/// The transitions a breaker can make on its own or by command (a reset clears the counters,
/// so it is not among them), in the order [`TransitionCounts::iter`] lists them.
pub const TRANSITION_KINDS: [(State, State, Reason); 10] = [
    (State::Closed, State::Open, Reason::FailureThreshold),
    (State::Closed, State::Open, Reason::FailureRate),
    (State::Closed, State::Open, Reason::SlowCalls),
    (State::Open, State::HalfOpen, Reason::TimeoutElapsed),
    (State::HalfOpen, State::Open, Reason::ProbeFailed),
    (State::HalfOpen, State::Closed, Reason::ProbesSucceeded),
    (State::Closed, State::Open, Reason::ForcedOpen),
    (State::HalfOpen, State::Open, Reason::ForcedOpen),
    (State::Open, State::Closed, Reason::ForcedClosed),
    (State::HalfOpen, State::Closed, Reason::ForcedClosed),
];

/// Transitions since creation or reset, by from, to and reason (for counters such as
/// Prometheus's `transitions_total{from,to,reason}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransitionCounts {
    counts: [u64; TRANSITION_KINDS.len()],
}

impl TransitionCounts {
    pub(crate) fn record(&mut self, t: &Transition) {
        if let Some(i) = TRANSITION_KINDS
            .iter()
            .position(|k| *k == (t.from, t.to, t.reason))
        {
            self.counts[i] = self.counts[i].saturating_add(1);
        }
    }

    /// Every kind of [`TRANSITION_KINDS`] with its count (zeros included, so that a counter
    /// exists before its first increment).
    pub fn iter(&self) -> impl Iterator<Item = (State, State, Reason, u64)> + '_ {
        TRANSITION_KINDS
            .iter()
            .zip(self.counts)
            .map(|(&(from, to, reason), n)| (from, to, reason, n))
    }
}

/// What the breaker keeps for its health report, beside its counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct HealthHistory {
    pub changes: ChangeCounter,
    pub recovery_attempts: u32,
    pub transitions: TransitionCounts,
}

impl HealthHistory {
    pub fn record(&mut self, t: &Transition, now: Instant) {
        self.changes.record(now);
        self.transitions.record(t);
        match t.to {
            State::HalfOpen => self.recovery_attempts = self.recovery_attempts.saturating_add(1),
            State::Closed => self.recovery_attempts = 0,
            State::Open => {}
        }
    }
}

/// Nanoseconds of a minute, for tests that step minute by minute.
#[cfg(test)]
const fn minutes(n: u64) -> Instant {
    Instant::from_nanos(n * MINUTE_NS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_change_counts_for_sixty_minute_buckets_then_expires() {
        let mut c = ChangeCounter::default();
        c.record(minutes(5));
        c.record(minutes(5));
        assert_eq!(c.count(minutes(5)), 2);
        c.record(minutes(30));
        assert_eq!(c.count(minutes(64)), 3);
        assert_eq!(c.count(minutes(65)), 1, "minute 5 expires 60 minutes on");
        assert_eq!(c.count(minutes(90)), 0);
    }

    #[test]
    fn a_jump_of_more_than_an_hour_clears_the_ring() {
        let mut c = ChangeCounter::default();
        for m in 0..60 {
            c.record(minutes(m));
        }
        assert_eq!(c.count(minutes(59)), 60);
        c.record(minutes(500));
        assert_eq!(c.count(minutes(500)), 1);
    }

    #[test]
    fn nan_and_negative_thresholds_are_refused_naming_the_field() {
        let mut t = HealthThresholds::default();
        let e = t.set("warning_half_open_seconds", f64::NAN).unwrap_err();
        assert_eq!(e.field(), "warning_half_open_seconds");
        assert!(e.to_string().contains("finite"));
        let e = t.set("critical_open_seconds", -1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "health threshold critical_open_seconds must be >= 0, got -1"
        );
        let e = t.set("warning_failure_rate", 1.5).unwrap_err();
        assert!(matches!(e, HealthError::RateAboveOne { .. }));
        assert_eq!(t, HealthThresholds::default(), "nothing changed");
        t.critical_state_changes_per_hour = f64::INFINITY;
        assert_eq!(
            t.validate().unwrap_err().field(),
            "critical_state_changes_per_hour"
        );
    }

    #[test]
    fn readiness_policies_read_the_state_or_the_status() {
        let figures = HealthFigures {
            state: State::HalfOpen,
            time_in_state: Duration::from_secs(61),
            failure_rate: 0.0,
            window_calls: 0,
            state_changes_last_hour: 2,
            recovery_attempts: 1,
        };
        let r = HealthReport::evaluate(figures, &HealthThresholds::default());
        assert_eq!(r.status, Severity::Warning);
        assert!(r.is_ready(ReadinessPolicy::Open));
        assert!(r.is_ready(ReadinessPolicy::Critical));
        assert!(!r.is_ready(ReadinessPolicy::Warning));
        assert_eq!(
            ReadinessPolicy::from_name("critical"),
            Some(ReadinessPolicy::Critical)
        );
        assert_eq!(ReadinessPolicy::from_name("closed"), None);
    }
}
