//! [`RecentClock`]: the time as a background thread last stored it.

use super::{Clock, Instant, duration_nanos};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A clock read from memory: one thread stores the OS's monotonic time every `resolution`,
/// and [`now`](Clock::now) is a single atomic load, with no OS call at all.
///
/// For [`crate::SharedBreaker`] on a hot path: it reads the clock on admission and on the
/// outcome, and with this clock neither read leaves the process. The price is the
/// resolution: the time moves in steps of `resolution` (a little more when the thread is
/// scheduled late, never less), so every timer fires up to a step late and a call lands in a
/// window bucket up to a step early. The thread ends at its next step once the last clone of
/// the clock is dropped.
///
/// ```
/// use std::time::Duration;
/// use fact_resilience_core::{Clock, Config, RecentClock, SharedBreaker};
///
/// let clock = RecentClock::new(Duration::from_millis(1))?;
/// let breaker = SharedBreaker::new(Config::default(), clock)?;
/// if let Ok(permit) = breaker.try_acquire() {
///     // ... the call, then its outcome:
///     let _ = breaker.on_success(permit);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RecentClock {
    shared: Arc<Stored>,
}

/// The stored time, alone on its cache line: every thread reads it on every call, and the
/// ticking thread's one write per step should be the only thing that ever invalidates it.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stored(AtomicU64);

impl RecentClock {
    /// A clock at [`Instant::ZERO`] now, stepping every `resolution` (1 ms suits a breaker:
    /// its timers are seconds long). Fails if `resolution` is zero, or if the OS refuses the
    /// ticking thread.
    pub fn new(resolution: Duration) -> std::io::Result<RecentClock> {
        if resolution.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "RecentClock resolution must be greater than zero",
            ));
        }
        let shared = Arc::new(Stored::default());
        let weak = Arc::downgrade(&shared);
        let origin = std::time::Instant::now();
        std::thread::Builder::new()
            .name("fact-resilience-clock".into())
            .spawn(move || tick(&weak, origin, resolution))?;
        Ok(RecentClock { shared })
    }
}

/// The ticking thread: stores the time every `resolution` while a clock is alive. It holds
/// only a weak reference, so it never keeps the clock alive itself.
fn tick(stored: &Weak<Stored>, origin: std::time::Instant, resolution: Duration) {
    loop {
        std::thread::sleep(resolution);
        let Some(stored) = stored.upgrade() else {
            return;
        };
        // One writer, reading a monotonic clock: the stored time never goes back.
        let now = duration_nanos(origin.elapsed());
        stored.0.store(now, Ordering::Release);
    }
}

impl Clock for RecentClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::from_nanos(self.shared.0.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    /// The real clock wired: the stored time moves on its own, and never runs ahead of the
    /// OS's time since the clock was made. Bounded waits, not fixed sleeps: a loaded machine
    /// may run the ticking thread late.
    #[test]
    fn it_follows_the_os_clock() {
        let before = std::time::Instant::now();
        let clock = RecentClock::new(Duration::from_millis(1)).expect("thread");
        let t0 = clock.now();
        let deadline = before + Duration::from_secs(10);
        while clock.now() == t0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the clock never moved"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let now = clock.now().as_nanos();
        let os = duration_nanos(before.elapsed());
        assert!(now <= os, "{now} ns is ahead of the OS's {os} ns");
    }

    #[test]
    fn the_thread_never_keeps_the_time_alive() {
        let clock = RecentClock::new(Duration::from_millis(1)).expect("thread");
        let weak = Arc::downgrade(&clock.shared);
        let clone = clock.clone();
        drop(clock);
        assert!(weak.upgrade().is_some(), "a clone still holds the time");
        drop(clone);
        // The thread holds the time only for one store at a time: after the last clone it
        // can keep it at most until that store ends, then exits on its next upgrade.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while weak.upgrade().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the time was never freed"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_zero_resolution_is_refused() {
        let err = RecentClock::new(Duration::ZERO).expect_err("zero");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("resolution"), "{err}");
    }
}
