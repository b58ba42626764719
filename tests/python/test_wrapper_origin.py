"""`ResilientCacheWrapper` with per-key breakers (`hierarchy=`) and origin protection
(`get_or_load`: single-flight, budget, stale-if-error), issue 14. Time is a `ManualClock`;
concurrency is driven by events, never by sleeps."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Optional

import pytest

from conftest import LONG_CONTENT, FactCacheError
from fact_resilience import (
    ORIGIN_BUSY,
    BreakerRegistry,
    CacheCircuitBreaker,
    CacheError,
    CircuitBreakerConfig,
    CircuitState,
    ManualClock,
    ResilientCacheWrapper,
)


class Entry:
    def __init__(self, content: str) -> None:
        self.content = content


class Manager:
    """A per-key cache whose keys in `failing` (by prefix) raise, counting what reached it."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.failing: tuple[str, ...] = ()
        self.down = False
        self.calls: list[tuple[str, str]] = []

    def _reach(self, op: str, key: str) -> None:
        self.calls.append((op, key))
        if self.down or key.startswith(self.failing or ("\0",)):
            raise ConnectionError(f"{op} {key}: shard down")

    def get(self, key: str) -> Optional[Entry]:
        self._reach("get", key)
        value = self.data.get(key)
        return None if value is None else Entry(value)

    def store(self, key: str, content: str) -> bool:
        self._reach("store", key)
        self.data[key] = content
        return True

    def invalidate(self, key: str) -> int:
        self._reach("invalidate", key)
        return int(self.data.pop(key, None) is not None)

    def invalidate_by_prefix(self, prefix: str) -> int:
        self._reach("invalidate_by_prefix", prefix)
        doomed = [k for k in self.data if k.startswith(prefix)]
        for k in doomed:
            del self.data[k]
        return len(doomed)


class Origin:
    """A loader that counts its calls and, when `gated`, waits for its `gate` to open."""

    def __init__(
        self,
        value: Any = "from origin",
        error: Optional[BaseException] = None,
        *,
        gated: bool = False,
    ) -> None:
        self.value = value
        self.error = error
        self.calls = 0
        self.gate: Optional[asyncio.Event] = asyncio.Event() if gated else None

    async def __call__(self) -> Any:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.value


def never() -> Any:
    raise AssertionError("the origin must not be called")


def breaker(clock: ManualClock, **fields: Any) -> CacheCircuitBreaker:
    config = CircuitBreakerConfig(**{"timeout_seconds": 60.0, **fields})
    return CacheCircuitBreaker(config, clock=clock)


def wrapper(
    clock: ManualClock, manager: Optional[Manager] = None, **options: Any
) -> ResilientCacheWrapper:
    return ResilientCacheWrapper(manager or Manager(), breaker(clock), **options)


async def settle() -> None:
    """Lets every task started so far run up to its first real wait."""
    for _ in range(5):
        await asyncio.sleep(0)


# ---- single-flight ---------------------------------------------------------------------------


async def test_concurrent_misses_of_one_key_share_one_origin_call_while_open(
    clock: ManualClock,
) -> None:
    w = wrapper(clock, single_flight=True)
    w.circuit_breaker.force_open()
    origin = Origin(gated=True)
    callers = [asyncio.ensure_future(w.get_or_load("k", origin)) for _ in range(20)]
    await settle()
    assert w.origin_metrics()["in_flight"] == 1
    origin.gate.set()
    assert await asyncio.gather(*callers) == ["from origin"] * 20
    assert origin.calls == 1
    m = w.origin_metrics()
    assert (m["origin_calls"], m["joined"], m["in_flight"]) == (1, 19, 0)


