//! [`Snapshot`]: a breaker's whole state as plain, versioned data, to move it between
//! processes or isolates (a Durable Object's storage, KV) and restore it there.
//!
//! Monotonic instants mean nothing on another machine, so every time is stored as an age
//! relative to the `now` of [`Breaker::snapshot`], and rebased on the `now` of
//! [`Breaker::restore`]. Restoring starts a new permit generation: permits handed out before
//! the snapshot cannot move the restored breaker.
//!
//! A snapshot is checked before it is restored: besides its version and config, its counters
//! must be ones a breaker can hold (see [`SnapshotError`]), so that a hand-edited or corrupted
//! snapshot is refused rather than restored into a breaker that can never close.

use crate::breaker::Breaker;
use crate::clock::{Instant, duration_nanos};
use crate::cold::Tallies;
use crate::config::{Config, ConfigError, Settings};
use crate::half_open::HalfOpenGate;
use crate::metrics::{FailureLog, FailureRecord};
use crate::state::State;
use crate::window::WindowCounts;
use alloc::vec::Vec;

/// The format version written by this crate.
pub const SNAPSHOT_VERSION: u32 = 1;

/// A breaker's state, detached from any clock. Serialisable with the `serde` feature.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Snapshot {
    /// Format version; [`Breaker::restore`] accepts only [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The configuration in force.
    pub config: Config,
    /// The state.
    pub state: State,
    /// Nanoseconds since the circuit last entered OPEN.
    pub opened_ago_ns: u64,
    /// Nanoseconds since the last transition.
    pub changed_ago_ns: u64,
    /// Failures in a row while CLOSED.
    pub consecutive_failures: u32,
    /// HALF_OPEN episode: `[attempts, admitted, successes]` (probes in flight are not carried).
    pub half_open: [u32; 3],
    /// Lifetime counters: `[successes, failures, rejected, throttled, neutral, state_changes]`.
    pub counters: [u64; 6],
    /// Wall-clock time of the newest failure.
    pub last_failure_time: Option<f64>,
    /// Non-empty window buckets as `[age_in_buckets, calls, failures]`, newest first.
    pub window: Vec<[u64; 3]>,
    /// The failure log, oldest first.
    pub recent_failures: Vec<FailureRecord>,
}

/// Why a [`Snapshot`] could not be restored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot was written in a format this crate does not read.
    #[error("version: unsupported snapshot version {found} (expected {SNAPSHOT_VERSION})")]
    Version {
        /// The version found.
        found: u32,
    },
    /// The snapshot's configuration is invalid.
    #[error("config.{}", .0)]
    Config(#[from] ConfigError),
    /// The counters are not ones a breaker can hold.
    #[error(transparent)]
    Inconsistent(#[from] Inconsistency),
}

/// A snapshot's counters that no breaker could hold. Apart from [`SnapshotError`] so that a
/// host can render these messages (integers only) without the config's, whose values it
/// renders in its own language, and name the fields as its users write them
/// ([`Inconsistency::write`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Inconsistency {
    /// `half_open` held counts while the state was not HALF_OPEN (a breaker keeps them only
    /// while HALF_OPEN).
    HalfOpenOutsideHalfOpen {
        /// The refused `half_open[0]`.
        attempts: u32,
        /// The refused `half_open[1]`.
        admitted: u32,
        /// The refused `half_open[2]`.
        successes: u32,
    },
    /// More probes succeeded than were admitted.
    ProbeSuccesses {
        /// Admitted probes.
        admitted: u32,
        /// The refused successes.
        successes: u32,
    },
    /// So many probes were admitted that the gate could never admit another under the
    /// snapshot's config, however many calls came: the circuit could never close.
    ProbesExhausted {
        /// The refused admitted count.
        admitted: u32,
    },
    /// A window bucket counted more failures than calls.
    WindowFailures {
        /// The bucket's age, in buckets.
        age: u64,
        /// The bucket's calls.
        calls: u64,
        /// The refused failures.
        failures: u64,
    },
}

impl Inconsistency {
    /// Writes the message with the snapshot's fields named `half_open` and `window` (as the
    /// [`Display`](core::fmt::Display) message does, in Rust's and Python's spelling).
    pub fn write(
        &self,
        f: &mut impl core::fmt::Write,
        half_open: &str,
        window: &str,
    ) -> core::fmt::Result {
        match self {
            Inconsistency::HalfOpenOutsideHalfOpen {
                attempts,
                admitted,
                successes,
            } => write!(
                f,
                "{half_open} must be [0, 0, 0] unless the state is half_open, got \
                 [{attempts}, {admitted}, {successes}]"
            ),
            Inconsistency::ProbeSuccesses {
                admitted,
                successes,
            } => write!(
                f,
                "{half_open}[2] (probe successes) must be at most {half_open}[1] (admitted \
                 probes, {admitted}), got {successes}"
            ),
            Inconsistency::ProbesExhausted { admitted } => write!(
                f,
                "{half_open}[1] (admitted probes) must leave room for another probe under \
                 this config, got {admitted}"
            ),
            Inconsistency::WindowFailures {
                age,
                calls,
                failures,
            } => write!(
                f,
                "{window} bucket of age {age} must have at most its calls ({calls}) as \
                 failures, got {failures}"
            ),
        }
    }
}

