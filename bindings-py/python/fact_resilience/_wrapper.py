"""`ResilientCacheWrapper` as FACT knows it: the native wrapper, whose cache guard (the core's
`CacheGuard`) decides, plus the ``async`` members, which carry one call out between its steps
(`_begin`, `_flushed`, `_end_ok`, `_end_error`) and only await."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, Optional, cast

from . import _native, _origin
from ._awaiting import is_awaitable as _is_awaitable
from ._breaker import CacheCircuitBreaker
from ._guard import CallGuard
from ._state import CircuitState

__all__ = ["ResilientCacheWrapper"]

_log = logging.getLogger("fact_resilience")

# What `ResilientCacheWrapper._end_error` asks of the async layer (see `cache_calls.rs`).
_AFTER_FAILURE = _native._END_AFTER_FAILURE
_RAISE = _native._END_RAISE
# How a call that raised ended, by that answer (the other answer: a shed call's fallback).
_OUTCOMES = {_AFTER_FAILURE: "failure", _RAISE: "raised"}

Observe = Callable[[str, Optional[BaseException]], None]


Call = Callable[..., Coroutine[Any, Any, Any]]


def _carrier(begin: Callable[[Any, str, Any], tuple[int, Any, Any]]) -> Call:
    """The wrapper's call method over the native step `begin` (`_begin`, or `_begin_loaded`
    for `get_or_load`'s own store): one body for both, each with its step bound in."""

    async def call(
        self: ResilientCacheWrapper,
        op: str,
        key: Any,
        *args: Any,
        observe: Optional[Observe] = None,
    ) -> Any:
        """One cache call, carried out as the core's guard answers. ``observe(outcome, exc)``
        (for tracing) hears how it ended: ``refused``, ``success``, ``failure``, ``shed`` or
        ``raised``."""
        ticket, method, flush = begin(self, op, key)
        if ticket < 0:
            if observe is not None:
                observe("refused", None)
            return method  # the fallback value
        try:
            if flush is not None:
                for invalidate, arg in flush:
                    done = invalidate(arg)
                    if _is_awaitable(done):
                        await done
                self._flushed(ticket)
            result = method(*args)
            if _is_awaitable(result):
                result = await result
        except BaseException as exc:
            action, fallback = self._end_error(ticket, op, exc)
            if observe is not None:
                observe(_OUTCOMES.get(action, "shed"), exc)
            if action == _RAISE:
                raise
            if action == _AFTER_FAILURE:
                _log.warning(
                    "cache %s failed (%s: %s); serving the fallback",
                    op,
                    type(exc).__name__,
                    exc,
                )
            return fallback
        if observe is not None:
            observe("success", None)
        return self._end_ok(ticket, result)

    return call


