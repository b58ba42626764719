//! [`Cold`]: the part of a [`Breaker`](crate::Breaker) that a breaker which has only ever
//! seen successes does not need, kept in one box that is allocated on first use.
//!
//! A breaker gets its cold part on its first failure, neutral outcome, transition, reset or
//! restore, and keeps it from then on. Until then every field here holds the value a new
//! breaker would give it, which is what the breaker's getters report without one; and the
//! circuit has never opened since its creation, so `opened_at` is the breaker's `changed_at`
//! (its creation instant), which is also what seeds the jitter when no `jitter_seed` is set.

use crate::backoff::Backoff;
use crate::clock::Instant;
use crate::half_open::HalfOpenGate;
use crate::health::HealthHistory;
use crate::metrics::FailureLog;
use crate::ramp::Ramp;
use crate::rates::RateWindow;

/// The lifetime counters a breaker keeps in its cold part (successes are kept inline: every
/// call on the hot path counts one).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tallies {
    pub failures: u64,
    pub rejected: u64,
    pub throttled: u64,
    pub neutral: u64,
    pub state_changes: u64,
}

/// See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Cold {
    /// When the circuit last entered OPEN (or the breaker was created or reset).
    pub opened_at: Instant,
    /// The summed `failure_weights` of the run of failures (used only when weights are set).
    pub failure_weight: f64,
    /// The current HALF_OPEN episode.
    pub gate: HalfOpenGate,
    /// The calls the rate rules judge: the rolling window's, but only those recorded since
    /// the circuit last closed, so that the failures which opened it cannot open it again
    /// right after it recovers. `None` while no rate rule is configured.
    pub rates: Option<RateWindow>,
    pub log: FailureLog,
    pub tallies: Tallies,
    pub last_failure_time: Option<f64>,
    /// Not carried by a [`crate::Snapshot`]: a restored breaker starts its hourly change
    /// count, recovery attempts and transition counters afresh.
    pub health: HealthHistory,
    /// The open time's backoff and jitter (not in a snapshot either).
    pub backoff: Backoff,
    /// The post-close ramp, while one runs (not in a snapshot).
    pub ramp: Option<Ramp>,
}

impl Cold {
    /// What a breaker created at `born` holds, with `rates` as its rate window and the jitter
    /// generator seeded with `seed`.
    pub fn new(born: Instant, rates: Option<RateWindow>, seed: u64) -> Cold {
        Cold {
            opened_at: born,
            failure_weight: 0.0,
            gate: HalfOpenGate::default(),
            rates,
            log: FailureLog::default(),
            tallies: Tallies::default(),
            last_failure_time: None,
            health: HealthHistory::default(),
            backoff: Backoff::new(seed),
            ramp: None,
        }
    }
}
