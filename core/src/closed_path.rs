//! [`ClosedPath`]: the lock-free CLOSED path of [`crate::SharedBreaker`].
//!
//! While the breaker is CLOSED with no policy that judges a success (see
//! `Breaker::closed_fast`), admitting a call only issues a permit of the current generation,
//! and a success only adds one to the success counter and to the window's head bucket. Both
//! commute with each other, so they need no lock: admissions read a published view, and
//! successes are counted in per-thread stripes. Everything else takes the lock, and taking the
//! lock first *closes* the path and moves the stripes' counts into the breaker, so the breaker
//! (its metrics, window, decisions) is exactly what it would be had each success taken the
//! lock at the moment it was counted.
//!
//! State, all atomics:
//! - `word = epoch << 1 | open`. An epoch is one stretch during which the breaker did not
//!   change. It ends when a lock holder closes the path (`epoch + 1`, closed); the holder
//!   publishes the new view and reopens the path on release if the breaker still qualifies.
//! - the view (`generation`, `latest`, `shift`, `head_end`), written only while the path is
//!   closed. Readers validate it as a sequence lock does: `word`, the view, a fence, `word`
//!   again, unchanged and open.
//! - stripes (one cache line each, a thread keeps to one): `tag << 32 | count`, the successes
//!   counted in the epoch whose low 32 bits are `tag`. A success is a compare-and-swap that
//!   expects the tag of the epoch it validated; closing swaps every stripe to the next tag and
//!   a zero count, keeping the counts of the closing epoch. So a success either lands before
//!   its stripe is swapped (and is moved into the breaker, counted before the lock holder's
//!   operation) or fails and is retried on the lock, after it: never lost, never twice.
//! - beside each stripe's count, the latest instant its admissions and successes saw, which
//!   closing folds into the breaker's own latest instant: the locked breaker moves its clock
//!   on every call, and decisions made without a `now` (`set_config`) depend on it. An
//!   admission records its instant, then checks that its epoch is still open (both
//!   sequentially consistent, against closing's store then read), so either the lock holder
//!   sees the instant or the admission retries on the lock.
//!
//! Lock-free calls only happen before the head bucket's end; the first call after it takes the
//! lock, which moves the window's head.
//!
//! Every instant is noted exactly, not rounded to some coarser step: a `set_config` that turns
//! a rate rule on starts counting calls in flight from `latest` + 1 ns, and
//! `Breaker::permit_from_bits` clamps to `latest`, so a `latest` even one step behind would
//! count a call admitted at the same instant that the locked breaker does not. Noting is cheap
//! anyway where it matters: with a coarse clock the instant moves once per tick, and between
//! ticks an admission only reads its stripe's `latest` (no locked instruction), so a closed
//! call costs one locked instruction, the success's compare-and-swap. That one cannot go: a
//! success must be seen by a closing lock holder or see the close (a store then a load on each
//! side), which takes a full barrier on the success's side.
//!
//! A thread stalled between validating a view and its compare-and-swap while 2^32 epochs pass
//! could count a success in a later epoch with the same tag; that is the one assumption here.

use crate::breaker::ClosedFast;
use crate::clock::Instant;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};

/// Stripes per breaker: enough that a few threads rarely share one. A power of two.
const STRIPES: usize = 8;
const _: () = assert!(STRIPES.is_power_of_two());

/// One stripe: `tag << 32 | count` (see the module docs), alone on its cache line so that
/// threads counting on different stripes never contend.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    counted: AtomicU64,
    /// The latest instant (on the breaker's timeline) a lock-free call saw here.
    latest: AtomicU64,
}

impl Stripe {
    /// Raises `latest` to `t`. With a coarse clock most calls see an instant already noted,
    /// and then only read (acquiring the write that noted it, so that it is visible to
    /// whoever sees this call).
    #[inline(always)]
    fn note(&self, t: Instant, order: Ordering) {
        if self.latest.load(Ordering::Acquire) < t.as_nanos() {
            self.latest.fetch_max(t.as_nanos(), order);
        }
    }
}

