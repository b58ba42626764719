//! What the breaker reports: the [`Metrics`] snapshot, [`FailureRecord`]s, and the bounded
//! [`FailureLog`] that keeps the newest of them.

use crate::state::State;
use alloc::collections::VecDeque;
use alloc::string::String;
use core::time::Duration;

/// A failed call as the host reports it. Text is borrowed; the log copies what it keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Failure<'a> {
    /// The error's kind, e.g. an exception class name (`"CacheError"`).
    pub error_type: &'a str,
    /// The error's text (`str(exc)`).
    pub error_message: &'a str,
    /// The operation that failed (`"store"`, `"get"`, ...).
    pub operation: &'a str,
    /// Wall-clock time of the failure, in seconds since the Unix epoch (caller-supplied).
    pub timestamp: f64,
}

/// One remembered failure. Text fields are cut to `max_message_bytes` on a char boundary.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FailureRecord {
    /// Wall-clock seconds since the Unix epoch.
    pub timestamp: f64,
    /// The error's kind.
    pub error_type: String,
    /// The error's text.
    pub error_message: String,
    /// The operation that failed.
    pub operation: String,
}

impl FailureRecord {
    /// This record as a [`Failure`] to report again (e.g. when restoring a snapshot).
    pub fn as_failure(&self) -> Failure<'_> {
        Failure {
            error_type: &self.error_type,
            error_message: &self.error_message,
            operation: &self.operation,
            timestamp: self.timestamp,
        }
    }
}

/// A point-in-time view of a breaker. Plain data: copying it never touches the breaker.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Metrics {
    /// The state (as [`crate::Breaker::state`]: a due OPEN -> HALF_OPEN move is not applied).
    pub state: State,
    /// Failures since creation or reset (stale outcomes included).
    pub failure_count: u64,
    /// Successes since creation or reset (stale outcomes included).
    pub success_count: u64,
    /// `success_count + failure_count`; rejected, throttled and neutral calls are not counted.
    pub total_operations: u64,
    /// Failures / completed calls inside the rolling window; 0.0 when there were none.
    pub failure_rate: f64,
    /// Completed calls inside the rolling window.
    pub window_calls: u64,
    /// Real state transitions since creation or reset, forced ones included.
    pub state_changes: u64,
    /// Time since the last transition (or creation, or reset).
    pub time_in_current_state: Duration,
    /// Wall-clock time of the newest failure, if any.
    pub last_failure_time: Option<f64>,
    /// Failures in a row while CLOSED.
    pub consecutive_failures: u32,
    /// Their summed `failure_weights` (equal to `consecutive_failures` without weights).
    pub consecutive_failure_weight: f64,
    /// Calls refused because the circuit was OPEN.
    pub rejected_count: u64,
    /// Calls turned away in HALF_OPEN.
    pub throttled_count: u64,
    /// Calls whose outcome was reported neutral (neither success nor failure).
    pub neutral_count: u64,
    /// Probes admitted in the current HALF_OPEN episode.
    pub half_open_admitted: u32,
    /// Probes that succeeded in the current HALF_OPEN episode.
    pub half_open_successes: u32,
    /// Probes in flight in the current HALF_OPEN episode.
    pub half_open_in_flight: u32,
    /// Records held in the failure log.
    pub recent_failures_count: u32,
    /// Slow calls the slow-call rule counts now: completed calls slower than
    /// `slow_call_duration_seconds` and calls in flight past it, since the circuit last
    /// closed, inside the rolling window. 0 while the rule is off.
    pub slow_call_count: u64,
    /// `slow_call_count` over the calls the slow-call rule judges (completed, or overdue in
    /// flight); 0.0 when there are none or the rule is off.
    pub slow_call_rate: f64,
    /// Calls admitted inside the rolling window whose outcome has not been reported, counted
    /// while a rate rule (`failure_rate_threshold`, slow calls) is on; 0 otherwise.
    pub calls_in_flight: u64,
    /// How long the circuit stays OPEN this time (`timeout_seconds` with the backoff and
    /// jitter applied); outside OPEN, the last open time, or `timeout_seconds` after a close.
    pub open_duration: Duration,
    /// The share of calls admitted by the post-close ramp at this instant (`ramp_seconds`);
    /// 1.0 when no ramp runs.
    pub ramp_share: f64,
}

