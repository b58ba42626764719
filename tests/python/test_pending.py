"""Pending invalidations (issue #5): writes skipped while degraded are invalidated before the
cache is used again, so a value updated during an outage is never served stale afterwards."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

import pytest

from conftest import AsyncMockManager, FactCacheManager
from fact_resilience import (
    CacheCircuitBreaker,
    CacheError,
    CircuitBreakerConfig,
    CircuitState,
    ManualClock,
    ResilientCacheWrapper,
)


class Recorder:
    """An async cache with per-key `invalidate` that logs every call and can be taken down."""

    def __init__(self) -> None:
        self.prefix = "svc"
        self.data: dict[str, str] = {}
        self.log: list[tuple[str, str]] = []
        self.down = False
        self.invalidate_down = False

    def _check(self, op: str, arg: str) -> None:
        self.log.append((op, arg))
        if self.down or (op.startswith("invalidate") and self.invalidate_down):
            raise ConnectionError(f"{op}: cache unreachable")

    async def store(self, key: str, value: str) -> bool:
        self._check("store", key)
        self.data[key] = value
        return True

    async def get(self, key: str) -> Optional[str]:
        self._check("get", key)
        return self.data.get(key)

    async def invalidate(self, key: str) -> int:
        self._check("invalidate", key)
        return 1 if self.data.pop(key, None) is not None else 0

    async def invalidate_by_prefix(self, prefix: str) -> int:
        self._check("invalidate_by_prefix", prefix)
        n = len(self.data) if prefix == self.prefix else 0
        if n:
            self.data.clear()
        return n


def make(manager: Any, clock: ManualClock, **kw: Any) -> ResilientCacheWrapper:
    config = CircuitBreakerConfig(
        failure_threshold=2, success_threshold=1, timeout_seconds=10, gradual_recovery=False
    )
    return ResilientCacheWrapper(manager, CacheCircuitBreaker(config, clock=clock), **kw)


async def trip(w: ResilientCacheWrapper) -> None:
    w.circuit_breaker.force_open()
    assert w.circuit_breaker.get_state() is CircuitState.OPEN


async def test_a_store_skipped_while_open_is_invalidated_before_the_next_call(
    clock: ManualClock,
) -> None:
    cache = Recorder()
    w = make(cache, clock)
    await w.store("k", "old")
    await trip(w)
    assert await w.store("k", "new") is True  # skipped: the cache still holds "old"
    assert (w.pending_invalidations, w.pending_overflowed) == (1, False)
    metrics = w.get_metrics()
    assert (metrics["pending_invalidations"], metrics["pending_overflowed"]) == (1, False)
    clock.advance(10)
    cache.log.clear()
    assert await w.get("k") is None  # the probe flushed "k" first, so no stale "old"
    assert cache.log == [("invalidate", "k"), ("get", "k")]
    assert w.circuit_breaker.get_state() is CircuitState.CLOSED
    assert w.pending_invalidations == 0


async def test_a_skipped_invalidate_is_remembered_too(clock: ManualClock) -> None:
    cache = Recorder()
    w = make(cache, clock)
    await w.store("k", "old")
    await trip(w)
    assert await w.invalidate("k") == 0
    clock.advance(10)
    assert await w.get("k") is None


async def test_a_manager_failure_under_degradation_leaves_the_key_pending(
    clock: ManualClock,
) -> None:
    cache = Recorder()
    w = make(cache, clock)
    cache.down = True
    assert await w.store("k", "v") is True  # failed, fallback served
    assert w.pending_invalidations == 1
    cache.down = False
    cache.log.clear()
    await w.get("other")
    assert cache.log == [("invalidate", "k"), ("get", "other")]


async def test_a_failed_flush_fails_the_call_and_keeps_the_keys(clock: ManualClock) -> None:
    cache = Recorder()
    w = make(cache, clock)
    await w.store("k", "old")
    await trip(w)
    await w.store("k", "new")
    clock.advance(10)
    cache.invalidate_down = True
    assert await w.get("k") is None  # the probe's flush failed: fallback, and OPEN again
    assert ("get", "k") not in cache.log
    assert w.circuit_breaker.get_state() is CircuitState.OPEN
    assert w.pending_invalidations == 1
    cache.invalidate_down = False
    clock.advance(10)
    assert await w.get("k") is None
    assert "k" not in cache.data
    assert w.circuit_breaker.get_state() is CircuitState.CLOSED


async def test_a_failed_flush_raises_without_degradation(clock: ManualClock) -> None:
    cache = Recorder()
    w = make(cache, clock)
    cache.down = True
    await w.store("k", "v")
    cache.down = False
    cache.invalidate_down = True
    w.enable_graceful_degradation = False
    with pytest.raises(ConnectionError, match="invalidate"):
        await w.get("x")
    assert w.pending_invalidations == 1


async def test_more_keys_than_the_capacity_flush_the_prefix(clock: ManualClock) -> None:
    cache = Recorder()
    w = make(cache, clock, max_pending_invalidations=2)
    assert w.max_pending_invalidations == 2
    await trip(w)
    for k in "abc":
        await w.store(k, "v")
    assert (w.pending_invalidations, w.pending_overflowed) == (0, True)
    clock.advance(10)
    cache.log.clear()
    await w.get("a")
    assert cache.log == [("invalidate_by_prefix", "svc"), ("get", "a")]


async def test_a_skipped_prefix_invalidation_flushes_the_prefix(clock: ManualClock) -> None:
    cache = Recorder()
    w = make(cache, clock)
    await trip(w)
    assert await w.invalidate_by_prefix("svc") == 0
    assert w.pending_overflowed
    clock.advance(10)
    cache.log.clear()
    await w.get("a")
    assert cache.log[0] == ("invalidate_by_prefix", "svc")


async def test_invalidate_many_is_preferred_for_a_batch(clock: ManualClock) -> None:
    class Batched(Recorder):
        async def invalidate_many(self, keys: list[str]) -> int:
            self.log.append(("invalidate_many", ",".join(keys)))
            return len(keys)

    cache = Batched()
    w = make(cache, clock)
    await trip(w)
    await w.store("b", "v")
    await w.store("a", "v")
    clock.advance(10)
    cache.log.clear()
    await w.get("z")
    assert cache.log == [("invalidate_many", "a,b"), ("get", "z")]


async def test_facts_prefix_only_manager_keeps_what_was_stored_by_default(
    clock: ManualClock, fact_manager: FactCacheManager
) -> None:
    # Issue #9: flushing FACT's whole prefix after a throttled store erased the items stored
    # during recovery; a prefix-only manager keeps FACT's own behaviour unless it opts in.
    w = make(fact_manager, clock)
    assert w.stale_keys == "off"
    fact_manager.store("kept", "x" * 100)
    await trip(w)
    await w.store("k", "y" * 100)
    clock.advance(10)
    assert (await w.get("kept")).content == "x" * 100
    assert w.pending_invalidations == 0 and not w.pending_overflowed


async def test_facts_manager_opts_in_to_a_prefix_flush(
    clock: ManualClock, fact_manager: FactCacheManager
) -> None:
    w = make(fact_manager, clock, stale_keys="prefix")
    assert w.stale_keys == "prefix"
    fact_manager.store("kept", "x" * 100)
    await trip(w)
    await w.store("k", "y" * 100)
    assert w.pending_overflowed
    clock.advance(10)
    assert await w.get("kept") is None


async def test_a_manager_that_cannot_invalidate_remembers_nothing(
    clock: ManualClock, mock_manager: AsyncMockManager
) -> None:
    w = make(mock_manager, clock)
    assert w.stale_keys == "off"
    for option in ("per_key", "prefix"):
        with pytest.raises(ValueError, match="stale_keys"):
            make(mock_manager, clock, stale_keys=option)
    await trip(w)
    await w.store("k1", "new")
    assert w.pending_invalidations == 0


def test_an_unknown_stale_keys_option_is_refused(fact_manager: FactCacheManager) -> None:
    with pytest.raises(ValueError, match="stale_keys must be one of"):
        ResilientCacheWrapper(fact_manager, stale_keys="sometimes")


async def test_keys_are_invalidated_as_given_not_as_their_str(clock: ManualClock) -> None:
    cache = Recorder()
    w = make(cache, clock)
    await trip(w)
    await w.store(b"raw", "v")
    await w.store(7, "v")
    clock.advance(10)
    await w.get("z")
    assert ("invalidate", b"raw") in cache.log and ("invalidate", 7) in cache.log


async def test_a_key_of_a_type_that_cannot_be_remembered_is_refused_without_a_slot(
    clock: ManualClock,
) -> None:
    w = make(Recorder(), clock)
    for bad in [(1, 2), 1.5, True]:
        with pytest.raises(TypeError, match="key must be a str, bytes or int"):
            await w.store(bad, "v")  # type: ignore[arg-type]
    assert w.get_metrics()["guard"]["in_flight"] == 0
    assert w.circuit_breaker.get_metrics().total_operations == 0


async def test_tracking_can_be_turned_off(clock: ManualClock) -> None:
    cache = Recorder()
    w = make(cache, clock, max_pending_invalidations=None)
    assert w.max_pending_invalidations is None
    await w.store("k", "old")
    await trip(w)
    await w.store("k", "new")
    assert w.pending_invalidations == 0
    clock.advance(10)
    assert await w.get("k") == "old"  # the stale value the default protects against


async def test_refused_writes_without_degradation_are_remembered_too(clock: ManualClock) -> None:
    cache = Recorder()
    w = make(cache, clock, enable_graceful_degradation=False)
    await trip(w)
    with pytest.raises(CacheError):
        await w.store("k", "v")
    assert w.pending_invalidations == 1  # the cache may still hold the old value


async def test_clear_pending_invalidations_forgets_them(clock: ManualClock) -> None:
    w = make(Recorder(), clock, max_pending_invalidations=0)
    await trip(w)
    await w.store("k", "v")
    assert w.pending_overflowed
    w.clear_pending_invalidations()
    assert not w.pending_overflowed and w.pending_invalidations == 0


async def test_a_call_for_a_key_being_flushed_is_served_the_fallback(clock: ManualClock) -> None:
    gate = asyncio.Event()

    class Slow(Recorder):
        async def invalidate(self, key: str) -> int:
            self.log.append(("invalidate", key))
            await gate.wait()
            return 1 if self.data.pop(key, None) is not None else 0

    cache = Slow()
    w = make(cache, clock)
    await w.store("k", "old")
    await trip(w)
    await w.store("k", "new")
    clock.advance(10)
    probe = asyncio.ensure_future(w.get("other"))
    await asyncio.sleep(0)
    assert await w.get("k") is None  # "k" is being invalidated: not read from the cache
    assert ("get", "k") not in cache.log
    assert await w.get("unrelated") is None and ("get", "unrelated") in cache.log
    gate.set()
    await probe
    assert (await w.get("k")) is None and ("get", "k") in cache.log


def test_a_negative_capacity_is_refused(fact_manager: FactCacheManager) -> None:
    with pytest.raises(ValueError, match="max_pending_invalidations"):
        ResilientCacheWrapper(fact_manager, max_pending_invalidations=-1)
    assert ResilientCacheWrapper(fact_manager).max_pending_invalidations == 1024


async def test_a_ticket_ended_twice_is_refused_naming_it_and_counts_once(
    clock: ManualClock,
) -> None:
    w = make(Recorder(), clock)
    ticket, method, flush = w._begin("get", "k")
    assert ticket >= 0 and flush is None
    assert w._end_ok(ticket, await method("k")) is None
    with pytest.raises(ValueError, match=f"ticket {ticket} is not a cache call in flight"):
        w._end_ok(ticket, None)
    with pytest.raises(ValueError, match="ticket"):
        w._end_error(ticket, "get", ConnectionError("late"))
    assert w.circuit_breaker.get_metrics().success_count == 1
    assert w.get_metrics()["guard"]["in_flight"] == 0


def test_an_unknown_cache_operation_is_refused_without_a_slot(clock: ManualClock) -> None:
    w = make(Recorder(), clock)
    with pytest.raises(ValueError, match="unknown cache operation 'fetch'"):
        w._begin("fetch", "k")
    assert w.get_metrics()["guard"]["in_flight"] == 0
    assert w.circuit_breaker.get_metrics().total_operations == 0
