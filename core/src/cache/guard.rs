//! [`CacheGuard`]: one policy for cache calls, carried out by every binding.
//!
//! Invariants: each admitted call holds exactly one live slot until [`CacheGuard::end`] frees
//! it, so a ticket is single-use and a forged or spent one is refused without touching the
//! breaker; at most one flush is in flight, and while it is, calls for the keys it covers are
//! answered with the fallback (degraded) instead of reading a value it is about to remove.

use super::admission::Admission;
use super::op::{CacheOp, Fallback, FallbackReason, Outcome};
use super::policy::{Capabilities, StaleKeys};
use crate::breaker::Rejection;
use crate::clock::Instant;
use crate::pending::{Flush, Overflow, PendingInvalidations};
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::Borrow;

/// The most calls a guard tracks in flight at once; one more is shed. It keeps a ticket
/// within 53 bits, so JS carries it as an exact number.
pub const MAX_IN_FLIGHT: usize = 1 << 20;

/// One admitted cache call, from [`CacheGuard::begin`]; pass it to [`CacheGuard::end`] once.
#[must_use = "report the call's outcome with CacheGuard::end"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

impl Ticket {
    /// The ticket as one integer below 2^53, for hosts that pass it through an FFI boundary.
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// The ticket [`Ticket::to_bits`] encoded. A forged value is refused by
    /// [`CacheGuard::end`], never trusted.
    pub fn from_bits(bits: u64) -> Ticket {
        Ticket(bits)
    }

    fn new(index: usize, seq: u32) -> Ticket {
        Ticket((index as u64) << 32 | u64::from(seq))
    }

    fn index(self) -> usize {
        (self.0 >> 32) as usize
    }

    fn seq(self) -> u32 {
        self.0 as u32
    }
}

/// What the host does with a cache call, from [`CacheGuard::begin`].
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Begin<K> {
    /// Call `method`. If `flush` is given, invalidate it first (keys with
    /// [`CacheOp::Invalidate`], everything with [`CacheOp::InvalidateByPrefix`]
    /// on the manager's own prefix), then call [`CacheGuard::flushed`]; a failing flush is
    /// the call's failure.
    Run {
        /// Report the outcome with this.
        ticket: Ticket,
        /// The manager call that carries the operation out (see [`CacheGuard::method`]).
        method: CacheOp,
        /// What to invalidate before the call, inside its permit.
        flush: Option<Flush<K>>,
    },
    /// Answer with the operation's fallback without calling the cache.
    Fallback {
        /// The default value (the host's `fallback_responses` may override it).
        fallback: Fallback,
        /// Why.
        reason: FallbackReason,
    },
    /// Raise the rejection as the breaker's error (degradation is off).
    Refuse(Rejection),
}

/// What the host answers once a call ended, from [`CacheGuard::end`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum End {
    /// Return the cache's value unchanged.
    Value,
    /// Return `true` for a store (the host may keep a literal `false` from the manager).
    Stored,
    /// Return the operation's fallback.
    Fallback {
        /// The default value.
        fallback: Fallback,
        /// Why.
        reason: FallbackReason,
    },
    /// Raise the error the call ended with, unchanged.
    Raise,
}

/// A ticket that is not a call in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// Spent already, or never issued by this guard.
    #[error("ticket {ticket} is not a cache call in flight (already ended, or never issued)")]
    UnknownTicket {
        /// The ticket's bits.
        ticket: u64,
    },
}

/// The guard's counters, beside the breaker's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheCounters {
    /// Calls answered with a fallback (refused, failed, shed or waiting out a flush).
    pub fallbacks: u64,
    /// Calls that never reached the cache for lack of client capacity.
    pub shed: u64,
    /// Calls that failed by timing out (also counted as breaker failures).
    pub timeouts: u64,
    /// Calls cancelled or ended by a neutral error.
    pub cancelled: u64,
    /// Flushes handed out.
    pub flushes: u64,
    /// Flushes that failed (their keys stayed pending).
    pub flush_failures: u64,
    /// Keys waiting to be invalidated (not counting a flush in flight).
    pub pending_keys: u64,
    /// Whether the next flush invalidates everything.
    pub pending_all: bool,
    /// Keys dropped because the pending set was full and the cache cannot be flushed whole.
    pub dropped_keys: u64,
    /// Calls in flight.
    pub in_flight: u64,
}

/// A call in flight.
#[derive(Debug)]
struct Call<K, P> {
    /// Its admission's permit (for a breaker, the permit's token).
    permit: P,
    op: CacheOp,
    degrade: bool,
    /// This call carries the flush in flight and has not confirmed it yet.
    flushing: bool,
    /// The key of a write, kept only when the policy may need to remember it.
    key: Option<K>,
}