/// What [`ClosedPath::close`] hands over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Collected {
    /// Successes counted in the epoch that ended.
    pub successes: u64,
    /// The latest instant a lock-free call has seen, on the breaker's timeline.
    pub latest: Instant,
}

/// A consistent view of the breaker, published for one epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    word: u64,
    fast: ClosedFast,
}

impl View {
    /// The generation permits are issued in.
    #[inline(always)]
    pub fn generation(&self) -> u64 {
        self.fast.generation
    }

    /// `now` (a host instant) on the breaker's timeline, never before the latest instant seen
    /// when the view was published (as the breaker clamps it), if that is before the head
    /// bucket's end; `None` from there on (the call must take the lock).
    #[inline(always)]
    pub fn instant(&self, now: Instant) -> Option<Instant> {
        let t = Instant::from_nanos(now.as_nanos().saturating_add(self.fast.shift));
        let t = t.max(self.fast.latest);
        (t < self.fast.head_end).then_some(t)
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct ClosedPath {
    word: AtomicU64,
    generation: AtomicU64,
    latest: AtomicU64,
    shift: AtomicU64,
    head_end: AtomicU64,
    stripes: [Stripe; STRIPES],
}

impl ClosedPath {
    /// The view of the current epoch, if the path is open.
    #[inline(always)]
    pub fn view(&self) -> Option<View> {
        let w = self.word.load(Ordering::Acquire);
        if w & 1 == 0 {
            return None;
        }
        let fast = ClosedFast {
            generation: self.generation.load(Ordering::Relaxed),
            latest: Instant::from_nanos(self.latest.load(Ordering::Relaxed)),
            shift: self.shift.load(Ordering::Relaxed),
            head_end: Instant::from_nanos(self.head_end.load(Ordering::Relaxed)),
        };
        // Orders the view's loads before the check: a view written after `w` was read makes
        // the check see the close that preceded it.
        fence(Ordering::Acquire);
        (self.word.load(Ordering::Relaxed) == w).then_some(View { word: w, fast })
    }

    /// Records an admission at `t` (from [`View::instant`]) in `view`'s epoch. False when that
    /// epoch has ended: the caller then admits under the lock.
    #[inline(always)]
    pub fn admit(&self, view: &View, t: Instant) -> bool {
        let stripe = &self.stripes[stripe_index()];
        stripe.note(t, Ordering::SeqCst);
        self.word.load(Ordering::SeqCst) == view.word
    }

    /// Counts one success at `t` (from [`View::instant`]) in `view`'s epoch. False when that
    /// epoch has ended (or this thread's stripe is full): the caller then reports the success
    /// under the lock.
    #[inline(always)]
    pub fn count_success(&self, view: &View, t: Instant) -> bool {
        let stripe = &self.stripes[stripe_index()];
        let cur = stripe.counted.load(Ordering::Relaxed);
        if cur >> 32 != tag(view.word >> 1) || cur as u32 == u32::MAX {
            return false;
        }
        stripe.note(t, Ordering::Relaxed);
        // Release/Acquire with the swap in `close`: the success, its instant and the clock read
        // before it happen before whatever the lock holder does next.
        stripe
            .counted
            .compare_exchange(cur, cur + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Under the lock: closes the path, ending its epoch, and returns what was counted in it,
    /// which the caller must add to the breaker before changing it.
    pub fn close(&self) -> Collected {
        let w = self.word.load(Ordering::Relaxed);
        if w & 1 == 0 {
            return Collected::default(); // already closed: nothing counted since
        }
        let ended = w >> 1;
        let next = ended.wrapping_add(1);
        self.word.store(next << 1, Ordering::SeqCst);
        let fresh = tag(next) << 32;
        let mut c = Collected::default();
        for s in &self.stripes {
            let old = s.counted.swap(fresh, Ordering::SeqCst);
            if old >> 32 == tag(ended) {
                c.successes += u64::from(old as u32);
            }
            // Emptied as it is read: the next epoch may be on another timeline (a breaker
            // replaced through `SharedBreaker::with`).
            let latest = s.latest.swap(0, Ordering::SeqCst);
            c.latest = c.latest.max(Instant::from_nanos(latest));
        }
        c
    }

    /// Under the lock, after [`close`](Self::close): publishes `fast` and opens the path for a
    /// new epoch, or leaves it closed when the breaker does not qualify (`None`).
    pub fn open(&self, fast: Option<ClosedFast>) {
        let Some(fast) = fast else {
            return;
        };
        let w = self.word.load(Ordering::Relaxed);
        debug_assert_eq!(w & 1, 0, "open() follows close()");
        // The sequence lock's writer side: the close store above (or a previous holder's,
        // ordered by the mutex) comes before the view's stores.
        fence(Ordering::Release);
        self.generation.store(fast.generation, Ordering::Relaxed);
        self.latest.store(fast.latest.as_nanos(), Ordering::Relaxed);
        self.shift.store(fast.shift, Ordering::Relaxed);
        self.head_end
            .store(fast.head_end.as_nanos(), Ordering::Relaxed);
        self.word.store(w | 1, Ordering::Release);
    }
}

/// The low 32 bits of an epoch, as a stripe's tag.
fn tag(epoch: u64) -> u64 {
    epoch & 0xFFFF_FFFF
}

/// This thread's stripe: threads take stripes in turn, the first time they count. Always
/// below [`STRIPES`].
#[inline(always)]
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    INDEX.with(|i| {
        if i.get() == usize::MAX {
            i.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        // Masked (a no-op, STRIPES being a power of two) so that indexing needs no bounds check.
        i.get() & (STRIPES - 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(generation: u64) -> ClosedFast {
        ClosedFast {
            generation,
            latest: Instant::from_nanos(10),
            shift: 0,
            head_end: Instant::from_nanos(100),
        }
    }

    #[test]
    fn a_closed_path_has_no_view_and_counts_nothing() {
        let p = ClosedPath::default();
        assert!(p.view().is_none());
        assert_eq!(p.close(), Collected::default());
    }

    #[test]
    fn successes_counted_in_an_epoch_are_handed_over_once() {
        let p = ClosedPath::default();
        p.open(Some(fast(3)));
        let v = p.view().expect("open");
        assert_eq!(v.generation(), 3);
        let at = |n| Instant::from_nanos(n);
        assert!(p.admit(&v, at(20)));
        assert!(p.count_success(&v, at(30)));
        assert!(p.count_success(&v, at(25)));
        let collected = Collected {
            successes: 2,
            latest: at(30),
        };
        assert_eq!(p.close(), collected);
        assert_eq!(p.close(), Collected::default(), "already handed over");
        assert!(!p.count_success(&v, at(40)), "its epoch has ended");
        assert!(!p.admit(&v, at(40)), "its epoch has ended");
        p.open(Some(fast(3)));
        assert!(!p.count_success(&v, at(40)), "a stale view stays stale");
        assert!(!p.admit(&v, at(40)), "a stale view stays stale");
        let v2 = p.view().expect("open");
        assert!(p.count_success(&v2, at(50)));
        assert_eq!(p.close().successes, 1);
    }

    #[test]
    fn the_view_clamps_admission_and_bounds_the_head_bucket() {
        let p = ClosedPath::default();
        p.open(Some(ClosedFast {
            shift: 5,
            ..fast(0)
        }));
        let v = p.view().expect("open");
        let at = |n| Instant::from_nanos(n);
        assert_eq!(v.instant(at(1)), Some(at(10)), "clamped to the latest seen");
        assert_eq!(v.instant(at(20)), Some(at(25)), "shifted");
        assert_eq!(v.instant(at(94)), Some(at(99)));
        assert_eq!(v.instant(at(95)), None, "past the head bucket");
    }

    #[test]
    fn a_breaker_that_does_not_qualify_stays_closed() {
        let p = ClosedPath::default();
        p.open(None);
        assert!(p.view().is_none());
    }
}
