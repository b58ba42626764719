"""`CacheCircuitBreaker` as FACT knows it: the native breaker (which makes every decision)
plus the ``async`` members. They only call the operation, await its result when it is
awaitable, and report the outcome; they hold no lock and no event loop, so any thread may call
them from a fresh loop each time."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Optional, TypeVar, Union, cast, overload

from . import _native
from ._awaiting import is_awaitable as _is_awaitable
from ._guard import CallGuard
from ._monitor import HealthMonitor

__all__ = ["CacheCircuitBreaker"]

F = TypeVar("F", bound=Callable[..., Any])

# `_acquire_or` returns this instead of a permit (a pair of ints) when the call is refused.
_REJECTED: Any = object()
_MISSING: Any = object()


class CacheCircuitBreaker(HealthMonitor, _native.CacheCircuitBreaker):
    """FACT's circuit breaker for cache operations.

    ``CacheCircuitBreaker(config=None, *, clock=None, wall_clock=None, error_class=None,
    neutral_exceptions=None, on_state_change=None)``. The state machine, counters and
    thread safety live in Rust; this class adds the ``async`` members.
    """

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
        if permit is _REJECTED:
            return fallback
        # The same steps as `execute`, written out: a shared helper coroutine would add a
        # coroutine frame to every guarded call.
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
