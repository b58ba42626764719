//! [`Breaker`]: the circuit-breaker state machine. Sans-IO: every method that depends on time
//! takes `now`, and nothing here reads a clock, sleeps, spawns or does IO.

use crate::clock::Instant;
use crate::cold::{Cold, Tallies};
use crate::config::{Config, ConfigError, Profile, Settings};
use crate::half_open::HalfOpenGate;
use crate::health::{
    HealthFigures, HealthHistory, HealthReport, HealthThresholds, TransitionCounts,
};
use crate::metrics::{Failure, FailureLog, FailureRecord, Metrics};
use crate::ramp::Ramp;
use crate::rates::RateWindow;
use crate::state::{Reason, State, Transition};
use crate::window::{RollingWindow, WindowCounts};
use alloc::boxed::Box;
use alloc::sync::Arc;
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

/// A permit as an out-of-line outcome path needs it: its generation, admission instant and
/// flags, without the transition its admission made (reported already). Passed by value,
/// the three words travel in registers, where a `Permit` (four words) or a `&Permit` would
/// make the inlined fast path store the permit to memory and load it back on every call.
pub(crate) type PermitParts = (u64, Instant, u64);

impl Permit {
    #[inline(always)]
    pub(crate) fn into_parts(self) -> PermitParts {
        (self.generation, self.admitted, self.flags)
    }

