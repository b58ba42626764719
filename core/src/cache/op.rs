//! The vocabulary of a cache call: operations (also the manager calls that carry them out),
//! what each answers while degraded, and the kinds of outcome a host reports.

use crate::metrics::Failure;

/// A cache operation, as FACT's `ResilientCacheWrapper` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CacheOp {
    /// Read one key (`get`).
    Get = 0,
    /// Write one key (`store`; JS `put`).
    Store = 1,
    /// Remove one key (`invalidate`; JS `delete`).
    Invalidate = 2,
    /// Remove every key under a prefix (`invalidate_by_prefix`).
    InvalidateByPrefix = 3,
}

/// The value a degraded call answers with, by operation (FACT's `fallback_responses`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fallback {
    /// `True`: a store "succeeded" (it was skipped and its key remembered).
    Stored = 0,
    /// `None` / `undefined`: a read misses.
    Missing = 1,
    /// `0`: an invalidation removed nothing.
    Zero = 2,
}

impl Fallback {
    /// Every fallback, in code order (`as u8`).
    pub const ALL: [Fallback; 3] = [Fallback::Stored, Fallback::Missing, Fallback::Zero];

    /// The name bindings use (`stored`, `missing`, `zero`).
    pub fn name(self) -> &'static str {
        match self {
            Fallback::Stored => "stored",
            Fallback::Missing => "missing",
            Fallback::Zero => "zero",
        }
    }
}

impl CacheOp {
    /// Every operation, in code order.
    pub const ALL: [CacheOp; 4] = [
        CacheOp::Get,
        CacheOp::Store,
        CacheOp::Invalidate,
        CacheOp::InvalidateByPrefix,
    ];

    /// The operation with this code (`op as u8`), if any.
    pub fn from_code(code: u8) -> Option<CacheOp> {
        CacheOp::ALL.get(usize::from(code)).copied()
    }

    /// The operation's name as the breaker records it.
    pub fn name(self) -> &'static str {
        match self {
            CacheOp::Get => "get",
            CacheOp::Store => "store",
            CacheOp::Invalidate => "invalidate",
            CacheOp::InvalidateByPrefix => "invalidate_by_prefix",
        }
    }

    /// The key of this operation's entry in FACT's `fallback_responses`
    /// (`invalidate_by_prefix` shares `"invalidate"`).
    pub fn fallback_key(self) -> &'static str {
        match self {
            CacheOp::Get => "get",
            CacheOp::Store => "store",
            CacheOp::Invalidate | CacheOp::InvalidateByPrefix => "invalidate",
        }
    }

    /// What this operation answers while degraded, unless the host's table overrides it.
    pub fn fallback(self) -> Fallback {
        match self {
            CacheOp::Get => Fallback::Missing,
            CacheOp::Store => Fallback::Stored,
            CacheOp::Invalidate | CacheOp::InvalidateByPrefix => Fallback::Zero,
        }
    }

    /// Whether the operation changes the cache, so that not completing it may leave a stale
    /// value behind.
    pub fn writes(self) -> bool {
        !matches!(self, CacheOp::Get)
    }
}

/// Why a call was answered with the fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FallbackReason {
    /// The circuit is OPEN.
    Open = 0,
    /// The circuit is HALF_OPEN and the call was not chosen as a probe.
    Throttled = 1,
    /// Another call is invalidating this key right now; the cache cannot be trusted for it.
    Flushing = 2,
    /// The cache failed or timed out (the breaker counted it).
    Failed = 3,
    /// The call never reached the cache: the client had no capacity.
    Shed = 4,
}

impl FallbackReason {
    /// Every reason, in code order (`as u8`).
    pub const ALL: [FallbackReason; 5] = [
        FallbackReason::Open,
        FallbackReason::Throttled,
        FallbackReason::Flushing,
        FallbackReason::Failed,
        FallbackReason::Shed,
    ];

    /// The name bindings use (`open`, `throttled`, `flushing`, `failed`, `shed`).
    pub fn name(self) -> &'static str {
        match self {
            FallbackReason::Open => "open",
            FallbackReason::Throttled => "throttled",
            FallbackReason::Flushing => "flushing",
            FallbackReason::Failed => "failed",
            FallbackReason::Shed => "shed",
        }
    }
}

/// How a cache call ended, as the host observed it.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// The cache answered (a miss is a success).
    Success,
    /// The cache raised an error: a breaker failure.
    Failure(Failure<'a>),
    /// The cache took too long: a breaker failure, counted apart.
    Timeout(Failure<'a>),
    /// The call never reached the cache because the client had no capacity (every connection
    /// slot busy): neutral for the breaker, answered with the fallback.
    Shed,
    /// The caller gave up (cancellation, abort) or the error is one the user declared neutral:
    /// neutral for the breaker, and the error propagates.
    Cancelled,
}

impl Outcome<'_> {
    /// The outcome's kind, without its failure record.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Success => OutcomeKind::Success,
            Outcome::Failure(_) => OutcomeKind::Failure,
            Outcome::Timeout(_) => OutcomeKind::Timeout,
            Outcome::Shed => OutcomeKind::Shed,
            Outcome::Cancelled => OutcomeKind::Cancelled,
        }
    }
}

/// An [`Outcome`] without its failure record, for hosts that pass outcomes by name or code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OutcomeKind {
    /// See [`Outcome::Success`].
    Success = 0,
    /// See [`Outcome::Failure`].
    Failure = 1,
    /// See [`Outcome::Timeout`].
    Timeout = 2,
    /// See [`Outcome::Shed`].
    Shed = 3,
    /// See [`Outcome::Cancelled`].
    Cancelled = 4,
}

impl OutcomeKind {
    /// Every kind, in code order.
    pub const ALL: [OutcomeKind; 5] = [
        OutcomeKind::Success,
        OutcomeKind::Failure,
        OutcomeKind::Timeout,
        OutcomeKind::Shed,
        OutcomeKind::Cancelled,
    ];

    /// The kind's name (`"success"`, `"failure"`, `"timeout"`, `"shed"`, `"cancelled"`).
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Success => "success",
            OutcomeKind::Failure => "failure",
            OutcomeKind::Timeout => "timeout",
            OutcomeKind::Shed => "shed",
            OutcomeKind::Cancelled => "cancelled",
        }
    }

    /// The kind with this name, if any.
    pub fn from_name(name: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind with this code (`kind as u8`), if any.
    pub fn from_code(code: u8) -> Option<OutcomeKind> {
        OutcomeKind::ALL.get(usize::from(code)).copied()
    }

    /// The outcome of this kind; `failure` is the record for a failure or a timeout.
    pub fn with(self, failure: Failure<'_>) -> Outcome<'_> {
        match self {
            OutcomeKind::Success => Outcome::Success,
            OutcomeKind::Failure => Outcome::Failure(failure),
            OutcomeKind::Timeout => Outcome::Timeout(failure),
            OutcomeKind::Shed => Outcome::Shed,
            OutcomeKind::Cancelled => Outcome::Cancelled,
        }
    }
}
