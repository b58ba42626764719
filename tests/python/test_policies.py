"""The opt-in policies through each Python path that carries a permit: the Permit object, the
async layer's permit ints (execute, guard), execute_sync and the cache wrapper. The rules
themselves are pinned by the vectors (tests/vectors/policies/)."""

from __future__ import annotations

import asyncio

import pytest

from fact_resilience import (
    CacheCircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    ManualClock,
    ResilientCacheWrapper,
)


def slow_breaker(clock: ManualClock) -> CacheCircuitBreaker:
    config = CircuitBreakerConfig(
        failure_threshold=100,
        slow_call_duration_seconds=1.0,
        slow_call_rate_threshold=0.5,
        minimum_calls=2,
        rolling_window_seconds=10.0,
    )
    return CacheCircuitBreaker(config, clock=clock)


def slow_op(clock: ManualClock) -> object:
    def op() -> str:
        clock.advance(1.5)
        return "ok"

    return op


def test_execute_times_a_call_from_its_admission() -> None:
    clock = ManualClock()
    breaker = slow_breaker(clock)

    async def slow() -> str:
        clock.advance(1.5)
        return "ok"

    async def main() -> None:
        assert await breaker.execute(slow, "get") == "ok"
        assert breaker.get_metrics().slow_call_count == 1
        assert await breaker.execute(slow, "get") == "ok"

    asyncio.run(main())
    m = breaker.get_metrics()
    assert (m.slow_call_count, m.slow_call_rate) == (2, 1.0)
    assert breaker.get_state() is CircuitState.OPEN


def test_guard_and_execute_sync_time_their_calls() -> None:
    clock = ManualClock()
    breaker = slow_breaker(clock)
    with breaker.guard("get"):
        assert breaker.get_metrics().calls_in_flight == 1
        clock.advance(1.5)
    assert breaker.get_metrics().calls_in_flight == 0
    assert breaker.execute_sync(slow_op(clock), "get") == "ok"
    assert breaker.get_state() is CircuitState.OPEN


def test_a_hung_call_opens_the_circuit_at_the_next_poll() -> None:
    clock = ManualClock()
    breaker = slow_breaker(clock)
    reasons: list[str] = []
    breaker.on_state_change(lambda old, new, why: reasons.append(why))
    hung = breaker.acquire("get")
    breaker.record_success(breaker.acquire("get"))
    clock.advance(3.0)
    breaker.poll()
    assert breaker.get_state() is CircuitState.OPEN and reasons == ["slow_calls"]
    breaker.record_success(hung)  # late: counted once, as slow
    assert breaker.get_metrics().slow_call_count == 1


def test_the_cache_wrapper_times_its_calls() -> None:
    clock = ManualClock()
    breaker = slow_breaker(clock)

    class SlowCache:
        def get(self, key: str) -> str:
            clock.advance(1.5)
            return "v"

        def store(self, key: str, value: str) -> bool:
            return True

        def invalidate_by_prefix(self, prefix: str) -> int:
            return 0

    wrapper = ResilientCacheWrapper(cache_manager=SlowCache(), circuit_breaker=breaker)

    async def main() -> None:
        for _ in range(2):
            assert await wrapper.get("k") == "v"

    asyncio.run(main())
    assert breaker.get_metrics().slow_call_count == 2
    assert breaker.get_state() is CircuitState.OPEN


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("failure_rate_threshold", 0.0, "failure_rate_threshold must be in (0, 1]"),
        ("minimum_calls", 0, "minimum_calls must be at least 1"),
        ("slow_call_duration_seconds", -1.0, "slow_call_duration_seconds must be finite, > 0"),
        ("slow_call_duration_seconds", float("nan"), "slow_call_duration_seconds must be"),
        ("slow_call_rate_threshold", 1.5, "slow_call_rate_threshold must be in (0, 1]"),
        ("open_backoff_multiplier", 0.5, "open_backoff_multiplier must be in [1, 1000]"),
        ("max_timeout_seconds", -2.0, "max_timeout_seconds must be finite, > 0"),
        ("jitter", float("nan"), "jitter must be in [0, 1]"),
        ("jitter_seed", 0, "jitter_seed must be at least 1"),
        ("ramp_seconds", -1.0, "ramp_seconds must be 0 (off) or finite, > 0"),
    ],
)
def test_bad_policy_values_are_refused_with_the_cores_message(
    field: str, value: float, message: str
) -> None:
    with pytest.raises(ValueError) as err:
        CircuitBreakerConfig(**{field: value})
    assert str(err.value).startswith(message), str(err.value)
    cfg = CircuitBreakerConfig()
    with pytest.raises(ValueError):
        setattr(cfg, field, value)


def test_failure_weights_take_the_exception_class_name() -> None:
    config = CircuitBreakerConfig(
        failure_threshold=2, failure_weights={"TimeoutError": 1.0, "KeyError": 0.25}
    )
    breaker = CacheCircuitBreaker(config, clock=ManualClock())
    for _ in range(4):
        breaker.record_failure(breaker.acquire("get"), KeyError("k"), "get")
    m = breaker.get_metrics()
    assert (m.consecutive_failures, m.consecutive_failure_weight) == (4, 1.0)
    assert breaker.get_state() is CircuitState.CLOSED
    breaker.record_failure(breaker.acquire("get"), TimeoutError("slow"), "get")
    assert breaker.get_state() is CircuitState.OPEN


def test_failure_weights_read_back_as_a_new_dict_and_assign_live() -> None:
    config = CircuitBreakerConfig(failure_weights={"TimeoutError": 2})
    weights = config.failure_weights
    assert weights == {"TimeoutError": 2.0}
    weights["KeyError"] = 0.5  # a copy: the config does not change
    assert config.failure_weights == {"TimeoutError": 2.0}
    config.failure_weights = {"default": 0.5}
    assert config.failure_weights == {"default": 0.5}
    assert config.to_dict()["failure_weights"] == {"default": 0.5}
    assert CircuitBreakerConfig().failure_weights == {}


@pytest.mark.parametrize(
    ("weights", "error", "message"),
    [
        ({"timeout": -1}, ValueError, "failure_weights['timeout'] must be finite and at least 0"),
        ({"timeout": float("inf")}, ValueError, "failure_weights['timeout'] must be finite"),
        ({"timeout": True}, TypeError, "failure_weights['timeout'] must be"),
        ({1: 1.0}, TypeError, "failure_weights must be"),
        ([("timeout", 1.0)], TypeError, "failure_weights must be"),
    ],
)
def test_bad_failure_weights_name_the_field_and_kind(
    weights: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as err:
        CircuitBreakerConfig(failure_weights=weights)
    assert str(err.value).startswith(message), str(err.value)
