//! [`Registry`]: breakers by key, in a hierarchy, with a bound on how many are kept.
//!
//! A call names a path, one segment per level (`["fact", "cache", "get", "user:42"]` for
//! system → service → operation → key). Each prefix of the path has its own [`Breaker`],
//! created on first use from its level's config. The call is admitted only if every breaker
//! on the path admits it, root first; its outcome is reported to all of them, each judging it
//! by its own thresholds. So one failing key opens only its own breaker, while an outage of
//! the whole cache opens the operation's (or the service's) breaker after a handful of
//! failures, whatever keys they came from.
//!
//! Bounded memory: beyond [`RegistryConfig::max_breakers`], idle breakers are dropped (CLOSED,
//! nothing in their window, no call in flight, no child), the way users of per-key breakers
//! learned to evict; a dropped breaker is created afresh when its key comes back, which is
//! exactly what it would have done. A breaker that is OPEN, HALF_OPEN or has seen a call
//! within its window is never dropped.
//!
//! Which go first: the candidates (CLOSED, no run of failures, no call in flight, no child)
//! are kept ordered by when they last recorded an outcome, so the oldest is the first whose
//! window empties; eviction drops from that end while the oldest is idle and stops at the
//! first that is not, so it costs O(log n) per breaker dropped and never scans. Breakers that
//! are not candidates are not in that order at all. With levels of different window lengths,
//! a breaker with a longer window can hold back newer idle ones until its own has passed.
//!
//! Sans-IO like the rest of the core: every method takes `now`.

mod config;

pub use config::{Level, MAX_LEVELS, RegistryConfig, RegistryError};

use crate::breaker::{Breaker, Permit, Rejection};
use crate::clock::Instant;
use crate::metrics::{Failure, Metrics};
use crate::state::{State, Transition};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

/// No node: the parent of a root.
const NONE: u32 = u32::MAX;

/// A breaker in the hierarchy.
#[derive(Debug)]
struct Node {
    breaker: Breaker,
    segment: Box<str>,
    parent: u32,
    level: u8,
    in_flight: u32,
    /// When it last recorded an outcome (`Instant::ZERO`: never): its place among the
    /// candidates for eviction.
    recorded: Instant,
    /// Whether it is among the candidates.
    listed: bool,
}

/// Breakers by path. See the [module docs](self).
#[derive(Debug)]
pub struct Registry {
    config: RegistryConfig,
    nodes: Vec<Option<Node>>,
    free: Vec<u32>,
    /// Children by parent (`NONE` for the roots), then by segment.
    children: BTreeMap<u32, BTreeMap<Box<str>, u32>>,
    /// The candidates for eviction, oldest record first.
    candidates: BTreeSet<(Instant, u32)>,
    len: usize,
    evicted: u64,
}

/// Leave to run one call on a path: one [`Permit`] per level. Report it with
/// [`Registry::on_success`], [`Registry::on_failure`] or [`Registry::on_neutral`]; until then
/// no breaker on the path is dropped.
#[must_use = "report the call's outcome with on_success, on_failure or on_neutral"]
#[derive(Debug)]
pub struct PathPermit {
    nodes: [u32; MAX_LEVELS],
    permits: [Option<Permit>; MAX_LEVELS],
}

impl PathPermit {
    /// Transitions that admitting the call made (OPEN -> HALF_OPEN), as `(level, transition)`.
    pub fn transitions(&self) -> impl Iterator<Item = (usize, Transition)> + '_ {
        self.permits
            .iter()
            .enumerate()
            .filter_map(|(level, p)| Some((level, p.as_ref()?.transition()?)))
    }

    pub(crate) fn admission_transitions(&self) -> PathTransitions {
        let mut moved = PathTransitions::default();
        for (level, t) in self.transitions() {
            moved.0[level] = Some(t);
        }
        moved
    }
}

/// Why a call on a path was not admitted: the first level (root first) that refused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRejection {
    /// The level that refused (0: the root).
    pub level: usize,
    /// Its breaker's answer.
    pub rejection: Rejection,
}

/// The transitions an outcome made, at most one per level, as `(level, transition)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PathTransitions([Option<Transition>; MAX_LEVELS]);

impl PathTransitions {
    /// `(level, transition)` for each level that moved.
    pub fn iter(&self) -> impl Iterator<Item = (usize, Transition)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(level, t)| Some((level, (*t)?)))
    }

    /// Whether no level moved.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// The breakers of one level, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LevelSummary {
    /// Breakers kept at this level.
    pub breakers: u64,
    /// Of those, CLOSED.
    pub closed: u64,
    /// OPEN.
    pub open: u64,
    /// HALF_OPEN.
    pub half_open: u64,
    /// Completed calls inside their windows, summed.
    pub window_calls: u64,
    /// Failed calls inside their windows, summed.
    pub window_failures: u64,
    /// Calls admitted and not yet reported.
    pub in_flight: u64,
}

