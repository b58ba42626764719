"""Whether an operation's result must be awaited: the one check every guarded call makes, kept
cheap for the plain values most cache calls return."""

from __future__ import annotations

import inspect
import types

_CoroutineType = types.CoroutineType
# Result types that are never awaitable: skip `inspect.isawaitable` for them.
_PLAIN: frozenset[type] = frozenset({bool, int, float, str, bytes, type(None), dict, list, tuple})


def is_awaitable(value: object) -> bool:
    """Whether ``value`` is a coroutine, a future or anything else with ``__await__``."""
    t = type(value)
    if t is _CoroutineType:
        return True
    if t in _PLAIN:
        return False
    return inspect.isawaitable(value)
