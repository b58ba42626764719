"""The loader of the health-report vectors, `tests/vectors/health/*.json` (format in
`tests/vectors/README.md`): each replayed through `CacheCircuitBreaker.health_report()` on a
`ManualClock`, as the core's `health_vectors.rs` replays them through `Breaker::health`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from fact_resilience import (
    CacheCircuitBreaker,
    CircuitBreakerConfig,
    HealthThresholds,
    ManualClock,
)

FILES = sorted((Path(__file__).resolve().parents[1] / "vectors" / "health").glob("*.json"))


def test_the_health_vectors_are_found() -> None:
    assert len(FILES) >= 10


def matches(expected: Any, actual: Any, path: str) -> None:
    if isinstance(expected, dict):
        for k, v in expected.items():
            assert k in actual, f"{path}.{k}: missing"
            matches(v, actual[k], f"{path}.{k}")
    elif isinstance(expected, list):
        assert len(expected) == len(actual), f"{path}: expected {expected}, actual {actual}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            matches(e, a, f"{path}[{i}]")
    elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9), (
            f"{path}: expected {expected}, actual {actual}"
        )
    else:
        assert actual == expected, f"{path}: expected {expected!r}, actual {actual!r}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_health_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    if "thresholds_error" in vector:
        with pytest.raises((ValueError, TypeError), match=vector["thresholds_error"]):
            HealthThresholds(**vector["thresholds"])
        return
    clock = ManualClock()
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(**vector.get("config", {})), clock=clock, wall_clock=clock.now
    )
    breaker.health_thresholds = HealthThresholds(**vector.get("thresholds", {}))
    for i, step in enumerate(vector["steps"]):
        op = step["op"]
        if op == "advance":
            clock.advance_ns(round(step["ms"] * 1e6))
        elif op == "call":
            permit = breaker.acquire("get")
            if step["outcome"] == "success":
                breaker.record_success(permit)
            else:
                breaker.record_failure(permit, RuntimeError("boom"), "get")
        elif op in ("poll", "force_open", "force_closed", "reset"):
            getattr(breaker, op)()
        elif op == "health":
            matches(step["expect"], breaker.health_report(), f"step {i} health")
        else:
            raise AssertionError(f"step {i}: unknown op {op}")
