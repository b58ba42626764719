"""docs/fact-contract.md §12: one test per row of the acceptance checklist.

Each test is named after the FACT test or script it stands for and reproduces what that test
asserts, against mocks shaped like FACT's (see conftest.py). The scripts' sleeps are replaced
by a ManualClock; `test_real_clock.py` proves the real clock is wired.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from typing import Any
from unittest.mock import patch

import pytest

from conftest import LONG_CONTENT, AsyncMockManager, FactCacheError, FactCacheManager
from fact_resilience import (
    CacheCircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerMetrics,
    CircuitState,
    FailureRecord,
    ManualClock,
    ResilientCacheWrapper,
)

pytestmark = pytest.mark.usefixtures("fact_errors")

METRIC_ATTRS = (
    "state",
    "failure_count",
    "success_count",
    "total_operations",
    "failure_rate",
    "state_changes",
    "time_in_current_state",
    "recent_failures",
    "last_failure_time",
)


def script_wrapper(
    clock: ManualClock, manager: Any, **config: Any
) -> tuple[ResilientCacheWrapper, CacheCircuitBreaker]:
    cfg = CircuitBreakerConfig(**config)
    breaker = CacheCircuitBreaker(cfg, clock=clock)
    return ResilientCacheWrapper(cache_manager=manager, circuit_breaker=breaker), breaker


# ---- scripts/test_cache_resilience.py ----------------------------------------------------


async def test_script_test_circuit_breaker_states(clock: ManualClock) -> None:
    manager = AsyncMockManager()
    wrapper, breaker = script_wrapper(
        clock, manager, failure_threshold=3, success_threshold=2, timeout_seconds=2.0
    )
    assert breaker.get_state() == CircuitState.CLOSED
    for i in range(3):
        assert await wrapper.store(f"q{i}", f"content {i}") is True
    metrics = breaker.get_metrics()
    for attr in METRIC_ATTRS:
        getattr(metrics, attr)
    manager.failing = True
    for i in range(3):
        await wrapper.store(f"f{i}", "x")
    assert breaker.get_state() == CircuitState.OPEN
    assert await wrapper.get("q0") is None
    assert await wrapper.store("q9", "y") is True
    wrapper.enable_graceful_degradation = False
    with pytest.raises(FactCacheError) as err:
        await wrapper.get("q0")
    assert "CIRCUIT_BREAKER_OPEN" in str(err.value.error_code)
    wrapper.enable_graceful_degradation = True
    clock.advance(2.5)
    manager.failing = False
    assert await wrapper.store("after", "fixed") is True
    for i in range(5):
        await wrapper.store(f"later{i}", "ok")  # must not raise


async def test_script_test_graceful_degradation(clock: ManualClock) -> None:
    manager = AsyncMockManager()
    wrapper, breaker = script_wrapper(clock, manager, failure_threshold=2)
    manager.failing = True
    for i in range(3):
        await wrapper.store(f"k{i}", "v")
    assert breaker.get_state() == CircuitState.OPEN
    calls = manager.calls
    assert await wrapper.store("k", "v") is True
    assert await wrapper.get("k") is None
    assert await wrapper.invalidate_by_prefix("k") == 0
    assert manager.calls == calls, "an OPEN circuit must not call the manager"


async def test_script_test_performance_under_failures(clock: ManualClock) -> None:
    manager = AsyncMockManager(failure_rate=0.3)
    wrapper, breaker = script_wrapper(clock, manager, failure_threshold=5, timeout_seconds=1.0)
    for i in range(50):
        try:
            await wrapper.store(f"k{i}", "v")
        except FactCacheError:
            pass
        clock.advance(0.05)
    metrics = breaker.get_metrics()
    for attr in METRIC_ATTRS:
        getattr(metrics, attr)
    assert metrics.total_operations > 0


async def test_script_test_circuit_breaker_metrics(clock: ManualClock) -> None:
    manager = AsyncMockManager()
    wrapper, breaker = script_wrapper(clock, manager, failure_threshold=5)
    for i in range(5):
        await wrapper.store(f"ok{i}", "v")
    manager.failing = True
    for i in range(3):
        await wrapper.store(f"bad{i}", "v")
    metrics = breaker.get_metrics()
    assert isinstance(metrics, CircuitBreakerMetrics)
    assert len(metrics.recent_failures) == 3
    assert (metrics.success_count, metrics.failure_count, metrics.total_operations) == (5, 3, 8)
    assert all(isinstance(r, FailureRecord) for r in metrics.recent_failures)
    assert metrics.recent_failures[-1].error_type == "FactCacheError"
    assert metrics.recent_failures[-1].operation == "store"
    assert not hasattr(manager, "get_metrics")
    snapshot = wrapper.get_metrics()
    assert snapshot["cache"] == {}
    assert snapshot["circuit_breaker"]["failure_count"] == 3


async def test_script_test_recovery_scenarios(clock: ManualClock) -> None:
    manager = AsyncMockManager()
    wrapper, breaker = script_wrapper(clock, manager, failure_threshold=2, timeout_seconds=1.0)
    manager.failing = True
    for i in range(2):
        await wrapper.store(f"k{i}", "v")
    assert breaker.get_state() == CircuitState.OPEN
    clock.advance(1.5)
    manager.failing = False
    wrapper.enable_graceful_degradation = False
    outcomes = []
    for i in range(10):
        try:
            outcomes.append(await wrapper.store(f"r{i}", "v"))
        except FactCacheError as e:
            assert "THROTTLING" in str(e.error_code)
            outcomes.append("throttled")
    assert outcomes[0] is True
    assert "throttled" in outcomes


# ---- scripts/demo_cache_resilience.py ----------------------------------------------------


async def test_script_demo_cache_resilience_runs(clock: ManualClock) -> None:
    manager = AsyncMockManager()
    config = CircuitBreakerConfig(
        failure_threshold=3, success_threshold=2, timeout_seconds=3.0, recovery_factor=0.5
    )
    breaker = CacheCircuitBreaker(config, clock=clock)
    wrapper = ResilientCacheWrapper(manager, breaker)
    assert (config.failure_threshold, config.success_threshold, config.timeout_seconds) == (
        3,
        2,
        3.0,
    )
    assert wrapper.enable_graceful_degradation is True
    await wrapper.store("demo1", "hello")
    manager.failing = True
    for i in range(3):
        await wrapper.store(f"x{i}", "v")
    assert breaker.get_state() is CircuitState.OPEN
    manager.failing = False
    clock.advance(3.5)
    assert await wrapper.store("recovery1", "back") is True  # the probe
    assert await wrapper.get("recovery1") is None  # throttled: the demo prints "Not found"
    metrics = breaker.get_metrics()
    print(metrics.state.value, metrics.failure_rate, metrics.time_in_current_state)
    everything = wrapper.get_metrics()
    assert "cache" in everything
    json.dumps(everything["cache"])
    json.dumps(everything)


# ---- tests/integration/test_cache_resilience_e2e_sync.py (unittest, real CacheManager) ----


def run(coro: Any) -> Any:
    """As the sync e2e test does: a new event loop for every call."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def sync_e2e_setup(
    manager: FactCacheManager, clock: ManualClock | None = None
) -> tuple[ResilientCacheWrapper, CacheCircuitBreaker]:
    config = CircuitBreakerConfig(failure_threshold=3, success_threshold=3, timeout_seconds=5.0)
    breaker = CacheCircuitBreaker(config, clock=clock)
    return ResilientCacheWrapper(cache_manager=manager, circuit_breaker=breaker), breaker


