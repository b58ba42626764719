"""The package's own `CacheError`, shaped like FACT's `core.errors.CacheError`."""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["CacheError", "CacheShedError"]


class CacheError(Exception):
    """An error from the cache layer, or a call the circuit breaker refused.

    Same constructor and attributes as FACT's class: ``message``, ``error_code`` (the class
    name when not given) and ``context`` (``{}`` when not given). Unlike FACT's, ``str()``
    always contains the code, e.g. ``"[CIRCUIT_BREAKER_OPEN] circuit breaker is open: ..."``.

    A host can make the breaker raise its own class instead: see
    :func:`fact_resilience.set_error_class`.
    """

    message: str
    error_code: str
    context: dict[str, Any]

    def __init__(
        self,
        message: str,
        error_code: Optional[str] = None,
        context: Optional[dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code or type(self).__name__
        self.context = context if context is not None else {}

    def __str__(self) -> str:
        if self.error_code in self.message:
            return self.message
        return f"[{self.error_code}] {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.error_code, self.context))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, error_code={self.error_code!r})"


class CacheShedError(Exception):
    """The call never reached the cache: the client had no capacity for it (every connection
    slot busy past its wait budget).

    Raise it (or a subclass) from a cache manager to say so. `ResilientCacheWrapper` answers
    such a call with the fallback and counts it as ``shed``; the breaker is not charged,
    because the cache server was never asked.
    """
