//! [`RateWindow`]: the calls the rate rules (`failure_rate_threshold`, slow calls) judge.
//!
//! The same ring of time buckets as [`crate::RollingWindow`] (same width, same expiry), with
//! two more counts per bucket: calls that completed slowly, and calls admitted in that bucket
//! that are still in flight. Memory is O(buckets) however many calls are in flight: a call is
//! remembered only as one count in its admission bucket, which its permit can find again from
//! its admission instant.
//!
//! An in-flight call counts as slow once every call of its admission bucket has been in flight
//! longer than the slow-call duration, that is, from the end of its bucket plus the duration: a
//! call still running is judged at most one bucket width later than an exact timer would.
//!
//! As in the rolling window, the head bucket's bounds and slot are kept beside `head`, so the
//! common case (an instant inside the head bucket, or older) needs no division.
//!
//! Completed counts are cleared whenever the circuit closes (the failures that opened it must
//! not open it again); in-flight counts are not, since those calls are still running.

use crate::clock::{Instant, duration_nanos};
use alloc::boxed::Box;
use alloc::vec;
use core::num::NonZeroU32;
use core::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    calls: u32,
    failures: u32,
    slow: u32,
    in_flight: u32,
}

/// What the window holds at some instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RateCounts {
    /// Completed calls.
    pub calls: u64,
    /// Completed calls that failed.
    pub failures: u64,
    /// Completed calls slower than the slow-call duration.
    pub slow: u64,
    /// Calls admitted inside the window and still in flight.
    pub in_flight: u64,
    /// Of those, the ones in flight past the slow-call duration (see the module docs).
    pub overdue: u64,
}

impl RateCounts {
    /// `failures / calls`, or 0 with no calls.
    pub fn failure_rate(&self) -> f64 {
        ratio(self.failures, self.calls)
    }

    /// Slow calls (completed or overdue) among completed and overdue calls, or 0.
    pub fn slow_rate(&self) -> f64 {
        ratio(self.slow_calls(), self.judged_for_slowness())
    }

    /// Completed slow calls plus overdue calls in flight.
    pub fn slow_calls(&self) -> u64 {
        self.slow.saturating_add(self.overdue)
    }

