//! [`TimelineFigures`]: time OPEN, time HALF_OPEN and recovery, from a list of transitions.

use crate::clock::Instant;
use crate::state::{State, Transition};
use core::time::Duration;

/// What a run's transitions add up to: the same figures for a simulation and for a host that
/// logged a real breaker's transitions (the demo).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimelineFigures {
    /// Time spent OPEN.
    pub time_open: Duration,
    /// Time spent HALF_OPEN.
    pub time_half_open: Duration,
    /// Time from the end of the faults until the circuit was CLOSED (zero if it was CLOSED
    /// then); `None` if it never closed, or there was no fault end.
    pub recovery_time: Option<Duration>,
}

impl TimelineFigures {
    /// The figures of `timeline` (oldest first) between `start` and `end`, the breaker being
    /// in `state` at `end`; `fault_end`, when the faults stopped.
    pub fn of(
        timeline: &[Transition],
        start: Instant,
        end: Instant,
        state: State,
        fault_end: Option<Instant>,
    ) -> TimelineFigures {
        let mut f = TimelineFigures::default();
        let mut since = start;
        for t in timeline {
            let span = t.at.saturating_duration_since(since);
            match t.from {
                State::Open => f.time_open += span,
                State::HalfOpen => f.time_half_open += span,
                State::Closed => {}
            }
            since = t.at;
        }
        let tail = end.saturating_duration_since(since);
        match state {
            State::Open => f.time_open += tail,
            State::HalfOpen => f.time_half_open += tail,
            State::Closed => {}
        }
        f.recovery_time = fault_end.and_then(|at| recovery(timeline, at));
        f
    }
}

/// Time from `fault_end` until the circuit is CLOSED: zero if it is CLOSED then.
fn recovery(timeline: &[Transition], fault_end: Instant) -> Option<Duration> {
    let state_then = timeline
        .iter()
        .take_while(|t| t.at <= fault_end)
        .last()
        .map(|t| t.to);
    if state_then.unwrap_or(State::Closed) == State::Closed {
        return Some(Duration::ZERO);
    }
    timeline
        .iter()
        .find(|t| t.at > fault_end && t.to == State::Closed)
        .map(|t| t.at.saturating_duration_since(fault_end))
}
