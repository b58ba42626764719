//! A sans-IO circuit breaker for cache resilience, with the semantics of FACT's
//! `CacheCircuitBreaker`.
//!
//! This crate only decides. A decision never reads a clock, sleeps, spawns, sets a timer or
//! does IO: it takes `now` (an [`Instant`] from a monotonic [`Clock`] the host owns), and
//! every record takes the wall-clock time as a plain number. So the same core runs natively,
//! inside Python and WebAssembly bindings, and in deterministic simulation on a
//! [`ManualClock`]. It is `#![no_std]` (it needs `alloc`); the default `std` feature adds
//! clocks for hosts ([`MonotonicClock`], and [`RecentClock`], read from memory) and the
//! thread-safe [`SharedBreaker`].
//!
//! # States
//!
//! ```text
//!                 failure_threshold failures in a row
//!      +--------+ ----------------------------------> +------+
//!      | CLOSED |                                     | OPEN | <---+
//!      +--------+ <------------+                      +------+     |
//!           ^                  | force_closed / reset    |         | any probe fails
//!           |                  |                         | timeout_seconds since entering OPEN
//!           |                  |                         v         |
//!           |   success_threshold probes succeed    +-----------+  |
//!           +-------------------------------------- | HALF_OPEN | -+
//!                                                   +-----------+
//! ```
//!
//! - CLOSED admits every call; a success clears the run of failures.
//! - OPEN rejects calls with [`Rejection::Open`] (and how long until it may half-open). The
//!   timer runs from entering OPEN, so [`Breaker::force_open`] also recovers on time.
//! - HALF_OPEN admits probes deterministically: with gradual recovery, the `n`-th call is
//!   admitted iff `admitted < ceil(n * recovery_factor)`, the first always; the rest get
//!   [`Rejection::Throttled`].
//! - Every transition starts a new permit generation: an outcome from an older [`Permit`] is
//!   counted but cannot move the state.
//!
//! # Opt-in policies
//!
//! Off by default (FACT's behaviour), each a [`Config`] field: a failure-rate trip
//! (`failure_rate_threshold`, `minimum_calls`), slow calls, in flight too
//! (`slow_call_duration_seconds`, `slow_call_rate_threshold`), open-time backoff with seeded
//! jitter (`open_backoff_multiplier`, `max_timeout_seconds`, `jitter`, `jitter_seed`) and a
//! post-close ramp (`ramp_seconds`); failures weighted by kind (`failure_weights`). The rate
//! rules count the calls since the circuit last closed and judge only calls admitted while they
//! were on; a transition's [`Reason`] says which rule tripped. A permit admitted under a rate
//! rule carries its admission instant, so a call's latency needs nothing new from the host
//! ([`Permit::to_token`] keeps it through an FFI boundary); without one a permit is its bits.
//!
//! # The cache layer
//!
//! [`CacheGuard`] sits beside a breaker and decides what a *cache* call means: which outcomes
//! count (a miss is a success; a [`Outcome::Timeout`] is a failure; a [`Outcome::Shed`] call
//! never reached the cache and is neutral), when a [`Fallback`] answers, and which writes that
//! did not complete to remember and invalidate before the cache is trusted again. Bindings
//! carry out its answers; they never re-decide.
//!
//! # Example
//!
//! ```
//! use core::time::Duration;
//! use fact_resilience_core::{Breaker, Config, Failure, Instant, Rejection, State};
//!
//! let config = Config { failure_threshold: 2, success_threshold: 1, ..Config::default() };
//! let mut now = Instant::ZERO;
//! let mut breaker = Breaker::new(config, now).unwrap();
//! let failure = Failure {
//!     error_type: "ConnectionError",
//!     error_message: "cache unreachable",
//!     operation: "get",
//!     timestamp: 1_700_000_000.0,
//! };
//!
//! // Two failures in a row open the circuit.
//! for _ in 0..2 {
//!     let permit = breaker.try_acquire(now).unwrap();
//!     let _ = breaker.on_failure(permit, &failure, now);
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert_eq!(
//!     breaker.try_acquire(now),
//!     Err(Rejection::Open { retry_after: Duration::from_secs(60) })
//! );
//!
//! // After the timeout a probe goes through, and its success closes the circuit.
//! now = now.saturating_add(Duration::from_secs(60));
//! let probe = breaker.try_acquire(now).unwrap();
//! assert!(probe.is_probe());
//! let closed = breaker.on_success(probe, now).unwrap();
//! assert_eq!((closed.from, closed.to), (State::HalfOpen, State::Closed));
//! assert_eq!(breaker.metrics(now).state_changes, 3);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod backoff;
mod breaker;
mod cache;
mod clock;
#[cfg(feature = "std")]
mod closed_path;
mod cold;
mod config;
mod exposition;
mod half_open;
mod health;
mod metrics;
mod origin;
mod pending;
mod presets;
mod ramp;
mod rates;
mod registry;
mod sim;
mod slab;
mod snapshot;
mod state;
mod window;

#[cfg(feature = "std")]
mod shared;

/// The Rust examples in the repository's README, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub use breaker::{Breaker, Permit, Rejection};
pub use cache::{
    Admission, Admitted, Begin, CacheCounters, CacheGuard, CacheOp, Capabilities, End, Fallback,
    FallbackReason, GuardError, Outcome, OutcomeKind, RegistryGate, RegistryPath, StaleKeys,
    StaleKeysError, StaleKeysOption, Ticket,
};
#[cfg(feature = "coarse-clock")]
pub use clock::CoarseClock;
#[cfg(target_has_atomic = "64")]
pub use clock::ManualClock;
pub use clock::{Clock, Instant};
#[cfg(feature = "std")]
pub use clock::{MonotonicClock, RecentClock};
pub use config::{
    Config, ConfigError, DEFAULT_KIND, FAILURE_WEIGHTS_DOC, FIELDS, FailureWeights, Field,
    FieldError, FieldKind, FieldRule, FieldValue, MAX_DURATION_SECONDS, MAX_WINDOW_BUCKETS,
    MIN_RECOVERY_FACTOR,
};
pub use exposition::{
    DEFAULT_NAMESPACE, METRIC_FAMILIES, MetricFamily, MetricKind, NamespaceError, check_namespace,
};
pub use health::{
    Alert, ChangeCounter, HealthError, HealthFigures, HealthReport, HealthThresholds,
    ReadinessPolicy, Rule, Severity, TRANSITION_KINDS, TransitionCounts,
};
pub use metrics::{Failure, FailureRecord, Metrics};
pub use origin::{
    Load, LoadEnd, LoadTicket, MAX_LOADS, OriginConfig, OriginCounters, OriginError, OriginGuard,
};
pub use pending::{Flush, Overflow, PendingInvalidations};
pub use presets::PRESETS;
pub use registry::{
    Level, LevelSummary, MAX_LEVELS, PathPermit, PathRejection, PathTransitions, Registry,
    RegistryConfig, RegistryError,
};
#[cfg(feature = "std")]
pub use shared::{CallError, SharedBreaker, wall_clock_seconds};
pub use sim::{
    Call, MAX_SAMPLES, MAX_SCENARIO_CALLS, SIMULATED_FAILURE, SLOW_CALL, Sample, Scenario,
    SimReport, Simulation, TimelineFigures, simulate,
};
pub use snapshot::{Inconsistency, SNAPSHOT_VERSION, Snapshot, SnapshotError};
pub use state::{Reason, State, Transition};
/// The rolling window on its own, public on purpose: a host can count outcomes over time
/// without a breaker, and the benches measure it alone.
pub use window::{RollingWindow, WindowCounts};