impl core::fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.write(f, "half_open", "window")
    }
}

impl core::error::Error for Inconsistency {}

impl Breaker {
    /// The whole state at `now`, as plain data.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let now = self.internal(now).max(self.latest);
        let ago = |t: Instant| duration_nanos(now.saturating_duration_since(t));
        let c = self.counters();
        let gate = self.gate();
        Snapshot {
            version: SNAPSHOT_VERSION,
            config: self.config().clone(),
            state: self.state,
            opened_ago_ns: ago(self.opened_at()),
            changed_ago_ns: ago(self.changed_at),
            consecutive_failures: self.consecutive_failures,
            half_open: [gate.attempts, gate.admitted, gate.successes],
            counters: [
                c.successes,
                c.failures,
                c.rejected,
                c.throttled,
                c.neutral,
                c.state_changes,
            ],
            last_failure_time: self.last_failure_time(),
            window: match self.window.as_deref() {
                Some(w) => w
                    .buckets_by_age(now)
                    .map(|(age, w)| [u64::from(age), w.calls, w.failures])
                    .collect(),
                None => Vec::new(),
            },
            recent_failures: self.recent_failures().cloned().collect(),
        }
    }

    /// A breaker in the state `snapshot` describes, rebased so that its ages count back from
    /// `now`. Window buckets older than the window are dropped; the failure log is cut to the
    /// configured capacity and message length.
    pub fn restore(snapshot: Snapshot, now: Instant) -> Result<Breaker, SnapshotError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version {
                found: snapshot.version,
            });
        }
        snapshot.check_counters(&snapshot.config.settings()?)?;
        let mut b = Breaker::new(snapshot.config, now)?;
        // The cold part first, while `changed_at` is still the creation instant that seeds
        // the jitter (see `crate::cold`).
        b.cold_mut();
        // Shift the timeline so that the oldest restored instant is not before its origin.
        let width = duration_nanos(b.settings().rolling_window)
            .div_ceil(u64::from(b.settings().window_buckets.get()))
            .saturating_add(1);
        let oldest_bucket = snapshot
            .window
            .iter()
            .map(|[age, ..]| *age)
            .max()
            .unwrap_or(0);
        let reach = snapshot
            .opened_ago_ns
            .max(snapshot.changed_ago_ns)
            .max(oldest_bucket.saturating_add(1).saturating_mul(width));
        b.shift = reach.saturating_sub(now.as_nanos());
        let now = b.internal(now);
        let back = |ns: u64| Instant::from_nanos(now.as_nanos().saturating_sub(ns));
        b.latest = now;
        b.state = snapshot.state;
        b.generation = 1; // permits issued before the snapshot (generation 0 here) are stale
        b.changed_at = back(snapshot.changed_ago_ns);
        b.consecutive_failures = snapshot.consecutive_failures;
        let [
            successes,
            failures,
            rejected,
            throttled,
            neutral,
            state_changes,
        ] = snapshot.counters;
        b.successes = successes;
        b.window = None;
        for [age, calls, failures] in snapshot.window {
            if let Ok(age) = u32::try_from(age) {
                b.window_mut()
                    .add_at_age(now, age, WindowCounts { calls, failures });
            }
        }
        let state = b.state;
        let (s, cold) = b.parts();
        cold.opened_at = back(snapshot.opened_ago_ns);
        let [attempts, admitted, successes] = snapshot.half_open;
        if state == State::HalfOpen {
            cold.gate = HalfOpenGate {
                attempts,
                admitted,
                successes,
                ..HalfOpenGate::default()
            };
        }
        cold.tallies = Tallies {
            failures,
            rejected,
            throttled,
            neutral,
            state_changes,
        };
        cold.last_failure_time = snapshot.last_failure_time;
        cold.log = FailureLog::default();
        let (cap, max_bytes) = (
            s.max_recent_failures.get() as usize,
            s.max_message_bytes.get() as usize,
        );
        for r in &snapshot.recent_failures {
            cold.log.push(&r.as_failure(), cap, max_bytes);
        }
        Ok(b)
    }
}