    /// The calls the slow rule counts: completed ones, and those overdue in flight.
    pub fn judged_for_slowness(&self) -> u64 {
        self.calls.saturating_add(self.overdue)
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct RateWindow {
    slots: Box<[Bucket]>,
    width: u64,
    head: u64,
    /// Where the head bucket starts and ends: `head * width` and `(head + 1) * width`, both
    /// saturating.
    head_start: u64,
    head_end: u64,
    /// `head % N`.
    head_slot: usize,
    /// Permits admitted before this instant were not counted in flight here.
    since: Instant,
    /// The sum of every slot, so that a rule reads O(1) unless calls are in flight.
    totals: Bucket,
}

impl Bucket {
    fn add(&mut self, o: Bucket) {
        self.calls = self.calls.saturating_add(o.calls);
        self.failures = self.failures.saturating_add(o.failures);
        self.slow = self.slow.saturating_add(o.slow);
        self.in_flight = self.in_flight.saturating_add(o.in_flight);
    }

    fn sub(&mut self, o: Bucket) {
        self.calls = self.calls.saturating_sub(o.calls);
        self.failures = self.failures.saturating_sub(o.failures);
        self.slow = self.slow.saturating_sub(o.slow);
        self.in_flight = self.in_flight.saturating_sub(o.in_flight);
    }
}

impl RateWindow {
    /// An empty window of `span` in `buckets` buckets that tracks calls admitted from `since`.
    pub fn new(span: Duration, buckets: NonZeroU32, since: Instant) -> Self {
        let n = u64::from(buckets.get());
        let width = duration_nanos(span).div_ceil(n).max(1);
        RateWindow {
            slots: vec![Bucket::default(); buckets.get() as usize].into_boxed_slice(),
            width,
            head: 0,
            head_start: 0,
            head_end: width,
            head_slot: 0,
            since,
            totals: Bucket::default(),
        }
    }

    /// Whether a call admitted at `now` can be counted in flight (see `since`).
    pub fn tracks(&self, admitted: Instant) -> bool {
        admitted >= self.since
    }

    /// A call admitted at `now` is in flight.
    pub fn admit(&mut self, now: Instant) {
        if self.tracks(now) {
            let i = self.current(now);
            self.bump(
                i,
                Bucket {
                    in_flight: 1,
                    ..Bucket::default()
                },
            );
        }
    }

    /// A call admitted at `admitted` ended without being counted (a neutral outcome).
    pub fn release(&mut self, now: Instant, admitted: Option<Instant>) {
        self.current(now);
        let Some(a) = admitted.filter(|a| self.tracks(*a)) else {
            return;
        };
        // Most calls end in the bucket they were admitted in: no division for those.
        let in_head = (self.head_start..self.head_end).contains(&a.as_nanos());
        let b = if in_head {
            self.head
        } else {
            self.bucket_of(a)
        };
        let n = self.slots.len() as u64;
        if b <= self.head && self.head - b < n {
            let i = if in_head {
                self.head_slot
            } else {
                self.slot(b)
            };
            if self.slots[i].in_flight > 0 {
                self.slots[i].in_flight -= 1;
                self.totals.in_flight -= 1;
            }
        }
    }

    /// A call admitted at `admitted` completed at `now`.
    pub fn record(&mut self, now: Instant, admitted: Option<Instant>, failed: bool, slow: bool) {
        self.release(now, admitted);
        let i = self.head_slot;
        self.bump(
            i,
            Bucket {
                calls: 1,
                failures: u32::from(failed),
                slow: u32::from(slow),
                in_flight: 0,
            },
        );
    }

    /// Adds `more` to slot `i` and the totals, as far as the slot does not saturate.
    fn bump(&mut self, i: usize, more: Bucket) {
        let before = self.slots[i];
        self.slots[i].add(more);
        let mut added = self.slots[i];
        added.sub(before);
        self.totals.add(added);
    }

    /// The counts at `now`; `slow_after` is the slow-call duration, if the rule is on.
    pub fn counts(&self, now: Instant, slow_after: Option<Duration>) -> RateCounts {
        let current = if now.as_nanos() < self.head_end {
            self.head
        } else {
            self.bucket_of(now).max(self.head)
        };
        let n = self.slots.len() as u64;
        let mut live = self.totals;
        // Buckets that have expired by `now` but were not cleared yet (a pure view).
        for k in 1..=current.saturating_sub(self.head).min(n) {
            live.sub(self.slots[self.slot(self.head + k)]);
        }
        let mut c = RateCounts {
            calls: live.calls.into(),
            failures: live.failures.into(),
            // Slow calls recorded while the rule was on do not count once it is off.
            slow: if slow_after.is_some() {
                live.slow.into()
            } else {
                0
            },
            in_flight: live.in_flight.into(),
            overdue: 0,
        };
        // An in-flight bucket b is overdue once (b + 1) * width + duration <= now.
        let overdue_through = slow_after.filter(|_| c.in_flight > 0).and_then(|d| {
            let reach = now.as_nanos().checked_sub(duration_nanos(d))?;
            (reach / self.width).checked_sub(1)
        });
        if let Some(last) = overdue_through {
            for age in 0..n {
                let Some(b) = current.checked_sub(age) else {
                    break;
                };
                if b <= self.head && b <= last {
                    c.overdue += u64::from(self.slots[self.slot(b)].in_flight);
                }
            }
        }
        c
    }

    /// Forgets the completed calls; calls in flight stay counted.
    pub fn clear_completed(&mut self) {
        for s in self.slots.iter_mut().chain([&mut self.totals]) {
            *s = Bucket {
                in_flight: s.in_flight,
                ..Bucket::default()
            };
        }
    }

    /// Moves the head to the bucket of `now` (never backwards), expiring what fell out, and
    /// returns the head's slot.
    fn current(&mut self, now: Instant) -> usize {
        if now.as_nanos() < self.head_end {
            return self.head_slot;
        }
        let b = self.bucket_of(now);
        if b > self.head {
            let n = self.slots.len();
            let steps = (b - self.head).min(n as u64);
            let mut i = self.head_slot;
            for _ in 0..steps {
                i = if i + 1 == n { 0 } else { i + 1 };
                let gone = core::mem::take(&mut self.slots[i]);
                self.totals.sub(gone);
            }
            self.head = b;
            self.head_start = b.saturating_mul(self.width);
            self.head_end = b.saturating_add(1).saturating_mul(self.width);
            self.head_slot = self.slot(b);
        }
        self.head_slot
    }

    fn bucket_of(&self, t: Instant) -> u64 {
        t.as_nanos() / self.width
    }

    fn slot(&self, b: u64) -> usize {
        (b % self.slots.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn at(secs: u64) -> Instant {
        Instant::from_nanos(secs * SEC)
    }

    fn window() -> RateWindow {
        RateWindow::new(
            Duration::from_secs(10),
            NonZeroU32::new(10).unwrap(),
            Instant::ZERO,
        )
    }

    #[test]
    fn an_in_flight_call_is_overdue_from_its_bucket_end_plus_the_duration() {
        let mut w = window(); // 1 s buckets
        w.admit(Instant::from_nanos(SEC / 2));
        let d = Some(Duration::from_secs(2));
        let just_before = Instant::from_nanos(3 * SEC - 1);
        assert_eq!(w.counts(just_before, d).overdue, 0);
        assert_eq!(w.counts(at(3), d).overdue, 1);
        assert_eq!(
            w.counts(at(3), None).overdue,
            0,
            "no slow rule, nothing overdue"
        );
        assert_eq!(w.counts(at(3), d).in_flight, 1);
    }

    #[test]
    fn a_finished_call_leaves_its_admission_bucket_and_counts_once() {
        let mut w = window();
        w.admit(at(0));
        let d = Some(Duration::from_secs(1));
        assert_eq!(w.counts(at(5), d).slow_calls(), 1, "overdue in flight");
        w.record(at(5), Some(at(0)), false, true);
        let c = w.counts(at(5), d);
        assert_eq!((c.calls, c.slow, c.in_flight, c.overdue), (1, 1, 0, 0));
        assert_eq!(c.slow_rate(), 1.0);
    }

    #[test]
    fn a_call_admitted_before_the_window_existed_is_not_released_from_it() {
        let mut w = RateWindow::new(Duration::from_secs(10), NonZeroU32::new(10).unwrap(), at(1));
        w.admit(at(1));
        w.release(at(1), Some(at(0))); // an older permit: not this window's
        assert_eq!(w.counts(at(1), None).in_flight, 1);
        w.release(at(1), Some(at(1)));
        assert_eq!(w.counts(at(1), None).in_flight, 0);
    }

    #[test]
    fn in_flight_counts_expire_with_their_bucket_and_survive_clearing() {
        let mut w = window();
        w.admit(at(0));
        w.record(at(0), None, true, false);
        w.clear_completed();
        let c = w.counts(at(0), None);
        assert_eq!((c.calls, c.failures, c.in_flight), (0, 0, 1));
        assert_eq!(w.counts(at(10), None).in_flight, 0);
        w.record(at(10), Some(at(0)), false, false); // its bucket is gone: nothing to release
        assert_eq!(w.counts(at(10), None).calls, 1);
    }
}
