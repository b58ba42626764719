//! The cache layer's decisions: what a cache call's outcome means, when a fallback is served,
//! which writes to remember, and when and how to invalidate them.
//!
//! A [`CacheGuard`] sits beside a [`Breaker`](crate::Breaker) (which it borrows per call, so a
//! breaker can be shared by several caches). A host carries out one cache call in three steps:
//!
//! 1. [`CacheGuard::begin`] with the operation and its key. The answer is a [`Begin`]:
//!    *run* (make the manager call [`CacheGuard::method`] names, after invalidating the [`Flush`] it may hand
//!    out, inside the same permit), *fallback* (answer with [`CacheOp::fallback`] without
//!    calling the cache), or *refuse* (raise the [`Rejection`](crate::Rejection) as an error).
//! 2. If a flush was handed out and it succeeded, [`CacheGuard::flushed`].
//! 3. [`CacheGuard::end`] with the [`Outcome`]; the answer ([`End`]) says whether to return the
//!    cache's value, `true` (a store), the fallback, or raise the error.
//!
//! Which writes are remembered depends on the [`StaleKeys`] policy, resolved once from what the
//! cache can do ([`Capabilities`]) and what the user asked for ([`StaleKeysOption`]): a cache
//! that can invalidate one key gets per-key protection; a prefix-only cache (FACT's
//! `CacheManager`) gets none unless the user opts in to flushing the whole prefix, because
//! flushing it after every skipped write throws away what was stored during recovery.

mod admission;
mod guard;
mod op;
mod policy;

pub use admission::{Admission, Admitted, RegistryGate, RegistryPath};
pub use guard::{Begin, CacheCounters, CacheGuard, End, GuardError, Ticket};
pub use op::{CacheOp, Fallback, FallbackReason, Outcome, OutcomeKind};
pub use policy::{Capabilities, StaleKeys, StaleKeysError, StaleKeysOption};
