//! [`SharedBreaker`]: a [`Breaker`] behind a lock, with a [`Clock`], for multi-threaded hosts.
//!
//! The lock is held only inside the core's own methods, never while the caller's operation
//! runs, and the clock is read before the lock is taken (the breaker tolerates the resulting
//! out-of-order instants).

use crate::breaker::{Breaker, Permit, Rejection};
use crate::clock::{Clock, MonotonicClock};
use crate::config::{Config, ConfigError};
use crate::metrics::{Failure, FailureRecord, Metrics};
use crate::state::{State, Transition};
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
    clock: C,
}

impl<C: Clock> SharedBreaker<C> {
    /// A CLOSED breaker reading time from `clock`.
    pub fn new(config: Config, clock: C) -> Result<Self, ConfigError> {
        let breaker = Breaker::new(config, clock.now())?;
        Ok(SharedBreaker {
            breaker: Mutex::new(breaker),
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
        let now = self.clock.now();
        f(&mut self.lock(), now)
    }

    /// Runs `op` if the breaker admits it and reports its outcome. The failure record takes
    /// the error's `Display` text and the wall-clock time.
    pub fn call<T, E: core::fmt::Display>(
        &self,
        operation: &str,
        op: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        match op() {
            Ok(v) => {
                let _ = self.on_success(permit);
                Ok(v)
            }
            Err(e) => {
                let message = e.to_string();
                let failure = Failure {
                    error_type: core::any::type_name::<E>(),
                    error_message: &message,
                    operation,
                    timestamp: wall_clock_seconds(),
                };
                let _ = self.on_failure(permit, &failure);
                Err(CallError::Failed(e))
            }
        }
    }

    /// See [`Breaker::try_acquire`].
    pub fn try_acquire(&self) -> Result<Permit, Rejection> {
        self.with(|b, now| b.try_acquire(now))
    }

    /// See [`Breaker::on_success`].
    pub fn on_success(&self, permit: Permit) -> Option<Transition> {
        self.with(|b, now| b.on_success(permit, now))
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
        self.lock().state()
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
        self.lock().recent_failures().cloned().collect()
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

    fn lock(&self) -> MutexGuard<'_, Breaker> {
        // The breaker never panics mid-update, so a poisoned lock still guards a consistent value.
        self.breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
    fn the_lock_is_not_held_while_the_operation_runs() {
        let b = SharedBreaker::new(Config::default(), ManualClock::new()).unwrap();
        // Re-entering the breaker from inside the operation would deadlock if the lock were held.
        let r = b.call::<_, &str>("get", || Ok(b.state()));
        assert_eq!(r, Ok(State::Closed));
    }
}
