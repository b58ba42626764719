//! A reference model of the breaker (docs/fact-contract.md §7 plus the core's documented choices),
//! written to be obviously right rather than fast: plain integer nanoseconds, every counter a
//! plain field, the rolling window a list of `(bucket, failed)` events filtered when read, and
//! the failure log a `Vec`. `model_equivalence.rs` drives it and the real `Breaker` with the
//! same steps; `examples/gen_vectors.rs` uses it to write the generated conformance vectors.
#![allow(dead_code)]

use fact_resilience_core::{Config, Instant, MAX_DURATION_SECONDS, Reason, State, Transition};
use std::collections::BTreeMap;
use std::time::Duration;

/// A validated config in the units the model works with.
#[derive(Clone, Debug, PartialEq)]
pub struct Knobs {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub timeout_ns: u64,
    pub window_ns: u64,
    pub buckets: u64,
    pub gradual_recovery: bool,
    pub recovery_factor: f64,
    pub max_recent_failures: usize,
    pub max_message_bytes: usize,
    pub half_open_max_in_flight: Option<u32>,
    pub probe_lease_ns: Option<u64>,
    pub failure_rate_threshold: Option<f64>,
    pub minimum_calls: u64,
    pub slow_call_ns: Option<u64>,
    pub slow_call_rate_threshold: f64,
    pub open_backoff_multiplier: f64,
    pub max_timeout_ns: Option<u64>,
    pub jitter: f64,
    pub jitter_seed: Option<u32>,
    pub ramp_ns: Option<u64>,
    /// Failure weights by kind; empty: every failure weighs 1.
    pub weights: BTreeMap<String, f64>,
}

impl Knobs {
    /// Whether a rate rule is on (and so the rate events are kept).
    fn rates(&self) -> bool {
        self.failure_rate_threshold.is_some() || self.slow_call_ns.is_some()
    }
}

/// Seconds as whole nanoseconds (at least 1), or `None` if the value is not allowed.
fn seconds_to_ns(s: f64) -> Option<u64> {
    if s.is_nan() || s <= 0.0 || s > MAX_DURATION_SECONDS {
        return None;
    }
    let ns = Duration::try_from_secs_f64(s).ok()?.as_nanos();
    if ns == 0 { None } else { Some(ns as u64) }
}

