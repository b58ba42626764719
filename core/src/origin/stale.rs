//! [`StaleStore`]: which keys have a recently served value the host keeps, and where.
//!
//! The values themselves stay in the host (a Python object, a JS value): the store decides
//! which slot of the host's fixed-size array holds each key's value, when a value is too old
//! to serve, and when it must be forgotten. Slots are reused in the order they were filled,
//! so the store is bounded and every operation is O(log n).

use crate::clock::Instant;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::time::Duration;

#[derive(Debug)]
pub(crate) struct StaleStore<K> {
    max_age: Duration,
    /// Slot -> the key whose value it holds and when that value was served.
    slots: Vec<Option<(K, Instant)>>,
    capacity: usize,
    /// The slot to fill next when a new key arrives.
    next: usize,
    index: BTreeMap<K, u32>,
}

impl<K: Ord + Clone> StaleStore<K> {
    pub(crate) fn new(max_age: Duration, capacity: usize) -> Self {
        StaleStore {
            max_age,
            slots: Vec::new(),
            capacity,
            next: 0,
            index: BTreeMap::new(),
        }
    }

    /// A value for `key` was served at `now`: the slot the host stores it in.
    pub(crate) fn remember<Q>(&mut self, key: &Q, now: Instant) -> u32
    where
        K: Borrow<Q>,
        Q: Ord + alloc::borrow::ToOwned<Owned = K> + ?Sized,
    {
        if let Some(&slot) = self.index.get(key) {
            if let Some((_, at)) = &mut self.slots[slot as usize] {
                *at = now;
            }
            return slot;
        }
        let slot = self.next;
        self.next = (self.next + 1) % self.capacity;
        let entry = Some((key.to_owned(), now));
        if slot == self.slots.len() {
            self.slots.push(entry);
        } else if let Some((old, _)) = core::mem::replace(&mut self.slots[slot], entry) {
            self.index.remove::<K>(&old);
        }
        self.index.insert(key.to_owned(), slot as u32);
        slot as u32
    }

    /// The slot of `key`'s value and its age, if it is young enough to serve at `now`.
    pub(crate) fn fresh<Q>(&self, key: &Q, now: Instant) -> Option<(u32, Duration)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let slot = *self.index.get(key)?;
        let (_, at) = self.slots[slot as usize].as_ref()?;
        let age = now.saturating_duration_since(*at);
        (age <= self.max_age).then_some((slot, age))
    }

    /// Forgets `key`'s value (a write to it was seen); returns the slot the host may clear.
    pub(crate) fn forget<Q>(&mut self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let slot = self.index.remove(key)?;
        self.slots[slot as usize] = None;
        Some(slot)
    }

    /// Forgets every value (a prefix or the whole cache was invalidated).
    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.slots.iter_mut().for_each(|s| *s = None);
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }
}