    pub(crate) fn from_parts((generation, admitted, flags): PermitParts) -> Permit {
        Permit {
            generation,
            moved_at: Instant::ZERO,
            admitted,
            flags,
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

/// [`Breaker::policies`] bit: a rate rule is on (the cold part holds a rate window).
const RATES: u8 = 1;
/// [`Breaker::policies`] bit: a post-close ramp runs (the cold part holds it).
const RAMP: u8 = 2;

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
///
/// Memory: what every call touches is kept inline; the config is shared behind an `Arc`
/// (breakers made from one config share it), the rolling window is allocated on the first
/// completed call (and its ring only once calls span more than one bucket), and everything a
/// breaker that has only seen successes does not need is in one cold part allocated on first
/// use (see `crate::cold`). A new breaker allocates only its config.
#[derive(Clone, Debug)]
pub struct Breaker {
    pub(crate) profile: Arc<Profile>,
    /// `None` until a call completes (and again after [`Breaker::reset`] or
    /// [`Breaker::shrink`]): an empty window.
    pub(crate) window: Option<Box<RollingWindow>>,
    /// `None` until first needed (see `crate::cold`).
    pub(crate) cold: Option<Box<Cold>>,
    pub(crate) generation: u64,
    pub(crate) changed_at: Instant,
    pub(crate) latest: Instant,
    /// Nanoseconds added to every `now` passed in. Zero except after [`Breaker::restore`],
    /// where it lets restored history that predates the host clock's origin fit on the timeline.
    pub(crate) shift: u64,
    pub(crate) successes: u64,
    pub(crate) consecutive_failures: u32,
    pub(crate) state: State,
    /// [`RATES`] and [`RAMP`]: with neither, the hot path consults no policy.
    pub(crate) policies: u8,
}

impl Breaker {
    /// A CLOSED breaker, or the first problem with `config`.
    pub fn new(config: Config, now: Instant) -> Result<Breaker, ConfigError> {
        Ok(Breaker::with_profile(Profile::new(config)?, now))
    }

    /// A CLOSED breaker on an already validated config, shared with other breakers.
    pub(crate) fn with_profile(profile: Arc<Profile>, now: Instant) -> Breaker {
        let s = &profile.settings;
        // A rate window counts calls in flight from the start: it is there from creation.
        let cold = s.rate_rules().then(|| {
            let mut cold = new_cold(s, now);
            cold.rates = rate_window(s, now);
            cold
        });
        let mut b = Breaker {
            profile,
            window: None,
            cold,
            generation: 0,
            changed_at: now,
            latest: now,
            shift: 0,
            successes: 0,
            consecutive_failures: 0,
            state: State::Closed,
            policies: 0,
        };
        b.sync_policies();
        b
    }

    // ---- getters -------------------------------------------------------------------------

    /// The current state, without applying a due timeout (no side effects).
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.profile.config
    }

    /// A snapshot of the counters, with `failure_rate` and `time_in_current_state` at `now`.
    pub fn metrics(&self, now: Instant) -> Metrics {
        let now = self.internal(now).max(self.latest);
        let s = self.settings();
        let window = self.counts_at(now);
        let cold = self.cold.as_deref();
        let rates = cold
            .and_then(|c| c.rates.as_ref())
            .map(|r| r.counts(now, s.slow_call))
            .unwrap_or_default();
        let c = self.counters();
        let gate = self.gate();
        Metrics {
            state: self.state,
            failure_count: c.failures,
            success_count: c.successes,
            total_operations: c.successes.saturating_add(c.failures),
            failure_rate: window.failure_rate(),
            window_calls: window.calls,
            state_changes: c.state_changes,
            time_in_current_state: now.saturating_duration_since(self.changed_at),
            last_failure_time: self.last_failure_time(),
            consecutive_failures: self.consecutive_failures,
            consecutive_failure_weight: if s.failure_weights.is_some() {
                cold.map_or(0.0, |c| c.failure_weight)
            } else {
                f64::from(self.consecutive_failures)
            },
            rejected_count: c.rejected,
            throttled_count: c.throttled,
            neutral_count: c.neutral,
            half_open_admitted: gate.admitted,
            half_open_successes: gate.successes,
            half_open_in_flight: gate.in_flight,
            recent_failures_count: self.recent_failures().len() as u32,
            slow_call_count: rates.slow_calls(),
            slow_call_rate: rates.slow_rate(),
            calls_in_flight: rates.in_flight,
            open_duration: self.open_time(),
            ramp_share: cold
                .and_then(|c| c.ramp)
                .and_then(|r| r.share(s, now))
                .unwrap_or(1.0),
        }
    }

    /// The health report at `now` under `thresholds` (no side effects: a due timeout is not
    /// applied). See [`crate::HealthReport`].
    pub fn health(&self, now: Instant, thresholds: &HealthThresholds) -> HealthReport {
        let now = self.internal(now).max(self.latest);
        let window = self.counts_at(now);
        let health = self.cold.as_deref().map(|c| &c.health);
        let figures = HealthFigures {
            state: self.state,
            time_in_state: now.saturating_duration_since(self.changed_at),
            failure_rate: window.failure_rate(),
            window_calls: window.calls,
            state_changes_last_hour: health.map_or(0, |h| h.changes.count(now)),
            recovery_attempts: health.map_or(0, |h| h.recovery_attempts),
        };
        HealthReport::evaluate(figures, thresholds)
    }

    /// Transitions since creation or reset, by from, to and reason.
    pub fn transition_counts(&self) -> TransitionCounts {
        self.cold
            .as_deref()
            .map_or_else(TransitionCounts::default, |c| c.health.transitions)
    }

    /// The newest failure records, oldest first (at most `max_recent_failures`).
    pub fn recent_failures(
        &self,
    ) -> impl DoubleEndedIterator<Item = &FailureRecord> + ExactSizeIterator {
        self.cold.as_deref().map_or(&NO_FAILURES, |c| &c.log).iter()
    }

    /// The next instant at which time alone changes something: the end of the open timeout,
    /// or the expiry of the probe lease. A host that schedules calls [`poll`](Self::poll) then.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Open => Some(self.open_deadline()),
            State::HalfOpen => self.gate().lease_deadline(self.settings()),
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
            && self.policies & RAMP == 0
            && self.window_counts(now).calls == 0
    }

    /// Gives back the memory an idle breaker does not need (see [`is_idle`](Self::is_idle)):
    /// its rolling window, which is empty, is dropped, to be allocated again by the next
    /// completed call. Changes no decision, counter or metric. Returns whether it was idle.
    pub fn shrink(&mut self, now: Instant) -> bool {
        let idle = self.is_idle(now);
        if idle {
            self.window = None;
        }
        idle
    }

    /// The rolling window's counts at `now`.
    pub(crate) fn window_counts(&self, now: Instant) -> WindowCounts {
        self.counts_at(self.internal(now).max(self.latest))
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
        if self.state == State::Closed && self.policies == 0 {
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
                if self.policies & RAMP != 0 && !self.ramp_admits(now) {
                    self.cold_mut().tallies.throttled += 1;
                    return Err(Rejection::Throttled);
                }
                false
            }
            State::Open => {
                self.cold_mut().tallies.rejected += 1;
                let retry_after = self.open_deadline().saturating_duration_since(now);
                return Err(Rejection::Open { retry_after });
            }
            State::HalfOpen => {
                let (s, cold) = self.parts();
                if !cold.gate.admit(s, now) {
                    cold.tallies.throttled += 1;
                    return Err(Rejection::Throttled);
                }
                true
            }
        };
        let timed = self.policies & RATES != 0;
        if timed && let Some(rates) = self.rates_mut() {
            admit_in_flight(rates, now);
        }
        Ok(Permit {
            generation: self.generation,
            moved_at: transition.map_or(Instant::ZERO, |t| t.at),
            admitted: now,
            // Timed only under a rate rule: a rule switched on later judges only the calls
            // admitted while it was on, so a host need carry no admission time without one.
            flags: if timed { TIMED } else { 0 }
                | if probe { PROBE } else { 0 }
                | if transition.is_some() { MOVED } else { 0 },
        })
    }

