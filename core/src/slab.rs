//! [`Slab`]: values kept by a small, reusable index, for the registry's breakers and the
//! origin guard's loads in flight.

use alloc::vec::Vec;

/// Values by `u32` index. A removed value's index goes to the next insert, so indexes stay
/// small (a registry's path permits and an origin guard's tickets carry them) and the vector
/// never holds more slots than the most values held at once.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    pub fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Keeps `value`; its index.
    pub fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(value);
                i
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// The value at `i`, which is no longer kept.
    pub fn remove(&mut self, i: u32) -> Option<T> {
        let value = self.slots.get_mut(i as usize)?.take()?;
        self.free.push(i);
        Some(value)
    }

    pub fn get(&self, i: u32) -> Option<&T> {
        self.slots.get(i as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        self.slots.get_mut(i as usize)?.as_mut()
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_index_is_reused_and_only_live_values_count() {
        let mut s = Slab::new();
        let (a, b) = (s.insert('a'), s.insert('b'));
        assert_eq!((a, b, s.len()), (0, 1, 2));
        assert_eq!(s.remove(a), Some('a'));
        assert_eq!((s.remove(a), s.get(a), s.len()), (None, None, 1));
        assert_eq!(s.insert('c'), a);
        assert_eq!(s.iter().collect::<Vec<_>>(), [&'c', &'b']);
        assert_eq!(s.get(7), None);
    }
}
