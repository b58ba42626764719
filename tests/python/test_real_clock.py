"""The only tests that sleep (<= 0.3 s each): proof that the real monotonic clock is wired into
the breaker and the health monitor. Everything else runs on a ManualClock."""

from __future__ import annotations

import asyncio
import time

import pytest

from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig, CircuitState


def test_open_timeout_follows_real_time() -> None:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1, timeout_seconds=0.15))
    with pytest.raises(ZeroDivisionError):
        breaker.execute_sync(lambda: 1 / 0, "get")
    assert not breaker.is_call_permitted()
    retry = breaker.next_deadline_in()
    assert retry is not None and 0.1 < retry <= 0.15
    time.sleep(0.2)
    assert breaker.is_call_permitted() and breaker.is_half_open()


async def test_health_monitor_half_opens_without_calls() -> None:
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1, timeout_seconds=0.1, health_check_interval=0.02)
    )
    await breaker.start_health_monitoring()
    try:
        breaker.force_open()
        await asyncio.sleep(0.25)
        assert breaker.get_state() is CircuitState.HALF_OPEN
    finally:
        await breaker.stop_health_monitoring()
    assert not breaker.is_monitoring
