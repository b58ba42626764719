"""Hostile or clumsy input to the Python package (issue 10): each gets a clear error, and
nothing hangs, crashes or is lost."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from typing import Any, ClassVar, SupportsIndex

import pytest

from fact_resilience import (
    CacheCircuitBreaker,
    CacheError,
    CircuitBreakerConfig,
    CircuitState,
    ManualClock,
    _native,
)


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter: a hang or a crash there cannot take the suite down."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tripped(clock: ManualClock, **config: Any) -> CacheCircuitBreaker:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=1, **config), clock=clock)
    breaker.force_open()
    return breaker


# Issue 10: the config's lock was held while the value was converted, so a conversion that
# read the same config deadlocked the process for good.
def test_config_value_whose_conversion_reads_the_same_config_does_not_deadlock() -> None:
    result = run_python(
        """
        from fact_resilience import CircuitBreakerConfig

        cfg = CircuitBreakerConfig()

        class Sneaky(int):
            def __float__(self):
                return cfg.timeout_seconds + 1.0

            def __repr__(self):
                return f"Sneaky(timeout={cfg.timeout_seconds})"

        cfg.timeout_seconds = Sneaky(5)
        assert cfg.timeout_seconds == 61.0, cfg.timeout_seconds
        try:
            cfg.failure_threshold = Sneaky(2**70)  # out of range: the message runs __repr__
        except ValueError as e:
            assert "failure_threshold" in str(e) and "timeout=61.0" in str(e), e
        else:
            raise AssertionError("2**70 was accepted")
        print("ok")
        """,
        timeout=30,
    )
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr


# Issue 10: a factor of 1e-9 was accepted, and HALF_OPEN then needed billions of calls to close.
@pytest.mark.parametrize("factor", [1e-9, 5e-324, 0.0009])
def test_recovery_factor_too_small_to_close_the_circuit_is_refused(factor: float) -> None:
    with pytest.raises(ValueError, match=r"^recovery_factor must be in \[0\.001, 1\]"):
        CircuitBreakerConfig(recovery_factor=factor)
    cfg = CircuitBreakerConfig()
    with pytest.raises(ValueError, match="recovery_factor"):
        cfg.recovery_factor = factor
    assert cfg.recovery_factor == 0.5
    assert CircuitBreakerConfig(recovery_factor=0.001).recovery_factor == 0.001


# Issue 10: builtin classes take no keyword arguments, and every rejection raised TypeError.
@pytest.mark.parametrize("cls", [ConnectionError, RuntimeError, KeyError, OSError])
def test_builtin_exception_class_as_error_class_raises_that_class(
    cls: type[BaseException], clock: ManualClock
) -> None:
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1), clock=clock, error_class=cls
    )
    breaker.force_open()
    with pytest.raises(cls) as info:
        breaker.execute_sync(lambda: 1, "get")
    err: Any = info.value
    assert type(err) is cls
    assert err.error_code == _native.CIRCUIT_BREAKER_OPEN
    assert err.context["operation"] == "get" and err.context["state"] == "open"
    assert _native.CIRCUIT_BREAKER_OPEN in str(err)


# Issue 10: health_check_interval=5e-324 was accepted and the monitor spun at 100 % CPU.
@pytest.mark.parametrize("interval", [5e-324, 1e-6, 0.009])
def test_health_check_interval_below_the_floor_is_refused(interval: float) -> None:
    with pytest.raises(ValueError, match=r"^health_check_interval must be .*at least 0\.01"):
        CircuitBreakerConfig(health_check_interval=interval)
    cfg = CircuitBreakerConfig()
    with pytest.raises(ValueError, match="health_check_interval"):
        cfg.health_check_interval = interval
    assert _native.MIN_HEALTH_CHECK_INTERVAL == 0.01
    assert CircuitBreakerConfig(health_check_interval=0.01).health_check_interval == 0.01


class ReadLog(str):
    """A message that records which parts of it are read (slices go through `__getitem__`)."""

    reads: ClassVar[list[object]] = []

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        ReadLog.reads.append(key)
        return str.__getitem__(self, key)


class HugeText(Exception):
    TEXT = ReadLog("é" * 5_000_000)  # 10 MB of UTF-8

    def __str__(self) -> str:
        return self.TEXT


# Issue 10: a 10 MB `__str__` was converted whole, holding the GIL, to keep 256 bytes.
def test_failure_text_work_is_bounded_by_what_is_kept(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=10**6, max_message_bytes=256), clock=clock
    )

    def fail() -> None:
        raise HugeText

    ReadLog.reads.clear()
    for _ in range(20):
        with pytest.raises(HugeText):
            breaker.execute_sync(fail, "get")
    record = breaker.get_metrics().recent_failures[-1]
    assert record.error_message == "é" * 128
    assert breaker.get_metrics().failure_count == 20
    # Each failure read only the head that can be kept (256 chars hold the 256 bytes kept),
    # never the whole text.
    assert ReadLog.reads == [slice(0, 256, 1)] * 20


class InterruptingStr(Exception):
    def __str__(self) -> str:
        raise KeyboardInterrupt


# Issue 10: a KeyboardInterrupt from an exception's `__str__` was swallowed.
def test_keyboard_interrupt_from_an_exceptions_str_propagates_and_the_failure_counts(
    clock: ManualClock,
) -> None:
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=5, half_open_max_in_flight=1), clock=clock
    )

    def fail() -> None:
        raise InterruptingStr

    with pytest.raises(KeyboardInterrupt):
        breaker.execute_sync(fail, "get")
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(breaker.execute(fail, "get"))
    m = breaker.get_metrics()
    assert m.failure_count == 2
    assert m.recent_failures[-1].error_message == "<unprintable exception>"


# Issue 10: `sys.exit()` inside a listener was logged and swallowed.
def test_system_exit_in_a_listener_propagates_after_the_transition(clock: ManualClock) -> None:
    seen: list[str] = []

    def listener(_from: CircuitState, to: CircuitState, _reason: str) -> None:
        seen.append(to.value)
        sys.exit(3)

    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1, timeout_seconds=1.0),
        clock=clock,
        on_state_change=listener,
    )
    with pytest.raises(SystemExit):
        breaker.force_open()
    assert breaker.get_state() is CircuitState.OPEN
    clock.advance(1.0)
    # The probe admitted by the OPEN -> HALF_OPEN move is released, not leaked.
    with pytest.raises(SystemExit):
        breaker.execute_sync(lambda: 1, "get")
    assert breaker.get_metrics().half_open_in_flight == 0


def test_exception_in_a_listener_is_still_only_logged(clock: ManualClock) -> None:
    def listener(*_: Any) -> None:
        raise RuntimeError("listener bug")

    breaker = CacheCircuitBreaker(clock=clock, on_state_change=listener)
    breaker.force_open()  # does not raise
    assert breaker.get_state() is CircuitState.OPEN


# Issue 10: a listener re-entering the breaker recursed through native frames and, in a thread
# with a small stack, crashed the process with a segfault.
def test_reentrant_listener_in_a_small_stack_thread_does_not_crash() -> None:
    result = run_python(
        """
        import threading
        from fact_resilience import CacheCircuitBreaker, ManualClock

        breaker = CacheCircuitBreaker(clock=ManualClock())
        seen = []

        def listener(_from, to, _reason):
            seen.append(to.value)
            if len(seen) < 5000:
                breaker.force_closed() if to.value == "open" else breaker.force_open()

        breaker.on_state_change(listener)
        threading.stack_size(512 * 1024)
        t = threading.Thread(target=breaker.force_open)
        t.start()
        t.join()
        print(len(seen), seen[:3])
        """
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout == "5000 ['open', 'closed', 'open']\n"


def test_transitions_caused_by_a_listener_are_delivered_after_it_returns(
    clock: ManualClock,
) -> None:
    events: list[str] = []
    breaker = CacheCircuitBreaker(clock=clock)

    def listener(_from: CircuitState, to: CircuitState, _reason: str) -> None:
        events.append(f"enter {to.value}")
        if to is CircuitState.OPEN:
            breaker.force_closed()
        events.append(f"leave {to.value}")

    breaker.on_state_change(listener)
    breaker.force_open()
    assert events == ["enter open", "leave open", "enter closed", "leave closed"]


# Issue 10: `await breaker.execute(op, 123)` was accepted while `execute_sync` refused it.
def test_execute_checks_its_arguments_as_execute_sync_does(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    for bad in (
        lambda: breaker.execute(lambda: 1, 123),  # type: ignore[arg-type]
        lambda: breaker.execute_with_fallback(None, lambda: 1, 123),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match=r"^operation_name must be a str, got int$"):
            asyncio.run(bad())
    with pytest.raises(TypeError, match=r"^operation_name must be a str, got int$"):
        breaker.execute_sync(lambda: 1, 123)  # type: ignore[arg-type]
    assert breaker.get_metrics().total_operations == 0


# Issue 10: `execute_sync` returning an `asyncio.Future` counted as a success.
def test_execute_sync_refuses_an_operation_returning_a_future(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        with pytest.raises(TypeError, match="returned an awaitable \\(Future\\)"):
            breaker.execute_sync(lambda: future, "get")
    finally:
        loop.close()
    m = breaker.get_metrics()
    assert (m.success_count, m.failure_count, m.neutral_count) == (0, 0, 1)


def test_rejection_from_a_registered_class_keeps_facts_constructor(clock: ManualClock) -> None:
    breaker = tripped(clock)
    with pytest.raises(CacheError) as info:
        breaker.execute_sync(lambda: 1, "get")
    assert info.value.error_code == _native.CIRCUIT_BREAKER_OPEN
