//! [`SharedBreaker`]: a [`Breaker`] behind a lock, with a [`Clock`], for multi-threaded hosts.
//!
//! The lock is held only inside the core's own methods, never while the caller's operation
//! runs. While the circuit is CLOSED with no policy that judges successes (no failure rate,
//! slow-call, ramp or failure-weight rule) and no failure in the current run, admission and
//! success take no lock: see `crate::closed_path`. A locked method reads the clock after
//! taking the lock and collecting the lock-free successes, so it sees an instant no earlier
//! than any success already counted.
//!
//! A call reads the clock on admission and again on its outcome. With [`MonotonicClock`] each
//! read is a full OS clock read, which costs more than the rest of a lock-free call; for hot
//! paths, `CoarseClock` (feature `coarse-clock`, opt-in: it adds a dependency) reads the OS's coarse clock,
//! a few memory loads, at the price of tick (millisecond) resolution.

use crate::breaker::{Breaker, Permit, PermitParts, Rejection};
use crate::clock::{Clock, MonotonicClock};
use crate::closed_path::ClosedPath;
use crate::config::{Config, ConfigError};
use crate::metrics::{Failure, FailureRecord, Metrics};
use crate::state::{State, Transition};
use core::ops::{Deref, DerefMut};
use std::string::ToString;
use std::sync::{Mutex, MutexGuard};
use std::vec::Vec;

/// Why [`SharedBreaker::call`] did not return the operation's value.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker refused the call; the operation did not run.
    #[error("call rejected by the circuit breaker: {0:?}")]
    Rejected(Rejection),
    /// The operation ran and failed.
    #[error("operation failed: {0}")]
    Failed(E),
}

/// A thread-safe breaker: `Send + Sync`, shareable behind an `Arc`.
#[derive(Debug)]
pub struct SharedBreaker<C = MonotonicClock> {
    breaker: Mutex<Breaker>,
    closed: ClosedPath,
    clock: C,
}

impl<C: Clock> SharedBreaker<C> {
    /// A CLOSED breaker reading time from `clock`.
    pub fn new(config: Config, clock: C) -> Result<Self, ConfigError> {
        let breaker = Breaker::new(config, clock.now())?;
        let closed = ClosedPath::default();
        closed.open(breaker.closed_fast());
        Ok(SharedBreaker {
            breaker: Mutex::new(breaker),
            closed,
            clock,
        })
    }

    /// The clock this breaker reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Runs `f` on the locked breaker with the current time. `f` must not call back into this
    /// `SharedBreaker` (the lock is not re-entrant).
    pub fn with<R>(&self, f: impl FnOnce(&mut Breaker, crate::Instant) -> R) -> R {
        let mut breaker = self.lock();
        let now = self.clock.now();
        f(&mut breaker, now)
    }