impl Registry {
    /// An empty registry, or the first problem with `config`.
    pub fn new(config: RegistryConfig) -> Result<Registry, RegistryError> {
        config.validate()?;
        Ok(Registry {
            config,
            nodes: Vec::new(),
            free: Vec::new(),
            children: BTreeMap::new(),
            candidates: BTreeSet::new(),
            len: 0,
            evicted: 0,
        })
    }

    /// The config.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Breakers kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no breaker is kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Idle breakers dropped so far to keep within the bound.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Asks to run one call on `path` at `now`: admitted if every level admits it, root first.
    /// A level that refuses releases the permits the levels above it gave (as neutral).
    pub fn try_acquire(
        &mut self,
        path: &[&str],
        now: Instant,
    ) -> Result<Result<PathPermit, PathRejection>, RegistryError> {
        self.check(path)?;
        Ok(self.acquire(path, now))
    }

    /// [`Registry::try_acquire`] on a path of the right length.
    pub(crate) fn acquire(
        &mut self,
        path: &[&str],
        now: Instant,
    ) -> Result<PathPermit, PathRejection> {
        // Level by level, so that a refusal above creates nothing below: during an outage
        // the service's breaker refuses every new key without a breaker made for each.
        let mut nodes = [NONE; MAX_LEVELS];
        let mut permits = [const { None }; MAX_LEVELS];
        let mut answer = Ok(());
        let mut parent = NONE;
        for (level, segment) in path.iter().enumerate() {
            let id = self.find_or_create(parent, level, segment, now);
            nodes[level] = id;
            parent = id;
            let node = self.node_mut(id);
            match node.breaker.try_acquire(now) {
                Ok(p) => {
                    node.in_flight += 1;
                    permits[level] = Some(p);
                    self.unlist(id);
                }
                Err(rejection) => {
                    answer = Err(PathRejection { level, rejection });
                    break;
                }
            }
        }
        // After admission: the path's breakers are in flight, so none of them can go.
        let answer = match answer {
            Ok(()) => Ok(PathPermit { nodes, permits }),
            Err(refused) => {
                self.settle(&nodes, &mut permits, false, |b, p| {
                    b.on_neutral(p, now);
                    None
                });
                Err(refused)
            }
        };
        self.evict(now);
        answer
    }

    /// The call succeeded: reported to every level on its path.
    pub fn on_success(&mut self, permit: PathPermit, now: Instant) -> PathTransitions {
        let PathPermit { nodes, mut permits } = permit;
        self.settle(&nodes, &mut permits, true, |b, p| b.on_success(p, now))
    }

