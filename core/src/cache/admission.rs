//! [`Admission`]: what a [`CacheGuard`](super::CacheGuard) asks to admit a call and tells its
//! outcome to: one [`Breaker`], or the breakers on a path of a [`Registry`] (or on an optional
//! path: [`RegistryGate`]).

use crate::breaker::{Breaker, Permit, Rejection};
use crate::clock::Instant;
use crate::metrics::Failure;
use crate::registry::{PathPermit, PathTransitions, Registry, RegistryError};
use crate::state::Transition;
use alloc::boxed::Box;

/// What [`Admission::try_acquire`] answers: the call's permit and the moves admission made, or
/// the refusal and the moves made before it.
pub type Admitted<A> = Result<
    (<A as Admission>::Permit, <A as Admission>::Moved),
    (Rejection, <A as Admission>::Moved),
>;

/// Admission and outcomes for the calls of a cache guard.
pub trait Admission {
    /// What the guard keeps for a call in flight.
    type Permit;
    /// The transitions an admission or an outcome made.
    type Moved: Default;

    /// Asks to run one call at `now`. A refusal carries the moves admission made before it (a
    /// breaker in front may half-open, and then a gate behind it refuse), so that the host's
    /// listeners hear of them.
    fn try_acquire(&mut self, now: Instant) -> Admitted<Self>;
    /// The call succeeded.
    fn on_success(&mut self, permit: Self::Permit, now: Instant) -> Self::Moved;
    /// The call failed.
    fn on_failure(
        &mut self,
        permit: Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> Self::Moved;
    /// The call ended without a verdict.
    fn on_neutral(&mut self, permit: Self::Permit, now: Instant);
    /// The call failed in the flush it carried (other keys' pending invalidations), before its
    /// own work: only breakers that cover those keys judge it. One breaker covers every key,
    /// so by default this is [`on_failure`](Self::on_failure); a key's path does not cover the
    /// flushed keys, and releases its permit as neutral.
    fn on_flush_failure(
        &mut self,
        permit: Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> Self::Moved {
        self.on_failure(permit, failure, now)
    }
}

/// One breaker; a call in flight is kept as its [`Permit::to_token`].
impl Admission for Breaker {
    type Permit = u128;
    type Moved = Option<Transition>;

    fn try_acquire(&mut self, now: Instant) -> Admitted<Self> {
        let permit = Breaker::try_acquire(self, now).map_err(|r| (r, None))?;
        Ok((permit.to_token(), permit.transition()))
    }

    fn on_success(&mut self, token: u128, now: Instant) -> Self::Moved {
        Breaker::on_success(self, Permit::from_token(token), now)
    }

    fn on_failure(&mut self, token: u128, failure: &Failure<'_>, now: Instant) -> Self::Moved {
        Breaker::on_failure(self, Permit::from_token(token), failure, now)
    }

    fn on_neutral(&mut self, token: u128, now: Instant) {
        Breaker::on_neutral(self, Permit::from_token(token), now)
    }
}

/// The breakers on one path of a [`Registry`], from [`Registry::path`]. A call is admitted
/// if every level admits it; a refusal is the refusing level's.
#[derive(Debug)]
pub struct RegistryPath<'a, 'p> {
    registry: &'a mut Registry,
    path: &'p [&'p str],
}

impl Registry {
    /// The breakers of `path` as one [`Admission`] for a cache guard, or the path's problem.
    pub fn path<'a, 'p>(
        &'a mut self,
        path: &'p [&'p str],
    ) -> Result<RegistryPath<'a, 'p>, RegistryError> {
        self.check(path)?;
        Ok(RegistryPath {
            registry: self,
            path,
        })
    }
}

impl Admission for RegistryPath<'_, '_> {
    type Permit = PathPermit;
    type Moved = PathTransitions;

    fn try_acquire(&mut self, now: Instant) -> Admitted<Self> {
        match self.registry.acquire(self.path, now) {
            Ok(permit) => {
                let moved = permit.admission_transitions();
                Ok((permit, moved))
            }
            Err(refused) => Err((refused.rejection, PathTransitions::default())),
        }
    }

    fn on_success(&mut self, permit: PathPermit, now: Instant) -> PathTransitions {
        self.registry.on_success(permit, now)
    }

    fn on_failure(
        &mut self,
        permit: PathPermit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> PathTransitions {
        self.registry.on_failure(permit, failure, now)
    }

    fn on_neutral(&mut self, permit: PathPermit, now: Instant) {
        self.registry.on_neutral(permit, now)
    }

    fn on_flush_failure(
        &mut self,
        permit: PathPermit,
        _failure: &Failure<'_>,
        now: Instant,
    ) -> PathTransitions {
        self.registry.on_neutral(permit, now);
        PathTransitions::default()
    }
}

/// A registry's breakers for a guard whose calls may name no path, from [`Registry::gate`]: a
/// call on a path is admitted as by [`RegistryPath`]; a call on no path (a prefix invalidation
/// has no key) is admitted by no breaker and holds no permit. An outcome is reported to the
/// breakers its permit names, so a host that did not keep a call's path ends it through
/// `gate(None)`.
#[derive(Debug)]
pub struct RegistryGate<'a, 'p> {
    registry: &'a mut Registry,
    path: Option<&'p [&'p str]>,
}

impl Registry {
    /// The breakers of `path` (or of no path) as one [`Admission`] whose permits may be
    /// ended without the path, or the path's problem.
    pub fn gate<'a, 'p>(
        &'a mut self,
        path: Option<&'p [&'p str]>,
    ) -> Result<RegistryGate<'a, 'p>, RegistryError> {
        if let Some(path) = path {
            self.check(path)?;
        }
        Ok(RegistryGate {
            registry: self,
            path,
        })
    }
}