    /// The call succeeded.
    // Inline for the reason given at `try_acquire` (always: without it the compiler no longer
    // inlined it once the window moved behind a pointer, and the permit went through memory).
    #[inline(always)]
    pub fn on_success(&mut self, permit: Permit, now: Instant) -> Option<Transition> {
        // A current permit in CLOSED with no rate rule: what the general path below does in
        // that case, and nothing else.
        if self.state == State::Closed
            && self.policies & RATES == 0
            && permit.generation == self.generation
        {
            let now = self.tick(now);
            self.successes += 1;
            self.record(now, false);
            if self.consecutive_failures != 0 {
                self.end_run();
            }
            return None;
        }
        self.on_success_slow(permit.into_parts(), now)
    }

    /// [`on_success`](Self::on_success) in every other case.
    #[inline(never)]
    fn on_success_slow(&mut self, permit: PermitParts, now: Instant) -> Option<Transition> {
        let permit = &Permit::from_parts(permit);
        let now = self.tick(now);
        self.successes += 1;
        self.record(now, false);
        if self.policies & RATES != 0 {
            self.record_rates(permit, now, false);
        }
        if permit.generation != self.generation {
            return None;
        }
        match self.state {
            State::Closed => {
                self.end_run();
                if self.policies & RATES != 0 {
                    self.rate_trip(now)
                } else {
                    None
                }
            }
            State::HalfOpen if permit.is_probe() => {
                let (s, cold) = self.parts();
                cold.gate.release();
                cold.gate.successes += 1;
                (cold.gate.successes >= s.success_threshold.get())
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
        self.record(now, true);
        let (s, cold) = self.parts();
        cold.tallies.failures += 1;
        cold.log.push(
            failure,
            s.max_recent_failures.get() as usize,
            s.max_message_bytes.get() as usize,
        );
        cold.last_failure_time = Some(failure.timestamp);
        if self.policies & RATES != 0 {
            self.record_rates(&permit, now, true);
        }
        if permit.generation != self.generation {
            return None;
        }
        match self.state {
            State::Closed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let run = self.consecutive_failures;
                let (s, cold) = self.parts();
                let threshold = s.failure_threshold.get();
                let tripped = match &s.failure_weights {
                    None => run >= threshold,
                    Some(w) => {
                        cold.failure_weight += w.weight(failure.error_type);
                        // The slack absorbs float error: ten failures of 0.1 make 1.
                        cold.failure_weight + 1e-9 >= f64::from(threshold)
                    }
                };
                if tripped {
                    Some(self.enter(State::Open, Reason::FailureThreshold, now))
                } else if self.policies & RATES != 0 {
                    self.rate_trip(now)
                } else {
                    None
                }
            }
            State::HalfOpen if permit.is_probe() => {
                self.cold_mut().gate.release();
                Some(self.enter(State::Open, Reason::ProbeFailed, now))
            }
            _ => None,
        }
    }

    /// The call ended without a verdict (cancelled, or an error the host ignores): the permit
    /// is released and nothing else is counted.
    pub fn on_neutral(&mut self, permit: Permit, now: Instant) {
        let now = self.tick(now);
        let current = permit.generation == self.generation;
        let cold = self.cold_mut();
        cold.tallies.neutral += 1;
        if let Some(rates) = &mut cold.rates {
            rates.release(now, permit.admitted_at());
        }
        if current && permit.is_probe() {
            cold.gate.release();
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
        if moved.is_none() && self.state == State::Closed && self.policies & RATES != 0 {
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
            State::HalfOpen if self.gate().leases_expired(self.settings(), now) => {
                self.cold_mut().gate.forget_in_flight();
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
            self.cold_mut().opened_at = now;
            return None;
        }
        Some(self.enter(State::Open, Reason::ForcedOpen, now))
    }

    /// Closes the circuit and clears the consecutive-failure and HALF_OPEN counters; the
    /// lifetime counters stay.
    pub fn force_closed(&mut self, now: Instant) -> Option<Transition> {
        let now = self.tick(now);
        self.consecutive_failures = 0;
        if let Some(cold) = self.cold.as_deref_mut() {
            cold.failure_weight = 0.0;
            cold.gate = HalfOpenGate::default();
            cold.ramp = None;
            if let Some(rates) = &mut cold.rates {
                rates.clear_completed();
            }
        }
        self.sync_policies();
        (self.state != State::Closed).then(|| self.enter(State::Closed, Reason::ForcedClosed, now))
    }

    /// Back to a fresh breaker with the same config: CLOSED, every counter 0 (`state_changes`
    /// too), window and failure log emptied. Permits issued before become stale.
    pub fn reset(&mut self, now: Instant) -> Option<Transition> {
        let now = self.tick(now);
        let from = self.state;
        // The cold part is made (if missing) before `changed_at` moves: it keeps the jitter
        // generator, seeded from the creation instant.
        let (s, cold) = self.parts();
        cold.opened_at = now;
        cold.failure_weight = 0.0;
        cold.gate = HalfOpenGate::default();
        if cold.rates.is_some() {
            cold.rates = rate_window(s, now.saturating_add(Duration::from_nanos(1)));
        }
        cold.log.clear();
        cold.tallies = Tallies::default();
        cold.last_failure_time = None;
        cold.health = HealthHistory::default();
        cold.backoff.closed();
        cold.ramp = None;
        self.state = State::Closed;
        self.generation = self.generation.wrapping_add(1);
        self.changed_at = now;
        self.consecutive_failures = 0;
        self.successes = 0;
        self.window = None;
        self.sync_policies();
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
        self.set_profile(Profile::new(config)?);
        Ok(())
    }

    /// [`set_config`](Self::set_config) with an already validated config.
    pub(crate) fn set_profile(&mut self, profile: Arc<Profile>) {
        let old = &self.profile.settings;
        let (old_seed, old_shape) = (old.jitter_seed, (old.rolling_window, old.window_buckets));
        let new = &profile.settings;
        let reshaped = (new.rolling_window, new.window_buckets) != old_shape;
        if new.jitter_seed != old_seed {
            // Made under the old config, whose seed the generator started from.
            self.cold_mut();
        }
        if reshaped {
            self.window = None;
        }
        let rates_on = self.policies & RATES != 0;
        if reshaped || new.rate_rules() != rates_on {
            // Calls admitted until now were not counted in flight by the new window.
            let rates = rate_window(new, self.latest.saturating_add(Duration::from_nanos(1)));
            if rates.is_some() || rates_on {
                self.cold_mut().rates = rates;
            }
        }
        if let Some(cold) = self.cold.as_deref_mut() {
            cold.log.trim(new.max_recent_failures.get() as usize);
            if let Some(seed) = new.jitter_seed.filter(|s| Some(*s) != old_seed) {
                cold.backoff.reseed(u64::from(seed));
            }
        }
        self.profile = profile;
        self.sync_policies();
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
            && self.cold.as_deref().is_none_or(|c| c.failure_weight == 0.0)
            && self.policies == 0
            && self.settings().failure_weights.is_none();
        // Without a window, the head bucket of the one the next record makes.
        let head_end = match self.window.as_deref() {
            Some(w) => w.head_end(),
            None => {
                let s = self.settings();
                RollingWindow::new(s.rolling_window, s.window_buckets).head_end()
            }
        };
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
            self.successes += n;
            let at = self.latest;
            self.window_mut().record_many(at, n, 0);
        }
        self.latest = self.latest.max(latest);
    }

    // ---- what the other modules read -------------------------------------------------------

    /// The lifetime counters.
    pub(crate) fn counters(&self) -> Counters {
        let t = self.cold.as_deref().map(|c| c.tallies).unwrap_or_default();
        Counters {
            successes: self.successes,
            failures: t.failures,
            rejected: t.rejected,
            throttled: t.throttled,
            neutral: t.neutral,
            state_changes: t.state_changes,
        }
    }

    /// The current HALF_OPEN episode's counters.
    pub(crate) fn gate(&self) -> HalfOpenGate {
        self.cold.as_deref().map(|c| c.gate).unwrap_or_default()
    }

    /// When the circuit last entered OPEN (or the breaker was created or reset).
    pub(crate) fn opened_at(&self) -> Instant {
        self.cold
            .as_deref()
            .map_or(self.changed_at, |c| c.opened_at)
    }

    /// The wall-clock time of the last failure.
    pub(crate) fn last_failure_time(&self) -> Option<f64> {
        self.cold.as_deref().and_then(|c| c.last_failure_time)
    }

    /// The validated config in force.
    pub(crate) fn settings(&self) -> &Settings {
        &self.profile.settings
    }

    /// The config and the cold part, made now if missing.
    pub(crate) fn parts(&mut self) -> (&Settings, &mut Cold) {
        let s = &self.profile.settings;
        let born = self.changed_at;
        let cold = self.cold.get_or_insert_with(|| new_cold(s, born));
        (s, cold)
    }

    /// The cold part, made now if missing.
    pub(crate) fn cold_mut(&mut self) -> &mut Cold {
        self.parts().1
    }

    /// The rolling window, made now if missing.
    pub(crate) fn window_mut(&mut self) -> &mut RollingWindow {
        let s = &self.profile.settings;
        self.window.get_or_insert_with(|| new_window(s))
    }

    // ---- internals -----------------------------------------------------------------------

    /// Clamps `now` to the latest instant seen, so time never runs backwards inside.
    #[inline]
    fn tick(&mut self, now: Instant) -> Instant {
        self.latest = self.latest.max(self.internal(now));
        self.latest
    }

    /// Records a completed call in the rolling window.
    #[inline]
    fn record(&mut self, now: Instant, failed: bool) {
        match &mut self.window {
            Some(w) => w.record(now, failed),
            None => self.first_record(now, failed),
        }
    }

    /// [`record`](Self::record) into a window not made yet.
    #[cold]
    #[inline(never)]
    fn first_record(&mut self, now: Instant, failed: bool) {
        self.window_mut().record(now, failed);
    }

    /// Ends the run of failures (in CLOSED, a success).
    #[inline(never)]
    fn end_run(&mut self) {
        self.consecutive_failures = 0;
        if let Some(cold) = self.cold.as_deref_mut() {
            cold.failure_weight = 0.0;
        }
    }

    /// The window's counts at `now` on the breaker's timeline.
    fn counts_at(&self, now: Instant) -> WindowCounts {
        self.window
            .as_deref()
            .map(|w| w.counts(now))
            .unwrap_or_default()
    }

    fn rates_mut(&mut self) -> Option<&mut RateWindow> {
        self.cold.as_deref_mut()?.rates.as_mut()
    }

    /// Keeps [`policies`](Self::policies) in step with the cold part.
    fn sync_policies(&mut self) {
        self.policies = self.cold.as_deref().map_or(0, |c| {
            (if c.rates.is_some() { RATES } else { 0 }) | if c.ramp.is_some() { RAMP } else { 0 }
        });
    }

    /// A host instant on the breaker's own timeline.
    pub(crate) fn internal(&self, now: Instant) -> Instant {
        Instant::from_nanos(now.as_nanos().saturating_add(self.shift))
    }

    /// An instant on the breaker's timeline as the host's clock reads it.
    fn external(&self, t: Instant) -> Instant {
        Instant::from_nanos(t.as_nanos().saturating_sub(self.shift))
    }

    /// How long the current (or last) OPEN period lasts.
    fn open_time(&self) -> Duration {
        let s = self.settings();
        self.cold
            .as_deref()
            .map_or(s.timeout, |c| c.backoff.open_time(s))
    }

    fn open_deadline(&self) -> Instant {
        self.opened_at().saturating_add(self.open_time())
    }

    /// Records a completed call in the rate window: slow if its latency exceeds the slow-call
    /// duration.
    // Cold, with the other policy paths: with every policy off the hot path only tests an
    // `Option`, and keeping these out of line keeps it as small as before.
    #[cold]
    #[inline(never)]
    fn record_rates(&mut self, permit: &Permit, now: Instant, failed: bool) {
        let slow = match (self.settings().slow_call, permit.admitted_at()) {
            (Some(d), Some(at)) => now.saturating_duration_since(at) > d,
            _ => false,
        };
        if let Some(rates) = self.rates_mut() {
            rates.record(now, permit.admitted_at(), failed, slow);
        }
    }

    /// Whether the post-close ramp admits a call offered at `now` (ending the ramp once it is
    /// over).
    #[cold]
    #[inline(never)]
    fn ramp_admits(&mut self, now: Instant) -> bool {
        let (s, cold) = self.parts();
        let Some(ramp) = &mut cold.ramp else {
            return true;
        };
        match ramp.share(s, now) {
            Some(share) => ramp.admit(share),
            None => {
                cold.ramp = None;
                self.sync_policies();
                true
            }
        }
    }

    /// CLOSED -> OPEN if a rate rule holds at `now`: the failure rate, then slow calls (the
    /// consecutive rule was checked first).
    #[cold]
    #[inline(never)]
    fn rate_trip(&mut self, now: Instant) -> Option<Transition> {
        let s = self.settings();
        let c = self
            .cold
            .as_deref()?
            .rates
            .as_ref()?
            .counts(now, s.slow_call);
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
        let at = self.external(now);
        if to == State::Closed {
            self.consecutive_failures = 0;
        }
        // The cold part is made (if missing) before `changed_at` moves (see `crate::cold`).
        let (s, cold) = self.parts();
        cold.tallies.state_changes += 1;
        cold.gate = HalfOpenGate::default();
        cold.ramp = (reason == Reason::ProbesSucceeded && s.ramp.is_some()).then(|| Ramp::new(now));
        match to {
            State::Open => {
                cold.opened_at = now;
                cold.backoff.opened(s, reason == Reason::ProbeFailed);
            }
            State::Closed => {
                cold.failure_weight = 0.0;
                cold.backoff.closed();
                if let Some(rates) = &mut cold.rates {
                    rates.clear_completed();
                }
            }
            State::HalfOpen => {}
        }
        let t = Transition {
            from,
            to,
            reason,
            at,
        };
        cold.health.record(&t, now);
        self.state = to;
        self.generation = self.generation.wrapping_add(1);
        self.changed_at = now;
        self.sync_policies();
        t
    }
}

/// The cold part of a breaker created at `born`, without a rate window (out of line: made
/// once per breaker, from many places).
#[cold]
#[inline(never)]
fn new_cold(s: &Settings, born: Instant) -> Box<Cold> {
    Box::new(Cold::new(born, None, jitter_seed(s, born)))
}

/// An empty rolling window for `s` (out of line, as `new_cold`).
#[cold]
#[inline(never)]
fn new_window(s: &Settings) -> Box<RollingWindow> {
    Box::new(RollingWindow::new(s.rolling_window, s.window_buckets))
}

/// The failure log of a breaker that has none yet.
static NO_FAILURES: FailureLog = FailureLog::new();

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
