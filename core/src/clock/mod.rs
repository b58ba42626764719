//! Time as the core sees it: a monotonic [`Instant`] in nanoseconds, and a [`Clock`] that hosts
//! read it from. The breaker itself never calls a clock; hosts (or [`crate::SharedBreaker`]) do.

use core::time::Duration;

/// A point on a monotonic timeline, in nanoseconds since an origin the host chooses.
///
/// Only differences between instants from the same clock mean anything. Arithmetic saturates
/// instead of overflowing, so no `Instant` value can make the core panic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Instant(u64);

impl Instant {
    /// The origin of the timeline.
    pub const ZERO: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at the end of the timeline (about 584 years).
    pub fn saturating_add(self, d: Duration) -> Self {
        Instant(self.0.saturating_add(duration_nanos(d)))
    }

    /// `self - earlier`, or zero if `earlier` is later than `self`.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX`.
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A source of monotonic time.
pub trait Clock {
    /// The current instant. Successive calls must never go backwards.
    fn now(&self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

#[cfg(target_has_atomic = "64")]
mod manual {
    use super::{Clock, Instant, duration_nanos};
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicU64, Ordering};
    use core::time::Duration;

    /// A clock that only moves when told to: for tests and simulations.
    ///
    /// Clones share one time, so a test can keep a handle and advance the clock a breaker reads.
    ///
    /// ```
    /// use core::time::Duration;
    /// use fact_resilience_core::{Clock, Instant, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let seen_by_breaker = clock.clone();
    /// clock.advance(Duration::from_millis(1500));
    /// assert_eq!(seen_by_breaker.now(), Instant::from_nanos(1_500_000_000));
    /// ```
    #[derive(Clone, Debug, Default)]
    pub struct ManualClock(Arc<Nanos>);

    /// The time, alone on its cache line: every thread of a shared breaker reads it on every
    /// call, and any write to a neighbour on the same line would make each of those reads a
    /// miss (measured: two threads then made fewer calls than one).
    #[derive(Debug, Default)]
    #[repr(align(128))]
    struct Nanos(AtomicU64);

    impl ManualClock {
        /// A clock at [`Instant::ZERO`].
        pub fn new() -> Self {
            Self::default()
        }

        /// Moves every clone of this clock forward by `d` (saturating).
        pub fn advance(&self, d: Duration) {
            let step = duration_nanos(d);
            // fetch_update cannot fail here: the closure always returns Some.
            let _ = self
                .0
                .0
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    Some(t.saturating_add(step))
                });
        }

        /// Sets the time, but never backwards: an earlier `t` is ignored.
        pub fn set(&self, t: Instant) {
            self.0.0.fetch_max(t.as_nanos(), Ordering::AcqRel);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            Instant::from_nanos(self.0.0.load(Ordering::Acquire))
        }
    }
}

#[cfg(target_has_atomic = "64")]
pub use manual::ManualClock;

#[cfg(feature = "std")]
mod monotonic {
    use super::{Clock, Instant, duration_nanos};

    /// The operating system's monotonic clock, measured from when this value was created.
    #[derive(Clone, Copy, Debug)]
    pub struct MonotonicClock {
        origin: std::time::Instant,
    }

    impl MonotonicClock {
        /// A clock whose origin is now.
        pub fn new() -> Self {
            MonotonicClock {
                origin: std::time::Instant::now(),
            }
        }
    }

    impl Default for MonotonicClock {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Clock for MonotonicClock {
        fn now(&self) -> Instant {
            Instant::from_nanos(duration_nanos(self.origin.elapsed()))
        }
    }
}

#[cfg(feature = "std")]
pub use monotonic::MonotonicClock;

#[cfg(feature = "coarse-clock")]
mod coarse {
    use super::{Clock, Instant};

    /// The operating system's coarse monotonic clock (`CLOCK_MONOTONIC_COARSE` on Linux and
    /// Android, read through `rustix`; elsewhere the `coarsetime` crate's equivalent), measured
    /// from when this value was created.
    ///
    /// It advances once per kernel tick (typically 1 to 4 ms) rather than every nanosecond,
    /// and reading it costs a few memory loads instead of a full clock read: a clock for hot
    /// paths that read the time on every call, as [`crate::SharedBreaker`] does on admission
    /// and on the outcome. Every timer and window then works to the tick: an open timeout
    /// ends up to one tick late, a call lands in a window bucket up to one tick early.
    #[derive(Clone, Copy, Debug)]
    pub struct CoarseClock {
        origin: os::Reading,
    }