def test_sync_e2e_cache_initialization_real_components(fact_manager: FactCacheManager) -> None:
    wrapper, _ = sync_e2e_setup(fact_manager)
    assert wrapper.circuit_breaker is not None
    assert wrapper.enable_graceful_degradation is True
    h = wrapper.generate_hash("what is FACT?")
    assert run(wrapper.store(h, LONG_CONTENT))
    assert run(wrapper.get(h)).content == LONG_CONTENT


def test_sync_e2e_normal_cache_operations_real_storage(fact_manager: FactCacheManager) -> None:
    wrapper, _ = sync_e2e_setup(fact_manager)
    assert run(wrapper.get(wrapper.generate_hash("never stored"))) is None
    for i in range(5):
        h = wrapper.generate_hash(f"query {i}")
        assert run(wrapper.store(h, f"{LONG_CONTENT} #{i}"))
        assert run(wrapper.get(h)).content == f"{LONG_CONTENT} #{i}"
    metrics = wrapper.get_metrics()
    assert isinstance(metrics, dict)
    assert "cache" in metrics and "circuit_breaker" in metrics


def test_sync_e2e_circuit_breaker_failure_scenarios(fact_manager: FactCacheManager) -> None:
    wrapper, breaker = sync_e2e_setup(fact_manager)
    with (
        patch.object(fact_manager, "get", side_effect=Exception("Database connection failed")),
        patch.object(fact_manager, "store", side_effect=Exception("Storage failed")),
    ):
        for i in range(5):
            try:
                run(wrapper.get(f"k{i}"))
                run(wrapper.store(f"k{i}", LONG_CONTENT))
            except Exception:
                pass
    assert breaker.state == CircuitState.OPEN
    assert run(wrapper.get(wrapper.generate_hash("anything"))) is None