    /// Runs `op` if the breaker admits it and reports its outcome. The failure record takes
    /// the error's `Display` text and the wall-clock time.
    pub fn call<T, E: core::fmt::Display>(
        &self,
        operation: &str,
        op: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, CallError<E>> {
        // The lock-free path keeps just the generation and instant, and builds a permit only
        // if the outcome must go to the lock.
        if let Some((generation, admitted)) = self.admit_lock_free() {
            return match op() {
                Ok(v) => {
                    if !self.succeed_lock_free(generation) {
                        let _ = self
                            .on_success_locked(Permit::closed(generation, admitted).into_parts());
                    }
                    Ok(v)
                }
                Err(e) => Err(self.failed(Permit::closed(generation, admitted), operation, e)),
            };
        }
        let permit = self.try_acquire_locked().map_err(CallError::Rejected)?;
        match op() {
            Ok(v) => {
                let _ = self.on_success(permit);
                Ok(v)
            }
            Err(e) => Err(self.failed(permit, operation, e)),
        }
    }

    /// Reports `e` for `permit` and wraps it for [`call`](Self::call).
    #[cold]
    fn failed<E: core::fmt::Display>(&self, permit: Permit, operation: &str, e: E) -> CallError<E> {
        let message = e.to_string();
        let failure = Failure {
            error_type: core::any::type_name::<E>(),
            error_message: &message,
            operation,
            timestamp: wall_clock_seconds(),
        };
        let _ = self.on_failure(permit, &failure);
        CallError::Failed(e)
    }

    /// Admits a call without the lock if the closed path is open: its generation and
    /// admission instant (on the breaker's timeline).
    // The lock-free path is always inlined, down to `ClosedPath`: it is a few dozen
    // instructions, and a call boundary in it would pass the view and the permit through
    // memory, which the optimiser otherwise decides differently from one build to the next.
    #[inline(always)]
    fn admit_lock_free(&self) -> Option<(u64, crate::Instant)> {
        let view = self.closed.view()?;
        let t = view.instant(self.clock.now())?;
        self.closed
            .admit(&view, t)
            .then_some((view.generation(), t))
    }

    /// Counts a success of a CLOSED, non-probe permit of `generation` without the lock, if the
    /// closed path is open for it.
    #[inline(always)]
    fn succeed_lock_free(&self, generation: u64) -> bool {
        let Some(view) = self.closed.view() else {
            return false;
        };
        if generation != view.generation() {
            return false;
        }
        view.instant(self.clock.now())
            .is_some_and(|t| self.closed.count_success(&view, t))
    }

    /// See [`Breaker::try_acquire`].
    #[inline(always)]
    pub fn try_acquire(&self) -> Result<Permit, Rejection> {
        match self.admit_lock_free() {
            Some((generation, admitted)) => Ok(Permit::closed(generation, admitted)),
            None => {
                let locked = self.try_acquire_locked();
                // Opaque to the optimiser, so that it cannot have the locked path write its
                // result straight into the place the lock-free path fills: that place would
                // then live in memory, and the caller's copy of the permit out of it (16-byte
                // loads of words just stored one by one) stalls the CPU on every call.
                core::hint::black_box(&locked);
                locked
            }
        }
    }

    /// [`try_acquire`](Self::try_acquire) on the lock. Out of line, so that the lock-free
    /// path's permit stays in registers.
    #[cold]
    #[inline(never)]
    fn try_acquire_locked(&self) -> Result<Permit, Rejection> {
        self.with(|b, now| b.try_acquire(now))
    }

    /// See [`Breaker::on_success`].
    #[inline(always)]
    pub fn on_success(&self, permit: Permit) -> Option<Transition> {
        if !permit.is_probe() && self.succeed_lock_free(permit.generation()) {
            return None;
        }
        self.on_success_locked(permit.into_parts())
    }

    /// [`on_success`](Self::on_success) on the lock (out of line, as `try_acquire_locked`,
    /// with the permit in registers: see [`PermitParts`]).
    #[cold]
    #[inline(never)]
    fn on_success_locked(&self, permit: PermitParts) -> Option<Transition> {
        self.with(|b, now| b.on_success(Permit::from_parts(permit), now))
    }

    /// See [`Breaker::on_failure`].
    pub fn on_failure(&self, permit: Permit, failure: &Failure<'_>) -> Option<Transition> {
        self.with(|b, now| b.on_failure(permit, failure, now))
    }

    /// See [`Breaker::on_neutral`].
    pub fn on_neutral(&self, permit: Permit) {
        self.with(|b, now| b.on_neutral(permit, now))
    }

    /// See [`Breaker::state`].
    pub fn state(&self) -> State {
        // Lock-free successes never change the state: no need to collect them.
        self.lock_as_is().state()
    }

    /// See [`Breaker::poll`].
    pub fn poll(&self) -> Option<Transition> {
        self.with(|b, now| b.poll(now))
    }

    /// See [`Breaker::metrics`].
    pub fn metrics(&self) -> Metrics {
        self.with(|b, now| b.metrics(now))
    }

    /// A copy of the failure log, oldest first.
    pub fn recent_failures(&self) -> Vec<FailureRecord> {
        // Successes do not touch the failure log.
        self.lock_as_is().recent_failures().cloned().collect()
    }

    /// See [`Breaker::force_open`].
    pub fn force_open(&self) -> Option<Transition> {
        self.with(|b, now| b.force_open(now))
    }

    /// See [`Breaker::force_closed`].
    pub fn force_closed(&self) -> Option<Transition> {
        self.with(|b, now| b.force_closed(now))
    }

    /// See [`Breaker::reset`].
    pub fn reset(&self) -> Option<Transition> {
        self.with(|b, now| b.reset(now))
    }

    /// See [`Breaker::set_config`].
    pub fn set_config(&self, config: Config) -> Result<(), ConfigError> {
        self.lock().set_config(config)
    }

    /// The breaker, locked, with the lock-free path closed and its successes counted in; the
    /// path reopens when the guard is dropped, if the breaker still qualifies.
    fn lock(&self) -> Locked<'_> {
        let mut guard = self.lock_as_is();
        let collected = self.closed.close();
        guard.count_closed_calls(collected.successes, collected.latest);
        Locked {
            guard,
            closed: &self.closed,
        }
    }