async def test_a_failing_load_gives_every_joiner_the_same_error(clock: ManualClock) -> None:
    w = wrapper(clock, single_flight=True)
    w.circuit_breaker.force_open()
    boom = LookupError("the database is down too")
    origin = Origin(error=boom, gated=True)
    callers = [asyncio.ensure_future(w.get_or_load("k", origin)) for _ in range(5)]
    await settle()
    origin.gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(r is boom for r in results)
    assert origin.calls == 1
    # The next miss leads a new load.
    origin.error = None
    assert await w.get_or_load("k", origin) == "from origin"
    assert origin.calls == 2


async def test_a_cancelled_joiner_leaves_the_load_and_the_others_alone(clock: ManualClock) -> None:
    w = wrapper(clock, single_flight=True)
    w.circuit_breaker.force_open()
    origin = Origin(gated=True)
    leader = asyncio.ensure_future(w.get_or_load("k", origin))
    await settle()
    quitter = asyncio.ensure_future(w.get_or_load("k", origin))
    stayer = asyncio.ensure_future(w.get_or_load("k", origin))
    await settle()
    quitter.cancel()
    await settle()
    origin.gate.set()
    assert await leader == await stayer == "from origin"
    assert quitter.cancelled()
    assert origin.calls == 1


async def test_a_cancelled_leader_passes_the_cancellation_to_its_joiners(
    clock: ManualClock,
) -> None:
    w = wrapper(clock, single_flight=True)
    w.circuit_breaker.force_open()
    origin = Origin(gated=True)
    leader = asyncio.ensure_future(w.get_or_load("k", origin))
    await settle()
    joiner = asyncio.ensure_future(w.get_or_load("k", origin))
    await settle()
    leader.cancel()
    results = await asyncio.gather(leader, joiner, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert w.origin_metrics()["in_flight"] == 0
    origin.gate.set()
    assert await w.get_or_load("k", origin) == "from origin"  # the next miss leads again


def test_a_caller_on_another_thread_and_loop_joins_the_load(clock: ManualClock) -> None:
    w = wrapper(clock, single_flight=True)
    w.circuit_breaker.force_open()
    leading, release = threading.Event(), threading.Event()
    calls = []

    async def load() -> str:
        calls.append(1)
        leading.set()
        await asyncio.to_thread(release.wait, 10)
        return "shared"

    results: list[Any] = []
    leader = threading.Thread(target=lambda: results.append(asyncio.run(w.get_or_load("k", load))))
    leader.start()
    assert leading.wait(10)

    async def join() -> Any:
        task = asyncio.ensure_future(w.get_or_load("k", load))
        await settle()
        release.set()
        return await task

    assert asyncio.run(join()) == "shared"
    leader.join(10)
    assert results == ["shared"] and calls == [1]
    assert w.origin_metrics()["joined"] == 1


async def test_without_single_flight_every_miss_loads(clock: ManualClock) -> None:
    w = wrapper(clock)
    w.circuit_breaker.force_open()
    origin = Origin(gated=True)
    callers = [asyncio.ensure_future(w.get_or_load("k", origin)) for _ in range(3)]
    await settle()
    origin.gate.set()
    assert await asyncio.gather(*callers) == ["from origin"] * 3
    assert origin.calls == 3
    assert w.origin_metrics()["origin_calls"] == 3


# ---- hits, misses and the store after a load -------------------------------------------------


async def test_a_hit_returns_the_content_and_a_miss_loads_and_stores(clock: ManualClock) -> None:
    manager = Manager()
    w = wrapper(clock, manager)
    origin = Origin()
    assert await w.get_or_load("k", origin) == "from origin"
    assert manager.data["k"] == "from origin"
    assert await w.get_or_load("k", never) == "from origin"
    assert origin.calls == 1
    assert w.origin_metrics()["origin_calls"] == 1


async def test_a_failed_store_after_a_load_is_not_the_callers_error(clock: ManualClock) -> None:
    manager = Manager()
    w = wrapper(clock, manager, enable_graceful_degradation=False)
    manager.failing = ("k",)
    with pytest.raises(ConnectionError):  # degradation off: the read's failure is raised
        await w.get_or_load("k", Origin())
    w.enable_graceful_degradation = True
    assert await w.get_or_load("k", Origin()) == "from origin"
    assert manager.calls[-1] == ("store", "k")


async def test_a_loaded_none_is_returned_and_not_stored(clock: ManualClock) -> None:
    manager = Manager()
    w = wrapper(clock, manager)
    assert await w.get_or_load("k", lambda: None) is None
    assert manager.calls == [("get", "k")]


async def test_a_sync_loader_works(clock: ManualClock) -> None:
    w = wrapper(clock)
    assert await w.get_or_load("k", lambda: "sync value") == "sync value"


# ---- the origin budget -----------------------------------------------------------------------


async def test_beyond_the_budget_a_miss_raises_origin_busy(
    clock: ManualClock, fact_errors: type[FactCacheError]
) -> None:
    w = wrapper(clock, origin_budget=2)
    origin = Origin(gated=True)
    running = [asyncio.ensure_future(w.get_or_load(k, origin)) for k in ("a", "b")]
    await settle()
    with pytest.raises(fact_errors) as caught:
        await w.get_or_load("c", never)
    assert caught.value.error_code == ORIGIN_BUSY == "ORIGIN_BUSY"
    assert "ORIGIN_BUSY" in str(caught.value)
    assert caught.value.context["origin_budget"] == 2
    origin.gate.set()
    await asyncio.gather(*running)
    assert await w.get_or_load("c", Origin("c")) == "c"  # room again
    assert w.origin_metrics()["busy"] == 1


@pytest.mark.parametrize("fallback", [None, "try later"])
async def test_beyond_the_budget_the_busy_fallback_answers(
    clock: ManualClock, fallback: Optional[str]
) -> None:
    w = wrapper(clock, origin_budget=1, origin_busy_fallback=fallback)
    origin = Origin(gated=True)
    running = asyncio.ensure_future(w.get_or_load("a", origin))
    await settle()
    assert await w.get_or_load("b", never) == fallback
    origin.gate.set()
    assert await running == "from origin"


async def test_the_package_cache_error_carries_origin_busy(clock: ManualClock) -> None:
    w = wrapper(clock, origin_budget=1)
    origin = Origin(gated=True)
    running = asyncio.ensure_future(w.get_or_load("a", origin))
    await settle()
    with pytest.raises(CacheError, match="ORIGIN_BUSY"):
        await w.get_or_load("b", never)
    origin.gate.set()
    await running


# ---- stale-if-error --------------------------------------------------------------------------


async def test_stale_answers_only_while_the_cache_is_down_and_within_the_age(
    clock: ManualClock,
) -> None:
    manager = Manager()
    manager.data["k"] = "cached"
    w = wrapper(clock, manager, stale_if_error_seconds=10)
    assert await w.get_or_load("k", never) == "cached"  # a hit: remembered
    del manager.data["k"]
    origin = Origin("fresh")
    assert await w.get_or_load("k", origin) == "fresh"  # a plain miss: the cache is up
    manager.down = True
    clock.advance(10)
    assert await w.get_or_load("k", never) == "fresh"  # down, 10 s old: stale answers
    assert w.origin_metrics()["stale_served"] == 1
    clock.advance(0.5)
    assert await w.get_or_load("k", Origin("newer")) == "newer"  # past the age: the origin


async def test_stale_is_never_served_after_a_write_of_that_key(clock: ManualClock) -> None:
    manager = Manager()
    manager.data.update({"a": "A", "b": "B", "c": "C"})
    w = wrapper(clock, manager, stale_if_error_seconds=10)
    for k in "abc":
        assert await w.get_or_load(k, never) == k.upper()
    await w.store("a", "A2")
    await w.invalidate("b")
    manager.down = True
    assert await w.get_or_load("a", Origin("from origin a")) == "from origin a"
    assert await w.get_or_load("b", Origin("from origin b")) == "from origin b"
    assert await w.get_or_load("c", never) == "C"
    await w.invalidate_by_prefix("")  # may have written anything
    assert await w.get_or_load("c", Origin("from origin c")) == "from origin c"


async def test_an_invalidate_carried_out_by_prefix_forgets_every_value(
    clock: ManualClock, fact_manager: Any
) -> None:
    # FACT's manager has no per-key invalidate: the wrapper's invalidate(key) removes by prefix.
    w = ResilientCacheWrapper(fact_manager, breaker(clock), stale_if_error_seconds=10)
    for k in ("a", "b"):
        await w.store(k, LONG_CONTENT)
        assert await w.get_or_load(k, never) == LONG_CONTENT
    await w.invalidate("a")
    w.circuit_breaker.force_open()
    assert await w.get_or_load("b", Origin("from origin")) == "from origin"


async def test_a_load_overtaken_by_a_write_is_neither_stored_nor_remembered(
    clock: ManualClock,
) -> None:
    manager = Manager()
    w = wrapper(clock, manager, stale_if_error_seconds=10, single_flight=True)
    origin = Origin("before the write", gated=True)
    loading = asyncio.ensure_future(w.get_or_load("k", origin))
    await settle()
    await w.store("k", "after the write")
    origin.gate.set()
    assert await loading == "before the write"
    assert manager.data["k"] == "after the write"  # the older value did not overwrite it
    manager.down = True
    assert await w.get_or_load("k", Origin("origin")) == "origin"
    assert w.origin_metrics()["stale_served"] == 0


async def test_stale_answers_while_the_breaker_refuses(clock: ManualClock) -> None:
    manager = Manager()
    manager.data["k"] = "cached"
    w = wrapper(clock, manager, stale_if_error_seconds=30)
    assert await w.get_or_load("k", never) == "cached"
    w.circuit_breaker.force_open()
    clock.advance(5)
    assert await w.get_or_load("k", never) == "cached"


# ---- per-key breakers --------------------------------------------------------------------------


def shard_registry(clock: ManualClock) -> BreakerRegistry:
    return BreakerRegistry(
        [
            ("shard", CircuitBreakerConfig(failure_threshold=3, timeout_seconds=60.0)),
            ("key", CircuitBreakerConfig(failure_threshold=2, timeout_seconds=60.0)),
        ],
        clock=clock,
    )


def by_shard(key: str) -> list[str]:
    return [key.split(":", 1)[0], key]


async def test_a_failing_key_range_opens_only_its_own_breakers(clock: ManualClock) -> None:
    manager = Manager()
    manager.failing = ("bad:",)
    registry = shard_registry(clock)
    w = ResilientCacheWrapper(
        manager,
        breaker(clock, failure_threshold=5),
        hierarchy=registry,
        key_path=by_shard,
    )
    for i in range(4):
        assert await w.get(f"bad:{i}") is None  # failed: the fallback
        assert await w.store(f"good:{i}", "v") is True
    assert registry.state(["bad"]) is CircuitState.OPEN
    assert registry.state(["bad", "bad:0"]) is CircuitState.CLOSED  # one failure each
    assert registry.state(["good"]) is CircuitState.CLOSED
    assert w.circuit_breaker.get_state() is CircuitState.CLOSED
    # The open shard refuses without reaching the cache; other keys still run.
    reached = len(manager.calls)
    for i in range(10):
        assert await w.get(f"bad:{i}") is None
    assert len(manager.calls) == reached
    assert (await w.get("good:1")).content == "v"
    assert w.circuit_breaker.get_state() is CircuitState.CLOSED
    # The root saw every outcome its permits covered: 3 failures, 5 successes.
    m = w.circuit_breaker.get_metrics()
    assert (m.failure_count, m.success_count) == (3, 5)


async def hot_and_cold(stale_keys: str) -> tuple[BreakerRegistry, ResilientCacheWrapper]:
    """A hot key whose reads and writes fail, and a cold one that works, through get_or_load."""
    clock = ManualClock()
    manager = Manager()
    manager.failing = ("hot",)
    registry = BreakerRegistry(
        [("key", CircuitBreakerConfig(failure_threshold=2, timeout_seconds=60.0))], clock=clock
    )
    w = ResilientCacheWrapper(manager, breaker(clock), hierarchy=registry, stale_keys=stale_keys)
    origin = Origin()
    for _ in range(4):
        assert await w.get_or_load("hot", origin) == "from origin"
        assert await w.get_or_load("cold", origin) == "from origin"
    return registry, w


async def test_a_hot_failing_key_opens_its_own_breaker_only() -> None:
    registry, w = await hot_and_cold("off")
    assert registry.state(["hot"]) is CircuitState.OPEN
    assert registry.state(["cold"]) is CircuitState.CLOSED
    assert w.circuit_breaker.get_state() is CircuitState.CLOSED


async def test_a_failing_keys_pending_invalidation_is_not_charged_to_another_key() -> None:
    # The hot key's skipped writes are flushed inside the cold key's calls; a failing flush is
    # judged by the whole cache's breaker alone, not by the path of the call that carried it.
    registry, w = await hot_and_cold("per_key")
    assert registry.state(["hot"]) is CircuitState.OPEN
    assert registry.state(["cold"]) is CircuitState.CLOSED
    hot = registry.metrics(["hot"])
    assert hot is not None
    # The flushes did fail: the root counts them beyond the hot key's own failures.
    assert w.circuit_breaker.get_metrics().failure_count > hot.failure_count


async def test_an_open_root_refuses_before_any_key_breaker_is_made(clock: ManualClock) -> None:
    registry = shard_registry(clock)
    w = ResilientCacheWrapper(Manager(), breaker(clock), hierarchy=registry, key_path=by_shard)
    w.circuit_breaker.force_open()
    assert await w.get("good:1") is None
    assert len(registry) == 0
    assert await w.invalidate_by_prefix("good:") == 0  # the fallback


async def test_a_prefix_invalidation_is_judged_by_the_root_alone(clock: ManualClock) -> None:
    manager = Manager()
    registry = shard_registry(clock)
    w = ResilientCacheWrapper(manager, breaker(clock), hierarchy=registry, key_path=by_shard)
    await w.store("good:1", "v")
    assert await w.invalidate_by_prefix("good:") == 1
    assert len(registry) == 2  # the store's shard and key, nothing for the prefix


async def test_a_refusal_by_a_key_breaker_raises_without_degradation(clock: ManualClock) -> None:
    manager = Manager()
    manager.failing = ("bad:",)
    w = ResilientCacheWrapper(
        manager,
        breaker(clock),
        enable_graceful_degradation=False,
        hierarchy=shard_registry(clock),
        key_path=by_shard,
    )
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await w.get("bad:1")
    with pytest.raises(CacheError, match="CIRCUIT_BREAKER_OPEN"):
        await w.get("bad:1")
    assert w.circuit_breaker.get_state() is CircuitState.CLOSED


async def test_skipped_writes_under_a_key_breaker_are_flushed_later(clock: ManualClock) -> None:
    manager = Manager()
    manager.failing = ("bad:",)
    w = ResilientCacheWrapper(
        manager, breaker(clock), hierarchy=shard_registry(clock), key_path=by_shard
    )
    for _ in range(2):
        await w.store("bad:1", "v")
    assert await w.store("bad:1", "v") is True  # refused by its key breaker: remembered
    assert w.pending_invalidations == 1
    manager.failing = ()
    await w.get("good:1")  # the next admitted call flushes it first
    assert ("invalidate", "bad:1") in manager.calls
    assert w.pending_invalidations == 0


# ---- defaults and bad input ---------------------------------------------------------------------


async def test_without_the_options_the_wrapper_is_unchanged(clock: ManualClock) -> None:
    manager = Manager()
    w = wrapper(clock, manager)
    assert await w.store("k", "v") is True
    assert (await w.get("k")).content == "v"
    assert w.origin_metrics() == dict.fromkeys(
        ("origin_calls", "joined", "busy", "stale_served", "in_flight", "remembered"), 0
    )


Bad = Callable[[], Any]


@pytest.mark.parametrize(
    ("options", "error", "names"),
    [
        ({"origin_budget": 0}, ValueError, "origin_budget"),
        ({"origin_budget": -1}, ValueError, "origin_budget"),
        ({"origin_budget": "8"}, TypeError, "origin_budget"),
        ({"stale_if_error_seconds": 0}, ValueError, "stale_if_error_seconds"),
        ({"stale_if_error_seconds": -1.0}, ValueError, "stale_if_error_seconds"),
        ({"stale_if_error_seconds": float("nan")}, ValueError, "stale_if_error_seconds"),
        ({"stale_if_error_seconds": 5, "stale_capacity": 0}, ValueError, "stale_capacity"),
        ({"stale_capacity": -1}, ValueError, "stale_capacity"),
        ({"single_flight": "yes"}, TypeError, "single_flight"),
        ({"hierarchy": object()}, TypeError, "hierarchy"),
        ({"key_path": by_shard}, ValueError, "key_path"),
        ({"hierarchy": "registry", "key_path": 5}, TypeError, "key_path"),
    ],
)
def test_bad_options_are_refused_naming_the_argument(
    clock: ManualClock, options: dict[str, Any], error: type[Exception], names: str
) -> None:
    if options.get("hierarchy") == "registry":
        options["hierarchy"] = shard_registry(clock)
    with pytest.raises(error, match=names):
        wrapper(clock, **options)


def test_a_hierarchy_of_several_levels_needs_a_key_path(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="key_path is required: hierarchy has 2 levels"):
        wrapper(clock, hierarchy=shard_registry(clock))


async def test_a_bad_path_or_key_is_refused_naming_it(clock: ManualClock) -> None:
    registry = shard_registry(clock)
    w = wrapper(clock, hierarchy=registry, key_path=lambda k: [k])
    with pytest.raises(ValueError, match=r"key_path\(key\): path: expected 2 segments"):
        await w.get("k")
    w = wrapper(clock, hierarchy=registry, key_path=lambda k: k)
    with pytest.raises(TypeError, match=r"key_path\(key\) must be a list of str"):
        await w.get("k")
    one = BreakerRegistry(["key"], clock=clock)
    w = wrapper(clock, hierarchy=one)
    with pytest.raises(TypeError, match="key must be a str"):
        await w.get(42)
    assert len(registry) == len(one) == 0
    assert w.get_metrics()["guard"]["in_flight"] == 0


async def test_get_or_load_refuses_a_bad_loader_or_key(clock: ManualClock) -> None:
    w = wrapper(clock)
    with pytest.raises(TypeError, match="load must be a zero-argument callable"):
        await w.get_or_load("k", "not callable")  # type: ignore[arg-type]
    w.circuit_breaker.force_open()
    with pytest.raises(TypeError, match="key must be a str, bytes or int"):
        await w.get_or_load(("a", "tuple"), never)


async def test_the_roots_half_open_move_is_heard_when_a_key_breaker_refuses_the_call(
    clock: ManualClock,
) -> None:
    manager = Manager()
    manager.failing = ("bad:",)
    root = breaker(clock, failure_threshold=100, timeout_seconds=1.0)
    heard: list[tuple[str, str]] = []
    root.on_state_change(lambda frm, to, _reason: heard.append((frm.value, to.value)))
    registry = shard_registry(clock)
    w = ResilientCacheWrapper(manager, root, hierarchy=registry, key_path=by_shard)
    for _ in range(2):
        assert await w.get("bad:1") is None  # the key's breaker opens
    root.force_open()
    clock.advance(2.0)  # past the root's timeout, not the key's
    assert await w.get("bad:1") is None  # the root half-opens, then the key refuses
    assert root.get_state() is CircuitState.HALF_OPEN
    assert heard[-1] == ("open", "half_open"), heard