def trip_with_failing_gets(
    wrapper: ResilientCacheWrapper, breaker: CacheCircuitBreaker, fact_manager: FactCacheManager
) -> None:
    """The sync e2e test's trip: three gets on a manager patched to raise a generic Exception."""
    with patch.object(fact_manager, "get", side_effect=Exception("down")):
        for i in range(3):
            run(wrapper.get(f"k{i}"))
    assert breaker.is_open()


def test_sync_e2e_circuit_breaker_recovery_mechanisms(
    fact_manager: FactCacheManager, clock: ManualClock
) -> None:
    wrapper, breaker = sync_e2e_setup(fact_manager, clock)
    trip_with_failing_gets(wrapper, breaker, fact_manager)
    clock.advance(0.1)
    assert breaker.is_open()
    breaker.config.timeout_seconds = 0.5  # live: applies to the circuit already OPEN
    clock.advance(0.8)
    try:
        run(wrapper.get(wrapper.generate_hash("probe")))
    except Exception as e:  # only a breaker refusal is acceptable
        assert "CIRCUIT_BREAKER" in str(e)
    assert breaker.get_state() in (CircuitState.HALF_OPEN, CircuitState.CLOSED)
    stored = 0
    h = ""
    for i in range(10):
        h = wrapper.generate_hash(f"recovery {i}")
        before = len(fact_manager.cache)
        run(wrapper.store(h, LONG_CONTENT))
        stored += len(fact_manager.cache) - before
    assert stored >= 3
    assert breaker.is_closed()
    assert run(wrapper.get(h)).content == LONG_CONTENT


def test_recovery_items_survive_recovery_with_facts_prefix_only_manager(
    fact_manager: FactCacheManager, clock: ManualClock
) -> None:
    # Issue #9: a throttled store used to pend a flush of FACT's whole prefix, so the items
    # stored during recovery vanished ("Cache invalidated by prefix ... entries_removed: 1").
    wrapper, breaker = sync_e2e_setup(fact_manager, clock)
    trip_with_failing_gets(wrapper, breaker, fact_manager)
    clock.advance(breaker.config.timeout_seconds)
    stored: list[str] = []
    for i in range(10):
        h = wrapper.generate_hash(f"recovery {i}")
        before = len(fact_manager.cache)
        assert run(wrapper.store(h, LONG_CONTENT)) is True
        if len(fact_manager.cache) > before:
            stored.append(h)
        if len(stored) >= 3 and breaker.is_closed():
            break
    assert len(stored) == 3 and breaker.is_closed()
    first = run(wrapper.get(stored[0]))
    assert first is not None and first.content == LONG_CONTENT
    assert wrapper.get_metrics()["guard"]["flushes"] == 0


def test_sync_e2e_performance_under_various_conditions(fact_manager: FactCacheManager) -> None:
    wrapper, _ = sync_e2e_setup(fact_manager)
    start = time.perf_counter()
    for i in range(10):
        run(wrapper.store(wrapper.generate_hash(f"perf {i}"), LONG_CONTENT))
    assert time.perf_counter() - start < 5.0

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                h = wrapper.generate_hash(f"thread {n} query {i}")
                run(wrapper.store(h, LONG_CONTENT))
                assert run(wrapper.get(h)).content == LONG_CONTENT
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert time.perf_counter() - start < 10.0


