//! The table of live breakers. JS holds a breaker as a small integer handle into this table;
//! the JS layer frees it (explicitly or through a `FinalizationRegistry`).
//!
//! Why handles and not a wasm-bindgen class: after a panic the JS layer replaces the wasm
//! instance and moves every breaker to the *same* handle in the new one ([`insert_at`]), so
//! the JS objects (and their finalisers) stay valid without being tracked one by one, while
//! a class's pointer would silently point into the new instance's memory.
//!
//! Panic containment: a call takes its breaker *out* of the table, runs, and puts it back, so
//! the table is never borrowed while core code runs. If the core panics (a trap on
//! wasm32-unknown-unknown), only that breaker is lost; the JS layer can still snapshot every
//! other breaker from the trapped instance and move it to a fresh one.
//!
//! Recovery keeps handles unique: before moving the breakers, the JS layer reserves every
//! handle it ever gave out ([`reserve`]); a reserved slot is empty but not free, so a new
//! breaker cannot take the handle of one that could not be moved (the JS object rebuilds its
//! breaker there from its config on its next call), and [`remove`] frees it.
//!
//! Footprint: a slot is one pointer (4 bytes on wasm32) to a boxed [`Breaker`] (whose window
//! is its own allocation); freed slots are reused before the table grows.

use fact_resilience_core::Breaker;
use std::cell::{Cell, RefCell};

struct Table {
    slots: Vec<Option<Box<Breaker>>>,
    free: Vec<u32>,
}

thread_local! {
    // `const`: no lazy-initialisation check on the hot path.
    static TABLE: RefCell<Table> = const { RefCell::new(Table { slots: Vec::new(), free: Vec::new() }) };
    static RETRY_AFTER_MS: Cell<f64> = const { Cell::new(0.0) };
}

/// Stores a new breaker and returns its handle.
pub fn insert(breaker: Breaker) -> u32 {
    let entry = Some(Box::new(breaker));
    TABLE.with_borrow_mut(|t| match t.free.pop() {
        Some(h) => {
            t.slots[h as usize] = entry;
            h
        }
        None => {
            t.slots.push(entry);
            (t.slots.len() - 1) as u32
        }
    })
}

/// Stores a breaker at `handle` if `handle >= 0` (growing the table; the slot must be free),
/// else anywhere; returns its handle. Moving breakers in ascending handle order keeps this
/// linear.
pub fn insert_at(breaker: Breaker, handle: i32) -> u32 {
    let Ok(h) = u32::try_from(handle) else {
        return insert(breaker);
    };
    TABLE.with_borrow_mut(|t| {
        while t.slots.len() <= h as usize {
            t.free.push(t.slots.len() as u32);
            t.slots.push(None);
        }
        t.free.retain(|&f| f != h);
        t.slots[h as usize] = Some(Box::new(breaker));
    });
    h
}

/// Grows the table to at least `len` slots; the new slots are reserved (empty, not free).
pub fn reserve(len: u32) {
    TABLE.with_borrow_mut(|t| {
        while t.slots.len() < len as usize {
            t.slots.push(None);
        }
    });
}

/// The handles in use, ascending.
pub fn handles() -> Vec<u32> {
    TABLE.with_borrow(|t| {
        (0..t.slots.len() as u32)
            .filter(|&h| t.slots[h as usize].is_some())
            .collect()
    })
}

/// Drops the breaker behind `handle` and frees its slot (a reserved one too); unknown and
/// free handles are ignored.
pub fn remove(handle: u32) {
    TABLE.with_borrow_mut(|t| {
        if let Some(slot) = t.slots.get_mut(handle as usize)
            && (slot.take().is_some() || !t.free.contains(&handle))
        {
            t.free.push(handle);
        }
    });
}

/// Runs `f` on the breaker behind `handle` (taken out of the table meanwhile), or returns
/// `None` if there is none.
pub fn with<R>(handle: u32, f: impl FnOnce(&mut Breaker) -> R) -> Option<R> {
    let mut breaker = take(handle)?;
    let r = f(&mut breaker);
    put_back(handle, breaker);
    Some(r)
}

// Out of line: one copy of the table code serves every export (size budget).
#[inline(never)]
fn take(handle: u32) -> Option<Box<Breaker>> {
    TABLE.with_borrow_mut(|t| t.slots.get_mut(handle as usize)?.take())
}

#[inline(never)]
fn put_back(handle: u32, breaker: Box<Breaker>) {
    TABLE.with_borrow_mut(|t| t.slots[handle as usize] = Some(breaker));
}

/// Number of live breakers.
pub fn len() -> usize {
    TABLE.with_borrow(|t| t.slots.len() - t.free.len())
}

/// Remembers the `retry_after` of the latest OPEN rejection (one value for all breakers: the
/// JS layer reads it right after the rejection, before any other call).
pub fn set_retry_after_ms(ms: f64) {
    RETRY_AFTER_MS.set(ms);
}

/// The `retry_after` of the latest OPEN rejection, in milliseconds.
pub fn retry_after_ms() -> f64 {
    RETRY_AFTER_MS.get()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fact_resilience_core::{Config, Instant, State};

    #[test]
    fn handles_are_reused_after_removal() {
        let a = insert(Breaker::new(Config::default(), Instant::ZERO).unwrap());
        let b = insert(Breaker::new(Config::default(), Instant::ZERO).unwrap());
        assert_ne!(a, b);
        remove(a);
        assert!(with(a, |_| ()).is_none());
        let c = insert(Breaker::new(Config::default(), Instant::ZERO).unwrap());
        assert_eq!(c, a);
        assert_eq!(with(b, |b| b.state()), Some(State::Closed));
        remove(b);
        remove(c);
        assert_eq!(len(), 0);
    }

    #[test]
    fn reserved_handles_are_not_reused_until_removed() {
        let new = || Breaker::new(Config::default(), Instant::ZERO).unwrap();
        reserve(3);
        assert_eq!(insert_at(new(), 1), 1);
        assert_eq!(insert(new()), 3, "0 and 2 are reserved");
        assert!(with(0, |_| ()).is_none());
        remove(2);
        remove(2);
        assert_eq!(insert(new()), 2);
        assert_eq!(insert(new()), 4, "2 was freed once");
        assert_eq!(insert_at(new(), 0), 0);
        for h in handles() {
            remove(h);
        }
        assert_eq!(len(), 0);
    }

    #[test]
    fn breakers_can_be_placed_at_a_given_handle() {
        // Each test thread has its own table.
        let new = || Breaker::new(Config::default(), Instant::ZERO).unwrap();
        assert_eq!(insert_at(new(), 3), 3);
        assert_eq!(insert_at(new(), 5), 5);
        assert_eq!(handles(), [3, 5]);
        // The gaps below are free and reused; -1 means anywhere.
        let mut more = [
            insert(new()),
            insert_at(new(), -1),
            insert(new()),
            insert(new()),
        ];
        more.sort_unstable();
        assert_eq!(more, [0, 1, 2, 4]);
        assert_eq!(insert(new()), 6);
        for h in handles() {
            remove(h);
        }
        assert_eq!(len(), 0);
    }
}
