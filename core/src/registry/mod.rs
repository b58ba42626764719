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
use crate::config::Profile;
use crate::metrics::{Failure, Metrics};
use crate::slab::Slab;
use crate::state::{State, Transition};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;
use alloc::vec::Vec;

/// No node: the parent of a root.
const NONE: u32 = u32::MAX;

/// Idle breakers shrunk per admission, beyond those evicted: more than one, so that the walk
/// keeps up with the breakers that become idle (at most one per call).
const SHRINK_PER_CALL: usize = 2;

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
    /// Per level, the validated config of its breakers, then one per prefix (in
    /// `Level::prefixes` order): every breaker made from one shares it.
    profiles: Vec<(Arc<Profile>, Vec<Arc<Profile>>)>,
    nodes: Slab<Node>,
    /// Children by parent (`NONE` for the roots), then by segment.
    children: BTreeMap<u32, BTreeMap<Box<str>, u32>>,
    /// The candidates for eviction, oldest record first.
    candidates: BTreeSet<(Instant, u32)>,
    /// How far the candidates have been shrunk (see [`Registry::shrink_idle`]): every
    /// candidate before it had given back its window.
    shrunk_to: Option<(Instant, u32)>,
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
        // Validated above, so each config makes its profile; the error is kept all the same.
        let profiles = config
            .levels
            .iter()
            .map(|l| {
                let profile = |prefix: &str, c: &crate::Config| {
                    Profile::new(c.clone()).map_err(|error| RegistryError::Config {
                        level: l.name.clone(),
                        prefix: prefix.into(),
                        error,
                    })
                };
                let prefixes = l.prefixes.iter().map(|(p, c)| profile(p, c));
                Ok((profile("", &l.config)?, prefixes.collect::<Result<_, _>>()?))
            })
            .collect::<Result<_, RegistryError>>()?;
        Ok(Registry {
            config,
            profiles,
            shrunk_to: None,
            nodes: Slab::new(),
            children: BTreeMap::new(),
            candidates: BTreeSet::new(),
            evicted: 0,
        })
    }

    /// The config.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Breakers kept.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no breaker is kept.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 0
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
        for node in self.nodes.iter() {
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
        self.nodes.get(id).expect("a live node id")
    }

    fn node_mut(&mut self, id: u32) -> &mut Node {
        self.nodes.get_mut(id).expect("a live node id")
    }

    fn find_or_create(&mut self, parent: u32, level: usize, segment: &str, now: Instant) -> u32 {
        if let Some(&id) = self.children.get(&parent).and_then(|c| c.get(segment)) {
            return id;
        }
        let breaker = Breaker::with_profile(self.profile_for(level, segment), now);
        let node = Node {
            breaker,
            segment: segment.into(),
            parent,
            level: level as u8,
            in_flight: 0,
            recorded: Instant::ZERO,
            listed: false,
        };
        let id = self.nodes.insert(node);
        if parent != NONE {
            self.unlist(parent); // a parent stays while it has children
        }
        self.children
            .entry(parent)
            .or_default()
            .insert(segment.into(), id);
        self.relist(id);
        id
    }

    /// The shared config of a breaker on `segment` at `level`: the longest matching prefix's,
    /// as [`Level::config_for`] picks it.
    fn profile_for(&self, level: usize, segment: &str) -> Arc<Profile> {
        let (default, prefixes) = &self.profiles[level];
        let chosen = self.config.levels[level]
            .prefixes
            .iter()
            .zip(prefixes)
            .filter(|((p, _), _)| segment.starts_with(p.as_str()))
            .max_by_key(|((p, _), _)| p.len())
            .map_or(default, |(_, profile)| profile);
        Arc::clone(chosen)
    }

    /// Drops idle breakers, oldest first, while more than the bound are kept; then shrinks
    /// a few more idle ones (see [`Registry::shrink_idle`]).
    fn evict(&mut self, now: Instant) {
        self.shrink_some(now, SHRINK_PER_CALL);
        while self.nodes.len() > self.config.max_breakers {
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

    /// Gives back the memory idle breakers do not need (their empty windows: see
    /// [`Breaker::shrink`]), walking the candidates from the oldest record and stopping at
    /// the first that is not idle. Admission does a little of this on every call, so a host
    /// need not call it; it changes no decision, counter or metric.
    pub fn shrink_idle(&mut self, now: Instant) {
        self.shrink_some(now, usize::MAX);
    }

    /// Shrinks up to `budget` idle candidates after the last one shrunk.
    fn shrink_some(&mut self, now: Instant, budget: usize) {
        use core::ops::Bound;
        for _ in 0..budget {
            let from = self.shrunk_to.map_or(Bound::Unbounded, Bound::Excluded);
            let Some(&(at, id)) = self.candidates.range((from, Bound::Unbounded)).next() else {
                return;
            };
            if !self.node_mut(id).breaker.shrink(now) {
                return;
            }
            self.shrunk_to = Some((at, id));
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
        let node = self.nodes.remove(id).expect("a live node id");
        if let Some(siblings) = self.children.get_mut(&node.parent) {
            siblings.remove(&node.segment);
            if siblings.is_empty() {
                self.children.remove(&node.parent);
                if node.parent != NONE {
                    self.relist(node.parent);
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 14: what an idle key costs is mostly its node; `core/BENCHMARKS.md` has the
    // measured bytes per key, map entry and key string included.
    #[test]
    fn an_idle_node_stays_small() {
        assert!(core::mem::size_of::<Breaker>() <= 72);
        assert!(core::mem::size_of::<Option<Node>>() <= 112);
    }

    #[test]
    fn shrinking_gives_idle_windows_back_and_changes_no_answer() {
        const SEC: u64 = 1_000_000_000;
        let config = RegistryConfig {
            levels: alloc::vec![Level::new("key", crate::Config::default())],
            max_breakers: 10,
        };
        let mut r = Registry::new(config).unwrap();
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            let now = Instant::from_nanos(i as u64 * SEC);
            let p = r.try_acquire(&[key], now).unwrap().unwrap();
            assert!(r.on_success(p, now).is_empty());
        }
        let held = |r: &Registry| {
            ["a", "b", "c"]
                .into_iter()
                .filter(|k| r.node(r.children[&NONE][*k]).breaker.window.is_some())
                .count()
        };
        assert_eq!(held(&r), 3);
        let before = r.metrics(&["a"], Instant::from_nanos(400 * SEC)).unwrap();
        r.shrink_idle(Instant::from_nanos(100 * SEC));
        assert_eq!(held(&r), 3, "still inside their windows");
        r.shrink_idle(Instant::from_nanos(400 * SEC));
        assert_eq!(held(&r), 0);
        let after = r.metrics(&["a"], Instant::from_nanos(400 * SEC)).unwrap();
        assert_eq!(
            (after.success_count, after.window_calls, after.state),
            (before.success_count, before.window_calls, before.state)
        );
        assert_eq!(r.len(), 3, "shrinking drops no breaker");
    }
}