def test_sync_e2e_metrics_collection_and_validation(fact_manager: FactCacheManager) -> None:
    wrapper, _ = sync_e2e_setup(fact_manager)
    h = wrapper.generate_hash("metrics")
    run(wrapper.store(h, LONG_CONTENT))
    run(wrapper.get(h))
    run(wrapper.get(wrapper.generate_hash("missing")))
    metrics = wrapper.get_metrics()
    cache = metrics["cache"]
    assert cache["cache_hits"] >= 1 and cache["cache_misses"] >= 1 and cache["total_requests"] > 0
    for key in ("state", "failure_count", "success_count", "total_operations"):
        assert key in metrics["circuit_breaker"]
    json.dumps(metrics)


def test_sync_e2e_real_database_integration(fact_manager: FactCacheManager) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE companies (name TEXT, revenue REAL)")
    db.executemany("INSERT INTO companies VALUES (?, ?)", [(f"c{i}", i * 1.5) for i in range(200)])
    start = time.perf_counter()
    rows = db.execute("SELECT name, revenue FROM companies WHERE revenue > 100").fetchall()
    db_time = time.perf_counter() - start
    content = f"{LONG_CONTENT} rows={rows!r}"
    wrapper, _ = sync_e2e_setup(fact_manager)
    h = wrapper.generate_hash("SELECT companies")
    run(wrapper.store(h, content))
    start = time.perf_counter()
    entry = run(wrapper.get(h))
    cache_time = time.perf_counter() - start
    assert entry.content == content
    # FACT compares against 1.5x the SQLite time (timing-flaky by nature); the breaker's share
    # is what we can vouch for: far below a millisecond on top of the loop's creation.
    assert cache_time < max(1.5 * db_time, 0.05)


def test_sync_e2e_stress_and_failure_recovery(fact_manager: FactCacheManager) -> None:
    wrapper, _ = sync_e2e_setup(fact_manager)
    ok = 0
    for i in range(50):
        h = wrapper.generate_hash(f"stress {i}")
        run(wrapper.store(h, LONG_CONTENT))
        entry = run(wrapper.get(h))
        ok += entry is not None and entry.content == LONG_CONTENT
    assert ok / 50 > 0.8


def test_sync_e2e_comprehensive_system_validation(fact_manager: FactCacheManager) -> None:
    wrapper, breaker = sync_e2e_setup(fact_manager)
    h = wrapper.generate_hash("comprehensive")
    run(wrapper.store(h, LONG_CONTENT))
    assert run(wrapper.get(h)).content == LONG_CONTENT
    assert breaker.is_closed()
    start = time.perf_counter()
    for i in range(5):
        run(wrapper.store(wrapper.generate_hash(f"c{i}"), LONG_CONTENT))
    assert time.perf_counter() - start < 2.0
    metrics = wrapper.get_metrics()
    assert {"cache", "circuit_breaker"} <= metrics.keys()
    with patch.object(fact_manager, "get", side_effect=Exception("boom")):
        assert run(wrapper.get(h)) is None


# ---- tests/integration/test_cache_resilience_e2e.py (async, real CacheManager) -----------


