//! [`RollingWindow`]: completed calls and failures over the last `rolling_window_seconds`.
//!
//! The window is a ring of `N` time buckets, each `width = ceil(window / N)` nanoseconds wide
//! and aligned to [`Instant::ZERO`]: an instant `t` falls in bucket `t / width`. A call recorded
//! in bucket `b` counts while the current bucket `c` satisfies `c - b < N`, so history expires
//! one bucket at a time and the effective window is between `(N - 1) * width` and `N * width`.
//!
//! Invariant: the head bucket's counts are kept beside `head` (`current`), its slot staying
//! zero; slot `b % N` holds bucket `b` for every other `b` in `(head - N, head)` and is zero
//! otherwise; the running totals are `current` plus the sum of all slots. Recording is O(1)
//! amortised (a jump of `k` buckets clears `min(k, N)` slots).
//!
//! The head bucket's end and slot are kept beside `head`, so a record inside the head bucket
//! (or older, which counts there too) is one comparison and one add to `current`, with no
//! pointer to follow: the divisions that find a bucket and its slot run only when time has
//! moved past the head bucket.
//!
//! The ring is allocated only when the head first moves past a bucket that holds calls, and
//! only [`clear`](RollingWindow::clear) gives it back: a window whose calls all fell in one
//! bucket, or that was never recorded in, holds no heap memory, and one in use stops
//! allocating once its ring exists.

use crate::clock::{Instant, duration_nanos};
use alloc::boxed::Box;
use alloc::vec;
use core::num::NonZeroU32;
use core::time::Duration;

/// One bucket's counts. `u32` keeps a 60-bucket ring at 480 bytes; a bucket saturates at
/// about 4 billion calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    failures: u32,
    calls: u32,
}

impl Bucket {
    /// Adds what fits (saturating) and returns what was really added, so that the running
    /// totals stay exactly the sum of the slots.
    fn add(&mut self, calls: u64, failures: u64) -> WindowCounts {
        let fit = |n: u64, have: u32| u32::try_from(n).unwrap_or(u32::MAX).min(u32::MAX - have);
        let (c, f) = (fit(calls, self.calls), fit(failures, self.failures));
        self.calls += c;
        self.failures += f;
        WindowCounts {
            calls: c.into(),
            failures: f.into(),
        }
    }

    fn counts(self) -> WindowCounts {
        WindowCounts {
            calls: self.calls.into(),
            failures: self.failures.into(),
        }
    }
}

/// Calls and failures inside the window at some instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowCounts {
    /// Completed calls (successes + failures).
    pub calls: u64,
    /// Failed calls.
    pub failures: u64,
}

impl WindowCounts {
    /// `failures / calls`, or 0.0 when there were no calls.
    pub fn failure_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.failures as f64 / self.calls as f64
        }
    }

    fn add(&mut self, o: WindowCounts) {
        self.calls = self.calls.saturating_add(o.calls);
        self.failures = self.failures.saturating_add(o.failures);
    }

    fn sub(&mut self, o: WindowCounts) {
        self.calls = self.calls.saturating_sub(o.calls);
        self.failures = self.failures.saturating_sub(o.failures);
    }
}

/// A fixed ring of time buckets with running totals. See the module docs for the exact rule.
#[derive(Clone, Debug)]
pub struct RollingWindow {
    /// The ring of `N` slots, or empty (no allocation) while every slot would be zero.
    slots: Box<[Bucket]>,
    width: u64,
    head: u64,
    /// Where the head bucket ends: `(head + 1) * width`, saturating. An instant before it
    /// falls in the head bucket or an older one, and so is recorded in the head bucket.
    head_end: u64,
    /// `head % N`.
    head_slot: u32,
    /// `N`, the number of buckets.
    n: u32,
    /// The head bucket's counts (its slot stays zero while it is the head).
    current: Bucket,
    totals: WindowCounts,
}

