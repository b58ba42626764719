//! [`OriginGuard`]: protecting the source of truth behind the cache while the cache is down.
//!
//! When the cache breaker opens, every read becomes a miss and goes to the origin (FACT: the
//! model and the database): the breaker protects the cache and shifts the whole load onto the
//! origin. This guard decides, for a host that loads misses through it, how to spare the
//! origin:
//!
//! - **Single-flight**: concurrent loads of one key share one origin call; the first leads,
//!   the others join and get its result.
//! - **Budget**: at most `budget` origin calls in flight; beyond it a load is answered
//!   [`Load::Busy`] (the host raises `ORIGIN_BUSY` or serves a configured fallback).
//! - **Stale-if-error**: while the cache is unavailable, a value served for a key within the
//!   last `stale_if_error` may answer instead of the origin. Never an older one, and never
//!   after a write to that key was seen (not even one whose load began before the write).
//!
//! Sans-IO: the host keeps the values (in the slots this guard assigns) and the waiting
//! callers; this guard keeps keys, counts and times.

mod stale;

use crate::clock::Instant;
use crate::slab::Slab;
use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use core::borrow::Borrow;
use core::time::Duration;
use stale::StaleStore;

/// The most loads in flight whatever the budget: it keeps a ticket below 2^53, so JS carries
/// it as an exact number.
pub const MAX_LOADS: usize = 1 << 20;

/// What to protect the origin with. The default protects nothing: every miss loads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OriginConfig {
    /// Concurrent loads of one key share one origin call.
    pub single_flight: bool,
    /// The most origin calls in flight (`None`: no limit).
    pub budget: Option<u32>,
    /// How old a remembered value may be and still answer while the cache is unavailable
    /// (`None`: stale-if-error off).
    pub stale_if_error: Option<Duration>,
    /// How many keys' values are remembered for stale-if-error (0 with it on is refused).
    pub stale_capacity: usize,
}

/// A refused [`OriginConfig`] or ticket, naming the field or argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// A budget of 0 would refuse every load.
    #[error("origin_budget: must be at least 1, got 0")]
    ZeroBudget,
    /// Stale-if-error with a zero age would never serve.
    #[error("stale_if_error_seconds: must be greater than 0")]
    ZeroStaleAge,
    /// Stale-if-error with room for no value would never serve.
    #[error("stale_capacity: must be at least 1 when stale_if_error_seconds is set, got 0")]
    ZeroStaleCapacity,
    /// A ticket that is not a load in flight.
    #[error("ticket {0} is not an origin load in flight (already ended, or never issued)")]
    UnknownTicket(u64),
}

/// One origin load in flight, from [`Load::Lead`]; end it with [`OriginGuard::end`] once.
#[must_use = "end the load with OriginGuard::end"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoadTicket(u64);

impl LoadTicket {
    /// The ticket as one integer below 2^53 (JS carries it as a number).
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// The ticket [`LoadTicket::to_bits`] encoded; a forged one is refused, never trusted.
    pub fn from_bits(bits: u64) -> LoadTicket {
        LoadTicket(bits)
    }
}

/// What the host does with a miss, from [`OriginGuard::begin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Load {
    /// Call the origin, then [`OriginGuard::end`] this ticket; callers that joined wait for
    /// this call's result.
    Lead(LoadTicket),
    /// The key is being loaded by the call holding this ticket: wait for its result.
    Join(LoadTicket),
    /// The origin's budget is spent: raise `ORIGIN_BUSY` or serve the configured fallback.
    Busy,
    /// Answer with the value in this slot (stale-if-error), `age` old.
    Stale {
        /// Where the host keeps the value.
        slot: u32,
        /// How long ago it was served.
        age: Duration,
    },
}

/// What the host does once a load ended, from [`OriginGuard::end`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct LoadEnd {
    /// Callers that joined this load and wait for its result.
    pub joined: u32,
    /// Store the loaded value in this slot for stale-if-error (`None`: do not; it failed,
    /// stale-if-error is off, or a write to the key was seen while it loaded).
    pub remember: Option<u32>,
    /// Put the loaded value in the cache. False when the load failed, or when a write to the
    /// key was seen while it ran: its value may predate the write, and storing it would undo
    /// the write's invalidation.
    pub store: bool,
}

/// The guard's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OriginCounters {
    /// Origin calls made (loads led).
    pub origin_calls: u64,
    /// Loads that joined another's origin call instead of making their own.
    pub joined: u64,
    /// Loads refused for the budget.
    pub busy: u64,
    /// Loads answered from a remembered value while the cache was unavailable.
    pub stale_served: u64,
    /// Origin calls in flight.
    pub in_flight: u64,
    /// Keys with a remembered value.
    pub remembered: u64,
}

#[derive(Debug)]
struct Flight<K> {
    key: K,
    seq: u32,
    /// A write to the key was seen while it loaded: its result is not remembered.
    written: bool,
    joined: u32,
}

/// The origin-protection state beside a cache: the loads in flight, by key and by ticket, and
/// the remembered values' slots. See the [module docs](self).
#[derive(Debug)]
pub struct OriginGuard<K> {
    config: OriginConfig,
    /// Loads in flight by slot; a ticket is (slot index, sequence).
    flights: Slab<Flight<K>>,
    seq: u32,
    /// Single-flight: the slot of the load in flight per key.
    by_key: BTreeMap<K, u32>,
    stale: Option<StaleStore<K>>,
    counters: OriginCounters,
}

