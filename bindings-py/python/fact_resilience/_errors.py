"""The package's own `CacheError`, shaped like FACT's `core.errors.CacheError`."""

from __future__ import annotations

from typing import Any, Optional

from ._native import _Refusal

__all__ = ["CacheError", "CacheShedError"]


# The C-level `args` of every exception; `CacheError.args` wraps it.
_ARGS: Any = BaseException.__dict__["args"]
_LAZY = frozenset({"message", "error_code", "context"})


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

    # A call the breaker refused is created as `BaseException.__new__(CacheError, refusal)`
    # (see `_native._Refusal`): no `__init__` run and nothing formatted while the refusal is
    # raised. The first read of `args`, `message`, `error_code` or `context` fills them in
    # exactly as `__init__(message, error_code=code, context=context)` would have; attributes
    # the caller set before that are kept.

    def _settle(self) -> bool:
        """Fills in a refusal's attributes; whether this instance was one."""
        args = _ARGS.__get__(self)
        if len(args) != 1 or type(args[0]) is not _Refusal:
            return False
        message, error_code, context = args[0].fields()
        _ARGS.__set__(self, (message,))
        attrs = self.__dict__
        attrs.setdefault("message", message)
        attrs.setdefault("error_code", error_code)
        attrs.setdefault("context", context)
        return True

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: for a refusal's attributes before they are set.
        if name in _LAZY and self._settle():
            return getattr(self, name)
        return object.__getattribute__(self, name)

    @property
    def args(self) -> tuple[Any, ...]:
        self._settle()
        return _ARGS.__get__(self)  # type: ignore[no-any-return]

    @args.setter
    def args(self, value: Any) -> None:
        _ARGS.__set__(self, value)

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