/// A reusable place for a call; `seq` tells its successive calls apart.
#[derive(Debug)]
struct Slot<K, P> {
    seq: u32,
    call: Option<Call<K, P>>,
}

/// The cache layer's state beside one breaker (or one [`Registry`](crate::Registry), whose
/// paths admit calls through [`Registry::path`](crate::Registry::path); `P` is then its
/// [`PathPermit`](crate::PathPermit)): the stale-key policy, the keys pending invalidation,
/// the flush in flight, the calls in flight and the counters.
///
/// ```
/// use fact_resilience_core::{
///     Begin, Breaker, CacheGuard, CacheOp, Capabilities, Config, End, Failure, Instant,
///     Outcome, StaleKeysOption,
/// };
///
/// let now = Instant::ZERO;
/// let mut breaker = Breaker::new(Config { failure_threshold: 1, ..Config::default() }, now).unwrap();
/// let caps = Capabilities { per_key: true, flush_all: false };
/// let policy = StaleKeysOption::Auto.resolve(caps).unwrap();
/// let mut guard: CacheGuard = CacheGuard::new(policy, caps, 1024);
///
/// // A store fails: the fallback answers, the circuit opens, the key is remembered.
/// let Begin::Run { ticket, .. } = guard.begin(&mut breaker, CacheOp::Store, Some("k"), true, now).0
/// else { unreachable!() };
/// let failure = Failure { error_type: "ConnectionError", error_message: "down", operation: "store", timestamp: 0.0 };
/// let (end, _) = guard.end(&mut breaker, ticket, Outcome::Failure(failure), now).unwrap();
/// assert!(matches!(end, End::Fallback { .. }));
/// assert_eq!(guard.counters().pending_keys, 1);
///
/// // After the timeout, the next admitted call first invalidates "k".
/// let later = now.saturating_add(core::time::Duration::from_secs(60));
/// let (begin, _) = guard.begin(&mut breaker, CacheOp::Get, Some("other"), true, later);
/// let Begin::Run { ticket, method, flush: Some(flush) } = begin else { unreachable!() };
/// assert_eq!(method, CacheOp::Get);
/// assert!(flush.covers("k"));
/// guard.flushed(ticket).unwrap();
/// assert_eq!(guard.end(&mut breaker, ticket, Outcome::Success, later).unwrap().0, End::Value);
/// ```
#[derive(Debug)]
pub struct CacheGuard<K = String, P = u128> {
    policy: StaleKeys,
    caps: Capabilities,
    pending: PendingInvalidations<K>,
    in_flight: Option<Flush<K>>,
    slots: Vec<Slot<K, P>>,
    free: Vec<usize>,
    live: usize,
    counters: CacheCounters,
}

impl<K: Ord + Clone, P> CacheGuard<K, P> {
    /// A guard with `policy` for a cache that can do `caps`, remembering at most `capacity`
    /// keys (beyond it: a full flush if the cache can be flushed whole, else the key is
    /// dropped and counted).
    pub fn new(policy: StaleKeys, caps: Capabilities, capacity: usize) -> Self {
        let overflow = if caps.flush_all {
            Overflow::FlushAll
        } else {
            Overflow::Drop
        };
        CacheGuard {
            policy,
            caps,
            pending: PendingInvalidations::with_overflow(capacity, overflow),
            in_flight: None,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            counters: CacheCounters::default(),
        }
    }

    /// The stale-key policy in force.
    pub fn policy(&self) -> StaleKeys {
        self.policy
    }

    /// What the cache can do, as declared.
    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// The most keys remembered before overflowing.
    pub fn capacity(&self) -> usize {
        self.pending.capacity()
    }

    /// A new policy (the host swapped the cache manager); the pending keys are forgotten,
    /// since they belong to the old cache.
    pub fn set_policy(&mut self, policy: StaleKeys, caps: Capabilities) {
        *self = CacheGuard {
            slots: core::mem::take(&mut self.slots),
            free: core::mem::take(&mut self.free),
            live: self.live,
            counters: self.counters,
            ..CacheGuard::new(policy, caps, self.pending.capacity())
        };
    }

