//! Pending invalidations: the cache keys whose write or invalidation did not complete, to be
//! invalidated before the cache is trusted again.
//!
//! While a circuit is open (or the cache fails and a fallback is served), a `store` or an
//! `invalidate` never reaches the cache, so the cache may still hold an old value for a key
//! whose source of truth changed meanwhile. The [`CacheGuard`](crate::CacheGuard) remembers
//! each such key here and, on the next call the breaker admits, hands them out to be flushed
//! (per key, or everything after an overflow) before that call runs. If the flush fails, the
//! batch is put back with [`PendingInvalidations::restore`], so nothing is forgotten until a
//! flush has succeeded.
//!
//! Invariant: at most `capacity` distinct keys are held. What happens to one key more depends
//! on what the cache can do: with [`Overflow::FlushAll`] the keys are dropped and the overflow
//! flag set (the next flush must invalidate everything); with [`Overflow::Drop`] (a cache that
//! cannot be flushed whole) the new key is dropped and counted in
//! [`PendingInvalidations::dropped`]. Taking a batch empties the set and clears the flag;
//! restoring merges it back under the same rules.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::Borrow;

/// What a flush must invalidate, as handed out by [`PendingInvalidations::take`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Flush<K = String> {
    /// These keys, each once, in ascending order.
    Keys(Vec<K>),
    /// Everything: more keys were skipped than the capacity holds, or a prefix
    /// invalidation was skipped.
    All,
}

impl<K: Ord> Flush<K> {
    /// Whether flushing this batch invalidates `key`.
    pub fn covers<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self {
            Flush::All => true,
            Flush::Keys(keys) => keys.binary_search_by(|k| k.borrow().cmp(key)).is_ok(),
        }
    }
}

/// What to do with a key that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the keys held and flush everything next time (the cache can be flushed whole).
    FlushAll,
    /// Drop the new key and count it (the cache can only invalidate one key at a time).
    Drop,
}

/// A bounded set of keys awaiting invalidation, with an overflow flag.
///
/// ```
/// use fact_resilience_core::{Flush, PendingInvalidations};
///
/// let mut pending = PendingInvalidations::<String>::new(2);
/// pending.remember("a");
/// pending.remember("a"); // kept once
/// assert_eq!(pending.len(), 1);
///
/// // The flush failed: put the batch back, nothing is lost.
/// let batch = pending.take().unwrap();
/// assert_eq!(batch, Flush::Keys(vec!["a".into()]));
/// assert!(pending.is_empty());
/// pending.restore(batch);
///
/// pending.remember("b");
/// pending.remember("c"); // a third key does not fit: flush everything instead
/// assert!(pending.overflowed());
/// assert_eq!(pending.take(), Some(Flush::All));
/// assert_eq!(pending.take(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInvalidations<K = String> {
    keys: BTreeSet<K>,
    capacity: usize,
    overflow: Overflow,
    overflowed: bool,
    dropped: u64,
}

impl<K: Ord> Default for PendingInvalidations<K> {
    fn default() -> Self {
        Self::with_overflow(0, Overflow::FlushAll)
    }
}

impl<K: Ord> PendingInvalidations<K> {
    /// An empty set that holds at most `capacity` keys (0: every skip overflows), and flushes
    /// everything once more keys were skipped.
    pub fn new(capacity: usize) -> Self {
        Self::with_overflow(capacity, Overflow::FlushAll)
    }

    /// An empty set that holds at most `capacity` keys and treats one more as `overflow` says.
    pub fn with_overflow(capacity: usize, overflow: Overflow) -> Self {
        PendingInvalidations {
            keys: BTreeSet::new(),
            capacity,
            overflow,
            overflowed: false,
            dropped: 0,
        }
    }