    /// The breaker, locked, without collecting lock-free successes: only for reading what
    /// they cannot change.
    fn lock_as_is(&self) -> MutexGuard<'_, Breaker> {
        // The breaker never panics mid-update, so a poisoned lock still guards a consistent value.
        self.breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The guard [`SharedBreaker::lock`] returns.
struct Locked<'a> {
    guard: MutexGuard<'a, Breaker>,
    closed: &'a ClosedPath,
}

impl Deref for Locked<'_> {
    type Target = Breaker;

    fn deref(&self) -> &Breaker {
        &self.guard
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Breaker {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Runs before the mutex guard (a field) is dropped: still under the lock.
        self.closed.open(self.guard.closed_fast());
    }
}

/// Seconds since the Unix epoch, or 0.0 if the system clock is before it.
pub fn wall_clock_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::sync::Arc;
    use std::time::Duration;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_breaker_is_send_and_sync() {
        assert_send_sync::<SharedBreaker>();
        assert_send_sync::<SharedBreaker<ManualClock>>();
    }

    #[test]
    fn call_trips_then_fails_fast_then_recovers_on_the_clock() {
        let clock = ManualClock::new();
        let config = Config {
            failure_threshold: 2,
            success_threshold: 1,
            ..Config::default()
        };
        let b = SharedBreaker::new(config, clock.clone()).unwrap();
        for _ in 0..2 {
            let r: Result<(), _> = b.call("get", || Err("boom"));
            assert_eq!(r, Err(CallError::Failed("boom")));
        }
        assert_eq!(b.state(), State::Open);
        let mut ran = false;
        let r: Result<(), CallError<&str>> = b.call("get", || {
            ran = true;
            Ok(())
        });
        assert!(matches!(
            r,
            Err(CallError::Rejected(Rejection::Open { .. }))
        ));
        assert!(!ran, "a rejected call must not run");
        clock.advance(Duration::from_secs(60));
        assert_eq!(b.call::<_, &str>("get", || Ok(7)), Ok(7));
        assert_eq!(b.state(), State::Closed);
        let failures = b.recent_failures();
        assert_eq!(failures.len(), 2);
        assert_eq!(failures[0].error_message, "boom");
        assert_eq!(failures[0].operation, "get");
    }

    #[test]
    fn threads_share_one_breaker() {
        let b = Arc::new(SharedBreaker::new(Config::default(), ManualClock::new()).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let b = Arc::clone(&b);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let _ = b.call::<_, &str>("get", || Ok(()));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(b.metrics().success_count, 4000);
    }

    #[test]
    fn closed_calls_take_no_lock_and_still_count() {
        let b = SharedBreaker::new(Config::default(), ManualClock::new()).unwrap();
        std::thread::scope(|s| {
            let held = b.breaker.lock().unwrap();
            // Would block on the lock held above if the closed path took it.
            let worker = s.spawn(|| {
                for _ in 0..10 {
                    let p = b.try_acquire().expect("closed admits");
                    assert!(b.on_success(p).is_none());
                }
            });
            worker.join().unwrap();
            drop(held);
        });
        let m = b.metrics();
        assert_eq!((m.success_count, m.window_calls), (10, 10));
    }

    #[test]
    fn the_lock_is_not_held_while_the_operation_runs() {
        let b = SharedBreaker::new(Config::default(), ManualClock::new()).unwrap();
        // Re-entering the breaker from inside the operation would deadlock if the lock were held.
        let r = b.call::<_, &str>("get", || Ok(b.state()));
        assert_eq!(r, Ok(State::Closed));
    }
}
