//! [`Breaker`]: the circuit-breaker state machine. Sans-IO: every method that depends on time
//! takes `now`, and nothing here reads a clock, sleeps, spawns or does IO.

use crate::backoff::Backoff;
use crate::clock::Instant;
use crate::config::{Config, ConfigError, Settings};
use crate::half_open::HalfOpenGate;
use crate::health::{
    HealthFigures, HealthHistory, HealthReport, HealthThresholds, TransitionCounts,
};
use crate::metrics::{Failure, FailureLog, FailureRecord, Metrics};
use crate::ramp::Ramp;
use crate::rates::RateWindow;
use crate::state::{Reason, State, Transition};
use crate::window::{RollingWindow, WindowCounts};
use core::time::Duration;

/// Leave to run one call, from [`Breaker::try_acquire`]. Report its outcome exactly once with
/// [`Breaker::on_success`], [`Breaker::on_failure`] or [`Breaker::on_neutral`].
///
/// A permit remembers the generation it was issued in. Every transition and every reset starts
/// a new generation; an outcome reported with an older permit is counted in the lifetime
/// counters and the window, but cannot move the state machine.
#[must_use = "report the call's outcome with on_success, on_failure or on_neutral"]
#[derive(Debug, PartialEq, Eq)]
// Four whole words, no `bool` or `Option`: the permit is built and moved on every admission,
// and a word-sized store forwards to the word-sized load that copies it, where narrower
// stores read back as one word stall the CPU.
pub struct Permit {
    generation: u64,
    /// With [`MOVED`], when admitting this call moved the circuit OPEN -> HALF_OPEN (the only
    /// move an admission makes), as the host's clock reads it.
    moved_at: Instant,
    /// When the call was admitted, on the breaker's timeline: its latency, for the slow-call
    /// rule, and its admission bucket, to take it off the calls in flight. It counts only with
    /// [`TIMED`]: a permit issued while a rate rule was on, not one rebuilt from bits alone
    /// (see [`Permit::to_token`]).
    admitted: Instant,
    /// [`PROBE`], [`TIMED`] and [`MOVED`].
    flags: u64,
}

/// [`Permit`] flag: the call is a HALF_OPEN probe.
const PROBE: u64 = 1;
/// [`Permit`] flag: `admitted` holds the admission instant.
const TIMED: u64 = 2;
/// [`Permit`] flag: admitting the call moved the circuit OPEN -> HALF_OPEN at `moved_at`.
const MOVED: u64 = 4;

impl Permit {
    /// The generation this permit was issued in.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether this call is a HALF_OPEN probe.
    pub fn is_probe(&self) -> bool {
        self.flags & PROBE != 0
    }

    /// The transition that acquiring this permit caused (OPEN -> HALF_OPEN when the timeout
    /// had passed), if any.
    pub fn transition(&self) -> Option<Transition> {
        (self.flags & MOVED != 0).then_some(Transition {
            from: State::Open,
            to: State::HalfOpen,
            reason: Reason::TimeoutElapsed,
            at: self.moved_at,
        })
    }

    /// The permit as one integer, for hosts that must pass it through an FFI boundary:
    /// `generation << 2 | timed << 1 | probe`, where `timed` says a rate rule was on when the
    /// call was admitted, so its admission instant matters (a host that keeps that instant
    /// itself hands it back with [`Breaker::permit_from_bits`]). Generations beyond 2^62 wrap,
    /// which only makes a permit stale.
    pub fn to_bits(&self) -> u64 {
        self.generation << 2 | self.flags & (TIMED | PROBE)
    }

    /// The permit [`Permit::to_bits`] encoded. A forged value can at worst be counted as stale
    /// or release a HALF_OPEN slot early; it can never make the breaker panic.
    pub fn from_bits(bits: u64) -> Permit {
        Permit {
            generation: bits >> 2,
            moved_at: Instant::ZERO,
            admitted: Instant::ZERO,
            flags: bits & PROBE,
        }
    }

