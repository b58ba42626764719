"""A typed usage example, checked with `mypy --strict` by `make lint-python` (not a test).

It exercises the public surface as a user would write it, so a stub that drifts from real use
fails type checking here.
"""

from __future__ import annotations

import asyncio
from typing import Optional

from fact_resilience import (
    CacheCircuitBreaker,
    CacheError,
    CircuitBreakerConfig,
    CircuitBreakerMetrics,
    CircuitState,
    FailureRecord,
    ManualClock,
    Permit,
    ResilientCacheWrapper,
    set_error_class,
)


class Store:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def store(self, key: str, value: str) -> bool:
        self.data[key] = value
        return True

    async def get(self, key: str) -> Optional[str]:
        return self.data.get(key)

    async def invalidate_by_prefix(self, prefix: str) -> int:
        return 0


def on_change(old: CircuitState, new: CircuitState, reason: str) -> None:
    print(old.value, "->", new.value, reason)


async def main() -> None:
    clock = ManualClock()
    config = CircuitBreakerConfig(failure_threshold=3, timeout_seconds=2.5)
    config.recovery_factor = 1.0
    breaker = CacheCircuitBreaker(
        config,
        clock=clock,
        neutral_exceptions=(asyncio.CancelledError, KeyError),
        on_state_change=on_change,
    )
    breaker.on_state_change(on_change)
    set_error_class(CacheError)

    wrapper = ResilientCacheWrapper(cache_manager=Store(), circuit_breaker=breaker)
    stored: bool = await wrapper.store("k", "v")
    value = await wrapper.get("k")
    print(stored, value, wrapper.generate_hash("k"))

    async def fetch(key: str) -> str:
        return key

    text: str = breaker.execute_sync(str.upper, "upper", "abc")
    got = await breaker.execute(fetch, "fetch", "x")
    print(text, got)

    @breaker.protect("lookup", fallback="")
    def lookup(key: str) -> str:
        return key

    lookup("x").upper()

    async with breaker.guard("get"):
        pass

    permit: Permit = breaker.acquire("get")
    if permit.probe:
        breaker.record_neutral(permit)
    else:
        breaker.record_success(permit)

    state: CircuitState = breaker.get_state()
    metrics: CircuitBreakerMetrics = breaker.get_metrics()
    last: list[FailureRecord] = metrics.recent_failures[-5:]
    rate: float = metrics.failure_rate
    print(state.value, rate, [r.error_type for r in last], metrics.to_dict()["state"])
    clock.advance(2.5)
    if breaker.is_call_permitted() and breaker.poll() is CircuitState.HALF_OPEN:
        breaker.force_closed()
    try:
        breaker.force_open()
        await breaker.execute(fetch, "fetch", "y")
    except CacheError as e:
        print(e.error_code, e.context.get("retry_after_seconds"))
    await breaker.start_health_monitoring()
    await breaker.stop_health_monitoring()


if __name__ == "__main__":
    asyncio.run(main())
