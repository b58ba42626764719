//! Core objects by handle, for the exports that keep one per JS object (cache guards,
//! registries, origin guards). The JS layer picks the handles: it tracks every object to
//! recreate it at the same handle after a panic replaced the wasm instance.
//!
//! An object is taken out of its table while core code runs and put back after, so no table
//! is borrowed across a call that might trap: a panic loses only that object. Taking and
//! putting back are out of line, one copy per table for every export (size budget).

use std::cell::RefCell;
use std::thread::LocalKey;

/// A table of objects by handle (`None`: free, or taken out while it runs).
pub type Slots<T> = RefCell<Vec<Option<Box<T>>>>;

/// Runs `f` on the object behind `handle` in `table`, or answers `None` if there is none.
pub fn with<T: 'static, R>(
    table: &'static LocalKey<Slots<T>>,
    handle: u32,
    f: impl FnOnce(&mut T) -> R,
) -> Option<R> {
    let mut object = take(table, handle)?;
    let r = f(&mut object);
    put(table, handle, object);
    Some(r)
}

/// Takes the object behind `handle` out of `table` (freeing it, unless put back).
#[inline(never)]
pub fn take<T: 'static>(table: &'static LocalKey<Slots<T>>, handle: u32) -> Option<Box<T>> {
    table.with_borrow_mut(|t| t.get_mut(handle as usize)?.take())
}

/// Puts `object` at `handle` in `table`, growing it as needed.
#[inline(never)]
pub fn put<T: 'static>(table: &'static LocalKey<Slots<T>>, handle: u32, object: Box<T>) {
    table.with_borrow_mut(|t| {
        if t.len() <= handle as usize {
            t.resize_with(handle as usize + 1, || None);
        }
        t[handle as usize] = Some(object);
    });
}
