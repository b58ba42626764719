"""A refused call's `CacheError` is built lazily (`_native._Refusal`); whatever is read first,
it holds exactly what `CacheError(message, error_code=..., context=...)` holds."""

from __future__ import annotations

import copy
import pickle
import traceback
from typing import Any, Callable

import pytest

from fact_resilience import CacheCircuitBreaker, CacheError, CircuitBreakerConfig, ManualClock

OPEN_MESSAGE = "[CIRCUIT_BREAKER_OPEN] circuit breaker is open: 'get' rejected, retry in 42.500s"


def refused(clock: ManualClock) -> CacheError:
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(timeout_seconds=60.0), clock=clock)
    breaker.force_open()
    clock.advance(17.5)
    with pytest.raises(CacheError) as info:
        breaker.execute_sync(lambda: 1, "get")
    return info.value


def eager() -> CacheError:
    return CacheError(
        OPEN_MESSAGE,
        error_code="CIRCUIT_BREAKER_OPEN",
        context={"operation": "get", "state": "open", "retry_after_seconds": 42.5},
    )


READS: dict[str, Callable[[CacheError], Any]] = {
    "args": lambda e: e.args,
    "message": lambda e: e.message,
    "error_code": lambda e: e.error_code,
    "context": lambda e: e.context,
    "str": str,
    "repr": repr,
    "pickle": lambda e: pickle.loads(pickle.dumps(e)).args,
    "copy": lambda e: copy.copy(e).message,
    "format": lambda e: traceback.format_exception_only(type(e), e),
}


@pytest.mark.parametrize("first", list(READS))
def test_every_read_matches_the_eager_error(first: str) -> None:
    err = refused(ManualClock())
    assert READS[first](err) == READS[first](eager())
    assert type(err) is CacheError
    assert vars(err) == vars(eager())
    for read in READS.values():
        assert read(err) == read(eager())


def test_attributes_set_before_the_first_read_are_kept() -> None:
    err = refused(ManualClock())
    err.error_code = "MINE"
    assert err.message == OPEN_MESSAGE
    assert err.error_code == "MINE"
    assert err.args == (OPEN_MESSAGE,)


def test_reading_args_at_c_level_still_gives_the_message() -> None:
    # C code (BaseException.__str__) reads the raw args slot: its item prints as the message.
    assert BaseException.__str__(refused(ManualClock())) == OPEN_MESSAGE


def test_unknown_attributes_still_raise_attribute_error() -> None:
    err = refused(ManualClock())
    with pytest.raises(AttributeError, match="nothing"):
        err.nothing  # type: ignore[attr-defined]  # noqa: B018


def test_throttled_refusal_matches_too() -> None:
    clock = ManualClock()
    cfg = CircuitBreakerConfig(failure_threshold=1, success_threshold=5, timeout_seconds=1.0)
    breaker = CacheCircuitBreaker(cfg, clock=clock)
    breaker.force_open()
    clock.advance(1)
    assert breaker.execute_sync(lambda: 1, "get") == 1
    with pytest.raises(CacheError) as info:
        breaker.execute_sync(lambda: 1, "get")
    err = info.value
    assert err.args == (
        "[CIRCUIT_BREAKER_THROTTLING] circuit breaker is half-open and throttling recovery: "
        "'get' rejected",
    )
    assert err.context == {"operation": "get", "state": "half_open", "retry_after_seconds": None}


def test_the_traceback_shows_only_the_callers_line() -> None:
    err = refused(ManualClock())
    frames = traceback.extract_tb(err.__traceback__)
    assert [f.name for f in frames] == ["refused"]
