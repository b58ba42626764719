"""The one loader for `tests/vectors/cache/*.json`: every cache vector replayed through
`ResilientCacheWrapper` (the public API) against an in-memory manager built with the vector's
capabilities, on a `ManualClock`. The format is in `tests/vectors/README.md` ("Cache vectors").
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Optional

import pytest

from fact_resilience import (
    CacheCircuitBreaker,
    CacheError,
    CacheShedError,
    CircuitBreakerConfig,
    ManualClock,
    ResilientCacheWrapper,
)

CACHE_VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "cache"
FILES = sorted(CACHE_VECTORS.glob("*.json"))
PREFIX = "fact"


def failure(kind: str) -> BaseException:
    if kind == "error":
        return ConnectionError("cache unreachable")
    if kind == "timeout":
        return TimeoutError("cache too slow")
    if kind == "shed":
        return CacheShedError("no connection slot")
    if kind == "cancelled":
        return asyncio.CancelledError()
    raise AssertionError(f"unknown cache outcome {kind!r}")


def kind_of(exc: BaseException) -> str:
    if isinstance(exc, CacheError):
        return str(exc.error_code)
    if isinstance(exc, CacheShedError):
        return "shed"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, ConnectionError):
        return "error"
    raise exc


class Manager:
    """The in-memory cache; `script` says how each call of the current step ends."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}
        self.calls: list[list[Any]] = []
        self.script: list[str] = []

    def _call(self, name: str, arg: Any) -> None:
        self.calls.append([name, arg])
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome != "ok":
            raise failure(outcome)

    async def get(self, key: str) -> Optional[str]:
        self._call("get", key)
        return self.entries.get(key)

    async def store(self, key: str, value: str) -> dict[str, str]:
        self._call("store", key)
        self.entries[key] = value
        return {"stored": key}

    async def invalidate_by_prefix(self, prefix: str) -> int:
        self._call("invalidate_by_prefix", prefix)
        gone = [k for k in self.entries if prefix == PREFIX or k.startswith(prefix)]
        for k in gone:
            del self.entries[k]
        return len(gone)


class PerKeyManager(Manager):
    async def invalidate(self, key: str) -> int:
        self._call("invalidate", key)
        return 1 if self.entries.pop(key, None) is not None else 0


def manager_for(caps: dict[str, bool]) -> Manager:
    cls = PerKeyManager if caps.get("per_key", False) else Manager
    manager = cls()
    if caps.get("flush_all", True):
        manager.prefix = PREFIX  # type: ignore[attr-defined]
    return manager


async def replay(vector: dict[str, Any]) -> None:
    clock = ManualClock()
    cache = vector.get("cache", {})
    manager = manager_for(cache.get("capabilities", {}))
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(**vector.get("config", {})), clock=clock, wall_clock=clock
    )
    options: dict[str, Any] = {"max_pending_invalidations": cache.get("max_pending", 1024)}
    if "stale_keys" in cache:
        options["stale_keys"] = cache["stale_keys"]
    if "cache_error" in vector:
        with pytest.raises(ValueError, match=vector["cache_error"]):
            ResilientCacheWrapper(manager, breaker, **options)
        return
    wrapper = ResilientCacheWrapper(
        manager, breaker, enable_graceful_degradation=cache.get("degrade", True), **options
    )
    for i, step in enumerate(vector["steps"]):
        where = f"{vector['name']}: step {i}"
        answer: Optional[tuple[str, Any]] = None
        if "advance" in step:
            clock.advance(step["advance"])
        elif "set" in step:
            wrapper.enable_graceful_degradation = step["set"]["degrade"]
        elif "call" in step:
            manager.calls.clear()
            manager.script = list(step.get("cache", []))
            method = getattr(wrapper, step["call"])
            args = [step["key"]] + ([step["value"]] if step["call"] == "store" else [])
            try:
                answer = ("returns", await method(*args))
            except BaseException as exc:  # a cancellation is an answer here too
                answer = ("raises", kind_of(exc))
        check(where, step.get("expect", {}), answer, wrapper, manager)
    assert wrapper.get_metrics()["guard"]["in_flight"] == 0, "a call was left in flight"


def check(
    where: str,
    expect: dict[str, Any],
    answer: Optional[tuple[str, Any]],
    wrapper: ResilientCacheWrapper,
    manager: Manager,
) -> None:
    for key, want in expect.items():
        if key in ("returns", "raises"):
            assert answer == (key, want), f"{where}: expected {key} {want!r}, got {answer!r}"
        elif key == "manager_calls":
            assert manager.calls == want, f"{where}: manager_calls"
        elif key == "state":
            assert wrapper.circuit_breaker.get_state().value == want, f"{where}: state"
        elif key == "guard":
            got = wrapper.get_metrics()["guard"]
            assert {k: got[k] for k in want} == want, f"{where}: guard"
        elif key == "breaker":
            m = wrapper.circuit_breaker.get_metrics()
            got = {k: getattr(m, k) for k in want}
            assert got == want, f"{where}: breaker"
        else:
            raise AssertionError(f"{where}: unknown expectation {key!r}")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_cache_vector(path: Path) -> None:
    asyncio.run(replay(json.loads(path.read_text())))


def test_cache_vectors_are_present() -> None:
    assert len(FILES) >= 25