impl<K: Ord + Clone> OriginGuard<K> {
    /// A guard with `config`, or the first problem with it.
    pub fn new(config: OriginConfig) -> Result<Self, OriginError> {
        if config.budget == Some(0) {
            return Err(OriginError::ZeroBudget);
        }
        let stale = match config.stale_if_error {
            None => None,
            Some(age) if age.is_zero() => return Err(OriginError::ZeroStaleAge),
            Some(_) if config.stale_capacity == 0 => return Err(OriginError::ZeroStaleCapacity),
            Some(age) => Some(StaleStore::new(age, config.stale_capacity)),
        };
        Ok(OriginGuard {
            config,
            flights: Slab::new(),
            seq: 0,
            by_key: BTreeMap::new(),
            stale,
            counters: OriginCounters::default(),
        })
    }

    /// The config.
    pub fn config(&self) -> OriginConfig {
        self.config
    }

    /// The counters.
    pub fn counters(&self) -> OriginCounters {
        OriginCounters {
            in_flight: self.flights.len() as u64,
            remembered: self.stale.as_ref().map_or(0, |s| s.len() as u64),
            ..self.counters
        }
    }

    /// A read of `key` missed at `now` (`cache_down`: because the cache call was refused or
    /// failed, not because the key was absent). Stale-if-error answers first when the cache
    /// is down; then single-flight; then the budget.
    pub fn begin<Q>(&mut self, key: &Q, cache_down: bool, now: Instant) -> Load
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        if cache_down && let Some((slot, age)) = self.stale.as_ref().and_then(|s| s.fresh(key, now))
        {
            self.counters.stale_served += 1;
            return Load::Stale { slot, age };
        }
        if self.config.single_flight
            && let Some(&i) = self.by_key.get(key)
        {
            let flight = self.flights.get_mut(i).expect("indexed flight");
            flight.joined += 1;
            self.counters.joined += 1;
            return Load::Join(ticket(i, flight.seq));
        }
        let in_flight = self.flights.len();
        let budget = self
            .config
            .budget
            .map_or(MAX_LOADS, |b| (b as usize).min(MAX_LOADS));
        if in_flight >= budget {
            self.counters.busy += 1;
            return Load::Busy;
        }
        self.seq = self.seq.wrapping_add(1);
        let flight = Flight {
            key: key.to_owned(),
            seq: self.seq,
            written: false,
            joined: 0,
        };
        let i = self.flights.insert(flight);
        if self.config.single_flight {
            self.by_key.insert(key.to_owned(), i);
        }
        self.counters.origin_calls += 1;
        Load::Lead(ticket(i, self.seq))
    }

    /// The load holding `ticket` ended at `now` (`ok`: with a value). Says how many callers
    /// joined it and where to remember its value.
    pub fn end(
        &mut self,
        ticket: LoadTicket,
        ok: bool,
        now: Instant,
    ) -> Result<LoadEnd, OriginError> {
        let (i, seq) = ((ticket.0 >> 32) as u32, ticket.0 as u32);
        let live = self.flights.get(i).is_some_and(|f| f.seq == seq);
        if !live {
            return Err(OriginError::UnknownTicket(ticket.0));
        }
        let flight = self.flights.remove(i).expect("checked live");
        if self.by_key.get(&flight.key) == Some(&i) {
            self.by_key.remove(&flight.key);
        }
        let remember = match &mut self.stale {
            Some(stale) if ok && !flight.written => Some(stale.remember(flight.key.borrow(), now)),
            _ => None,
        };
        Ok(LoadEnd {
            joined: flight.joined,
            remember,
            store: ok && !flight.written,
        })
    }

    /// A value for `key` was served from the cache at `now`: the slot to remember it in for
    /// stale-if-error (`None` while that is off).
    pub fn served<Q>(&mut self, key: &Q, now: Instant) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        Some(self.stale.as_mut()?.remember(key, now))
    }

    /// A write to `key` was seen (a store or an invalidation, whatever became of it): its
    /// remembered value is forgotten, a load of it in flight will not be remembered, and no
    /// later miss joins that load.
    /// Returns the slot the host may clear.
    pub fn written<Q>(&mut self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        // A miss that begins after the write must not join a load that began before it (it
        // would read what the write replaced): the load leaves the key's index, and the next
        // miss leads a fresh one.
        if let Some(i) = self.by_key.remove(key) {
            if let Some(f) = self.flights.get_mut(i) {
                f.written = true;
            }
        } else if !self.config.single_flight {
            // Without single-flight, loads are not indexed by key: mark every one of it.
            for f in self.flights.iter_mut() {
                if f.key.borrow() == key {
                    f.written = true;
                }
            }
        }
        self.stale.as_mut()?.forget(key)
    }

    /// Everything may have been written (a prefix or the whole cache was invalidated): no
    /// remembered value is served again, no load in flight is remembered, and no later miss
    /// joins one.
    pub fn written_all(&mut self) {
        for f in self.flights.iter_mut() {
            f.written = true;
        }
        self.by_key.clear();
        if let Some(stale) = &mut self.stale {
            stale.clear();
        }
    }
}

fn ticket(index: u32, seq: u32) -> LoadTicket {
    LoadTicket(u64::from(index) << 32 | u64::from(seq))
}