/// Checks the fields in declaration order; the first bad one is named.
pub fn check(c: &Config) -> Result<Knobs, &'static str> {
    if c.failure_threshold == 0 {
        return Err("failure_threshold");
    }
    if c.success_threshold == 0 {
        return Err("success_threshold");
    }
    let timeout_ns = seconds_to_ns(c.timeout_seconds).ok_or("timeout_seconds")?;
    let window_ns = seconds_to_ns(c.rolling_window_seconds).ok_or("rolling_window_seconds")?;
    if c.window_buckets == 0 || c.window_buckets > 4096 {
        return Err("window_buckets");
    }
    if !(c.recovery_factor >= 0.001 && c.recovery_factor <= 1.0) {
        return Err("recovery_factor");
    }
    if c.max_recent_failures == 0 {
        return Err("max_recent_failures");
    }
    if c.max_message_bytes == 0 {
        return Err("max_message_bytes");
    }
    if c.half_open_max_in_flight == Some(0) {
        return Err("half_open_max_in_flight");
    }
    let probe_lease_ns = match c.probe_lease_seconds {
        None => None,
        Some(s) => Some(seconds_to_ns(s).ok_or("probe_lease_seconds")?),
    };
    let share = |v: f64| v > 0.0 && v <= 1.0;
    if c.failure_rate_threshold.is_some_and(|v| !share(v)) {
        return Err("failure_rate_threshold");
    }
    if c.minimum_calls == 0 {
        return Err("minimum_calls");
    }
    let slow_call_ns = match c.slow_call_duration_seconds {
        None => None,
        Some(s) => Some(seconds_to_ns(s).ok_or("slow_call_duration_seconds")?),
    };
    if !share(c.slow_call_rate_threshold) {
        return Err("slow_call_rate_threshold");
    }
    if !(c.open_backoff_multiplier >= 1.0 && c.open_backoff_multiplier <= 1000.0) {
        return Err("open_backoff_multiplier");
    }
    let max_timeout_ns = match c.max_timeout_seconds {
        None => None,
        Some(s) => Some(seconds_to_ns(s).ok_or("max_timeout_seconds")?),
    };
    if !(c.jitter >= 0.0 && c.jitter <= 1.0) {
        return Err("jitter");
    }
    if c.jitter_seed == Some(0) {
        return Err("jitter_seed");
    }
    let weights: BTreeMap<String, f64> = c
        .failure_weights
        .iter()
        .map(|(k, w)| (k.to_owned(), w))
        .collect();
    let ramp_ns = if c.ramp_seconds == 0.0 {
        None
    } else {
        Some(seconds_to_ns(c.ramp_seconds).ok_or("ramp_seconds")?)
    };
    if weights.values().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err("failure_weights");
    }
    Ok(Knobs {
        failure_threshold: c.failure_threshold,
        success_threshold: c.success_threshold,
        timeout_ns,
        window_ns,
        buckets: u64::from(c.window_buckets),
        gradual_recovery: c.gradual_recovery,
        recovery_factor: c.recovery_factor,
        max_recent_failures: c.max_recent_failures as usize,
        max_message_bytes: c.max_message_bytes as usize,
        half_open_max_in_flight: c.half_open_max_in_flight,
        probe_lease_ns,
        failure_rate_threshold: c.failure_rate_threshold,
        minimum_calls: u64::from(c.minimum_calls),
        slow_call_ns,
        slow_call_rate_threshold: c.slow_call_rate_threshold,
        open_backoff_multiplier: c.open_backoff_multiplier,
        max_timeout_ns,
        jitter: c.jitter,
        jitter_seed: c.jitter_seed,
        ramp_ns,
        weights,
    })
}

/// A permit as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelPermit {
    pub generation: u64,
    pub probe: bool,
    pub transition: Option<Transition>,
    pub admitted_at: Option<u64>,
}

impl ModelPermit {
    /// The permit a `Permit::from_bits(bits)` stands for.
    pub fn from_bits(bits: u64) -> Self {
        ModelPermit {
            generation: bits >> 2,
            probe: bits & 1 == 1,
            transition: None,
            admitted_at: None,
        }
    }
}

/// The answer to `try_acquire`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Admitted(ModelPermit),
    Open { retry_after_ns: u64 },
    Throttled,
}

/// One failure-log entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub timestamp: f64,
    pub error_type: String,
    pub error_message: String,
    pub operation: String,
}

/// Everything `Breaker::metrics` reports, in model units.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub state: State,
    pub failure_count: u64,
    pub success_count: u64,
    pub total_operations: u64,
    pub failure_rate: f64,
    pub window_calls: u64,
    pub state_changes: u64,
    pub time_in_current_state_ns: u64,
    pub last_failure_time: Option<f64>,
    pub consecutive_failures: u32,
    pub rejected_count: u64,
    pub throttled_count: u64,
    pub neutral_count: u64,
    pub half_open_admitted: u32,
    pub half_open_successes: u32,
    pub half_open_in_flight: u32,
    pub recent_failures_count: u32,
    pub slow_call_count: u64,
    pub slow_call_rate: f64,
    pub calls_in_flight: u64,
    pub open_duration_ns: u64,
    pub ramp_share: f64,
    pub consecutive_failure_weight: f64,
}

