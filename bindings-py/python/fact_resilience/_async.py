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
# `ResilientCacheWrapper._run(skipped=...)`: a skipped prefix invalidation (flush everything).
_EVERYTHING: Any = object()


def _is_awaitable(value: object) -> bool:
    t = type(value)
    if t is _CoroutineType:
        return True
    if t in _PLAIN:
        return False
    return inspect.isawaitable(value)


async def _maybe_await(value: Any) -> Any:
    if _is_awaitable(value):
        return await value
    return value


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
    max_pending_invalidations=1024)``. The manager's methods are looked up on every call and
    may be sync or async.

    A ``store`` or ``invalidate`` that degradation answered without reaching the cache leaves
    its key pending (a skipped ``invalidate_by_prefix``, or more than
    ``max_pending_invalidations`` keys, pends the whole prefix). The next call the breaker
    admits first invalidates them, inside the same permit; if that fails, the call fails and
    the keys stay pending. So a value updated during an outage is never served stale after
    recovery. ``max_pending_invalidations=None`` turns this off.
    """

    @property
    def breaker(self) -> CacheCircuitBreaker:
        """The breaker, typed as the async subclass."""
        return cast(CacheCircuitBreaker, self.circuit_breaker)

    def _method(self, name: str) -> Callable[..., Any]:
        manager = self.cache_manager
        method = getattr(manager, name, None)
        if method is None or not callable(method):
            raise AttributeError(
                f"cache manager {type(manager).__name__!r} has no callable {name!r} method",
                name=name,
                obj=manager,
            )
        return cast(Callable[..., Any], method)

    async def _run(
        self,
        method: Callable[..., Any],
        operation: str,
        fallback_key: str,
        *args: Any,
        as_stored: bool = False,
        key: Optional[str] = None,
        skipped: Any = None,
    ) -> Any:
        """One call through the breaker. ``key`` is the cache key the call reads or writes (to
        wait out a flush of that key); ``skipped`` is what to remember if the call does not
        reach the cache while degraded: a key, `_EVERYTHING`, or None (a read: nothing)."""
        breaker = self.circuit_breaker
        degrade = self.enable_graceful_degradation
        if degrade:
            permit = breaker._acquire_or(operation, _REJECTED)
            if permit < 0:
                self._remember(skipped)
                return self.fallback_responses.get(fallback_key)
        else:
            permit = breaker._acquire(operation)
        try:
            flush = self._pending_begin(key)
            if flush is not None:
                if flush is False:
                    # Another call is invalidating this key right now: the cache cannot be
                    # trusted for it until that is done, and the flush covers a skipped write.
                    if degrade:
                        breaker._neutral(permit)
                        return self.fallback_responses.get(fallback_key)
                else:
                    await self._flush(*flush)
            result = method(*args)
            if _is_awaitable(result):
                result = await result
        except BaseException as exc:
            counted = breaker._fail(permit, exc, operation)
            if counted and degrade:
                self._remember(skipped)
                _log.warning(
                    "cache %s failed (%s: %s); serving the fallback",
                    operation,
                    type(exc).__name__,
                    exc,
                )
                return self.fallback_responses.get(fallback_key)
            raise
        breaker._succeed(permit)
        if as_stored:
            return result is not False
        return result

    def _remember(self, skipped: Any) -> None:
        if skipped is None:
            return
        if skipped is _EVERYTHING:
            self._pending_remember_all()
        else:
            self._pending_remember(skipped)

    async def _flush(self, everything: bool, keys: list[str]) -> None:
        """Invalidates what `_pending_begin` handed out, inside the caller's permit: one
        ``invalidate_many(keys)`` if the manager has it, else ``invalidate(key)`` per key, else
        (and after an overflow) ``invalidate_by_prefix(manager.prefix)``. Raises on failure,
        after putting the batch back."""
        ok = False
        try:
            manager = self.cache_manager
            if not everything:
                many = getattr(manager, "invalidate_many", None)
                one = getattr(manager, "invalidate", None)
                if callable(many):
                    await _maybe_await(many(keys))
                elif callable(one):
                    for k in keys:
                        await _maybe_await(one(k))
                elif isinstance(getattr(manager, "prefix", None), str):
                    everything = True
                else:  # no per-key call and no prefix: a key is its own prefix (see `invalidate`)
                    by_prefix = self._method("invalidate_by_prefix")
                    for k in keys:
                        await _maybe_await(by_prefix(k))
            if everything:
                prefix = getattr(manager, "prefix", None)
                if isinstance(prefix, str):
                    await _maybe_await(self._method("invalidate_by_prefix")(prefix))
                else:
                    _log.warning(
                        "cache manager %r has no `prefix`: skipped writes cannot be flushed",
                        type(manager).__name__,
                    )
            ok = True
        finally:
            self._pending_end(ok)

    async def store(self, query_hash: str, content: str) -> Any:
        """Stores through the breaker; returns True when stored (False only if the manager
        returned False), or ``fallback_responses["store"]`` under degradation (the key is then
        remembered and invalidated before the cache is used again)."""
        method = self._method("store")
        return await self._run(
            method,
            "store",
            "store",
            query_hash,
            content,
            as_stored=True,
            key=query_hash,
            skipped=query_hash,
        )

    async def get(self, query_hash: str) -> Any:
        """The manager's entry for ``query_hash`` (the very object it returned), None on a miss,
        or ``fallback_responses["get"]`` under degradation."""
        return await self._run(self._method("get"), "get", "get", query_hash, key=query_hash)

    async def invalidate_by_prefix(self, prefix: str) -> Any:
        """The manager's count of removed entries, or ``fallback_responses["invalidate"]``
        (a skipped prefix invalidation makes the next flush clear the manager's prefix)."""
        method = self._method("invalidate_by_prefix")
        return await self._run(
            method, "invalidate_by_prefix", "invalidate", prefix, skipped=_EVERYTHING
        )

    async def invalidate(self, key: str) -> Any:
        """The manager's ``invalidate(key)`` if it has one, else ``invalidate_by_prefix(key)``;
        fallback ``fallback_responses["invalidate"]`` (the key is then remembered)."""
        manager = self.cache_manager
        if callable(getattr(manager, "invalidate", None)):
            method = self._method("invalidate")
        else:
            method = self._method("invalidate_by_prefix")
        return await self._run(method, "invalidate", "invalidate", key, skipped=key)

    async def start_monitoring(self) -> None:
        """Starts the breaker's health monitoring (idempotent)."""
        await self.breaker.start_health_monitoring()

    async def stop_monitoring(self) -> None:
        """Stops the breaker's health monitoring (idempotent)."""
        await self.breaker.stop_health_monitoring()

    async def health_check(self) -> dict[str, Any]:
        """``{"healthy", "state", "call_permitted", "degradation_enabled"}``."""
        breaker = self.circuit_breaker
        permitted = breaker.is_call_permitted()
        state = breaker.get_state()
        return {
            "healthy": state is CircuitState.CLOSED,
            "state": state.value,
            "call_permitted": permitted,
            "degradation_enabled": self.enable_graceful_degradation,
        }


# Public names live in `fact_resilience`; say so in reprs and tracebacks.
for _cls in (CacheCircuitBreaker, ResilientCacheWrapper, CallGuard):
    _cls.__module__ = "fact_resilience"
del _cls
