"""`ResilientCacheWrapper.get_or_load`: read through the cache guard, and on a miss carry out
what the core's origin guard answers (lead the origin call, join one, busy, or a remembered
value). Nothing here decides; it calls the loader, awaits, and hands each load's result to
the callers that joined it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from . import _native
from ._awaiting import is_awaitable

if TYPE_CHECKING:
    from ._wrapper import ResilientCacheWrapper

__all__ = ["get_or_load"]

_log = logging.getLogger("fact_resilience")

_LEAD = _native._LOAD_LEAD
_JOIN = _native._LOAD_JOIN

Loader = Callable[[], Union[Any, Awaitable[Any]]]


def _content(entry: Any) -> Any:
    """The value a cache entry holds: FACT-shaped managers return an entry whose ``content`` is
    what ``store`` was given; any other manager's value is taken as it is."""
    return getattr(entry, "content", entry)


async def get_or_load(wrapper: ResilientCacheWrapper, key: Any, load: Loader) -> Any:
    """See `ResilientCacheWrapper.get_or_load`."""
    if not callable(load):
        raise TypeError(f"load must be a zero-argument callable, got {type(load).__name__}")
    outcome = ""

    def observe(how: str, _exc: Optional[BaseException]) -> None:
        nonlocal outcome
        outcome = how

    entry = await wrapper._call("get", key, key, observe=observe)
    if outcome == "success" and entry is not None:
        value = _content(entry)
        wrapper._origin_served(key, value)
        return value
    # A plain miss, or a read that was refused, failed or shed: the cache is down.
    flight: Optional[Future[Any]] = Future() if wrapper._single_flight else None
    kind, payload = wrapper._origin_begin(key, outcome != "success", flight)
    if kind == _LEAD:
        return await _lead(wrapper, key, load, payload)
    if kind == _JOIN:
        if payload is None:  # pragma: no cover - a join is only answered under single-flight
            raise RuntimeError("get_or_load: joined a load without a shared result")
        return await _joined(payload)
    return payload  # a remembered value, or the busy fallback


async def _lead(wrapper: ResilientCacheWrapper, key: Any, load: Loader, ticket: int) -> Any:
    try:
        value = load()
        if is_awaitable(value):
            value = await value
    except BaseException as exc:
        shared, _ = wrapper._origin_end(ticket, False)
        if shared is not None:
            shared.set_exception(exc)
        raise
    shared, store = wrapper._origin_end(ticket, True, value)
    if shared is not None:
        shared.set_result(value)
    # Not after a write to the key was seen while it loaded (the value may predate it); not
    # None (nothing to cache: a read of it would be a miss again).
    if store and value is not None:
        try:
            await wrapper._store_loaded("store", key, key, value)
        except Exception as exc:  # the value was loaded; a failed store only costs a miss
            _log.warning(
                "get_or_load: storing the loaded value failed (%s: %s)", type(exc).__name__, exc
            )
    return value


def _joined(shared: Future[Any]) -> asyncio.Future[Any]:
    """This caller's own future for a load another caller leads, on this loop. Cancelling it
    leaves the load and the other callers alone (``asyncio.wrap_future`` would cancel the
    shared result for everyone)."""
    loop = asyncio.get_running_loop()
    mine: asyncio.Future[Any] = loop.create_future()
    thread = threading.get_ident()

    def settle(done: Future[Any]) -> None:
        if mine.done():
            return
        exc = done.exception()
        if exc is not None:
            mine.set_exception(exc)
        else:
            mine.set_result(done.result())

    def arrived(done: Future[Any]) -> None:
        if threading.get_ident() == thread:
            settle(done)  # the leader runs on this loop's thread
            return
        # A RuntimeError: this caller's loop is closed, nobody waits any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, done)

    shared.add_done_callback(arrived)
    return mine