    /// The call failed: reported to every level on its path.
    pub fn on_failure(
        &mut self,
        permit: PathPermit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> PathTransitions {
        let PathPermit { nodes, mut permits } = permit;
        self.settle(&nodes, &mut permits, true, |b, p| {
            b.on_failure(p, failure, now)
        })
    }

    /// The call ended without a verdict: every level releases its permit.
    pub fn on_neutral(&mut self, permit: PathPermit, now: Instant) {
        let PathPermit { nodes, mut permits } = permit;
        self.settle(&nodes, &mut permits, false, |b, p| {
            b.on_neutral(p, now);
            None
        });
    }

    /// The breaker of `path` (a path of any length up to the levels': a prefix names an
    /// upper level's breaker), if it is kept.
    pub fn breaker(&self, path: &[&str]) -> Option<&Breaker> {
        let mut id = NONE;
        for segment in path {
            id = *self.children.get(&id)?.get(*segment)?;
        }
        (id != NONE).then(|| &self.node(id).breaker)
    }

    /// The metrics of `path`'s breaker (see [`Registry::breaker`]).
    pub fn metrics(&self, path: &[&str], now: Instant) -> Option<Metrics> {
        self.breaker(path).map(|b| b.metrics(now))
    }

    /// Per level, root first: the breakers kept there, summed. Walks every breaker.
    pub fn summary(&self, now: Instant) -> Vec<LevelSummary> {
        let mut out = alloc::vec![LevelSummary::default(); self.config.levels.len()];
        for node in self.nodes.iter().flatten() {
            let s = &mut out[usize::from(node.level)];
            let w = node.breaker.window_counts(now);
            s.breakers += 1;
            match node.breaker.state() {
                State::Closed => s.closed += 1,
                State::Open => s.open += 1,
                State::HalfOpen => s.half_open += 1,
            }
            s.window_calls += w.calls;
            s.window_failures += w.failures;
            s.in_flight += u64::from(node.in_flight);
        }
        out
    }

    // ---- internals -----------------------------------------------------------------------

    pub(crate) fn check(&self, path: &[&str]) -> Result<(), RegistryError> {
        let expected = self.config.levels.len();
        if path.len() == expected {
            Ok(())
        } else {
            Err(RegistryError::PathLength {
                expected,
                got: path.len(),
            })
        }
    }

    /// Reports to each level that holds a permit, deepest first, and returns the transitions.
    /// `recorded`: the outcome went into the windows (a success or a failure).
    fn settle(
        &mut self,
        nodes: &[u32; MAX_LEVELS],
        permits: &mut [Option<Permit>; MAX_LEVELS],
        recorded: bool,
        mut report: impl FnMut(&mut Breaker, Permit) -> Option<Transition>,
    ) -> PathTransitions {
        let mut moved = PathTransitions::default();
        for level in (0..MAX_LEVELS).rev() {
            if let Some(p) = permits[level].take() {
                let id = nodes[level];
                let node = self.node_mut(id);
                node.in_flight -= 1;
                moved.0[level] = report(&mut node.breaker, p);
                if recorded {
                    node.recorded = node.breaker.latest;
                }
                self.relist(id);
            }
        }
        moved
    }

    fn node(&self, id: u32) -> &Node {
        self.nodes[id as usize].as_ref().expect("a live node id")
    }

    fn node_mut(&mut self, id: u32) -> &mut Node {
        self.nodes[id as usize].as_mut().expect("a live node id")
    }

    fn find_or_create(&mut self, parent: u32, level: usize, segment: &str, now: Instant) -> u32 {
        if let Some(&id) = self.children.get(&parent).and_then(|c| c.get(segment)) {
            return id;
        }
        let config = self.config.levels[level].config_for(segment).clone();
        // Validated with the registry. `unreachable!` rather than `expect`: `expect` would
        // link `ConfigError`'s Debug, and with it float formatting, into the wasm binding.
        let Ok(breaker) = Breaker::new(config, now) else {
            unreachable!("every level's config was validated with the registry")
        };
        let node = Node {
            breaker,
            segment: segment.into(),
            parent,
            level: level as u8,
            in_flight: 0,
            recorded: Instant::ZERO,
            listed: false,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = Some(node);
                id
            }
            None => {
                self.nodes.push(Some(node));
                (self.nodes.len() - 1) as u32
            }
        };
        if parent != NONE {
            self.unlist(parent); // a parent stays while it has children
        }
        self.children
            .entry(parent)
            .or_default()
            .insert(segment.into(), id);
        self.len += 1;
        self.relist(id);
        id
    }

    /// Drops idle breakers, oldest first, while more than the bound are kept.
    fn evict(&mut self, now: Instant) {
        while self.len > self.config.max_breakers {
            let Some(&(_, id)) = self.candidates.first() else {
                return;
            };
            if !self.node(id).breaker.is_idle(now) {
                return;
            }
            self.remove(id);
            self.evicted += 1;
        }
    }

    /// Whether `id` may be dropped once its window empties: CLOSED with no run of failures,
    /// no call in flight, no child.
    fn candidate(&self, id: u32) -> bool {
        let node = self.node(id);
        node.in_flight == 0
            && node.breaker.state() == State::Closed
            && node.breaker.consecutive_failures == 0
            && !self.children.contains_key(&id)
    }

    fn remove(&mut self, id: u32) {
        self.unlist(id);
        let node = self.nodes[id as usize].take().expect("a live node id");
        if let Some(siblings) = self.children.get_mut(&node.parent) {
            siblings.remove(&node.segment);
            if siblings.is_empty() {
                self.children.remove(&node.parent);
                if node.parent != NONE {
                    self.relist(node.parent);
                }
            }
        }
        self.free.push(id);
        self.len -= 1;
    }

    // ---- the candidates --------------------------------------------------------------------

    /// Puts `id` among the candidates, at its last record, if it is one; else takes it out.
    fn relist(&mut self, id: u32) {
        self.unlist(id);
        if self.candidate(id) {
            let node = self.node_mut(id);
            node.listed = true;
            let key = (node.recorded, id);
            self.candidates.insert(key);
        }
    }

    fn unlist(&mut self, id: u32) {
        let node = self.node_mut(id);
        if node.listed {
            node.listed = false;
            let key = (node.recorded, id);
            self.candidates.remove(&key);
        }
    }
}