impl Snapshot {
    /// Refuses counters no breaker can hold under `settings` (this snapshot's config). Every snapshot the core writes passes: the HALF_OPEN gate is
    /// reset on every transition, a success is counted only for an admitted probe, and a
    /// failure is a call. `admitted` may exceed `attempts` (gradual recovery switched on
    /// mid-episode by `set_config`), so the rule is the one that matters: the gate must still
    /// be able to admit a probe.
    fn check_counters(&self, settings: &Settings) -> Result<(), Inconsistency> {
        let [attempts, admitted, successes] = self.half_open;
        if self.state != State::HalfOpen && self.half_open != [0; 3] {
            return Err(Inconsistency::HalfOpenOutsideHalfOpen {
                attempts,
                admitted,
                successes,
            });
        }
        if successes > admitted {
            return Err(Inconsistency::ProbeSuccesses {
                admitted,
                successes,
            });
        }
        // The gate's own rule, asked at the last attempt it can count: admission only grows
        // with attempts, so a gate that refuses there refuses for ever.
        let mut last = HalfOpenGate {
            attempts: u32::MAX - 1,
            admitted,
            ..HalfOpenGate::default()
        };
        if self.state == State::HalfOpen && !last.admit(settings, Instant::ZERO) {
            return Err(Inconsistency::ProbesExhausted { admitted });
        }
        if let Some(&[age, calls, failures]) = self.window.iter().find(|[_, c, f]| f > c) {
            return Err(Inconsistency::WindowFailures {
                age,
                calls,
                failures,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Failure;

    const SEC: u64 = 1_000_000_000;

    fn at(s: u64) -> Instant {
        Instant::from_nanos(s * SEC)
    }

    fn fail(b: &mut Breaker, now: Instant) {
        let f = Failure {
            error_type: "E",
            error_message: "m",
            operation: "get",
            timestamp: 1.0,
        };
        let p = b.try_acquire(now).unwrap();
        let _ = b.on_failure(p, &f, now);
    }

    #[test]
    fn round_trip_on_another_timeline_keeps_behaviour() {
        let config = Config {
            failure_threshold: 2,
            ..Config::default()
        };
        let mut a = Breaker::new(config, at(1000)).unwrap();
        let p = a.try_acquire(at(1000)).unwrap();
        let _ = a.on_success(p, at(1000));
        fail(&mut a, at(1010));
        fail(&mut a, at(1020)); // opens at 1020
        let snap = a.snapshot(at(1050));
        assert_eq!(snap.opened_ago_ns, 30_000_000_000);

        // Another isolate whose clock reads 5 s.
        let mut b = Breaker::restore(snap.clone(), at(5)).unwrap();
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.metrics(at(5)), a.metrics(at(1050)));
        assert_eq!(b.recent_failures().count(), 2);
        assert_eq!(b.snapshot(at(5)), snap);
        // 30 s of the 60 s timeout are left.
        assert!(b.try_acquire(at(34)).is_err());
        assert!(b.try_acquire(at(35)).unwrap().is_probe());
    }

    #[test]
    fn old_permits_are_stale_after_restore() {
        let mut a = Breaker::new(
            Config {
                failure_threshold: 1,
                ..Config::default()
            },
            at(0),
        )
        .unwrap();
        let old = a.try_acquire(at(0)).unwrap();
        let mut b = Breaker::restore(a.snapshot(at(0)), at(0)).unwrap();
        let f = Failure {
            error_type: "E",
            error_message: "m",
            operation: "get",
            timestamp: 1.0,
        };
        assert_eq!(b.on_failure(old, &f, at(0)), None);
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.metrics(at(0)).failure_count, 1);
    }

    #[test]
    fn bad_version_and_bad_config_are_refused() {
        let a = Breaker::new(Config::default(), at(0)).unwrap();
        let mut s = a.snapshot(at(0));
        s.version = 99;
        assert_eq!(
            Breaker::restore(s.clone(), at(0)).unwrap_err(),
            SnapshotError::Version { found: 99 }
        );
        s.version = SNAPSHOT_VERSION;
        s.config.recovery_factor = 2.0;
        let e = Breaker::restore(s, at(0)).unwrap_err();
        assert!(
            alloc::format!("{e}").starts_with("config.recovery_factor"),
            "{e}"
        );
    }

    /// A HALF_OPEN breaker (factor 0.5, `change` applied to the config) and its snapshot.
    fn half_open_snapshot(change: impl FnOnce(&mut Config)) -> Snapshot {
        let mut config = Config {
            failure_threshold: 1,
            timeout_seconds: 1.0,
            ..Config::default()
        };
        change(&mut config);
        let mut b = Breaker::new(config, at(0)).unwrap();
        fail(&mut b, at(0));
        assert!(b.try_acquire(at(1)).unwrap().is_probe());
        b.snapshot(at(1))
    }

    #[test]
    fn half_open_counters_that_could_never_close_the_circuit_are_refused() {
        let mut s = half_open_snapshot(|_| {});
        s.half_open = [0, u32::MAX, 0];
        assert_eq!(
            Breaker::restore(s.clone(), at(0)).unwrap_err(),
            SnapshotError::Inconsistent(Inconsistency::ProbesExhausted { admitted: u32::MAX })
        );
        // At factor 0.5 the last attempt's quota is 2^31: one fewer admitted still has room.
        s.half_open = [0, 1 << 31, 0];
        assert!(Breaker::restore(s.clone(), at(0)).is_err());
        s.half_open = [0, (1 << 31) - 1, 0];
        assert!(Breaker::restore(s, at(0)).is_ok());
    }

    #[test]
    fn more_probe_successes_than_admitted_probes_are_refused() {
        let mut s = half_open_snapshot(|_| {});
        s.half_open = [1, 1, 2];
        let e = Breaker::restore(s, at(0)).unwrap_err();
        assert_eq!(
            e,
            SnapshotError::Inconsistent(Inconsistency::ProbeSuccesses {
                admitted: 1,
                successes: 2
            })
        );
        assert!(alloc::format!("{e}").starts_with("half_open[2]"), "{e}");
    }

    #[test]
    fn half_open_counts_outside_half_open_are_refused() {
        let mut s = Breaker::new(Config::default(), at(0))
            .unwrap()
            .snapshot(at(0));
        s.half_open = [1, 1, 0];
        assert!(matches!(
            Breaker::restore(s, at(0)).unwrap_err(),
            SnapshotError::Inconsistent(Inconsistency::HalfOpenOutsideHalfOpen { admitted: 1, .. })
        ));
    }

    #[test]
    fn a_window_bucket_with_more_failures_than_calls_is_refused() {
        let mut s = Breaker::new(Config::default(), at(0))
            .unwrap()
            .snapshot(at(0));
        s.window = alloc::vec![[0, 2, 2], [1, 1, 3]];
        assert_eq!(
            Breaker::restore(s, at(0)).unwrap_err(),
            SnapshotError::Inconsistent(Inconsistency::WindowFailures {
                age: 1,
                calls: 1,
                failures: 3
            })
        );
    }

    #[test]
    fn more_admitted_than_attempts_restores_when_gradual_recovery_came_on_mid_episode() {
        // Without gradual recovery every call probes and attempts are not counted; switching
        // it on afterwards leaves admitted > attempts, which the core itself produces.
        let mut config = Config {
            failure_threshold: 1,
            timeout_seconds: 1.0,
            gradual_recovery: false,
            success_threshold: 5,
            ..Config::default()
        };
        let mut b = Breaker::new(config.clone(), at(0)).unwrap();
        fail(&mut b, at(0));
        for _ in 0..3 {
            let p = b.try_acquire(at(1)).unwrap();
            let _ = b.on_success(p, at(1));
        }
        config.gradual_recovery = true;
        b.set_config(config).unwrap();
        let s = b.snapshot(at(1));
        assert_eq!(s.half_open, [0, 3, 3]);
        let mut restored = Breaker::restore(s, at(0)).unwrap();
        assert_eq!(restored.state(), State::HalfOpen);
        // Throttled until the quota catches up with the 3 admitted (ceil(7 * 0.5) = 4).
        let admitted: usize = (0..7)
            .filter(|_| restored.try_acquire(at(0)).is_ok())
            .count();
        assert_eq!(admitted, 1);
    }

    #[test]
    fn expired_window_buckets_are_dropped() {
        let config = Config {
            rolling_window_seconds: 10.0,
            window_buckets: 10,
            ..Config::default()
        };
        let mut a = Breaker::new(config, at(0)).unwrap();
        fail(&mut a, at(0));
        let mut s = a.snapshot(at(3));
        assert_eq!(s.window, [[3, 1, 1]]);
        s.window.push([10, 5, 5]);
        let b = Breaker::restore(s, at(100)).unwrap();
        assert_eq!(b.metrics(at(100)).window_calls, 1);
        assert_eq!(b.metrics(at(107)).window_calls, 0);
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;
    use crate::metrics::Failure;

    #[test]
    fn snapshot_survives_json_and_refuses_unknown_fields() {
        let mut a = Breaker::new(Config::default(), Instant::ZERO).unwrap();
        let p = a.try_acquire(Instant::ZERO).unwrap();
        let f = Failure {
            error_type: "E",
            error_message: "m",
            operation: "get",
            timestamp: 2.5,
        };
        let _ = a.on_failure(p, &f, Instant::ZERO);
        let snap = a.snapshot(Instant::from_nanos(7));
        let json = serde_json::to_string(&snap).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snap);
        let bad = json.replacen("\"version\"", "\"surprise\":1,\"version\"", 1);
        let err = serde_json::from_str::<Snapshot>(&bad).unwrap_err();
        assert!(alloc::format!("{err}").contains("surprise"), "{err}");
    }
}