class AsyncE2E:
    """The async e2e test's fixture: config 3/2/5.0/60.0 with health_check_interval 1.0."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.manager = FactCacheManager(
            {"prefix": "fact_e2e", "min_tokens": 100, "max_size": "5MB", "ttl_seconds": 3600}
        )
        self.config = CircuitBreakerConfig(
            failure_threshold=3,
            success_threshold=2,
            timeout_seconds=5.0,
            rolling_window_seconds=60.0,
            health_check_interval=1.0,
        )
        self.breaker = CacheCircuitBreaker(self.config, clock=clock)
        self.wrapper = ResilientCacheWrapper(
            cache_manager=self.manager, circuit_breaker=self.breaker
        )
        self.content = LONG_CONTENT * 3  # >= 100 tokens


async def e2e_cache_initialization_real_components(t: AsyncE2E) -> None:
    assert t.breaker.state == CircuitState.CLOSED
    assert t.wrapper.cache_manager is t.manager
    assert t.wrapper.circuit_breaker is t.breaker
    assert t.wrapper.get_metrics()["circuit_breaker"]["state"] == "closed"


async def e2e_normal_cache_operations_real_storage(t: AsyncE2E) -> None:
    h = t.wrapper.generate_hash("normal")
    start = time.perf_counter()
    assert await t.wrapper.store(h, t.content) == True  # noqa: E712 - FACT asserts == True
    store_time = time.perf_counter() - start
    start = time.perf_counter()
    entry = await t.wrapper.get(h)
    get_time = time.perf_counter() - start
    assert entry.content == t.content and entry.access_count >= 1
    assert await t.wrapper.get(t.wrapper.generate_hash("missing")) is None
    assert await t.wrapper.invalidate_by_prefix(t.manager.prefix) >= 1
    assert store_time < 0.140 and get_time < 0.050


async def e2e_circuit_breaker_failure_scenarios(t: AsyncE2E) -> None:
    original = t.manager.store

    def failing_store(query_hash: str, content: str) -> None:
        raise FactCacheError("Simulated storage failure", "CACHE_STORAGE_ERROR")

    t.manager.store = failing_store  # type: ignore[method-assign]
    try:
        for i in range(5):
            await t.wrapper.store(f"fail{i}", t.content)
        assert t.breaker.get_state() == CircuitState.OPEN
        try:
            assert await t.wrapper.store("while-open", t.content) is True
        except FactCacheError as e:
            assert "CIRCUIT_BREAKER" in e.error_code
    finally:
        t.manager.store = original  # type: ignore[method-assign]


async def e2e_circuit_breaker_recovery_mechanisms(t: AsyncE2E) -> None:
    t.breaker.force_open()
    assert t.breaker.get_state() == CircuitState.OPEN
    t.clock.advance(6.0)
    for i in range(3):
        assert await t.wrapper.store(t.wrapper.generate_hash(f"recover{i}"), t.content) == True  # noqa: E712
    assert t.breaker.get_state() == CircuitState.CLOSED


async def e2e_performance_under_various_conditions(t: AsyncE2E) -> None:
    store_times, get_times = [], []
    for i in range(10):
        h = t.wrapper.generate_hash(f"perf{i}")
        start = time.perf_counter()
        await t.wrapper.store(h, t.content)
        store_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        await t.wrapper.get(h)
        get_times.append(time.perf_counter() - start)
    results = await asyncio.gather(
        *(t.wrapper.store(t.wrapper.generate_hash(f"c{i}"), t.content) for i in range(20))
    )
    assert all(r is True for r in results)
    t.breaker.force_open()
    for i in range(5):
        try:
            assert await t.wrapper.store(f"open{i}", t.content) is True
        except FactCacheError as e:
            assert "CIRCUIT_BREAKER" in e.error_code
    t.breaker.force_closed()
    assert sum(store_times) / 10 < 0.140 and sum(get_times) / 10 < 0.050


async def e2e_metrics_collection_and_validation(t: AsyncE2E) -> None:
    h = t.wrapper.generate_hash("m")
    await t.wrapper.store(h, t.content)
    await t.wrapper.get(h)
    metrics = t.wrapper.get_metrics()
    for key in ("total_entries", "total_requests", "cache_hits", "cache_misses"):
        assert key in metrics["cache"]
    for key in ("state", "failure_count", "success_count", "total_operations"):
        assert key in metrics["circuit_breaker"]
    stats = t.manager.get_performance_stats()
    for key in ("avg_hit_latency_ms", "avg_miss_latency_ms", "hit_target_ms", "miss_target_ms"):
        assert key in stats


async def e2e_real_database_integration(t: AsyncE2E) -> None:
    # Upstream this test fails: its 17-token answer is below min_tokens=100, so FACT's
    # CacheManager refuses the store (CACHE_MIN_TOKENS, a breaker failure per fact-contract
    # §7/§14) and the get misses. The wrapper degrades exactly as specified.
    h = t.wrapper.generate_hash("SELECT * FROM companies")
    assert await t.wrapper.store(h, "Apple Inc. revenue 394.3B, Microsoft 211.9B") is True
    assert await t.wrapper.get(h) is None
    last = t.breaker.get_metrics().recent_failures[-1]
    assert (last.error_type, last.operation) == ("FactCacheError", "store")
    assert "below minimum" in last.error_message


async def e2e_stress_and_failure_recovery(t: AsyncE2E) -> None:
    stores = [t.wrapper.store(t.wrapper.generate_hash(f"s{i}"), t.content) for i in range(50)]
    gets = [t.wrapper.get(t.wrapper.generate_hash(f"s{i}")) for i in range(10)]
    results = await asyncio.gather(*stores, *gets, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)]


async def e2e_comprehensive_system_validation(t: AsyncE2E) -> None:
    # Upstream's "database_integration" scenario fails for the min_tokens reason above; with
    # content long enough the rest of the scenario holds.
    h = t.wrapper.generate_hash("comprehensive")
    assert await t.wrapper.store(h, t.content) is True
    assert (await t.wrapper.get(h)).content == t.content
    assert "circuit_breaker" in t.wrapper.get_metrics()


E2E_SCENARIOS = [
    e2e_cache_initialization_real_components,
    e2e_normal_cache_operations_real_storage,
    e2e_circuit_breaker_failure_scenarios,
    e2e_circuit_breaker_recovery_mechanisms,
    e2e_performance_under_various_conditions,
    e2e_metrics_collection_and_validation,
    e2e_real_database_integration,
    e2e_stress_and_failure_recovery,
    e2e_comprehensive_system_validation,
]


@pytest.mark.parametrize("scenario", E2E_SCENARIOS, ids=lambda f: f.__name__[4:])
async def test_async_e2e(scenario: Any, clock: ManualClock) -> None:
    t = AsyncE2E(clock)
    await t.wrapper.start_monitoring()
    try:
        await scenario(t)
    finally:
        await t.wrapper.stop_monitoring()


async def test_async_e2e_run_complete_test_suite(clock: ManualClock) -> None:
    for scenario in E2E_SCENARIOS:
        t = AsyncE2E(clock)
        await scenario(t)


# ---- scripts/test_fact_cache_integration.py: the driver's use (fact-contract §10) -------------


class MiniDriver:
    """FACT's driver, reduced to what it does with the module (fact-contract §10)."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self.cache_circuit_breaker: CacheCircuitBreaker | None = None
        self.resilient_cache: ResilientCacheWrapper | None = None
        self._cache_degraded = False
        self._initialized = False

    async def initialize(self) -> None:
        try:
            cfg = CircuitBreakerConfig(
                failure_threshold=5,
                success_threshold=3,
                timeout_seconds=60.0,
                rolling_window_seconds=300.0,
                gradual_recovery=True,
                recovery_factor=0.5,
            )
            self.cache_circuit_breaker = CacheCircuitBreaker(cfg)
            self.resilient_cache = ResilientCacheWrapper(self.manager, self.cache_circuit_breaker)
            await self.resilient_cache.start_monitoring()
        except Exception:  # pragma: no cover - the driver degrades on any error
            self._cache_degraded = True
        self._initialized = True

    async def query(self, q: str, answer: str) -> str:
        assert self.resilient_cache is not None and self.cache_circuit_breaker is not None
        h = self.resilient_cache.generate_hash(q)
        try:
            entry = await self.resilient_cache.get(h)
            if entry:
                return str(entry.content)
            if await self.resilient_cache.store(h, answer):
                pass
        except FactCacheError as e:
            if "CIRCUIT_BREAKER" not in str(e.error_code):
                raise
            print("breaker", self.cache_circuit_breaker.get_state().value)
        return answer

    def get_metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {"initialized": self._initialized}
        if self._cache_degraded:
            out.update(cache_degraded=True, circuit_breaker_state="degraded")
            return out
        assert self.resilient_cache is not None
        m = self.resilient_cache.get_metrics()
        cache, cb = m["cache"], m["circuit_breaker"]
        out.update(
            cache_hit_rate=cache.get("hit_rate"),
            cache_hits=cache.get("cache_hits"),
            cache_misses=cache.get("cache_misses"),
            cache_total_entries=cache.get("total_entries"),
            cache_total_size=cache.get("total_size"),
            cache_token_efficiency=cache.get("token_efficiency"),
            circuit_breaker_state=cb["state"],
            circuit_breaker_failures=cb["failure_count"],
            circuit_breaker_successes=cb["success_count"],
            circuit_breaker_failure_rate=cb["failure_rate"],
            circuit_breaker_state_changes=cb["state_changes"],
        )
        return out

    async def shutdown(self) -> None:
        assert self.resilient_cache is not None and self.cache_circuit_breaker is not None
        await self.resilient_cache.stop_monitoring()
        await self.cache_circuit_breaker.stop_health_monitoring()