impl Admission for RegistryGate<'_, '_> {
    /// Boxed, so that a call in flight on no path costs one null pointer in the guard.
    type Permit = Option<Box<PathPermit>>;
    type Moved = PathTransitions;

    fn try_acquire(&mut self, now: Instant) -> Admitted<Self> {
        let Some(path) = self.path else {
            return Ok((None, PathTransitions::default()));
        };
        match self.registry.acquire(path, now) {
            Ok(permit) => {
                let moved = permit.admission_transitions();
                Ok((Some(Box::new(permit)), moved))
            }
            Err(refused) => Err((refused.rejection, PathTransitions::default())),
        }
    }

    fn on_success(&mut self, permit: Self::Permit, now: Instant) -> PathTransitions {
        permit.map_or_else(PathTransitions::default, |p| {
            self.registry.on_success(*p, now)
        })
    }

    fn on_failure(
        &mut self,
        permit: Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> PathTransitions {
        permit.map_or_else(PathTransitions::default, |p| {
            self.registry.on_failure(*p, failure, now)
        })
    }

    fn on_neutral(&mut self, permit: Self::Permit, now: Instant) {
        if let Some(p) = permit {
            self.registry.on_neutral(*p, now);
        }
    }

    fn on_flush_failure(
        &mut self,
        permit: Self::Permit,
        _failure: &Failure<'_>,
        now: Instant,
    ) -> PathTransitions {
        self.on_neutral(permit, now);
        PathTransitions::default()
    }
}

/// A gate that may be absent: none admits every call and holds no permit. A host whose cache
/// may or may not have a hierarchy keeps one guard type: `(breaker, Option<RegistryGate>)`.
impl<A: Admission> Admission for Option<A> {
    type Permit = Option<A::Permit>;
    type Moved = A::Moved;

    fn try_acquire(&mut self, now: Instant) -> Admitted<Self> {
        match self {
            None => Ok((None, A::Moved::default())),
            Some(a) => a.try_acquire(now).map(|(p, moved)| (Some(p), moved)),
        }
    }

    fn on_success(&mut self, permit: Self::Permit, now: Instant) -> A::Moved {
        match (self, permit) {
            (Some(a), Some(p)) => a.on_success(p, now),
            _ => A::Moved::default(),
        }
    }

    fn on_failure(
        &mut self,
        permit: Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> A::Moved {
        match (self, permit) {
            (Some(a), Some(p)) => a.on_failure(p, failure, now),
            _ => A::Moved::default(),
        }
    }

    fn on_neutral(&mut self, permit: Self::Permit, now: Instant) {
        if let (Some(a), Some(p)) = (self, permit) {
            a.on_neutral(p, now);
        }
    }

    fn on_flush_failure(
        &mut self,
        permit: Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> A::Moved {
        match (self, permit) {
            (Some(a), Some(p)) => a.on_flush_failure(p, failure, now),
            _ => A::Moved::default(),
        }
    }
}

/// Two gates in a row, `.0` first: a call is admitted if both admit it (a refusal by `.1`
/// releases `.0`'s permit as neutral), and its outcome goes to both. A host's own breaker in
/// front of a registry's path, for instance.
impl<A: Admission, B: Admission> Admission for (A, B) {
    type Permit = (A::Permit, B::Permit);
    type Moved = (A::Moved, B::Moved);

    fn try_acquire(&mut self, now: Instant) -> Admitted<Self> {
        let (a, moved_a) = self
            .0
            .try_acquire(now)
            .map_err(|(r, moved_a)| (r, (moved_a, B::Moved::default())))?;
        match self.1.try_acquire(now) {
            Ok((b, moved_b)) => Ok(((a, b), (moved_a, moved_b))),
            Err((refused, moved_b)) => {
                self.0.on_neutral(a, now);
                Err((refused, (moved_a, moved_b)))
            }
        }
    }

    fn on_success(&mut self, (a, b): Self::Permit, now: Instant) -> Self::Moved {
        let moved_b = self.1.on_success(b, now);
        (self.0.on_success(a, now), moved_b)
    }

    fn on_failure(
        &mut self,
        (a, b): Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> Self::Moved {
        let moved_b = self.1.on_failure(b, failure, now);
        (self.0.on_failure(a, failure, now), moved_b)
    }

    fn on_neutral(&mut self, (a, b): Self::Permit, now: Instant) {
        self.1.on_neutral(b, now);
        self.0.on_neutral(a, now);
    }

    fn on_flush_failure(
        &mut self,
        (a, b): Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> Self::Moved {
        let moved_b = self.1.on_flush_failure(b, failure, now);
        (self.0.on_flush_failure(a, failure, now), moved_b)
    }
}

/// A gate borrowed, so that a host can chain the breaker it owns in front of another gate.
impl<A: Admission + ?Sized> Admission for &mut A {
    type Permit = A::Permit;
    type Moved = A::Moved;

    fn try_acquire(&mut self, now: Instant) -> Admitted<Self> {
        (**self).try_acquire(now)
    }

    fn on_success(&mut self, permit: Self::Permit, now: Instant) -> Self::Moved {
        (**self).on_success(permit, now)
    }

    fn on_failure(
        &mut self,
        permit: Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> Self::Moved {
        (**self).on_failure(permit, failure, now)
    }

    fn on_neutral(&mut self, permit: Self::Permit, now: Instant) {
        (**self).on_neutral(permit, now)
    }

    fn on_flush_failure(
        &mut self,
        permit: Self::Permit,
        failure: &Failure<'_>,
        now: Instant,
    ) -> Self::Moved {
        (**self).on_flush_failure(permit, failure, now)
    }
}