/// The newest `capacity` failure records, oldest first. Once full, a new record reuses the
/// oldest record's buffers, so a steady stream of failures stops allocating.
#[derive(Clone, Debug, Default)]
pub(crate) struct FailureLog {
    records: VecDeque<FailureRecord>,
}

impl FailureLog {
    /// An empty log.
    pub const fn new() -> Self {
        FailureLog {
            records: VecDeque::new(),
        }
    }

    /// Appends a record, dropping the oldest beyond `capacity` and cutting text to `max_bytes`.
    pub fn push(&mut self, f: &Failure<'_>, capacity: usize, max_bytes: usize) {
        let capacity = capacity.max(1);
        let mut rec = if self.records.len() >= capacity {
            self.trim(capacity);
            self.records.pop_front().unwrap_or_default()
        } else {
            FailureRecord::default()
        };
        rec.timestamp = f.timestamp;
        copy_truncated(&mut rec.error_type, f.error_type, max_bytes);
        copy_truncated(&mut rec.error_message, f.error_message, max_bytes);
        copy_truncated(&mut rec.operation, f.operation, max_bytes);
        self.records.push_back(rec);
    }

    /// Drops the oldest records until at most `capacity` remain.
    pub fn trim(&mut self, capacity: usize) {
        while self.records.len() > capacity {
            self.records.pop_front();
        }
    }

    /// The records, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &FailureRecord> + ExactSizeIterator {
        self.records.iter()
    }

    /// Forgets every record.
    pub fn clear(&mut self) {
        self.records.clear();
    }
}

/// Replaces `dst` with the longest prefix of `src` that fits in `max` bytes and ends on a char
/// boundary. Reuses `dst`'s buffer.
fn copy_truncated(dst: &mut String, src: &str, max: usize) {
    let mut end = src.len().min(max);
    while !src.is_char_boundary(end) {
        end -= 1; // terminates: 0 is always a boundary
    }
    dst.clear();
    // `get` rather than indexing: no panic path (and none of its formatting code in wasm).
    dst.push_str(src.get(..end).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn failure(msg: &str) -> Failure<'_> {
        Failure {
            error_type: "CacheError",
            error_message: msg,
            operation: "get",
            timestamp: 1.5,
        }
    }

    #[test]
    fn keeps_the_newest_records_oldest_first() {
        let mut log = FailureLog::default();
        for m in ["a", "b", "c", "d"] {
            log.push(&failure(m), 3, 256);
        }
        let msgs: Vec<&str> = log.iter().map(|r| r.error_message.as_str()).collect();
        assert_eq!(msgs, ["b", "c", "d"]);
        let r = log.iter().last().unwrap();
        assert_eq!(
            (r.timestamp, r.error_type.as_str(), r.operation.as_str()),
            (1.5, "CacheError", "get")
        );
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        let mut log = FailureLog::default();
        log.push(&failure("héllo"), 5, 2); // 'é' is 2 bytes at 1..3
        assert_eq!(log.iter().next().unwrap().error_message, "h");
        let big = "x".repeat(1 << 20);
        log.push(&failure(&big), 5, 256);
        assert_eq!(log.iter().last().unwrap().error_message.len(), 256);
    }

    #[test]
    fn shrinking_capacity_drops_oldest() {
        let mut log = FailureLog::default();
        for m in ["a", "b", "c", "d"] {
            log.push(&failure(m), 10, 256);
        }
        log.push(&failure("e"), 2, 256);
        let msgs: Vec<&str> = log.iter().map(|r| r.error_message.as_str()).collect();
        assert_eq!(msgs, ["d", "e"]);
        log.clear();
        assert_eq!(log.iter().len(), 0);
    }
}