    /// When the call was admitted, on the breaker's own timeline, for a call admitted while a
    /// rate rule (`failure_rate_threshold`, slow calls) was on: the rules judge only those.
    /// `None` otherwise, and for a permit rebuilt by [`Permit::from_bits`].
    pub fn admitted_at(&self) -> Option<Instant> {
        (self.flags & TIMED != 0).then_some(self.admitted)
    }

    /// The permit as one 128-bit integer that also carries its admission instant, for hosts
    /// whose integers are that wide (Python): `(admitted_at + 1) << 64 | to_bits()` (an
    /// admission at the very end of the timeline reads 1 ns earlier), or just `to_bits()`
    /// without one. A permit passed as bits alone still works, but the slow-call
    /// rule cannot time it or take it off the calls in flight until its bucket expires.
    pub fn to_token(&self) -> u128 {
        // The last nanosecond of the timeline reads as the one before: `+ 1` must fit.
        let admitted = self
            .admitted_at()
            .map_or(0, |t| u128::from(t.as_nanos().min(u64::MAX - 1)) + 1);
        admitted << 64 | u128::from(self.to_bits())
    }

    /// The permit [`Permit::to_token`] encoded (as [`Permit::from_bits`], never trusted).
    pub fn from_token(token: u128) -> Permit {
        let admitted = token >> 64;
        let p = Permit::from_bits(token as u64);
        Permit {
            admitted: Instant::from_nanos(admitted.saturating_sub(1) as u64),
            flags: p.flags | if admitted != 0 { TIMED } else { 0 },
            ..p
        }
    }
}

/// What a lock-free host may do without the breaker until the breaker next changes: admit
/// calls and count their successes (see `crate::closed_path`). Times are on the breaker's
/// own timeline.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClosedFast {
    /// The generation permits are issued in.
    pub generation: u64,
    /// The latest instant the breaker has seen (admission instants are clamped to it).
    pub latest: Instant,
    /// Added to a host instant to put it on the breaker's timeline.
    pub shift: u64,
    /// A success before this instant lands in the window's head bucket.
    pub head_end: Instant,
}

#[cfg(feature = "std")]
impl Permit {
    /// A CLOSED, non-probe permit, as [`Breaker::try_acquire`] issues it with no rate rule on
    /// (not timed).
    pub(crate) fn closed(generation: u64, admitted: Instant) -> Permit {
        Permit {
            generation,
            moved_at: Instant::ZERO,
            admitted,
            flags: 0,
        }
    }
}

/// Why a call was not admitted. The call must not run.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The circuit is OPEN; it may half-open after `retry_after`.
    Open {
        /// Time left until the open timeout passes.
        retry_after: Duration,
    },
    /// The circuit is HALF_OPEN and this call was not chosen as a probe.
    Throttled,
}

/// Lifetime counters, all reset by [`Breaker::reset`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub successes: u64,
    pub failures: u64,
    pub rejected: u64,
    pub throttled: u64,
    pub neutral: u64,
    pub state_changes: u64,
}

