"""The one loader for the breaker's vectors, `tests/vectors/**/*.json` (`cache/` and `health/`
have their own, `test_cache_vectors.py` and `test_health_vectors.py`, and so do `registry/`
and `origin/`): every vector replayed through the Python API.

Time runs on a `ManualClock` shared as both the monotonic clock and (in seconds) the wall clock
stamped on failures, as the vector format specifies. Transitions are observed through an
`on_state_change` listener, so this also checks that every transition reaches listeners.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from fact_resilience import (
    CacheCircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    ManualClock,
    Permit,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FILES = sorted(
    p
    for p in VECTORS.glob("**/*.json")
    if not {"cache", "health", "registry", "origin"} & set(p.relative_to(VECTORS).parts)
)

# Vector metric keys -> how to read them from CircuitBreakerMetrics.
METRICS = {
    "time_in_current_state_ms": lambda m: m.time_in_current_state * 1000.0,
    "open_duration_ms": lambda m: m.open_duration * 1000.0,
}


def close(actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is expected
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual == expected
    if isinstance(expected, (int, float)):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-9)
    return bool(actual == expected)


def make_exception(error_type: str, message: str) -> Exception:
    return type(error_type, (Exception,), {})(message)


class Replay:
    def __init__(self, vector: dict[str, Any]) -> None:
        self.clock = ManualClock()
        self.events: list[tuple[CircuitState, CircuitState, str]] = []
        self.breaker = CacheCircuitBreaker(
            CircuitBreakerConfig(**vector.get("config", {})),
            clock=self.clock,
            wall_clock=self.clock.now,
            on_state_change=lambda a, b, why: self.events.append((a, b, why)),
        )
        self.permits: dict[str, Permit] = {}

    def step(self, i: int, step: dict[str, Any]) -> None:
        where = f"step {i} {step}"
        op = step["op"]
        self.events.clear()
        b = self.breaker
        if op == "advance":
            self.clock.advance_ns(round(step["ms"] * 1e6))
        elif op == "acquire":
            self.acquire(step, where)
        elif op == "success":
            b.record_success(self.permits.pop(step["permit"]))
        elif op == "failure":
            exc = make_exception(step.get("error_type", "CacheError"), step.get("message", "boom"))
            b.record_failure(self.permits.pop(step["permit"]), exc, step.get("operation", "get"))
        elif op == "neutral":
            b.record_neutral(self.permits.pop(step["permit"]))
        elif op == "poll":
            b.poll()
        elif op == "force_open":
            b.force_open()
        elif op == "force_closed":
            b.force_closed()
        elif op == "reset":
            b.reset()
        elif op == "set_config":
            if "error" in step:
                with pytest.raises(ValueError) as err:
                    CircuitBreakerConfig(**step["config"])
                assert str(err.value).startswith(step["error"]), where
            else:
                b.config = CircuitBreakerConfig(**step["config"])
        else:  # pragma: no cover - a new op needs a line here
            pytest.fail(f"unknown op {op!r} in {where}")
        self.check(step, where)

    def acquire(self, step: dict[str, Any], where: str) -> None:
        try:
            permit = self.breaker.acquire(step.get("operation", "get"))
        except Exception as e:
            code = getattr(e, "error_code", None)
            outcome = {"CIRCUIT_BREAKER_OPEN": "open", "CIRCUIT_BREAKER_THROTTLING": "throttled"}
            assert outcome.get(str(code)) == step["expect"], f"{where}: got {e!r}"
            assert code in str(e)
            if "retry_after_ms" in step:
                got = e.context["retry_after_seconds"] * 1000.0  # type: ignore[attr-defined]
                assert close(got, step["retry_after_ms"]), f"{where}: retry_after {got}"
            return
        assert step["expect"] == "admitted", f"{where}: admitted"
        if "probe" in step:
            assert permit.probe is step["probe"], where
        if "permit" in step:
            self.permits[step["permit"]] = permit
        else:
            self.breaker.record_neutral(permit)

    def check(self, step: dict[str, Any], where: str) -> None:
        b = self.breaker
        if "transition" in step:
            want = step["transition"]
            got = [(a.value, c.value, why) for a, c, why in self.events]
            if want is None:
                assert got == [], f"{where}: unexpected transition {got}"
            else:
                assert got == [(want["from"], want["to"], want["reason"])], f"{where}: {got}"
        if "state" in step:
            assert b.get_state().value == step["state"], where
        if "metrics" in step or "recent_failures" in step:
            m = b.get_metrics()
            for key, want in step.get("metrics", {}).items():
                got = METRICS[key](m) if key in METRICS else getattr(m, key)
                assert close(got, want), f"{where}: metrics.{key} = {got!r}, want {want!r}"
            if "recent_failures" in step:
                got = [r.to_dict() for r in m.recent_failures]
                want = step["recent_failures"]
                assert len(got) == len(want), f"{where}: {got}"
                for g, w in zip(got, want):
                    for k, v in w.items():
                        assert close(g[k], v), f"{where}: recent_failures {g} vs {w}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    if "config_error" in vector:
        with pytest.raises(ValueError) as err:
            CircuitBreakerConfig(**vector["config"])
        assert str(err.value).startswith(vector["config_error"]), str(err.value)
        return
    replay = Replay(vector)
    for i, step in enumerate(vector["steps"]):
        replay.step(i, step)


def test_vectors_are_present() -> None:
    assert len(FILES) >= 1, f"no vectors under {VECTORS}"