/// The reference breaker.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: Config,
    pub knobs: Knobs,
    pub state: State,
    pub generation: u64,
    pub opened_at: u64,
    pub changed_at: u64,
    pub latest: u64,
    pub consecutive_failures: u32,
    // The HALF_OPEN episode: all zero outside HALF_OPEN.
    pub attempts: u32,
    pub admitted: u32,
    pub probe_successes: u32,
    pub in_flight: u32,
    pub newest_probe_at: u64,
    /// Every completed call as `(bucket, failed)`; filtered by age when read.
    pub events: Vec<(u64, bool)>,
    /// The events the rate rules judge: kept only while a rate rule is on, emptied whenever
    /// the circuit closes.
    pub rate_events: Vec<(u64, bool, bool)>,
    /// The admission instant of every call the rate rules count in flight.
    pub flights: Vec<u64>,
    /// Calls admitted before this were not counted in flight (see `RateWindow::since`).
    pub rates_since: u64,
    pub log: Vec<Record>,
    pub successes: u64,
    pub failures: u64,
    pub rejected: u64,
    pub throttled: u64,
    pub neutral: u64,
    pub state_changes: u64,
    pub last_failure_time: Option<f64>,
    /// The backoff: `multiplier ^ failed probes` since the last close, the jitter's cut of
    /// this open time, and the splitmix64 state.
    pub factor: f64,
    pub cut: f64,
    pub rng: u64,
    /// The post-close ramp: (closed at, calls offered, calls admitted).
    pub ramp: Option<(u64, u32, u32)>,
    /// The summed weights of the run of failures (with weights set).
    pub failure_weight: f64,
}

/// splitmix64, written from its definition.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e3779b97f4a7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

