//! The circuit's [`State`] and the [`Transition`]s between states.

use crate::clock::Instant;

/// Where the circuit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum State {
    /// Calls flow; consecutive failures are counted.
    Closed,
    /// Calls fail fast until the open timeout has passed.
    Open,
    /// Some calls probe the cache; successes close the circuit, a failure re-opens it.
    HalfOpen,
}

impl State {
    /// Every state.
    pub const ALL: [State; 3] = [State::Closed, State::Open, State::HalfOpen];

    /// The state with this [`as_str`](Self::as_str) name, if any.
    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// FACT's string value: `"closed"`, `"open"` or `"half_open"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transition happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Reason {
    /// CLOSED -> OPEN: `failure_threshold` failures in a row.
    FailureThreshold,
    /// OPEN -> HALF_OPEN: the open timeout passed.
    TimeoutElapsed,
    /// CLOSED -> OPEN: the failure rate since the circuit closed reached
    /// `failure_rate_threshold` over at least `minimum_calls` calls.
    FailureRate,
    /// CLOSED -> OPEN: the share of slow calls (completed, or in flight past the duration)
    /// reached `slow_call_rate_threshold` over at least `minimum_calls` calls.
    SlowCalls,
    /// HALF_OPEN -> OPEN: a probe failed.
    ProbeFailed,
    /// HALF_OPEN -> CLOSED: `success_threshold` probes succeeded.
    ProbesSucceeded,
    /// `force_open`.
    ForcedOpen,
    /// `force_closed`.
    ForcedClosed,
    /// `reset`.
    Reset,
}

impl Reason {
    /// A stable snake_case name, for logs and bindings.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::FailureThreshold => "failure_threshold",
            Reason::FailureRate => "failure_rate",
            Reason::SlowCalls => "slow_calls",
            Reason::TimeoutElapsed => "timeout_elapsed",
            Reason::ProbeFailed => "probe_failed",
            Reason::ProbesSucceeded => "probes_succeeded",
            Reason::ForcedOpen => "forced_open",
            Reason::ForcedClosed => "forced_closed",
            Reason::Reset => "reset",
        }
    }
}

/// A change of state, returned by the call that caused it.
#[must_use = "a transition is how a host learns of a state change (to log it or notify listeners)"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// When (the `now` passed to the call).
    pub at: Instant,
}
