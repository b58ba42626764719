"""`CallGuard`: one guarded call as a context manager, sync or async."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Optional, Union

from . import _native

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["CallGuard"]


class CallGuard:
    """One guarded call: ``with breaker.guard("get"):`` or ``async with breaker.guard("get"):``.

    Entering asks the breaker for a permit (raising the registered `CacheError` when refused);
    leaving reports success, or the exception (neutral or failure, as the breaker decides).
    Exceptions are never swallowed. A guard is single-use.
    """

    __slots__ = ("_breaker", "_name", "_permit", "_spent")

    def __init__(self, breaker: _native.CacheCircuitBreaker, operation_name: str) -> None:
        if not isinstance(operation_name, str):
            raise TypeError(f"operation_name must be a str, got {type(operation_name).__name__}")
        self._breaker = breaker
        self._name = operation_name
        self._permit: Optional[Union[int, tuple[int, int]]] = None
        self._spent = False

    def __enter__(self) -> Self:
        if self._permit is not None or self._spent:
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
        self._permit = None
        self._spent = True
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
