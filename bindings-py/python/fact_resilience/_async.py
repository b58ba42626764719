"""The async layer: `CacheCircuitBreaker` and `ResilientCacheWrapper` as FACT knows them.

Each class subclasses its native half (`fact_resilience._native`), which makes every decision.
The methods here only call the operation, await its result when it is awaitable, and report
the outcome; they hold no lock and no event loop, so any thread may call them from a fresh
loop each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union, cast, overload

from . import _native
from ._state import CircuitState

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["CacheCircuitBreaker", "ResilientCacheWrapper", "CallGuard"]

_log = logging.getLogger("fact_resilience")

F = TypeVar("F", bound=Callable[..., Any])

_CoroutineType = types.CoroutineType
# Result types that are never awaitable: skip `inspect.isawaitable` for them.
_PLAIN: frozenset[type] = frozenset({bool, int, float, str, bytes, type(None), dict, list, tuple})


# `_acquire_or` returns this instead of permit bits (always >= 0) when the call is refused.
_REJECTED = -1
_MISSING: Any = object()
# What `ResilientCacheWrapper._end_error` asks of the async layer (see `cache_calls.rs`).
_AFTER_FAILURE = _native._END_AFTER_FAILURE
_RAISE = _native._END_RAISE


def _is_awaitable(value: object) -> bool:
    t = type(value)
    if t is _CoroutineType:
        return True
    if t in _PLAIN:
        return False
    return inspect.isawaitable(value)


class CallGuard:
    """One guarded call: ``with breaker.guard("get"):`` or ``async with breaker.guard("get"):``.

    Entering asks the breaker for a permit (raising the registered `CacheError` when refused);
    leaving reports success, or the exception (neutral or failure, as the breaker decides).
    Exceptions are never swallowed. A guard is single-use.
    """

    __slots__ = ("_breaker", "_name", "_permit")

    def __init__(self, breaker: _native.CacheCircuitBreaker, operation_name: str) -> None:
        if not isinstance(operation_name, str):
            raise TypeError(f"operation_name must be a str, got {type(operation_name).__name__}")
        self._breaker = breaker
        self._name = operation_name
        self._permit: Optional[int] = None

    def __enter__(self) -> Self:
        if self._permit is not None:
            raise RuntimeError("a CallGuard can be entered only once")
        self._permit = self._breaker._acquire(self._name)
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[types.TracebackType],
    ) -> None:
        permit = self._permit
        if permit is None:
            return
        self._permit = -1  # spent
        if permit < 0:
            return
        if exc is None:
            self._breaker._succeed(permit)
        else:
            self._breaker._fail(permit, exc, self._name)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[types.TracebackType],
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class CacheCircuitBreaker(_native.CacheCircuitBreaker):
    """FACT's circuit breaker for cache operations.

    ``CacheCircuitBreaker(config=None, *, clock=None, wall_clock=None, error_class=None,
    neutral_exceptions=None, on_state_change=None)``. The state machine, counters and
    thread safety live in Rust; this class adds the ``async`` members.
    """

    _monitor_task: Optional[asyncio.Task[None]] = None

    async def execute(
        self,
        operation: Callable[..., Any],
        operation_name: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Calls ``operation(*args, **kwargs)`` through the breaker, awaiting the result if it
        is awaitable, and returns it.

        Raises the registered `CacheError` (``CIRCUIT_BREAKER_OPEN`` or
        ``CIRCUIT_BREAKER_THROTTLING``) without calling the operation when refused. The
        operation's own exceptions propagate unchanged.
        """
        permit = self._admit(operation, operation_name)  # the checks execute_sync makes
        try:
            result = operation(*args, **kwargs)
            if _is_awaitable(result):
                result = await result
        except BaseException as exc:
            self._fail(permit, exc, operation_name)
            raise
        self._succeed(permit)
        return result

    async def execute_with_fallback(
        self,
        fallback: Any,
        operation: Callable[..., Any],
        operation_name: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """As `execute`, but returns ``fallback`` when the breaker refuses the call (no
        exception is built). The operation's own exceptions still propagate."""
        permit = self._admit_or(operation, operation_name, _REJECTED)
        if permit < 0:
            return fallback
        try:
            result = operation(*args, **kwargs)
            if _is_awaitable(result):
                result = await result
        except BaseException as exc:
            self._fail(permit, exc, operation_name)
            raise
        self._succeed(permit)
        return result

    def guard(self, operation_name: str = "call") -> CallGuard:
        """A context manager (sync or async) that runs its block as one guarded call."""
        return CallGuard(self, operation_name)

    @overload
    def protect(self, operation_name: F, *, fallback: Any = ...) -> F: ...
    @overload
    def protect(
        self, operation_name: Optional[str] = None, *, fallback: Any = ...
    ) -> Callable[[F], F]: ...
    def protect(
        self,
        operation_name: Union[str, F, None] = None,
        *,
        fallback: Any = _MISSING,
    ) -> Union[F, Callable[[F], F]]:
        """Decorator: every call of the function goes through the breaker.

        ``@breaker.protect``, ``@breaker.protect("get")`` or
        ``@breaker.protect("get", fallback=None)`` (return ``fallback`` when refused). Works on
        sync functions (via `execute_sync`) and ``async def`` functions (via `execute`).
        """
        if callable(operation_name):
            return self.protect(None, fallback=fallback)(operation_name)

        def decorate(fn: F) -> F:
            name: str = (
                operation_name
                if isinstance(operation_name, str) and operation_name
                else getattr(fn, "__name__", "call")
            )
            if inspect.iscoroutinefunction(fn):
                if fallback is _MISSING:

                    async def run_async(*args: Any, **kwargs: Any) -> Any:
                        return await self.execute(fn, name, *args, **kwargs)
                else:

                    async def run_async(*args: Any, **kwargs: Any) -> Any:
                        return await self.execute_with_fallback(fallback, fn, name, *args, **kwargs)

                return cast(F, functools.wraps(fn)(run_async))
            if fallback is _MISSING:

                def run_sync(*args: Any, **kwargs: Any) -> Any:
                    return self.execute_sync(fn, name, *args, **kwargs)
            else:

                def run_sync(*args: Any, **kwargs: Any) -> Any:
                    return self.call_with_fallback(fallback, fn, name, *args, **kwargs)

            return cast(F, functools.wraps(fn)(run_sync))

        return decorate

    # ---- health monitoring -----------------------------------------------------------------

    async def start_health_monitoring(self) -> None:
        """Starts one periodic task on the running loop that applies a due OPEN -> HALF_OPEN
        move every ``config.health_check_interval`` seconds (read live). Idempotent."""
        task = self._monitor_task
        if task is not None and not task.done() and not task.get_loop().is_closed():
            return
        loop = asyncio.get_running_loop()
        self._monitor_task = loop.create_task(self._monitor(), name="fact_resilience-monitor")

    async def stop_health_monitoring(self) -> None:
        """Cancels the monitor task and waits for it. Idempotent."""
        task, self._monitor_task = self._monitor_task, None
        if task is None or task.done():
            return
        task.cancel()
        loop = task.get_loop()
        if loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - always called from a coroutine
            return
        if loop is running:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def is_monitoring(self) -> bool:
        """Whether the health-monitor task is running."""
        task = self._monitor_task
        return task is not None and not task.done()

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(self._health_check_interval())
            try:
                self.poll()
            except Exception:  # a failing clock callable must not kill the monitor
                _log.exception("health monitor tick failed")


class ResilientCacheWrapper(_native.ResilientCacheWrapper):
    """FACT's resilient cache wrapper: runs the cache manager's methods through the breaker
    and, with ``enable_graceful_degradation`` (default), answers from ``fallback_responses``
    when the breaker refuses a call or the manager fails.

    ``ResilientCacheWrapper(cache_manager, circuit_breaker=None,
    enable_graceful_degradation=True, fallback_responses=None, *,
    max_pending_invalidations=1024, stale_keys="auto")``. The manager's methods are looked up
    on every call and may be sync or async.

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

    async def _call(self, op: str, key: Any, *args: Any) -> Any:
        ticket, method, flush = self._begin(op, key)
        if ticket < 0:
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
        return self._end_ok(ticket, result)

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
