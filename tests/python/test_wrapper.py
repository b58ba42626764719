"""ResilientCacheWrapper: identity, degradation, fallbacks, method lookup, metrics, bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any
from unittest.mock import MagicMock, patch

import pytest

from conftest import LONG_CONTENT, AsyncMockManager, FactCacheError, FactCacheManager
from fact_resilience import (
    CacheCircuitBreaker,
    CacheError,
    CircuitBreakerConfig,
    CircuitState,
    ManualClock,
    ResilientCacheWrapper,
)


def make(manager: Any, clock: ManualClock, **kw: Any) -> ResilientCacheWrapper:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=2), clock=clock)
    return ResilientCacheWrapper(manager, breaker, **kw)


def test_constructor_keeps_the_same_objects(fact_manager: FactCacheManager) -> None:
    breaker = CacheCircuitBreaker()
    fallbacks = {"get": "fallback"}
    w = ResilientCacheWrapper(
        cache_manager=fact_manager, circuit_breaker=breaker, fallback_responses=fallbacks
    )
    assert w.cache_manager is fact_manager and w.circuit_breaker is breaker
    assert w.fallback_responses is fallbacks and w.breaker is breaker
    default = ResilientCacheWrapper(fact_manager)
    assert isinstance(default.circuit_breaker, CacheCircuitBreaker)
    assert default.enable_graceful_degradation is True
    assert default.fallback_responses == {"store": True, "get": None, "invalidate": 0}
    assert "ResilientCacheWrapper(" in repr(default)


def test_constructor_and_attributes_refuse_bad_types(fact_manager: FactCacheManager) -> None:
    with pytest.raises(TypeError, match="circuit_breaker"):
        ResilientCacheWrapper(fact_manager, circuit_breaker="breaker")
    with pytest.raises(TypeError, match="enable_graceful_degradation"):
        ResilientCacheWrapper(fact_manager, enable_graceful_degradation="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fallback_responses"):
        ResilientCacheWrapper(fact_manager, fallback_responses=[("get", 1)])
    w = ResilientCacheWrapper(fact_manager)
    with pytest.raises(TypeError, match="enable_graceful_degradation"):
        w.enable_graceful_degradation = 1  # type: ignore[assignment]
    with pytest.raises(TypeError, match="circuit_breaker"):
        w.circuit_breaker = object()  # type: ignore[assignment]
    with pytest.raises(AttributeError):
        del w.cache_manager
    other = FactCacheManager({"prefix": "p2"})
    w.cache_manager = other
    assert w.cache_manager is other


async def test_get_returns_the_managers_entry_object(
    fact_manager: FactCacheManager, clock: ManualClock
) -> None:
    w = make(fact_manager, clock)
    h = w.generate_hash("q")
    assert await w.store(h, LONG_CONTENT) is True
    entry = await w.get(h)
    assert entry is fact_manager.cache[h] and entry.access_count == 1


async def test_store_returns_a_bool(clock: ManualClock) -> None:
    manager = MagicMock()
    w = make(manager, clock)
    manager.store.return_value = {"entry": 1}
    assert await w.store("h", "c") is True
    manager.store.return_value = None
    assert await w.store("h", "c") is True
    manager.store.return_value = False
    assert await w.store("h", "c") is False


async def test_degradation_on_serves_fallbacks_for_failures_and_refusals(
    clock: ManualClock,
) -> None:
    manager = AsyncMockManager()
    w = make(manager, clock, fallback_responses={"store": "S", "get": "G", "invalidate": -1})
    manager.failing = True
    assert await w.store("a", "b") == "S"
    assert await w.get("a") == "G"
    assert w.circuit_breaker.get_state() is CircuitState.OPEN
    assert await w.invalidate_by_prefix("a") == -1
    assert await w.invalidate("a") == -1
    w.fallback_responses.pop("get")
    assert await w.get("a") is None, "a missing key gives None"


async def test_degradation_off_reraises_the_managers_exception_unchanged(
    clock: ManualClock, fact_errors: type
) -> None:
    manager = AsyncMockManager()
    w = make(manager, clock, enable_graceful_degradation=False)
    manager.failing = True
    with pytest.raises(FactCacheError) as err:
        await w.store("a", "b")
    assert err.value.error_code == "CACHE_STORAGE_ERROR"
    with pytest.raises(FactCacheError):
        await w.get("a")
    with pytest.raises(FactCacheError) as err:
        await w.get("a")
    assert err.value.error_code == "CIRCUIT_BREAKER_OPEN"


async def test_generic_exception_from_a_sync_get_gives_none(
    fact_manager: FactCacheManager, clock: ManualClock
) -> None:
    w = make(fact_manager, clock)
    with patch.object(fact_manager, "get", side_effect=Exception("db down")):
        assert await w.get("x") is None
    assert w.circuit_breaker.get_metrics().failure_count == 1


async def test_manager_methods_are_looked_up_on_every_call(clock: ManualClock) -> None:
    manager = AsyncMockManager()
    w = make(manager, clock)
    assert await w.store("a", "b") is True

    async def replaced(query_hash: str, content: str) -> bool:
        return False

    manager.store = replaced  # type: ignore[method-assign]
    assert await w.store("a", "b") is False


async def test_a_manager_lacking_a_method_names_it(clock: ManualClock) -> None:
    class Bare:
        pass

    w = make(Bare(), clock)
    for call, name in (
        (w.store("a", "b"), "store"),
        (w.get("a"), "get"),
        (w.invalidate_by_prefix("a"), "invalidate_by_prefix"),
        (w.invalidate("a"), "invalidate_by_prefix"),
    ):
        with pytest.raises(AttributeError, match=name):
            await call
    assert w.circuit_breaker.get_metrics().total_operations == 0
    w.enable_graceful_degradation = False
    with pytest.raises(AttributeError, match="'get'"):
        await w.get("a")


async def test_invalidate_prefers_the_managers_invalidate(clock: ManualClock) -> None:
    manager = MagicMock()
    manager.invalidate.return_value = 3
    w = make(manager, clock)
    assert await w.invalidate("k") == 3
    manager.invalidate.assert_called_once_with("k")
    fact_like = FactCacheManager({"prefix": "p"})
    fact_like.store("h1", LONG_CONTENT)
    w2 = make(fact_like, clock)
    assert await w2.invalidate("p") == 1
    assert w2.circuit_breaker.get_metrics().success_count == 1


def test_generate_hash_is_the_managers_or_sha256(
    fact_manager: FactCacheManager, clock: ManualClock
) -> None:
    w = make(fact_manager, clock)
    assert w.generate_hash("q") == fact_manager.generate_hash("q")

    class NoHash:
        pass

    assert make(NoHash(), clock).generate_hash("q") == hashlib.sha256(b"q").hexdigest()
    assert w.circuit_breaker.get_metrics().total_operations == 0, "not through the breaker"


@dataclasses.dataclass
class DataMetrics:
    hits: int = 1
    when: Any = dataclasses.field(default_factory=lambda: {"nested": (1, object)})


class ToDictMetrics:
    def to_dict(self) -> dict[str, Any]:
        return {"hits": 2}


class VarsMetrics:
    def __init__(self) -> None:
        self.hits = 3
        self._private = "hidden"


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"hits": 0, "rate": 1.5}, {"hits": 0, "rate": 1.5}),
        (DataMetrics(), {"hits": 1, "when": {"nested": [1, str(object)]}}),
        (ToDictMetrics(), {"hits": 2}),
        (VarsMetrics(), {"hits": 3}),
    ],
    ids=["dict", "dataclass", "to_dict", "vars"],
)
def test_cache_metrics_are_copied_into_a_json_safe_dict(
    metrics: Any, expected: dict[str, Any], clock: ManualClock
) -> None:
    class Manager:
        def get_metrics(self) -> Any:
            return metrics

    out = make(Manager(), clock).get_metrics()
    assert out["cache"] == expected
    json.dumps(out)
    if isinstance(metrics, dict):
        out["cache"]["hits"] = 99
        assert metrics["hits"] == 0, "a copy, not the manager's dict"


def test_cache_metrics_never_raise(clock: ManualClock) -> None:
    class Broken:
        def get_metrics(self) -> Any:
            raise RuntimeError("metrics down")

    assert make(Broken(), clock).get_metrics()["cache"] == {}
    assert make(AsyncMockManager(), clock).get_metrics()["cache"] == {}
    json.dumps(make(MagicMock(), clock).get_metrics())


def test_breaker_metrics_keys_for_the_driver(fact_manager: FactCacheManager) -> None:
    cb = ResilientCacheWrapper(fact_manager).get_metrics()["circuit_breaker"]
    for key in (
        "state",
        "failure_count",
        "success_count",
        "total_operations",
        "failure_rate",
        "state_changes",
    ):
        assert key in cb
    assert cb["state"] == "closed"


async def test_health_check_and_monitoring_are_idempotent(
    fact_manager: FactCacheManager, clock: ManualClock
) -> None:
    w = make(fact_manager, clock)
    health = await w.health_check()
    report = health.pop("health")
    assert health == {
        "healthy": True,
        "state": "closed",
        "call_permitted": True,
        "degradation_enabled": True,
    }
    assert (report["status"], report["alerts"]) == ("ok", [])
    await w.start_monitoring()
    await w.start_monitoring()
    assert w.breaker.is_monitoring
    await w.stop_monitoring()
    await w.stop_monitoring()
    await w.breaker.stop_health_monitoring()
    assert not w.breaker.is_monitoring
    w.breaker.force_open()
    health = await w.health_check()
    assert health["healthy"] is False and health["call_permitted"] is False
    # Issue 13: the report rides along under a key of its own; FACT's keys are unchanged.
    w.breaker.config.timeout_seconds = 1000.0
    clock.advance(301)
    health = await w.health_check()
    assert health["health"]["status"] == "critical"
    assert [a["rule"] for a in health["health"]["alerts"]] == ["critical_open_seconds"]


async def test_refused_calls_raise_the_breakers_error_without_degradation(
    clock: ManualClock,
) -> None:
    manager = AsyncMockManager()
    w = make(manager, clock, enable_graceful_degradation=False)
    w.circuit_breaker.force_open()
    with pytest.raises(CacheError, match="CIRCUIT_BREAKER_OPEN"):
        await w.store("a", "b")
    assert manager.calls == 0