    /// The most keys held before overflowing.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys held (0 after an overflow).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Nothing to flush: no key held and no overflow.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && !self.overflowed
    }

    /// Whether the next flush must invalidate everything.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Keys dropped because they did not fit and the cache cannot be flushed whole
    /// ([`Overflow::Drop`]): each may be served stale until it expires.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether a flush of this set would invalidate `key`: it is held, or the set overflowed.
    pub fn covers<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.overflowed || self.keys.contains(key)
    }

    /// Remembers `key`. A key already held, or any key after an overflow, changes nothing.
    /// Returns `false` if the key is not held on its own: the set is (now) overflowed, or the
    /// key was dropped.
    pub fn remember<Q>(&mut self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        if self.overflowed {
            return false;
        }
        if self.keys.contains(key) {
            return true;
        }
        self.insert(key.to_owned())
    }

    fn insert(&mut self, key: K) -> bool {
        if self.keys.len() < self.capacity {
            self.keys.insert(key);
            return true;
        }
        self.remember_all();
        false
    }

    /// Marks everything for invalidation (for a skipped prefix invalidation, or an overflow);
    /// the keys held are dropped, since a full flush covers them. With [`Overflow::Drop`] the
    /// cache cannot be flushed whole, so this is counted as a dropped key instead.
    pub fn remember_all(&mut self) {
        match self.overflow {
            Overflow::FlushAll => {
                self.overflowed = true;
                self.keys.clear();
            }
            Overflow::Drop => self.dropped = self.dropped.saturating_add(1),
        }
    }

    /// Hands out everything pending and empties the set; `None` if there is nothing to flush.
    pub fn take(&mut self) -> Option<Flush<K>> {
        if self.overflowed {
            self.overflowed = false;
            self.keys.clear();
            return Some(Flush::All);
        }
        if self.keys.is_empty() {
            return None;
        }
        Some(Flush::Keys(
            core::mem::take(&mut self.keys).into_iter().collect(),
        ))
    }

    /// Puts back a batch whose flush failed, merged with anything remembered since, under the
    /// same capacity rule.
    pub fn restore(&mut self, flush: Flush<K>) {
        match flush {
            Flush::All => self.remember_all(),
            Flush::Keys(keys) => {
                for key in keys {
                    if self.overflowed {
                        break;
                    }
                    if !self.keys.contains(&key) {
                        self.insert(key);
                    }
                }
            }
        }
    }

    /// Forgets everything (keys and overflow).
    pub fn clear(&mut self) {
        self.keys.clear();
        self.overflowed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn keys(xs: &[&str]) -> Flush {
        Flush::Keys(xs.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn starts_empty_and_take_gives_nothing() {
        let mut p = PendingInvalidations::<String>::new(4);
        assert!(p.is_empty());
        assert!(!p.overflowed());
        assert_eq!(p.take(), None);
    }

    #[test]
    fn remembers_each_key_once_and_take_drains_them() {
        let mut p = PendingInvalidations::<String>::new(4);
        assert!(p.remember("b"));
        assert!(p.remember("a"));
        assert!(p.remember("b"));
        assert_eq!(p.len(), 2);
        assert_eq!(p.take(), Some(keys(&["a", "b"])));
        assert!(p.is_empty());
        assert_eq!(p.take(), None);
    }

    #[test]
    fn a_key_beyond_capacity_overflows_into_a_full_flush() {
        let mut p = PendingInvalidations::<String>::new(2);
        assert!(p.remember("a"));
        assert!(p.remember("b"));
        assert!(p.remember("a"), "a held key does not count again");
        assert!(!p.remember("c"));
        assert!(p.overflowed());
        assert_eq!(p.len(), 0);
        assert!(!p.remember("d"), "after an overflow nothing is kept");
        assert_eq!(p.take(), Some(Flush::All));
        assert!(p.is_empty() && !p.overflowed());
    }

    #[test]
    fn zero_capacity_overflows_on_the_first_key() {
        let mut p = PendingInvalidations::<String>::new(0);
        assert!(!p.remember("a"));
        assert_eq!(p.take(), Some(Flush::All));
    }

    #[test]
    fn remember_all_drops_keys_and_forces_a_full_flush() {
        let mut p = PendingInvalidations::<String>::new(8);
        p.remember("a");
        p.remember_all();
        assert!(!p.is_empty());
        assert_eq!(p.take(), Some(Flush::All));
    }

    #[test]
    fn restore_puts_a_failed_batch_back_merged_with_newer_keys() {
        let mut p = PendingInvalidations::<String>::new(4);
        p.remember("a");
        p.remember("b");
        let batch = p.take().unwrap();
        p.remember("c");
        p.remember("a");
        p.restore(batch);
        assert_eq!(p.take(), Some(keys(&["a", "b", "c"])));
    }

    #[test]
    fn restore_overflows_when_the_merge_does_not_fit() {
        let mut p = PendingInvalidations::<String>::new(2);
        p.remember("a");
        p.remember("b");
        let batch = p.take().unwrap();
        p.remember("c");
        p.restore(batch);
        assert!(p.overflowed());
        assert_eq!(p.take(), Some(Flush::All));
    }

    #[test]
    fn restore_of_a_full_flush_keeps_the_overflow() {
        let mut p = PendingInvalidations::<String>::new(2);
        p.remember_all();
        let batch = p.take().unwrap();
        p.remember("x");
        p.restore(batch);
        assert!(p.overflowed());
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn without_a_full_flush_a_key_beyond_capacity_is_dropped_and_counted() {
        let mut p = PendingInvalidations::<String>::with_overflow(2, Overflow::Drop);
        assert!(p.remember("a"));
        assert!(p.remember("b"));
        assert!(!p.remember("c"));
        assert!(!p.overflowed());
        assert_eq!(p.dropped(), 1);
        assert_eq!(p.take(), Some(keys(&["a", "b"])));
    }

    #[test]
    fn flush_covers_its_keys_or_everything() {
        assert!(keys(&["a", "c"]).covers("c"));
        assert!(!keys(&["a", "c"]).covers("b"));
        assert!(Flush::<String>::All.covers("b"));
    }

    #[test]
    fn keys_of_any_ordered_type_are_kept_as_given() {
        let mut p: PendingInvalidations<Vec<u8>> = PendingInvalidations::new(4);
        p.remember(&b"k"[..]);
        assert_eq!(p.take(), Some(Flush::Keys(vec![b"k".to_vec()])));
    }

    #[test]
    fn clear_forgets_keys_and_overflow() {
        let mut p = PendingInvalidations::<String>::new(1);
        p.remember("a");
        p.remember("b");
        p.clear();
        assert!(p.is_empty());
        assert_eq!(p.capacity(), 1);
        p.remember("z");
        assert_eq!(p.take(), Some(Flush::Keys(vec!["z".to_string()])));
    }
}