async def test_integration_fact_driver_initialization(fact_manager: FactCacheManager) -> None:
    driver = MiniDriver(fact_manager)
    await driver.initialize()
    assert hasattr(driver, "cache_circuit_breaker")
    assert driver.get_metrics()["initialized"] is True
    assert driver.cache_circuit_breaker is not None
    assert driver.cache_circuit_breaker.is_monitoring
    await driver.shutdown()
    assert not driver.cache_circuit_breaker.is_monitoring


async def test_integration_cache_resilience_features(fact_manager: FactCacheManager) -> None:
    driver = MiniDriver(fact_manager)
    await driver.initialize()
    breaker = driver.cache_circuit_breaker
    assert breaker is not None
    breaker.force_open()
    assert breaker.get_state() == CircuitState.OPEN
    assert driver.get_metrics()["circuit_breaker_state"] == "open"
    breaker.force_closed()
    assert breaker.get_state() == CircuitState.CLOSED
    driver._cache_degraded = True
    assert driver.get_metrics()["cache_degraded"] is True
    await driver.shutdown()


async def test_integration_database_performance_and_error_handling(
    fact_manager: FactCacheManager,
) -> None:
    driver = MiniDriver(fact_manager)
    await driver.initialize()
    assert await driver.query("q1", LONG_CONTENT) == LONG_CONTENT
    assert await driver.query("q1", "ignored") == LONG_CONTENT  # served from the cache
    assert await driver.query("short", "tiny") == "tiny"  # CACHE_MIN_TOKENS: degraded, no raise
    metrics = driver.get_metrics()
    assert metrics["cache_hits"] >= 1 and metrics["circuit_breaker_failures"] == 1
    assert metrics["circuit_breaker_state"] == "closed"
    assert "cache_degraded" not in metrics
    json.dumps(metrics)
    await driver.shutdown()
    await driver.shutdown()  # both stops are idempotent