    impl CoarseClock {
        /// A clock whose origin is now.
        pub fn new() -> Self {
            CoarseClock { origin: os::read() }
        }
    }

    impl Default for CoarseClock {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Clock for CoarseClock {
        #[inline]
        fn now(&self) -> Instant {
            Instant::from_nanos(os::nanos_between(self.origin, os::read()))
        }
    }

    /// Linux and Android: the vDSO's `clock_gettime`, called directly rather than through
    /// libc's wrapper, in whole nanoseconds (no fixed-point conversion on the way).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    mod os {
        use rustix::time::{ClockId, clock_gettime};

        /// Nanoseconds on the coarse clock.
        pub type Reading = u64;

        #[inline]
        pub fn read() -> Reading {
            let t = clock_gettime(ClockId::MonotonicCoarse);
            // A monotonic clock's fields are never negative; saturate rather than trust it.
            let secs = u64::try_from(t.tv_sec).unwrap_or(0);
            let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
            secs.saturating_mul(1_000_000_000).saturating_add(nanos)
        }

        #[inline]
        pub fn nanos_between(earlier: Reading, later: Reading) -> u64 {
            later.saturating_sub(earlier)
        }
    }

    /// Elsewhere: `coarsetime`, which knows each system's coarse clock.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    mod os {
        pub type Reading = coarsetime::Instant;

        #[inline]
        pub fn read() -> Reading {
            // `now_without_cache_update`: `now()` would also store the time in a global that
            // every thread writes, which is what this clock is meant to avoid.
            coarsetime::Instant::now_without_cache_update()
        }

        #[inline]
        pub fn nanos_between(earlier: Reading, later: Reading) -> u64 {
            later.duration_since(earlier).as_nanos()
        }
    }
}

#[cfg(feature = "coarse-clock")]
pub use coarse::CoarseClock;

#[cfg(feature = "std")]
mod recent;
#[cfg(feature = "std")]
pub use recent::RecentClock;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates() {
        let end = Instant::from_nanos(u64::MAX);
        assert_eq!(end.saturating_add(Duration::from_secs(1)), end);
        assert_eq!(Instant::ZERO.saturating_duration_since(end), Duration::ZERO);
        assert_eq!(
            Instant::from_nanos(5).saturating_duration_since(Instant::from_nanos(2)),
            Duration::from_nanos(3)
        );
    }

    #[test]
    fn manual_clock_clones_share_time_and_never_go_back() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_secs(2));
        assert_eq!(b.now(), Instant::from_nanos(2_000_000_000));
        b.set(Instant::from_nanos(1));
        assert_eq!(a.now(), Instant::from_nanos(2_000_000_000));
        a.advance(Duration::MAX);
        assert_eq!(a.now(), Instant::from_nanos(u64::MAX));
    }

    #[cfg(feature = "coarse-clock")]
    #[test]
    fn coarse_clock_does_not_go_backwards_and_counts_nanoseconds() {
        let c = CoarseClock::new();
        let os = std::time::Instant::now();
        let mut last = c.now();
        for _ in 0..1000 {
            let t = c.now();
            assert!(t >= last);
            last = t;
        }
        std::thread::sleep(Duration::from_millis(50));
        let elapsed = c.now().as_nanos();
        let os_elapsed = duration_nanos(os.elapsed());
        // Bounds as wide as a few kernel ticks: the point is the unit, not the precision.
        assert!(elapsed >= 30_000_000, "{elapsed}");
        assert!(
            elapsed <= os_elapsed + 20_000_000,
            "{elapsed} vs {os_elapsed}"
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn monotonic_clock_does_not_go_backwards() {
        let c = MonotonicClock::new();
        let t1 = c.now();
        let t2 = c.now();
        assert!(t2 >= t1);
    }
}