/// The circuit-breaker state machine.
///
/// Methods come in four families, as in a sans-IO protocol state machine:
/// - getters: [`state`](Self::state), [`metrics`](Self::metrics),
///   [`recent_failures`](Self::recent_failures), [`config`](Self::config),
///   [`next_deadline`](Self::next_deadline);
/// - admission and outcomes: [`try_acquire`](Self::try_acquire), then one of
///   [`on_success`](Self::on_success), [`on_failure`](Self::on_failure),
///   [`on_neutral`](Self::on_neutral);
/// - commands: [`force_open`](Self::force_open), [`force_closed`](Self::force_closed),
///   [`reset`](Self::reset), [`set_config`](Self::set_config);
/// - time: [`poll`](Self::poll) applies a due OPEN -> HALF_OPEN move. Calling it early or
///   often is harmless; admission calls it anyway, so hosts that never schedule need not.
///
/// `now` must come from one monotonic clock. An instant earlier than one already seen is
/// treated as that later instant, so a race between threads reading the clock is harmless.
#[derive(Clone, Debug)]
pub struct Breaker {
    pub(crate) config: Config,
    pub(crate) settings: Settings,
    pub(crate) state: State,
    pub(crate) generation: u64,
    pub(crate) opened_at: Instant,
    pub(crate) changed_at: Instant,
    pub(crate) latest: Instant,
    /// Nanoseconds added to every `now` passed in. Zero except after [`Breaker::restore`],
    /// where it lets restored history that predates the host clock's origin fit on the timeline.
    pub(crate) shift: u64,
    pub(crate) consecutive_failures: u32,
    /// The summed `failure_weights` of the run of failures (used only when weights are set).
    pub(crate) failure_weight: f64,
    pub(crate) gate: HalfOpenGate,
    pub(crate) window: RollingWindow,
    /// The calls the rate rules judge: the rolling window's, but only those recorded since
    /// the circuit last closed, so that the failures which opened it cannot open it again
    /// right after it recovers. `None` while no rate rule is configured.
    pub(crate) rates: Option<RateWindow>,
    pub(crate) log: FailureLog,
    pub(crate) counters: Counters,
    pub(crate) last_failure_time: Option<f64>,
    /// Not carried by a [`crate::Snapshot`]: a restored breaker starts its hourly change
    /// count, recovery attempts and transition counters afresh.
    pub(crate) health: HealthHistory,
    /// The open time's backoff and jitter (not in a snapshot either).
    pub(crate) backoff: Backoff,
    /// The post-close ramp, while one runs (not in a snapshot).
    pub(crate) ramp: Option<Ramp>,
}

impl Breaker {
    /// A CLOSED breaker, or the first problem with `config`.
    pub fn new(config: Config, now: Instant) -> Result<Breaker, ConfigError> {
        let settings = config.settings()?;
        Ok(Breaker {
            window: RollingWindow::new(settings.rolling_window, settings.window_buckets),
            rates: rate_window(&settings, now),
            backoff: Backoff::new(jitter_seed(&settings, now)),
            ramp: None,
            config,
            settings,
            state: State::Closed,
            generation: 0,
            opened_at: now,
            changed_at: now,
            latest: now,
            shift: 0,
            consecutive_failures: 0,
            failure_weight: 0.0,
            gate: HalfOpenGate::default(),
            log: FailureLog::default(),
            counters: Counters::default(),
            last_failure_time: None,
            health: HealthHistory::default(),
        })
    }

    // ---- getters -------------------------------------------------------------------------

    /// The current state, without applying a due timeout (no side effects).
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A snapshot of the counters, with `failure_rate` and `time_in_current_state` at `now`.
    pub fn metrics(&self, now: Instant) -> Metrics {
        let now = self.internal(now).max(self.latest);
        let window = self.window.counts(now);
        let rates = self
            .rates
            .as_ref()
            .map(|r| r.counts(now, self.settings.slow_call))
            .unwrap_or_default();
        let c = &self.counters;
        Metrics {
            state: self.state,
            failure_count: c.failures,
            success_count: c.successes,
            total_operations: c.successes.saturating_add(c.failures),
            failure_rate: window.failure_rate(),
            window_calls: window.calls,
            state_changes: c.state_changes,
            time_in_current_state: now.saturating_duration_since(self.changed_at),
            last_failure_time: self.last_failure_time,
            consecutive_failures: self.consecutive_failures,
            consecutive_failure_weight: if self.settings.failure_weights.is_some() {
                self.failure_weight
            } else {
                f64::from(self.consecutive_failures)
            },
            rejected_count: c.rejected,
            throttled_count: c.throttled,
            neutral_count: c.neutral,
            half_open_admitted: self.gate.admitted,
            half_open_successes: self.gate.successes,
            half_open_in_flight: self.gate.in_flight,
            recent_failures_count: self.log.len() as u32,
            slow_call_count: rates.slow_calls(),
            slow_call_rate: rates.slow_rate(),
            calls_in_flight: rates.in_flight,
            open_duration: self.backoff.open_time(&self.settings),
            ramp_share: self
                .ramp
                .and_then(|r| r.share(&self.settings, now))
                .unwrap_or(1.0),
        }
    }