impl Model {
    pub fn new(config: Config, now: u64) -> Result<Model, &'static str> {
        let knobs = check(&config)?;
        let rng = knobs.jitter_seed.map_or(now, u64::from);
        Ok(Model {
            config,
            knobs,
            state: State::Closed,
            generation: 0,
            opened_at: now,
            changed_at: now,
            latest: now,
            consecutive_failures: 0,
            attempts: 0,
            admitted: 0,
            probe_successes: 0,
            in_flight: 0,
            newest_probe_at: 0,
            events: Vec::new(),
            rate_events: Vec::new(),
            flights: Vec::new(),
            rates_since: now,
            log: Vec::new(),
            successes: 0,
            failures: 0,
            rejected: 0,
            throttled: 0,
            neutral: 0,
            state_changes: 0,
            last_failure_time: None,
            factor: 1.0,
            cut: 0.0,
            rng,
            ramp: None,
            failure_weight: 0.0,
        })
    }

    // ---- reading -------------------------------------------------------------------------

    pub fn state(&self) -> State {
        self.state
    }

    fn bucket_width(&self) -> u64 {
        self.knobs.window_ns.div_ceil(self.knobs.buckets).max(1)
    }

    /// `(calls, failures)` still inside the window at `now`.
    pub fn window(&self, now: u64) -> (u64, u64) {
        let events: Vec<(u64, bool, bool)> =
            self.events.iter().map(|&(b, f)| (b, f, false)).collect();
        self.live(&events, now)
    }

    fn current_bucket(&self, now: u64) -> u64 {
        now.max(self.latest) / self.bucket_width()
    }

    /// The admission instants of calls in flight whose bucket is inside the window.
    fn live_flights(&self, now: u64) -> Vec<u64> {
        let current = self.current_bucket(now);
        let w = self.bucket_width();
        self.flights
            .iter()
            .copied()
            .filter(|a| current - a / w < self.knobs.buckets)
            .collect()
    }

    /// `(slow, judged)`: completed slow calls plus calls in flight whose whole admission
    /// bucket is older than the duration, over completed calls plus those.
    fn slow_counts(&self, now: u64) -> (u64, u64) {
        let Some(d) = self.knobs.slow_call_ns else {
            return (0, 0);
        };
        let now = now.max(self.latest);
        let w = self.bucket_width();
        let current = self.current_bucket(now);
        let live: Vec<&(u64, bool, bool)> = self
            .rate_events
            .iter()
            .filter(|(b, _, _)| current - b < self.knobs.buckets)
            .collect();
        let overdue = self
            .live_flights(now)
            .iter()
            .filter(|a| (u128::from(*a / w) + 1) * u128::from(w) + u128::from(d) <= u128::from(now))
            .count() as u64;
        let slow = live.iter().filter(|e| e.2).count() as u64;
        (slow + overdue, live.len() as u64 + overdue)
    }

    fn live(&self, events: &[(u64, bool, bool)], now: u64) -> (u64, u64) {
        let current = self.current_bucket(now);
        let live: Vec<bool> = events
            .iter()
            .filter(|(bucket, _, _)| current - bucket < self.knobs.buckets)
            .map(|&(_, failed, _)| failed)
            .collect();
        let failures = live.iter().filter(|&&failed| failed).count() as u64;
        (live.len() as u64, failures)
    }

    pub fn snapshot(&self, now: u64) -> Snapshot {
        let now = now.max(self.latest);
        let (calls, failed) = self.window(now);
        let (slow, judged) = self.slow_counts(now);
        Snapshot {
            state: self.state,
            failure_count: self.failures,
            success_count: self.successes,
            total_operations: self.successes + self.failures,
            failure_rate: if calls == 0 {
                0.0
            } else {
                failed as f64 / calls as f64
            },
            window_calls: calls,
            state_changes: self.state_changes,
            time_in_current_state_ns: now - self.changed_at,
            last_failure_time: self.last_failure_time,
            consecutive_failures: self.consecutive_failures,
            rejected_count: self.rejected,
            throttled_count: self.throttled,
            neutral_count: self.neutral,
            half_open_admitted: self.admitted,
            half_open_successes: self.probe_successes,
            half_open_in_flight: self.in_flight,
            recent_failures_count: self.log.len() as u32,
            slow_call_count: slow,
            slow_call_rate: if judged == 0 {
                0.0
            } else {
                slow as f64 / judged as f64
            },
            calls_in_flight: self.live_flights(now).len() as u64,
            open_duration_ns: self.open_time_ns(),
            ramp_share: self.ramp_share(now).unwrap_or(1.0),
            consecutive_failure_weight: if self.knobs.weights.is_empty() {
                f64::from(self.consecutive_failures)
            } else {
                self.failure_weight
            },
        }
    }

    pub fn recent_failures(&self) -> &[Record] {
        &self.log
    }

    /// The ramp's share at `now`, while a ramp runs.
    fn ramp_share(&self, now: u64) -> Option<f64> {
        let (since, _, _) = self.ramp?;
        let ramp_ns = self.knobs.ramp_ns?;
        let elapsed = now.max(self.latest).saturating_sub(since);
        let rf = self.knobs.recovery_factor;
        (elapsed < ramp_ns).then(|| rf + (1.0 - rf) * (elapsed as f64 / ramp_ns as f64))
    }

    fn open_deadline(&self) -> u64 {
        self.opened_at.saturating_add(self.open_time_ns())
    }

    /// `timeout * factor`, capped (never below the timeout), cut by the jitter; the timeout
    /// itself while there is no backoff and no cut.
    fn open_time_ns(&self) -> u64 {
        if self.factor == 1.0 && self.cut == 0.0 {
            return self.knobs.timeout_ns;
        }
        let base = Duration::from_nanos(self.knobs.timeout_ns).as_secs_f64();
        let mut secs = base * self.factor;
        if let Some(cap) = self.knobs.max_timeout_ns {
            secs = secs.min(Duration::from_nanos(cap).as_secs_f64());
        }
        secs = secs.max(base).min(MAX_DURATION_SECONDS) * (1.0 - self.cut);
        match Duration::try_from_secs_f64(secs) {
            Ok(d) if d.as_nanos() > 0 => d.as_nanos() as u64,
            _ => 1,
        }
    }

    fn lease_deadline(&self) -> Option<u64> {
        match self.knobs.probe_lease_ns {
            Some(lease) if self.in_flight > 0 => Some(self.newest_probe_at.saturating_add(lease)),
            _ => None,
        }
    }

    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::Closed => None,
            State::Open => Some(self.open_deadline()),
            State::HalfOpen => self.lease_deadline(),
        }
    }

    // ---- inputs --------------------------------------------------------------------------

    fn tick(&mut self, now: u64) -> u64 {
        if now > self.latest {
            self.latest = now;
        }
        self.latest
    }

    fn enter(&mut self, to: State, reason: Reason, now: u64) -> Transition {
        let from = self.state;
        self.state = to;
        self.generation = self.generation.wrapping_add(1);
        self.state_changes += 1;
        self.changed_at = now;
        self.attempts = 0;
        self.admitted = 0;
        self.probe_successes = 0;
        self.in_flight = 0;
        self.newest_probe_at = 0;
        self.ramp = (reason == Reason::ProbesSucceeded && self.knobs.ramp_ns.is_some())
            .then_some((now, 0, 0));
        if to == State::Open {
            self.opened_at = now;
            if reason == Reason::ProbeFailed {
                self.factor = (self.factor * self.knobs.open_backoff_multiplier).min(1e18);
            }
            self.cut = if self.knobs.jitter > 0.0 {
                let u = (splitmix64(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64;
                self.knobs.jitter * u
            } else {
                0.0
            };
        }
        if to == State::Closed {
            self.factor = 1.0;
            self.cut = 0.0;
            self.consecutive_failures = 0;
            self.failure_weight = 0.0;
            self.rate_events.clear();
        }
        Transition {
            from,
            to,
            reason,
            at: Instant::from_nanos(now),
        }
    }

    /// The timed moves, then in CLOSED the rate rules (admission does only the timed moves).
    pub fn poll(&mut self, now: u64) -> Option<Transition> {
        let moved = self.poll_timers(now);
        if moved.is_none() && self.state == State::Closed && self.knobs.rates() {
            return self.rate_trip(self.latest);
        }
        moved
    }

    fn poll_timers(&mut self, now: u64) -> Option<Transition> {
        let now = self.tick(now);
        if self.state == State::Open && now >= self.open_deadline() {
            return Some(self.enter(State::HalfOpen, Reason::TimeoutElapsed, now));
        }
        if self.state == State::HalfOpen && self.lease_deadline().is_some_and(|d| now >= d) {
            // Lost probes: their slots are freed and their permits become stale.
            self.in_flight = 0;
            self.generation = self.generation.wrapping_add(1);
        }
        None
    }

    pub fn try_acquire(&mut self, now: u64) -> Decision {
        let transition = self.poll_timers(now);
        let now = self.latest;
        let admitted = |m: &mut Model, probe| {
            if m.knobs.rates() && now >= m.rates_since {
                m.flights.push(now);
            }
            Decision::Admitted(ModelPermit {
                generation: m.generation,
                probe,
                transition,
                // Timed only while a rate rule is on: a rule switched on later judges only the
                // calls admitted under it.
                admitted_at: m.knobs.rates().then_some(now),
            })
        };
        match self.state {
            State::Closed => {
                if let Some((since, attempts, taken)) = self.ramp {
                    match self.ramp_share(now) {
                        Some(share) => {
                            let attempts = attempts.saturating_add(1);
                            let quota = (f64::from(attempts) * share - 1e-9).ceil();
                            if taken != 0 && f64::from(taken) >= quota {
                                self.ramp = Some((since, attempts, taken));
                                self.throttled += 1;
                                return Decision::Throttled;
                            }
                            self.ramp = Some((since, attempts, taken.saturating_add(1)));
                        }
                        None => self.ramp = None,
                    }
                }
                admitted(self, false)
            }
            State::Open => {
                self.rejected += 1;
                Decision::Open {
                    retry_after_ns: self.open_deadline().saturating_sub(now),
                }
            }
            State::HalfOpen => {
                if self.admit_probe(now) {
                    admitted(self, true)
                } else {
                    self.throttled += 1;
                    Decision::Throttled
                }
            }
        }
    }

    /// The HALF_OPEN gate: the in-flight cap first (not counted as an attempt), then the
    /// deterministic quota `admitted < ceil(attempts * factor - 1e-9)`, the first always.
    fn admit_probe(&mut self, now: u64) -> bool {
        let at_cap = self
            .knobs
            .half_open_max_in_flight
            .is_some_and(|cap| self.in_flight >= cap);
        if at_cap {
            return false;
        }
        if self.knobs.gradual_recovery {
            self.attempts = self.attempts.saturating_add(1);
            let quota = (f64::from(self.attempts) * self.knobs.recovery_factor - 1e-9).ceil();
            let first = self.admitted == 0;
            if !first && f64::from(self.admitted) >= quota {
                return false;
            }
        }
        self.admitted = self.admitted.saturating_add(1);
        self.in_flight = self.in_flight.saturating_add(1);
        self.newest_probe_at = now;
        true
    }

    fn record(&mut self, permit: &ModelPermit, now: u64, failed: bool) {
        let bucket = now / self.bucket_width();
        self.events.push((bucket, failed));
        if self.knobs.rates() {
            self.land(permit.admitted_at, now);
            let slow = match (self.knobs.slow_call_ns, permit.admitted_at) {
                (Some(d), Some(at)) => now - at > d,
                _ => false,
            };
            self.rate_events.push((bucket, failed, slow));
        }
    }

    /// A call admitted at `admitted` is no longer in flight: one in-flight call of its bucket
    /// goes, if it was counted and its bucket is still in the window.
    fn land(&mut self, admitted: Option<u64>, now: u64) {
        let Some(a) = admitted.filter(|a| *a >= self.rates_since) else {
            return;
        };
        let w = self.bucket_width();
        if self.current_bucket(now) - a / w >= self.knobs.buckets {
            return;
        }
        let live = self.live_flights(now);
        if let Some(i) = self
            .flights
            .iter()
            .position(|f| f / w == a / w && live.contains(f))
        {
            self.flights.remove(i);
        }
    }

    /// Opens the circuit if the failure rate since it closed reached the threshold over at
    /// least `minimum_calls` calls.
    fn rate_trip(&mut self, now: u64) -> Option<Transition> {
        if let Some(threshold) = self.knobs.failure_rate_threshold {
            let (calls, failures) = self.live(&self.rate_events, now);
            if calls >= self.knobs.minimum_calls && failures as f64 / calls as f64 >= threshold {
                return Some(self.enter(State::Open, Reason::FailureRate, now));
            }
        }
        self.slow_trip(now)
    }

    /// The slow-call rule: slow calls (completed or overdue) over the calls it judges.
    fn slow_trip(&mut self, now: u64) -> Option<Transition> {
        self.knobs.slow_call_ns?;
        let (slow, judged) = self.slow_counts(now);
        if judged >= self.knobs.minimum_calls
            && slow as f64 / judged as f64 >= self.knobs.slow_call_rate_threshold
        {
            Some(self.enter(State::Open, Reason::SlowCalls, now))
        } else {
            None
        }
    }

    pub fn on_success(&mut self, permit: ModelPermit, now: u64) -> Option<Transition> {
        let now = self.tick(now);
        self.successes += 1;
        self.record(&permit, now, false);
        if permit.generation != self.generation {
            return None;
        }
        match self.state {
            State::Closed => {
                self.consecutive_failures = 0;
                self.failure_weight = 0.0;
                self.rate_trip(now)
            }
            State::HalfOpen if permit.probe => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.probe_successes += 1;
                if self.probe_successes >= self.knobs.success_threshold {
                    Some(self.enter(State::Closed, Reason::ProbesSucceeded, now))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    pub fn on_failure(
        &mut self,
        permit: ModelPermit,
        error_type: &str,
        error_message: &str,
        operation: &str,
        timestamp: f64,
        now: u64,
    ) -> Option<Transition> {
        let now = self.tick(now);
        self.failures += 1;
        self.record(&permit, now, true);
        let max = self.knobs.max_message_bytes;
        self.log.push(Record {
            timestamp,
            error_type: cut(error_type, max),
            error_message: cut(error_message, max),
            operation: cut(operation, max),
        });
        while self.log.len() > self.knobs.max_recent_failures {
            self.log.remove(0);
        }
        self.last_failure_time = Some(timestamp);
        if permit.generation != self.generation {
            return None;
        }
        match self.state {
            State::Closed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let tripped = if self.knobs.weights.is_empty() {
                    self.consecutive_failures >= self.knobs.failure_threshold
                } else {
                    let w = self
                        .knobs
                        .weights
                        .get(error_type)
                        .or(self.knobs.weights.get("default"));
                    self.failure_weight += w.copied().unwrap_or(1.0);
                    self.failure_weight + 1e-9 >= f64::from(self.knobs.failure_threshold)
                };
                if tripped {
                    Some(self.enter(State::Open, Reason::FailureThreshold, now))
                } else {
                    self.rate_trip(now)
                }
            }
            State::HalfOpen if permit.probe => {
                Some(self.enter(State::Open, Reason::ProbeFailed, now))
            }
            _ => None,
        }
    }

    pub fn on_neutral(&mut self, permit: ModelPermit, now: u64) {
        let now = self.tick(now);
        if self.knobs.rates() {
            self.land(permit.admitted_at, now);
        }
        self.neutral += 1;
        if permit.generation == self.generation && permit.probe {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }

    // ---- commands ------------------------------------------------------------------------

    pub fn force_open(&mut self, now: u64) -> Option<Transition> {
        let now = self.tick(now);
        if self.state == State::Open {
            self.opened_at = now;
            None
        } else {
            Some(self.enter(State::Open, Reason::ForcedOpen, now))
        }
    }

    pub fn force_closed(&mut self, now: u64) -> Option<Transition> {
        let now = self.tick(now);
        self.consecutive_failures = 0;
        self.failure_weight = 0.0;
        self.rate_events.clear();
        self.ramp = None;
        self.attempts = 0;
        self.admitted = 0;
        self.probe_successes = 0;
        self.in_flight = 0;
        self.newest_probe_at = 0;
        if self.state == State::Closed {
            None
        } else {
            Some(self.enter(State::Closed, Reason::ForcedClosed, now))
        }
    }

    pub fn reset(&mut self, now: u64) -> Option<Transition> {
        let now = self.tick(now);
        let from = self.state;
        let fresh = Model::new(self.config.clone(), now).expect("the config in force is valid");
        let generation = self.generation.wrapping_add(1);
        *self = Model {
            generation,
            latest: now,
            rates_since: now.saturating_add(1),
            rng: self.rng, // a reset keeps the generator going
            ..fresh
        };
        if from == State::Closed {
            None
        } else {
            Some(Transition {
                from,
                to: State::Closed,
                reason: Reason::Reset,
                at: Instant::from_nanos(now),
            })
        }
    }

    pub fn set_config(&mut self, config: Config) -> Result<(), &'static str> {
        let knobs = check(&config)?;
        let reshaped =
            (knobs.window_ns, knobs.buckets) != (self.knobs.window_ns, self.knobs.buckets);
        if reshaped {
            self.events.clear();
        }
        if reshaped || knobs.rates() != self.knobs.rates() {
            self.rate_events.clear();
            self.flights.clear();
            self.rates_since = self.latest.saturating_add(1);
        }
        while self.log.len() > knobs.max_recent_failures {
            self.log.remove(0);
        }
        if knobs.jitter_seed.is_some() && knobs.jitter_seed != self.knobs.jitter_seed {
            self.rng = knobs.jitter_seed.map_or(0, u64::from);
        }
        self.knobs = knobs;
        self.config = config;
        Ok(())
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub fn cut(s: &str, max: usize) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if out.len() + ch.len_utf8() > max {
            break;
        }
        out.push(ch);
    }
    out
}