impl RollingWindow {
    /// A window of `span` split into `buckets` buckets (each at least 1 ns wide).
    pub fn new(span: Duration, buckets: NonZeroU32) -> Self {
        let n = u64::from(buckets.get());
        let width = duration_nanos(span).div_ceil(n).max(1);
        RollingWindow {
            slots: Box::default(),
            width,
            head: 0,
            head_end: width,
            head_slot: 0,
            n: buckets.get(),
            current: Bucket::default(),
            totals: WindowCounts::default(),
        }
    }

    /// Records one completed call at `now`. An instant older than the newest bucket seen is
    /// counted in the newest bucket (time never runs backwards inside the window).
    #[inline]
    pub fn record(&mut self, now: Instant, failed: bool) {
        self.record_many(now, 1, u64::from(failed));
    }

    /// Records `calls` completed calls at `now`, `failures` of them failed: the same as that
    /// many [`record`](Self::record)s at `now` (each bucket count saturates either way).
    #[inline]
    pub(crate) fn record_many(&mut self, now: Instant, calls: u64, failures: u64) {
        if now.as_nanos() >= self.head_end {
            self.move_head(now);
        }
        let added = self.current.add(calls, failures);
        self.totals.add(added);
    }

    /// The first instant not recorded in the head bucket: a call recorded before it lands in
    /// the head bucket (see the module docs).
    #[cfg(feature = "std")]
    pub(crate) fn head_end(&self) -> Instant {
        Instant::from_nanos(self.head_end)
    }

    /// Calls and failures that still count at `now`.
    pub fn counts(&self, now: Instant) -> WindowCounts {
        let mut live = self.totals;
        if now.as_nanos() < self.head_end {
            return live; // nothing expires before the head bucket ends
        }
        for b in self.expiring(self.bucket_of(now)) {
            live.sub(self.at(self.slot(b)).counts());
        }
        live
    }

