"""Thread safety: several threads, each with a fresh event loop per call (FACT's sync e2e)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conftest import LONG_CONTENT, FactCacheManager
from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig, ResilientCacheWrapper


def run_in_threads(n: int, target: Any) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def wrapped(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # pragma: no cover - reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return errors


def test_three_threads_with_a_fresh_loop_per_call(fact_manager: FactCacheManager) -> None:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=3, timeout_seconds=5.0))
    wrapper = ResilientCacheWrapper(cache_manager=fact_manager, circuit_breaker=breaker)
    calls_per_thread = 20

    def worker(n: int) -> None:
        for i in range(calls_per_thread):
            h = wrapper.generate_hash(f"thread {n} query {i}")
            loop = asyncio.new_event_loop()
            try:
                assert loop.run_until_complete(wrapper.store(h, LONG_CONTENT)) is True
            finally:
                loop.close()
            loop = asyncio.new_event_loop()
            try:
                entry = loop.run_until_complete(wrapper.get(h))
            finally:
                loop.close()
            assert entry is fact_manager.cache[h]

    assert run_in_threads(3, worker) == []
    m = breaker.get_metrics()
    assert m.success_count == 3 * calls_per_thread * 2 and m.failure_count == 0


def test_sync_calls_from_many_threads_count_exactly() -> None:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=10_000))
    per_thread = 2000

    def fail() -> None:
        raise ValueError("x")

    def worker(n: int) -> None:
        for i in range(per_thread):
            if i % 10 == 0:
                try:
                    breaker.execute_sync(fail, "get")
                except ValueError:
                    pass
            else:
                breaker.execute_sync(int, "get")

    assert run_in_threads(4, worker) == []
    m = breaker.get_metrics()
    assert m.failure_count == 4 * per_thread // 10
    assert m.success_count == 4 * per_thread - m.failure_count
    assert m.total_operations == 4 * per_thread


def test_transitions_under_contention_reach_listeners_once_each() -> None:
    events: list[str] = []
    lock = threading.Lock()

    def listener(a: Any, b: Any, why: str) -> None:
        with lock:
            events.append(why)

    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1, timeout_seconds=60.0), on_state_change=listener
    )

    def worker(n: int) -> None:
        for _ in range(200):
            try:
                breaker.execute_sync(lambda: (_ for _ in ()).throw(RuntimeError()), "get")
            except Exception:
                pass
            if n == 0:
                breaker.force_closed()

    assert run_in_threads(3, worker) == []
    opens = events.count("failure_threshold")
    closes = events.count("forced_closed")
    assert set(events) <= {"failure_threshold", "forced_closed"}
    assert opens - closes == (0 if breaker.is_closed() else 1)
    assert breaker.get_metrics().state_changes == len(events)