    /// The health report at `now` under `thresholds` (no side effects: a due timeout is not
    /// applied). See [`crate::HealthReport`].
    pub fn health(&self, now: Instant, thresholds: &HealthThresholds) -> HealthReport {
        let now = self.internal(now).max(self.latest);
        let window = self.window.counts(now);
        let figures = HealthFigures {
            state: self.state,
            time_in_state: now.saturating_duration_since(self.changed_at),
            failure_rate: window.failure_rate(),
            window_calls: window.calls,
            state_changes_last_hour: self.health.changes.count(now),
            recovery_attempts: self.health.recovery_attempts,
        };
        HealthReport::evaluate(figures, thresholds)
    }

    /// Transitions since creation or reset, by from, to and reason.
    pub fn transition_counts(&self) -> TransitionCounts {
        self.health.transitions
    }

    /// The newest failure records, oldest first (at most `max_recent_failures`).
    pub fn recent_failures(
        &self,
    ) -> impl DoubleEndedIterator<Item = &FailureRecord> + ExactSizeIterator {
        self.log.iter()
    }

    /// The next instant at which time alone changes something: the end of the open timeout,
    /// or the expiry of the probe lease. A host that schedules calls [`poll`](Self::poll) then.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Open => Some(self.open_deadline()),
            State::HalfOpen => self.gate.lease_deadline(&self.settings),
            State::Closed => None,
        }
        .map(|t| self.external(t))
    }

    // ---- admission and outcomes ----------------------------------------------------------

    /// Whether nothing distinguishes this breaker from a new one as far as its decisions go:
    /// CLOSED, no run of failures, no ramp running, and no completed call inside the rolling
    /// window at `now`. A registry may drop such a breaker and create it afresh later (its
    /// counters and, with `jitter` on, its jitter sequence restart then).
    pub fn is_idle(&self, now: Instant) -> bool {
        self.state == State::Closed
            && self.consecutive_failures == 0
            && self.ramp.is_none()
            && self.window_counts(now).calls == 0
    }

    /// The rolling window's counts at `now`.
    pub(crate) fn window_counts(&self, now: Instant) -> WindowCounts {
        self.window.counts(self.internal(now).max(self.latest))
    }

    /// The permit [`Permit::to_bits`] encoded, admitted at `admitted` (the `now` given to the
    /// `try_acquire` that issued it), for hosts that keep the admission time themselves rather
    /// than a 128-bit [`Permit::to_token`] (wasm: a JS number holds 53 bits). With a monotonic
    /// host clock this is exactly the permit issued; never trusted, as `from_bits`.
    pub fn permit_from_bits(&self, bits: u64, admitted: Instant) -> Permit {
        let p = Permit::from_bits(bits);
        Permit {
            admitted: self.internal(admitted).min(self.latest),
            flags: p.flags | bits & TIMED,
            ..p
        }
    }

    /// Asks to run one call at `now`. Applies a due OPEN -> HALF_OPEN move first (reported by
    /// [`Permit::transition`]). Rejections change no success or failure counter.
    // Inline, with everything but CLOSED out of line: the caller then holds the permit in
    // registers instead of copying it through memory.
    #[inline]
    pub fn try_acquire(&mut self, now: Instant) -> Result<Permit, Rejection> {
        // CLOSED with no ramp and no rate rule has no timer and no policy to consult: only the
        // clock moves. No rate rule is on, so the permit is not timed (see [`Permit::to_bits`]).
        if self.state == State::Closed && self.ramp.is_none() && self.rates.is_none() {
            let now = self.tick(now);
            return Ok(Permit {
                generation: self.generation,
                moved_at: Instant::ZERO,
                admitted: now,
                flags: 0,
            });
        }
        self.try_acquire_slow(now)
    }

    /// [`try_acquire`](Self::try_acquire) in every other case.
    #[inline(never)]
    fn try_acquire_slow(&mut self, now: Instant) -> Result<Permit, Rejection> {
        let transition = self.poll_timers(now);
        // A permit keeps only the instant of the one move an admission can make.
        debug_assert!(transition.is_none_or(|t| {
            (t.from, t.to, t.reason) == (State::Open, State::HalfOpen, Reason::TimeoutElapsed)
        }));
        let now = self.latest;
        let probe = match self.state {
            State::Closed => {
                if self.ramp.is_some() && !self.ramp_admits(now) {
                    self.counters.throttled += 1;
                    return Err(Rejection::Throttled);
                }
                false
            }
            State::Open => {
                self.counters.rejected += 1;
                let retry_after = self.open_deadline().saturating_duration_since(now);
                return Err(Rejection::Open { retry_after });
            }
            State::HalfOpen if self.gate.admit(&self.settings, now) => true,
            State::HalfOpen => {
                self.counters.throttled += 1;
                return Err(Rejection::Throttled);
            }
        };
        if let Some(rates) = &mut self.rates {
            admit_in_flight(rates, now);
        }
        Ok(Permit {
            generation: self.generation,
            moved_at: transition.map_or(Instant::ZERO, |t| t.at),
            admitted: now,
            // Timed only under a rate rule: a rule switched on later judges only the calls
            // admitted while it was on, so a host need carry no admission time without one.
            flags: if self.rates.is_some() { TIMED } else { 0 }
                | if probe { PROBE } else { 0 }
                | if transition.is_some() { MOVED } else { 0 },
        })
    }

    /// The call succeeded.
    // Inline for the reason given at `try_acquire`.
    #[inline]
    pub fn on_success(&mut self, permit: Permit, now: Instant) -> Option<Transition> {
        // A current permit in CLOSED with no rate rule: what the general path below does in
        // that case, and nothing else.
        if self.state == State::Closed
            && self.rates.is_none()
            && permit.generation == self.generation
        {
            let now = self.tick(now);
            self.counters.successes += 1;
            self.window.record(now, false);
            self.consecutive_failures = 0;
            self.failure_weight = 0.0;
            return None;
        }
        self.on_success_slow(&permit, now)
    }

    /// [`on_success`](Self::on_success) in every other case.
    #[inline(never)]
    fn on_success_slow(&mut self, permit: &Permit, now: Instant) -> Option<Transition> {
        let now = self.tick(now);
        self.counters.successes += 1;
        self.window.record(now, false);
        if self.rates.is_some() {
            self.record_rates(permit, now, false);
        }
        if permit.generation != self.generation {
            return None;
        }
        match self.state {
            State::Closed => {
                self.consecutive_failures = 0;
                self.failure_weight = 0.0;
                if self.rates.is_some() {
                    self.rate_trip(now)
                } else {
                    None
                }
            }
            State::HalfOpen if permit.is_probe() => {
                self.gate.release();
                self.gate.successes += 1;
                (self.gate.successes >= self.settings.success_threshold.get())
                    .then(|| self.enter(State::Closed, Reason::ProbesSucceeded, now))
            }
            _ => None,
        }
    }

    /// The call failed. The failure is recorded (log, window, counters) whatever the permit.
    pub fn on_failure(
        &mut self,
        permit: Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> Option<Transition> {
        let now = self.tick(now);
        self.counters.failures += 1;
        self.window.record(now, true);
        if self.rates.is_some() {
            self.record_rates(&permit, now, true);
        }
        self.log.push(
            failure,
            self.settings.max_recent_failures.get() as usize,
            self.settings.max_message_bytes.get() as usize,
        );
        self.last_failure_time = Some(failure.timestamp);
        if permit.generation != self.generation {
            return None;
        }
        match self.state {
            State::Closed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let threshold = self.settings.failure_threshold.get();
                let tripped = match &self.settings.failure_weights {
                    None => self.consecutive_failures >= threshold,
                    Some(w) => {
                        self.failure_weight += w.weight(failure.error_type);
                        // The slack absorbs float error: ten failures of 0.1 make 1.
                        self.failure_weight + 1e-9 >= f64::from(threshold)
                    }
                };
                if tripped {
                    Some(self.enter(State::Open, Reason::FailureThreshold, now))
                } else if self.rates.is_some() {
                    self.rate_trip(now)
                } else {
                    None
                }
            }
            State::HalfOpen if permit.is_probe() => {
                self.gate.release();
                Some(self.enter(State::Open, Reason::ProbeFailed, now))
            }
            _ => None,
        }
    }

    /// The call ended without a verdict (cancelled, or an error the host ignores): the permit
    /// is released and nothing else is counted.
    pub fn on_neutral(&mut self, permit: Permit, now: Instant) {
        let now = self.tick(now);
        self.counters.neutral += 1;
        if let Some(rates) = &mut self.rates {
            rates.release(now, permit.admitted_at());
        }
        if permit.generation == self.generation && permit.is_probe() {
            self.gate.release();
        }
    }

    // ---- time ----------------------------------------------------------------------------

    /// Applies what time alone changes at `now`: OPEN -> HALF_OPEN once the open timeout (as
    /// configured now) has passed since the circuit entered OPEN, and in HALF_OPEN, the expiry
    /// of probe leases (which makes the lost probes' permits stale). In CLOSED, the rate rules
    /// are judged again, which is how calls still in flight past `slow_call_duration_seconds`
    /// open the circuit when no call completes. Admission does not do this last part: a
    /// refused call has no permit to report a transition on, so it is left to a poll or the
    /// next outcome.
    pub fn poll(&mut self, now: Instant) -> Option<Transition> {
        let moved = self.poll_timers(now);
        if moved.is_none() && self.state == State::Closed && self.rates.is_some() {
            return self.rate_trip(self.latest);
        }
        moved
    }

    /// The timed moves of [`poll`](Self::poll): OPEN -> HALF_OPEN and probe leases.
    fn poll_timers(&mut self, now: Instant) -> Option<Transition> {
        let now = self.tick(now);
        match self.state {
            State::Open if now >= self.open_deadline() => {
                Some(self.enter(State::HalfOpen, Reason::TimeoutElapsed, now))
            }
            State::HalfOpen if self.gate.leases_expired(&self.settings, now) => {
                self.gate.forget_in_flight();
                self.generation = self.generation.wrapping_add(1);
                None
            }
            _ => None,
        }
    }

    // ---- commands ------------------------------------------------------------------------

    /// Opens the circuit and restarts the open timer from `now`, even if already OPEN. Not
    /// sticky: the circuit half-opens after the timeout as usual.
    pub fn force_open(&mut self, now: Instant) -> Option<Transition> {
        let now = self.tick(now);
        if self.state == State::Open {
            self.opened_at = now;
            return None;
        }
        Some(self.enter(State::Open, Reason::ForcedOpen, now))
    }

    /// Closes the circuit and clears the consecutive-failure and HALF_OPEN counters; the
    /// lifetime counters stay.
    pub fn force_closed(&mut self, now: Instant) -> Option<Transition> {
        let now = self.tick(now);
        self.consecutive_failures = 0;
        self.failure_weight = 0.0;
        self.gate = HalfOpenGate::default();
        self.ramp = None;
        if let Some(rates) = &mut self.rates {
            rates.clear_completed();
        }
        (self.state != State::Closed).then(|| self.enter(State::Closed, Reason::ForcedClosed, now))
    }

    /// Back to a fresh breaker with the same config: CLOSED, every counter 0 (`state_changes`
    /// too), window and failure log emptied. Permits issued before become stale.
    pub fn reset(&mut self, now: Instant) -> Option<Transition> {
        let now = self.tick(now);
        let from = self.state;
        self.state = State::Closed;
        self.generation = self.generation.wrapping_add(1);
        self.opened_at = now;
        self.changed_at = now;
        self.consecutive_failures = 0;
        self.failure_weight = 0.0;
        self.gate = HalfOpenGate::default();
        self.window.clear();
        if self.rates.is_some() {
            self.rates = rate_window(&self.settings, now.saturating_add(Duration::from_nanos(1)));
        }
        self.log.clear();
        self.counters = Counters::default();
        self.last_failure_time = None;
        self.health = HealthHistory::default();
        self.backoff.closed();
        self.ramp = None;
        (from != State::Closed).then_some(Transition {
            from,
            to: State::Closed,
            reason: Reason::Reset,
            at: self.external(now),
        })
    }

    /// Replaces the configuration. Timers and thresholds apply from the next decision (a new
    /// `timeout_seconds` counts from when the circuit entered OPEN). A change to the window's
    /// span or bucket count starts an empty window. On error nothing changes.
    pub fn set_config(&mut self, config: Config) -> Result<(), ConfigError> {
        let settings = config.settings()?;
        let reshaped = (settings.rolling_window, settings.window_buckets)
            != (self.settings.rolling_window, self.settings.window_buckets);
        if reshaped {
            self.window = RollingWindow::new(settings.rolling_window, settings.window_buckets);
        }
        if reshaped || settings.rate_rules() != self.rates.is_some() {
            // Calls admitted until now were not counted in flight by the new window.
            self.rates = rate_window(
                &settings,
                self.latest.saturating_add(Duration::from_nanos(1)),
            );
        }
        self.log.trim(settings.max_recent_failures.get() as usize);
        if let Some(seed) = settings
            .jitter_seed
            .filter(|s| Some(*s) != self.settings.jitter_seed)
        {
            self.backoff.reseed(u64::from(seed));
        }
        self.settings = settings;
        self.config = config;
        Ok(())
    }

    // ---- the lock-free closed path (`crate::shared`) -----------------------------------------

    /// Some when, until the breaker next changes, admission is only "issue a permit of this
    /// generation, admitted at `max(now, latest)`" and a success of such a permit is only
    /// "count one success in the head bucket": CLOSED with no failure in the current run, no
    /// rate rule, ramp or failure weights, and `latest` still inside the head bucket (so that
    /// any success at or after it that lands before `head_end` lands in the head bucket, as
    /// `on_success` would put it).
    #[cfg(feature = "std")]
    pub(crate) fn closed_fast(&self) -> Option<ClosedFast> {
        let plain = self.state == State::Closed
            && self.consecutive_failures == 0
            && self.failure_weight == 0.0
            && self.rates.is_none()
            && self.ramp.is_none()
            && self.settings.failure_weights.is_none();
        let head_end = self.window.head_end();
        (plain && self.latest < head_end).then_some(ClosedFast {
            generation: self.generation,
            latest: self.latest,
            shift: self.shift,
            head_end,
        })
    }

    /// Counts `n` successes of current permits made while [`closed_fast`](Self::closed_fast)
    /// held and the breaker did not change, then moves the clock to `latest` (admissions and
    /// successes there saw no later instant, and none reached `head_end`): what those calls
    /// of `try_acquire` and `on_success` would have done.
    #[cfg(feature = "std")]
    pub(crate) fn count_closed_calls(&mut self, n: u64, latest: Instant) {
        if n > 0 {
            self.counters.successes += n;
            self.window.record_many(self.latest, n, 0);
        }
        self.latest = self.latest.max(latest);
    }

    // ---- internals -----------------------------------------------------------------------

    /// Clamps `now` to the latest instant seen, so time never runs backwards inside.
    #[inline]
    fn tick(&mut self, now: Instant) -> Instant {
        self.latest = self.latest.max(self.internal(now));
        self.latest
    }

    /// A host instant on the breaker's own timeline.
    pub(crate) fn internal(&self, now: Instant) -> Instant {
        Instant::from_nanos(now.as_nanos().saturating_add(self.shift))
    }

    /// An instant on the breaker's timeline as the host's clock reads it.
    fn external(&self, t: Instant) -> Instant {
        Instant::from_nanos(t.as_nanos().saturating_sub(self.shift))
    }

    fn open_deadline(&self) -> Instant {
        self.opened_at
            .saturating_add(self.backoff.open_time(&self.settings))
    }

    /// Records a completed call in the rate window: slow if its latency exceeds the slow-call
    /// duration.
    // Cold, with the other policy paths: with every policy off the hot path only tests an
    // `Option`, and keeping these out of line keeps it as small as before.
    #[cold]
    #[inline(never)]
    fn record_rates(&mut self, permit: &Permit, now: Instant, failed: bool) {
        let slow = match (self.settings.slow_call, permit.admitted_at()) {
            (Some(d), Some(at)) => now.saturating_duration_since(at) > d,
            _ => false,
        };
        if let Some(rates) = &mut self.rates {
            rates.record(now, permit.admitted_at(), failed, slow);
        }
    }

    /// Whether the post-close ramp admits a call offered at `now` (ending the ramp once it is
    /// over).
    #[cold]
    #[inline(never)]
    fn ramp_admits(&mut self, now: Instant) -> bool {
        let Some(ramp) = &mut self.ramp else {
            return true;
        };
        match ramp.share(&self.settings, now) {
            Some(share) => ramp.admit(share),
            None => {
                self.ramp = None;
                true
            }
        }
    }

    /// CLOSED -> OPEN if a rate rule holds at `now`: the failure rate, then slow calls (the
    /// consecutive rule was checked first).
    #[cold]
    #[inline(never)]
    fn rate_trip(&mut self, now: Instant) -> Option<Transition> {
        let s = &self.settings;
        let c = self.rates.as_ref()?.counts(now, s.slow_call);
        let enough = |calls: u64| calls >= u64::from(s.minimum_calls.get());
        let reason = if s
            .failure_rate_threshold
            .is_some_and(|t| enough(c.calls) && c.failure_rate() >= t)
        {
            Reason::FailureRate
        } else if s.slow_call.is_some()
            && enough(c.judged_for_slowness())
            && c.slow_rate() >= s.slow_call_rate_threshold
        {
            Reason::SlowCalls
        } else {
            return None;
        };
        Some(self.enter(State::Open, reason, now))
    }

    /// Moves to `to`: a new generation, a fresh HALF_OPEN gate, and the timers restarted.
    fn enter(&mut self, to: State, reason: Reason, now: Instant) -> Transition {
        let from = self.state;
        self.state = to;
        self.generation = self.generation.wrapping_add(1);
        self.counters.state_changes += 1;
        self.changed_at = now;
        self.gate = HalfOpenGate::default();
        self.ramp = (reason == Reason::ProbesSucceeded && self.settings.ramp.is_some())
            .then(|| Ramp::new(now));
        match to {
            State::Open => {
                self.opened_at = now;
                self.backoff
                    .opened(&self.settings, reason == Reason::ProbeFailed);
            }
            State::Closed => {
                self.consecutive_failures = 0;
                self.failure_weight = 0.0;
                self.backoff.closed();
                if let Some(rates) = &mut self.rates {
                    rates.clear_completed();
                }
            }
            State::HalfOpen => {}
        }
        let t = Transition {
            from,
            to,
            reason,
            at: self.external(now),
        };
        self.health.record(&t, now);
        t
    }
}

/// Counts a call admitted at `now` in flight (out of line: a policy path).
#[cold]
#[inline(never)]
fn admit_in_flight(rates: &mut RateWindow, now: Instant) {
    rates.admit(now);
}

/// The jitter generator's seed: the configured one, or else the creation instant (which
/// differs between processes, so a fleet's breakers do not draw the same jitter).
fn jitter_seed(s: &Settings, now: Instant) -> u64 {
    s.jitter_seed.map_or(now.as_nanos(), u64::from)
}

/// The window behind the rate rules, if any rule needs one, counting calls admitted from
/// `since` in flight.
fn rate_window(s: &Settings, since: Instant) -> Option<RateWindow> {
    s.rate_rules()
        .then(|| RateWindow::new(s.rolling_window, s.window_buckets, since))
}