    /// The live buckets at `now` as `(age, counts)`, newest first, where `age` is how many
    /// buckets ago it was (0 = the current bucket). Empty buckets are skipped. Used to move a
    /// window to another timeline (see [`crate::Snapshot`]).
    pub fn buckets_by_age(&self, now: Instant) -> impl Iterator<Item = (u32, WindowCounts)> + '_ {
        let current = self.bucket_of(now).max(self.head);
        let n = u64::from(self.n);
        (0..n).filter_map(move |age| {
            let b = current.checked_sub(age)?;
            if b > self.head {
                return None; // nothing recorded there yet
            }
            let s = self.at(self.slot(b));
            (s.calls > 0).then_some((age as u32, s.counts()))
        })
    }

    /// Adds `counts` to the bucket `age` buckets before the one holding `now` (ignored if
    /// `age` is outside the window). The inverse of [`buckets_by_age`](Self::buckets_by_age).
    pub fn add_at_age(&mut self, now: Instant, age: u32, counts: WindowCounts) {
        let current = self.bucket_of(now).max(self.head);
        if current > self.head {
            self.advance_to(current);
        }
        let Some(b) = current.checked_sub(u64::from(age)) else {
            return;
        };
        if age >= self.n {
            return;
        }
        let i = self.slot(b);
        let calls = counts.calls.max(counts.failures);
        let added = if i == self.head_slot as usize {
            self.current.add(calls, counts.failures)
        } else {
            self.ring()[i].add(calls, counts.failures)
        };
        self.totals.add(added);
    }

    /// Forgets all history (and gives the ring back).
    pub fn clear(&mut self) {
        self.slots = Box::default();
        self.current = Bucket::default();
        self.totals = WindowCounts::default();
    }

    /// Whether the ring is allocated.
    #[cfg(test)]
    pub(crate) fn holds_ring(&self) -> bool {
        !self.slots.is_empty()
    }

    /// The counts in slot `i` (the head bucket's are kept in `current`).
    fn at(&self, i: usize) -> Bucket {
        if i == self.head_slot as usize {
            self.current
        } else {
            self.slots.get(i).copied().unwrap_or_default()
        }
    }

    /// The ring, allocated on first use.
    fn ring(&mut self) -> &mut [Bucket] {
        if self.slots.is_empty() {
            self.slots = vec![Bucket::default(); self.n as usize].into_boxed_slice();
        }
        &mut self.slots
    }

    /// Makes the bucket of `now` the head, if it is newer (once per bucket: out of line).
    #[cold]
    #[inline(never)]
    fn move_head(&mut self, now: Instant) {
        let b = self.bucket_of(now);
        if b > self.head {
            self.advance_to(b);
        }
    }

    fn advance_to(&mut self, b: u64) {
        if b.saturating_sub(self.head) >= u64::from(self.n) {
            // Every bucket has expired: nothing to move into the ring. The ring is kept (if
            // held): a breaker in use stops allocating once warm.
            self.slots.fill(Bucket::default());
            self.current = Bucket::default();
            self.totals = WindowCounts::default();
        } else {
            let head_slot = self.head_slot as usize;
            // The head bucket becomes an older one: its counts move into its slot.
            if self.current != Bucket::default() {
                self.ring()[head_slot] = core::mem::take(&mut self.current);
            }
            if !self.slots.is_empty() {
                let n = self.slots.len();
                let mut i = head_slot;
                for _ in self.expiring(b) {
                    i = if i + 1 == n { 0 } else { i + 1 };
                    let s = core::mem::take(&mut self.slots[i]);
                    self.totals.sub(s.counts());
                }
            }
        }
        self.head = b;
        self.head_end = b.saturating_add(1).saturating_mul(self.width);
        self.head_slot = self.slot(b) as u32;
    }

    /// The bucket indices (as `head + k`, whose slots hold `head + k - N`) that have expired
    /// once the current bucket is `b`.
    /// `head + k <= b` for every `k`, so this cannot overflow even when `head` is `u64::MAX`.
    fn expiring(&self, b: u64) -> impl Iterator<Item = u64> + use<> {
        let head = self.head;
        let steps = b.saturating_sub(head).min(u64::from(self.n));
        (1..=steps).map(move |k| head + k)
    }

    fn bucket_of(&self, t: Instant) -> u64 {
        t.as_nanos() / self.width
    }

    fn slot(&self, b: u64) -> usize {
        (b % u64::from(self.n)) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn at(secs: u64) -> Instant {
        Instant::from_nanos(secs * SEC)
    }

    fn window(secs: u64, buckets: u32) -> RollingWindow {
        RollingWindow::new(Duration::from_secs(secs), NonZeroU32::new(buckets).unwrap())
    }

    #[test]
    fn empty_window_has_zero_rate() {
        assert_eq!(window(10, 10).counts(at(0)).failure_rate(), 0.0);
    }

    #[test]
    fn counts_calls_and_failures_inside_the_window() {
        let mut w = window(10, 10);
        w.record(at(0), true);
        w.record(at(1), false);
        w.record(at(2), false);
        w.record(at(2), true);
        let c = w.counts(at(3));
        assert_eq!((c.calls, c.failures), (4, 2));
        assert_eq!(c.failure_rate(), 0.5);
    }

    #[test]
    fn history_expires_bucket_by_bucket() {
        let mut w = window(10, 10); // 1 s buckets
        w.record(at(0), true);
        w.record(at(5), false);
        assert_eq!(w.counts(at(9)).calls, 2);
        assert_eq!(
            w.counts(at(10)).calls,
            1,
            "bucket 0 expires when bucket 10 starts"
        );
        assert_eq!(w.counts(at(14)).calls, 1);
        assert_eq!(w.counts(at(15)).calls, 0);
        // counts() is a pure view; recording later applies the same expiry.
        w.record(at(12), false);
        assert_eq!(
            w.counts(at(12)),
            WindowCounts {
                calls: 2,
                failures: 0
            }
        );
    }

    #[test]
    fn the_last_nanosecond_of_a_bucket_belongs_to_it() {
        let mut w = window(10, 10); // 1 s buckets
        w.record(Instant::from_nanos(SEC - 1), true); // bucket 0
        w.record(at(1), false); // bucket 1
        assert_eq!(w.counts(Instant::from_nanos(10 * SEC - 1)).calls, 2);
        assert_eq!(w.counts(at(10)).calls, 1, "bucket 0 has expired");
        assert_eq!(w.counts(at(11)).calls, 0, "bucket 1 has expired");
    }

    #[test]
    fn a_long_jump_clears_everything() {
        let mut w = window(10, 10);
        for s in 0..10 {
            w.record(at(s), true);
        }
        w.record(at(1_000_000), false);
        assert_eq!(
            w.counts(at(1_000_000)),
            WindowCounts {
                calls: 1,
                failures: 0
            }
        );
    }

    #[test]
    fn time_going_backwards_counts_in_the_newest_bucket() {
        let mut w = window(10, 10);
        w.record(at(5), false);
        w.record(at(1), true);
        assert_eq!(w.counts(at(14)).failures, 1);
        assert_eq!(w.counts(at(15)).failures, 0);
    }

    #[test]
    fn single_bucket_window_and_tiny_span() {
        let mut w = window(10, 1);
        w.record(at(9), true);
        assert_eq!(w.counts(at(9)).failures, 1);
        assert_eq!(w.counts(at(10)).failures, 0);
        let mut tiny = RollingWindow::new(Duration::from_nanos(1), NonZeroU32::new(60).unwrap());
        tiny.record(Instant::from_nanos(7), true);
        assert_eq!(tiny.counts(Instant::from_nanos(7)).failures, 1);
        assert_eq!(tiny.counts(Instant::from_nanos(8)).failures, 1);
        assert_eq!(tiny.counts(Instant::from_nanos(67)).failures, 0);
    }

    #[test]
    fn a_saturated_bucket_keeps_the_totals_equal_to_the_slots() {
        let mut w = window(10, 10);
        let huge = WindowCounts {
            calls: u64::MAX,
            failures: 0,
        };
        w.add_at_age(at(0), 0, huge);
        w.record(at(0), true); // the call count is saturated; the failure still counts
        let full = WindowCounts {
            calls: u64::from(u32::MAX),
            failures: 1,
        };
        assert_eq!(w.counts(at(0)), full);
        assert_eq!(
            w.counts(at(10)),
            WindowCounts::default(),
            "expires without underflow"
        );
        w.record(at(10), false);
        assert_eq!(
            w.counts(at(10)),
            WindowCounts {
                calls: 1,
                failures: 0
            }
        );
    }

    #[test]
    fn the_ring_is_allocated_only_once_older_buckets_hold_calls() {
        let mut w = window(10, 10); // 1 s buckets
        assert!(!w.holds_ring(), "a new window holds no ring");
        w.record(at(0), true);
        w.record(Instant::from_nanos(SEC - 1), false);
        assert!(!w.holds_ring(), "calls in the head bucket need no ring");
        w.record(at(1), false);
        assert!(w.holds_ring(), "bucket 0 moved into the ring");
        assert_eq!(w.counts(at(9)).calls, 3);
        assert_eq!(
            w.counts(at(10)).calls,
            1,
            "bucket 0 expires on time from the ring"
        );
        w.record(at(100), false);
        assert!(
            w.holds_ring(),
            "a jump past the whole window keeps the ring"
        );
        assert_eq!(
            w.counts(at(100)),
            WindowCounts {
                calls: 1,
                failures: 0
            }
        );
    }

    #[test]
    fn clear_forgets_history() {
        let mut w = window(10, 10);
        w.record(at(1), true);
        w.record(at(2), true);
        w.clear();
        assert!(!w.holds_ring(), "clear gives the ring back");
        assert_eq!(w.counts(at(1)), WindowCounts::default());
    }
}