    /// Whether anything waits to be invalidated: keys or a full flush pending, or a flush in
    /// flight (a host that must rebuild this guard then calls [`assume_stale`](Self::assume_stale)
    /// on the new one).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.in_flight.is_some()
    }

    /// The host lost track of what was pending (its copy of this guard did not survive a
    /// fault): under a policy that remembers, the next admitted call flushes everything, or,
    /// for a cache that cannot be flushed whole, the loss is counted as a dropped key.
    pub fn assume_stale(&mut self) {
        if self.policy != StaleKeys::Off {
            self.pending.remember_all();
        }
    }

    /// Forgets every pending invalidation (the host flushed the cache itself).
    pub fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// The counters, with the pending set's size.
    pub fn counters(&self) -> CacheCounters {
        CacheCounters {
            pending_keys: self.pending.len() as u64,
            pending_all: self.pending.overflowed(),
            dropped_keys: self.pending.dropped(),
            in_flight: self.live as u64,
            ..self.counters
        }
    }

    /// The manager method that carries `op` out on this cache: an `invalidate` on a cache
    /// that cannot remove one key removes the key as a prefix (FACT's wrapper did so).
    pub fn method(&self, op: CacheOp) -> CacheOp {
        match op {
            CacheOp::Invalidate if !self.caps.per_key => CacheOp::InvalidateByPrefix,
            op => op,
        }
    }

    /// Asks what to do with one call of `op` on `key` (`None` for a prefix invalidation) at
    /// `now`, admitted by `gate` (a [`Breaker`](crate::Breaker), or a registry's path).
    /// `degrade`: answer with fallbacks instead of raising. Also returns the transitions
    /// admission caused (OPEN -> HALF_OPEN), for the host's listeners.
    pub fn begin<Q, A>(
        &mut self,
        gate: &mut A,
        op: CacheOp,
        key: Option<&Q>,
        degrade: bool,
        now: Instant,
    ) -> (Begin<K>, A::Moved)
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
        A: Admission<Permit = P>,
    {
        if self.live >= MAX_IN_FLIGHT {
            self.skipped(op, key);
            return (
                self.refused(op, Rejection::Throttled, FallbackReason::Shed, degrade),
                A::Moved::default(),
            );
        }
        let (permit, transition) = match gate.try_acquire(now) {
            Ok(admitted) => admitted,
            Err((rejection, moved)) => {
                self.skipped(op, key);
                let reason = match rejection {
                    Rejection::Open { .. } => FallbackReason::Open,
                    Rejection::Throttled => FallbackReason::Throttled,
                };
                return (self.refused(op, rejection, reason, degrade), moved);
            }
        };
        // While a flush is in flight this call cannot take the pending keys, so a key that is
        // being flushed, or was remembered after that batch was taken, must wait as well.
        let covered = match (&self.in_flight, key) {
            (Some(flush), Some(k)) => flush.covers(k) || self.pending.covers(k),
            (Some(flush), None) => matches!(flush, Flush::All) || self.pending.overflowed(),
            (None, _) => false,
        };
        if covered && degrade {
            gate.on_neutral(permit, now);
            self.skipped(op, key);
            self.counters.fallbacks += 1;
            let fallback = Begin::Fallback {
                fallback: op.fallback(),
                reason: FallbackReason::Flushing,
            };
            return (fallback, transition);
        }
        let flush = if self.in_flight.is_none() {
            self.pending.take()
        } else {
            None
        };
        if let Some(batch) = &flush {
            self.in_flight = Some(batch.clone());
            self.counters.flushes += 1;
        }
        let kept_key = match (self.policy, op.writes(), key) {
            (StaleKeys::PerKey, true, Some(k)) => Some(k.to_owned()),
            _ => None,
        };
        let ticket = self.occupy(Call {
            permit,
            op,
            degrade,
            flushing: flush.is_some(),
            key: kept_key,
        });
        let run = Begin::Run {
            ticket,
            method: self.method(op),
            flush,
        };
        (run, transition)
    }

    /// The flush handed out with `ticket` succeeded: its keys are no longer pending.
    pub fn flushed(&mut self, ticket: Ticket) -> Result<(), GuardError> {
        let call = self.call_mut(ticket)?;
        if core::mem::replace(&mut call.flushing, false) {
            self.in_flight = None;
        }
        Ok(())
    }

    /// Reports how the call behind `ticket` ended, at `now`, to the `gate` that admitted it,
    /// and says what to answer. Also returns the transitions the outcome caused, for the
    /// host's listeners.
    pub fn end<A: Admission<Permit = P>>(
        &mut self,
        gate: &mut A,
        ticket: Ticket,
        outcome: Outcome<'_>,
        now: Instant,
    ) -> Result<(End, A::Moved), GuardError> {
        let slot = self.vacate(ticket)?;
        // A flush the host never confirmed is where a failure came from: the call's own work
        // runs only after its flush succeeded.
        let flush_failed = slot.flushing;
        if slot.flushing {
            // The call ran after its flush only if the flush succeeded; any other ending may
            // have come from the flush itself, so its keys stay pending.
            if let Some(batch) = self.in_flight.take() {
                if matches!(outcome, Outcome::Success) {
                    drop(batch);
                } else {
                    self.counters.flush_failures += 1;
                    self.pending.restore(batch);
                }
            }
        }
        let permit = slot.permit;
        let (end, transition) = match outcome {
            Outcome::Success => {
                let t = gate.on_success(permit, now);
                let end = if slot.op == CacheOp::Store {
                    End::Stored
                } else {
                    End::Value
                };
                (end, t)
            }
            Outcome::Failure(failure) | Outcome::Timeout(failure) => {
                if matches!(outcome, Outcome::Timeout(_)) {
                    self.counters.timeouts += 1;
                }
                let t = if flush_failed {
                    gate.on_flush_failure(permit, &failure, now)
                } else {
                    gate.on_failure(permit, &failure, now)
                };
                (
                    self.degraded(slot.op, FallbackReason::Failed, slot.degrade),
                    t,
                )
            }
            Outcome::Shed => {
                gate.on_neutral(permit, now);
                self.counters.shed += 1;
                (
                    self.degraded(slot.op, FallbackReason::Shed, slot.degrade),
                    A::Moved::default(),
                )
            }
            Outcome::Cancelled => {
                gate.on_neutral(permit, now);
                self.counters.cancelled += 1;
                (End::Raise, A::Moved::default())
            }
        };
        if !matches!(outcome, Outcome::Success) {
            self.remember(slot.op, slot.key.as_ref());
        }
        Ok((end, transition))
    }

    // ---- internals ------------------------------------------------------------------------

    fn refused(
        &mut self,
        op: CacheOp,
        rejection: Rejection,
        reason: FallbackReason,
        degrade: bool,
    ) -> Begin<K> {
        if reason == FallbackReason::Shed {
            self.counters.shed += 1;
        }
        if degrade {
            self.counters.fallbacks += 1;
            Begin::Fallback {
                fallback: op.fallback(),
                reason,
            }
        } else {
            Begin::Refuse(rejection)
        }
    }

    fn degraded(&mut self, op: CacheOp, reason: FallbackReason, degrade: bool) -> End {
        if degrade {
            self.counters.fallbacks += 1;
            End::Fallback {
                fallback: op.fallback(),
                reason,
            }
        } else {
            End::Raise
        }
    }

    /// A write that never reached the cache.
    fn skipped<Q>(&mut self, op: CacheOp, key: Option<&Q>)
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        if !op.writes() {
            return;
        }
        match (self.policy, key) {
            (StaleKeys::Off, _) => {}
            (StaleKeys::PerKey, Some(k)) if op != CacheOp::InvalidateByPrefix => {
                self.pending.remember(k);
            }
            // A skipped prefix invalidation, or the prefix policy: flush everything.
            _ => self.pending.remember_all(),
        }
    }

    /// A write that was admitted but did not complete.
    fn remember(&mut self, op: CacheOp, key: Option<&K>) {
        self.skipped::<K>(op, key);
    }

    fn occupy(&mut self, call: Call<K, P>) -> Ticket {
        self.live += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index];
            slot.seq = slot.seq.wrapping_add(1);
            slot.call = Some(call);
            return Ticket::new(index, slot.seq);
        }
        self.slots.push(Slot {
            seq: 0,
            call: Some(call),
        });
        Ticket::new(self.slots.len() - 1, 0)
    }

    fn call_mut(&mut self, ticket: Ticket) -> Result<&mut Call<K, P>, GuardError> {
        match self.slots.get_mut(ticket.index()) {
            Some(Slot {
                seq,
                call: Some(call),
            }) if *seq == ticket.seq() => Ok(call),
            _ => Err(GuardError::UnknownTicket {
                ticket: ticket.to_bits(),
            }),
        }
    }

    fn vacate(&mut self, ticket: Ticket) -> Result<Call<K, P>, GuardError> {
        let unknown = GuardError::UnknownTicket {
            ticket: ticket.to_bits(),
        };
        let slot = self.slots.get_mut(ticket.index()).ok_or(unknown)?;
        if slot.seq != ticket.seq() {
            return Err(unknown);
        }
        let call = slot.call.take().ok_or(unknown)?;
        self.free.push(ticket.index());
        self.live -= 1;
        Ok(call)
    }
}