class ResilientCacheWrapper(_native.ResilientCacheWrapper):
    """FACT's resilient cache wrapper: runs the cache manager's methods through the breaker
    and, with ``enable_graceful_degradation`` (default), answers from ``fallback_responses``
    when the breaker refuses a call or the manager fails.

    ``ResilientCacheWrapper(cache_manager, circuit_breaker=None,
    enable_graceful_degradation=True, fallback_responses=None, *,
    max_pending_invalidations=1024, stale_keys="auto", hierarchy=None, key_path=None,
    single_flight=False, origin_budget=None, stale_if_error_seconds=None, stale_capacity=1024,
    origin_busy_fallback=<unset>)``. The manager's methods are looked up on every call and may
    be sync or async.

    ``hierarchy`` (a `BreakerRegistry`): a call on a key is admitted by this wrapper's breaker
    (the whole cache) and by the registry's breakers on ``key_path(key)`` (default
    ``[key]``), and its outcome goes to every one of them, so one failing key range opens only
    its own breakers; ``invalidate_by_prefix`` has no key and is judged by the wrapper's
    breaker alone. The registry's breakers judge these calls on the wrapper breaker's clock.
    The origin options shape `get_or_load` only; with none of them given the wrapper behaves
    exactly as FACT's.

    Every decision is the core's cache guard's: which outcomes count (a ``TimeoutError`` is a
    failure counted apart; a `CacheShedError` is *shed*, answered with the fallback but never
    charged to the breaker; a cancellation or one of the breaker's ``neutral_exceptions``
    propagates and counts for nothing), when a fallback is served, and which writes to
    remember. A store or invalidation that did not complete leaves its key pending when the
    manager can invalidate one key (``invalidate`` or ``delete``; ``stale_keys="auto"``): the
    next call the breaker admits first invalidates those keys (``invalidate_many(keys)`` when
    the manager has it), inside the same permit, so a value updated during an outage is never
    served stale after recovery. A prefix-only manager such as FACT's gets no such protection
    unless ``stale_keys="prefix"`` asks for its whole prefix to be flushed instead.
    """

    @property
    def breaker(self) -> CacheCircuitBreaker:
        """The breaker, typed as the async subclass."""
        return cast(CacheCircuitBreaker, self.circuit_breaker)

    # One cache call, carried out as the core's guard answers (see `_carrier`); the second
    # stores what `get_or_load` just loaded, which the origin guard must not take for a write.
    _call = _carrier(_native.ResilientCacheWrapper._begin)
    _store_loaded = _carrier(_native.ResilientCacheWrapper._begin_loaded)

    async def store(self, query_hash: str, content: str) -> Any:
        """Stores through the breaker; returns True when stored (False only if the manager
        returned False), or ``fallback_responses["store"]`` under degradation."""
        return await self._call("store", query_hash, query_hash, content)

    async def get(self, query_hash: str) -> Any:
        """The manager's entry for ``query_hash`` (the very object it returned), None on a miss,
        or ``fallback_responses["get"]`` under degradation."""
        return await self._call("get", query_hash, query_hash)

    async def invalidate_by_prefix(self, prefix: str) -> Any:
        """The manager's count of removed entries, or ``fallback_responses["invalidate"]``."""
        return await self._call("invalidate_by_prefix", prefix, prefix)

    async def invalidate(self, key: str) -> Any:
        """The manager's ``invalidate(key)`` (or ``delete(key)``) if it has one, else
        ``invalidate_by_prefix(key)``; fallback ``fallback_responses["invalidate"]``."""
        return await self._call("invalidate", key, key)

    async def get_or_load(self, key: Any, load: _origin.Loader) -> Any:
        """The value for ``key``: from the cache (a hit's ``content``, or the entry itself for a
        manager whose entries have none), else from the origin through ``load`` (a zero-argument
        callable returning the value or an awaitable), then stored (a failed store is logged,
        never raised; a loaded None, or a value loaded while a write to the key was seen, is
        returned but not stored).

        The read is exactly `get`'s (through the breaker, and the hierarchy when given). On a
        miss the core's origin guard decides: with ``single_flight`` concurrent misses of one
        key share one ``load`` call and all get its value or its exception; beyond
        ``origin_budget`` loads in flight a miss raises `CacheError` code ``ORIGIN_BUSY`` (or
        returns ``origin_busy_fallback`` when given); with ``stale_if_error_seconds``, while
        the cache is down (the read was refused, failed or shed), a value served or loaded for
        the key within that age answers instead, never one older and never after a `store` or
        `invalidate` of the key. See `origin_metrics()`."""
        return await _origin.get_or_load(self, key, load)

    async def start_monitoring(self) -> None:
        """Starts the breaker's health monitoring (idempotent)."""
        await self.breaker.start_health_monitoring()

    async def stop_monitoring(self) -> None:
        """Stops the breaker's health monitoring (idempotent)."""
        await self.breaker.stop_health_monitoring()

    async def health_check(self) -> dict[str, Any]:
        """``{"healthy", "state", "call_permitted", "degradation_enabled", "health"}``:
        ``health`` is the breaker's ``health_report()`` (status, alerts, figures)."""
        breaker = self.circuit_breaker
        permitted = breaker.is_call_permitted()
        state = breaker.get_state()
        return {
            "healthy": state is CircuitState.CLOSED,
            "state": state.value,
            "call_permitted": permitted,
            "degradation_enabled": self.enable_graceful_degradation,
            "health": breaker.health_report(),
        }


# Public names live in `fact_resilience`; say so in reprs and tracebacks.
for _cls in (CacheCircuitBreaker, ResilientCacheWrapper, CallGuard):
    _cls.__module__ = "fact_resilience"
del _cls