# ---- seed examples ---------------------------------------------------------------------------


async def test_seed_ten_failing_gets_open_a_default_breaker() -> None:
    breaker = CacheCircuitBreaker()

    async def failing_get() -> None:
        raise FactCacheError("cache down", "CACHE_GET_FAILED")

    for _ in range(10):
        try:
            await breaker.execute(failing_get, "get")
        except FactCacheError:
            pass
    assert breaker.get_state() == CircuitState.OPEN
    metrics = breaker.get_metrics()
    assert metrics.failure_count == 5 and metrics.rejected_count == 5
    for record in metrics.recent_failures[-5:]:
        assert record.error_type == "FactCacheError" and record.error_message == "cache down"


def test_seed_force_closed_then_reset_reads_closed() -> None:
    breaker = CacheCircuitBreaker()
    breaker.force_open()
    breaker.force_closed()
    breaker.reset()
    assert breaker.get_state().value == "closed"
    assert breaker.get_metrics().state_changes == 0


def test_seed_config_object_can_be_replaced(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    cfg = CircuitBreakerConfig(failure_threshold=1, timeout_seconds=2.0)
    breaker.config = cfg
    assert breaker.config is cfg
    with pytest.raises(ValueError):
        breaker.execute_sync(lambda: (_ for _ in ()).throw(ValueError("x")), "get")
    assert breaker.is_open()
    clock.advance(2.0)
    assert breaker.is_call_permitted() and breaker.is_half_open()
