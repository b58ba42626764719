"""CacheCircuitBreaker beyond FACT's checklist: listeners, neutral exceptions, sync entry
points, the decorator and guard, permits, clocks, error classes, bad input and panics."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest

import fact_resilience
from conftest import FactCacheError
from fact_resilience import (
    CacheCircuitBreaker,
    CacheError,
    CircuitBreakerConfig,
    CircuitState,
    ManualClock,
    _native,
)


def boom(*_: Any) -> None:
    raise RuntimeError("boom")


async def aboom(*_: Any) -> None:
    raise RuntimeError("boom")


def tripped(clock: ManualClock, **cfg: Any) -> CacheCircuitBreaker:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1, **cfg), clock=clock)
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    assert breaker.is_open()
    return breaker


# ---- execute: sync, async, MagicMock -------------------------------------------------------


async def test_execute_awaits_only_awaitable_results(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)

    async def add(a: int, b: int = 0) -> int:
        return a + b

    assert await breaker.execute(add, "add", 1, b=2) == 3
    assert await breaker.execute(lambda x: x * 2, "double", 21) == 42
    assert await breaker.execute(MagicMock(return_value="m"), "mock") == "m"
    assert await breaker.execute(AsyncMock(return_value="am"), "amock") == "am"
    for falsy in (None, False, 0):
        assert await breaker.execute(lambda v=falsy: v, "falsy") is falsy
    assert breaker.get_metrics().success_count == 7


async def test_execute_returns_the_same_object(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    obj = object()
    assert await breaker.execute(lambda: obj, "get") is obj
    assert breaker.execute_sync(lambda: obj, "get") is obj


async def test_execute_reraises_the_operations_exception_unchanged(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    err = FactCacheError("nope", "CACHE_GET_FAILED")

    async def fail() -> None:
        raise err

    with pytest.raises(FactCacheError) as caught:
        await breaker.execute(fail, "get")
    assert caught.value is err
    record = breaker.get_metrics().recent_failures[-1]
    assert (record.error_type, record.error_message, record.operation) == (
        "FactCacheError",
        "nope",
        "get",
    )


async def test_open_breaker_does_not_call_the_operation(clock: ManualClock) -> None:
    breaker = tripped(clock)
    op = AsyncMock()
    with pytest.raises(CacheError) as err:
        await breaker.execute(op, "get")
    op.assert_not_called()
    assert err.value.error_code == "CIRCUIT_BREAKER_OPEN"
    assert "CIRCUIT_BREAKER_OPEN" in str(err.value)
    assert err.value.context == {
        "operation": "get",
        "state": "open",
        "retry_after_seconds": 60.0,
    }


async def test_half_open_throttling_error_code(clock: ManualClock) -> None:
    breaker = tripped(clock, success_threshold=5)
    clock.advance(60)
    assert await breaker.execute(lambda: 1, "get") == 1
    with pytest.raises(CacheError) as err:
        await breaker.execute(lambda: 1, "get")
    assert err.value.error_code == "CIRCUIT_BREAKER_THROTTLING"
    assert "CIRCUIT_BREAKER_THROTTLING" in str(err.value)
    assert err.value.context["state"] == "half_open"


async def test_execute_with_fallback_builds_no_error(clock: ManualClock) -> None:
    breaker = tripped(clock)
    sentinel = object()
    assert await breaker.execute_with_fallback(sentinel, aboom, "get") is sentinel
    assert breaker.call_with_fallback(sentinel, boom, "get") is sentinel
    assert breaker.get_metrics().rejected_count == 2
    fresh = CacheCircuitBreaker(clock=clock)
    assert fresh.call_with_fallback(None, lambda: 5, "get") == 5
    assert await fresh.execute_with_fallback(None, lambda: 6, "get") == 6


# ---- neutral exceptions ----------------------------------------------------------------


async def test_cancelled_error_is_neutral_and_propagates(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), clock=clock)

    async def cancelled() -> None:
        raise asyncio.CancelledError

    for _ in range(3):
        with pytest.raises(asyncio.CancelledError):
            await breaker.execute(cancelled, "get")
    m = breaker.get_metrics()
    assert breaker.is_closed()
    assert (m.failure_count, m.success_count, m.neutral_count) == (0, 0, 3)


async def test_a_cancelled_task_releases_its_half_open_probe(clock: ManualClock) -> None:
    cfg = CircuitBreakerConfig(
        failure_threshold=1, success_threshold=1, recovery_factor=1.0, half_open_max_in_flight=1
    )
    breaker = CacheCircuitBreaker(cfg, clock=clock)
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    clock.advance(60)
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(breaker.execute(slow, "get"))
    await started.wait()
    assert breaker.get_metrics().half_open_in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.get_metrics().half_open_in_flight == 0
    assert await breaker.execute(lambda: "ok", "get") == "ok"
    assert breaker.is_closed()


def test_base_exceptions_are_never_failures(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), clock=clock)

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        breaker.execute_sync(interrupt, "get")
    assert breaker.is_closed() and breaker.get_metrics().neutral_count == 1


def test_custom_neutral_exceptions(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1),
        clock=clock,
        neutral_exceptions=(KeyError, LookupError),
    )
    assert breaker.neutral_exceptions == (KeyError, LookupError)
    with pytest.raises(IndexError):
        breaker.execute_sync([].pop, "get")  # IndexError is a LookupError
    assert breaker.is_closed()
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    assert breaker.is_open()
    single = CacheCircuitBreaker(neutral_exceptions=ValueError)
    assert single.neutral_exceptions == (ValueError,)
    assert CacheCircuitBreaker(neutral_exceptions=[]).neutral_exceptions == ()
    assert CacheCircuitBreaker().neutral_exceptions == (asyncio.CancelledError,)
    for bad in (3, [ValueError, "x"], "ValueError"):
        with pytest.raises(TypeError, match="neutral_exceptions"):
            CacheCircuitBreaker(neutral_exceptions=bad)


# ---- listeners -------------------------------------------------------------------------


def test_listeners_see_every_transition_with_a_reason(clock: ManualClock) -> None:
    seen: list[tuple[CircuitState, CircuitState, str]] = []
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1, success_threshold=1),
        clock=clock,
        on_state_change=lambda a, b, why: seen.append((a, b, why)),
    )
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    clock.advance(60)
    breaker.execute_sync(lambda: None, "get")
    breaker.force_open()
    breaker.force_closed()
    breaker.force_open()
    breaker.reset()
    C, OP, H = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN
    assert seen == [
        (C, OP, "failure_threshold"),
        (OP, H, "timeout_elapsed"),
        (H, C, "probes_succeeded"),
        (C, OP, "forced_open"),
        (OP, C, "forced_closed"),
        (C, OP, "forced_open"),
        (OP, C, "reset"),
    ]


def test_a_raising_listener_is_logged_and_does_not_break_the_call(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), clock=clock)

    @breaker.on_state_change
    def bad(*_: Any) -> None:
        raise ValueError("listener bug")

    breaker.on_state_change(lambda *a: calls.append("second"))
    with caplog.at_level(logging.ERROR, logger="fact_resilience"), pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    assert breaker.is_open()
    assert calls == ["second"]
    assert "listener" in caplog.text and "listener bug" in caplog.text
    assert breaker.remove_state_change_listener(bad) is True
    assert breaker.remove_state_change_listener(bad) is False
    assert len(breaker.state_change_listeners) == 1
    with pytest.raises(TypeError, match="listener"):
        breaker.on_state_change(42)


def test_listeners_may_call_back_into_the_breaker(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), clock=clock)
    states: list[CircuitState] = []
    breaker.on_state_change(lambda *_: states.append(breaker.get_state()))
    breaker.on_state_change(lambda *_: breaker.get_metrics())
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    assert states == [CircuitState.OPEN]


def test_listener_cycles_are_collected() -> None:
    def make_cycle() -> weakref.ref[CacheCircuitBreaker]:
        breaker = CacheCircuitBreaker()
        breaker.on_state_change(lambda *_: breaker)  # breaker -> listener -> breaker
        return weakref.ref(breaker)

    ref = make_cycle()
    gc.collect()
    assert ref() is None


# ---- sync entry points, decorator, guard ---------------------------------------------------


def test_execute_sync_refuses_coroutines(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)

    async def coro() -> int:
        return 1

    with pytest.raises(TypeError, match="coroutine"):
        breaker.execute_sync(coro, "get")
    assert breaker.get_metrics().neutral_count == 1


def test_non_callable_operation_is_a_type_error(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    with pytest.raises(TypeError, match="operation"):
        breaker.execute_sync(42, "get")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="operation"):
        breaker.call_with_fallback(None, "nope", "get")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="operation"):
        asyncio.run(breaker.execute(None, "get"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="operation_name"):
        breaker.execute_sync(lambda: 1, 5)  # type: ignore[arg-type]
    assert breaker.get_metrics().total_operations == 0


async def test_protect_decorator_sync_and_async(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), clock=clock)

    @breaker.protect
    def lookup(key: str) -> str:
        """Looks up."""
        return key.upper()

    @breaker.protect("fetch", fallback="cached")
    async def fetch(key: str) -> str:
        if key == "bad":
            raise RuntimeError("down")
        return key

    @breaker.protect(fallback=None)
    def maybe(key: str) -> str:
        return key

    assert lookup("a") == "A" and lookup.__name__ == "lookup" and lookup.__doc__ == "Looks up."
    assert await fetch("x") == "x"
    with pytest.raises(RuntimeError):
        await fetch("bad")
    assert breaker.get_metrics().recent_failures[-1].operation == "fetch"
    assert await fetch("x") == "cached"
    assert maybe("y") is None
    with pytest.raises(CacheError):
        lookup("b")


async def test_guard_sync_and_async(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=2), clock=clock)
    async with breaker.guard("get"):
        pass
    with breaker.guard("get"):
        pass
    with pytest.raises(KeyError):
        async with breaker.guard("get"):
            raise KeyError("k")
    with pytest.raises(asyncio.CancelledError):
        async with breaker.guard("get"):
            raise asyncio.CancelledError
    m = breaker.get_metrics()
    assert (m.success_count, m.failure_count, m.neutral_count) == (2, 1, 1)
    with pytest.raises(KeyError), breaker.guard("get"):
        raise KeyError("k")
    assert breaker.is_open()
    with pytest.raises(CacheError, match="CIRCUIT_BREAKER_OPEN"):
        async with breaker.guard("get"):
            pytest.fail("must not run")
    g = breaker.guard("x")
    with pytest.raises(TypeError):
        breaker.guard(3)  # type: ignore[arg-type]
    del g


# ---- permits -------------------------------------------------------------------------------


def test_permits_are_reported_once(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    permit = breaker.acquire("get")
    assert (permit.operation, permit.probe, permit.reported) == ("get", False, False)
    breaker.record_success(permit)
    assert permit.reported
    with pytest.raises(RuntimeError, match="already reported"):
        breaker.record_failure(permit, ValueError("x"))
    p2 = breaker.acquire()
    assert p2.operation == "call"
    assert breaker.record_exception(p2, ValueError("v")) is True
    p3 = breaker.acquire("store")
    breaker.record_failure(p3, ValueError("w"))
    assert breaker.get_metrics().recent_failures[-1].operation == "store"
    with pytest.raises(TypeError, match="exc"):
        breaker.record_failure(breaker.acquire(), "not an exception")  # type: ignore[arg-type]
    assert "Permit(" in repr(p3)


def test_is_call_permitted_moves_to_half_open_without_a_slot(clock: ManualClock) -> None:
    breaker = tripped(clock)
    assert not breaker.is_call_permitted()
    clock.advance(59.999)
    assert breaker.get_state() is CircuitState.OPEN and not breaker.is_call_permitted()
    clock.advance(0.001)
    assert breaker.get_state() is CircuitState.OPEN, "get_state() has no side effects"
    assert breaker.next_deadline_in() == 0.0
    assert breaker.is_call_permitted() and breaker.is_half_open()
    assert breaker.get_metrics().half_open_admitted == 0
    assert breaker.poll() is CircuitState.HALF_OPEN
    assert breaker.state is CircuitState.HALF_OPEN


# ---- clocks --------------------------------------------------------------------------------


def test_manual_clock_is_shared_and_never_goes_back() -> None:
    clock = ManualClock(5.0)
    a = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), clock=clock)
    b = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), clock=clock)
    for breaker in (a, b):
        with pytest.raises(RuntimeError):
            breaker.execute_sync(boom, "get")
    clock.advance(60)
    assert a.is_call_permitted() and b.is_call_permitted()
    clock.set(1.0)
    assert clock.now() == 65.0 and clock() == 65.0 and clock.now_ns() == 65_000_000_000
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError, match="seconds"):
            clock.advance(bad)
    with pytest.raises(TypeError, match="seconds"):
        clock.advance("1")  # type: ignore[arg-type]


def test_any_callable_can_be_the_clock() -> None:
    now = [1000.0]
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), clock=lambda: now[0])
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    now[0] += 59.0
    assert not breaker.is_call_permitted()
    now[0] += 1.0
    assert breaker.is_call_permitted()
    with pytest.raises(TypeError, match="clock"):
        CacheCircuitBreaker(clock=42)  # type: ignore[arg-type]


def test_a_failing_clock_callable_does_not_lose_outcomes(caplog: pytest.LogCaptureFixture) -> None:
    ticks = iter([0.0, 0.0])

    def clock() -> float:
        return next(ticks)  # raises StopIteration once exhausted

    breaker = CacheCircuitBreaker(clock=clock)
    permit = breaker.acquire("get")
    with caplog.at_level(logging.ERROR, logger="fact_resilience"):
        breaker.record_success(permit)
    assert breaker.get_metrics  # still usable
    assert "clock" in caplog.text


def test_wall_clock_stamps_failures(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock, wall_clock=lambda: 1234.5)
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    m = breaker.get_metrics()
    assert m.recent_failures[0].timestamp == 1234.5 and m.last_failure_time == 1234.5


def test_failure_timestamps_default_to_epoch_time() -> None:
    import time

    breaker = CacheCircuitBreaker()
    before = time.time()
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    assert before <= breaker.get_metrics().recent_failures[0].timestamp <= time.time()


# ---- error classes -------------------------------------------------------------------------


def test_set_error_class_makes_the_breaker_raise_the_hosts_class(clock: ManualClock) -> None:
    previous = fact_resilience.get_error_class()
    assert previous is CacheError
    fact_resilience.set_error_class(FactCacheError)
    try:
        breaker = tripped(clock)
        with pytest.raises(FactCacheError) as err:
            breaker.execute_sync(lambda: 1, "get")
        assert err.value.error_code == "CIRCUIT_BREAKER_OPEN"
        assert "CIRCUIT_BREAKER_OPEN" in str(err.value), "FACT's str() is only the message"
    finally:
        fact_resilience.set_error_class(None)
    assert fact_resilience.get_error_class() is CacheError
    with pytest.raises(TypeError, match="error_class"):
        fact_resilience.set_error_class(int)  # type: ignore[arg-type]


def test_per_breaker_error_class_wins(clock: ManualClock, fact_errors: type) -> None:
    class Mine(Exception):
        def __init__(self, message: str, error_code: str, context: dict[str, Any]) -> None:
            super().__init__(message)
            self.error_code = error_code

    breaker = tripped(clock)
    own = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1), error_class=Mine)
    assert own.error_class is Mine and breaker.error_class is None
    with pytest.raises(RuntimeError):
        own.execute_sync(boom, "get")
    with pytest.raises(Mine):
        own.execute_sync(lambda: 1, "get")
    with pytest.raises(fact_errors):
        breaker.execute_sync(lambda: 1, "get")
    with pytest.raises(TypeError, match="error_class"):
        CacheCircuitBreaker(error_class="CacheError")  # type: ignore[arg-type]


def test_an_error_class_that_cannot_be_built_surfaces_its_own_error(clock: ManualClock) -> None:
    class Picky(Exception):
        def __init__(self) -> None:  # refuses the (message, error_code, context) call
            super().__init__()

    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1), clock=clock, error_class=Picky
    )
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    with pytest.raises(TypeError):
        breaker.execute_sync(lambda: 1, "get")


def test_package_cache_error_shape() -> None:
    e = CacheError("cache down")
    assert (e.message, e.error_code, e.context) == ("cache down", "CacheError", {})
    assert str(e) == "[CacheError] cache down"
    e2 = CacheError("[X] already coded", "X", {"a": 1})
    assert str(e2) == "[X] already coded" and e2.context == {"a": 1}
    import pickle

    e3 = pickle.loads(pickle.dumps(CacheError("m", "CODE", {"k": 2})))
    assert (e3.message, e3.error_code, e3.context) == ("m", "CODE", {"k": 2})


# ---- robustness ----------------------------------------------------------------------------


def test_a_one_megabyte_message_is_stored_truncated(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    big = "é" * (1 << 20)

    def huge() -> None:
        raise ValueError(big)

    with pytest.raises(ValueError):
        breaker.execute_sync(huge, "get")
    record = breaker.get_metrics().recent_failures[0]
    assert len(record.error_message.encode()) <= 256
    assert record.error_message == "é" * 128
    breaker.config.max_message_bytes = 10
    with pytest.raises(ValueError):
        breaker.execute_sync(huge, "get")
    assert breaker.get_metrics().recent_failures[-1].error_message == "é" * 5


def test_an_unprintable_exception_is_still_recorded(clock: ManualClock) -> None:
    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str for you")

    def op() -> None:
        raise Weird

    breaker = CacheCircuitBreaker(clock=clock)
    with pytest.raises(Weird):
        breaker.execute_sync(op, "get")
    assert breaker.get_metrics().recent_failures[0].error_message == "<unprintable exception>"


def test_recent_failures_are_capped_and_sliceable(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1000, max_recent_failures=3), clock=clock
    )
    for i in range(5):
        with pytest.raises(ValueError):
            breaker.execute_sync(lambda i=i: (_ for _ in ()).throw(ValueError(str(i))), "get")
    failures = breaker.get_metrics().recent_failures
    assert isinstance(failures, list)
    assert [r.error_message for r in failures[-5:]] == ["2", "3", "4"]


def test_a_rust_panic_surfaces_as_a_python_exception() -> None:
    with pytest.raises(BaseException) as err:
        _native._panic_for_tests()
    assert type(err.value).__name__ == "PanicException"
    assert "deliberate panic" in str(err.value)
    # The interpreter lives on and the module still works.
    assert CacheCircuitBreaker().get_state() is CircuitState.CLOSED


def test_metrics_snapshot_is_detached_and_json_safe(clock: ManualClock) -> None:
    import json

    breaker = tripped(clock)
    m = breaker.get_metrics()
    d = m.to_dict()
    json.dumps(d)
    assert d["state"] == "open" and d["recent_failures_count"] == 1
    assert "recent_failures" not in d
    breaker.reset()
    assert m.state is CircuitState.OPEN and m.failure_count == 1
    assert "CircuitBreakerMetrics(" in repr(m) and "FailureRecord(" in repr(m.recent_failures[0])
    assert m.recent_failures[0] == fact_resilience.FailureRecord(**m.recent_failures[0].to_dict())


def test_constructor_does_not_touch_the_event_loop() -> None:
    # No running loop here, and none may be created or required.
    breaker = CacheCircuitBreaker()
    assert breaker.get_state() is CircuitState.CLOSED
    assert not breaker.is_monitoring
    asyncio.run(breaker.stop_health_monitoring())  # idempotent even when never started


# ---- the default config, made on first read ------------------------------------------------


def test_a_breaker_made_without_a_config_gives_one_live_default_object(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    config = breaker.config
    assert breaker.config is config, "the same object on every read"
    assert config.failure_threshold == CircuitBreakerConfig().failure_threshold
    config.failure_threshold = 1  # read live, as a config passed in would be
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    assert breaker.is_open()
    assert "failure_threshold=1" in repr(breaker)


def test_a_default_breaker_acts_on_the_default_config_before_it_is_read(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    threshold = CircuitBreakerConfig().failure_threshold
    for _ in range(threshold - 1):
        with pytest.raises(RuntimeError):
            breaker.execute_sync(boom, "get")
    assert not breaker.is_open()
    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    assert breaker.is_open()
    assert breaker.health_thresholds.critical_failure_rate == 0.5  # the defaults, out of line
