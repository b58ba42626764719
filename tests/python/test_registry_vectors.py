"""The registry's vectors, `tests/vectors/registry/*.json`, replayed through
`BreakerRegistry` on a `ManualClock` (the format is in `tests/vectors/README.md`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fact_resilience import (
    BreakerRegistry,
    CacheError,
    CircuitBreakerConfig,
    ManualClock,
    PathPermit,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "registry"
FILES = sorted(VECTORS.glob("*.json"))


def config(fields: dict[str, Any]) -> CircuitBreakerConfig:
    return CircuitBreakerConfig(**fields)


def build(spec: dict[str, Any], clock: ManualClock) -> BreakerRegistry:
    if "parents" in spec:
        return BreakerRegistry(
            dict(spec["parents"]), max_breakers=spec["max_breakers"], clock=clock
        )
    levels = [
        (
            level["name"],
            config(level["config"]),
            {p: config(c) for p, c in level.get("prefixes", {}).items()},
        )
        for level in spec["levels"]
    ]
    return BreakerRegistry(levels, max_breakers=spec["max_breakers"], clock=clock)


def moved(transitions: list[Any]) -> list[list[Any]]:
    return [[level, state.value] for level, state in transitions]


class Replay:
    def __init__(self, vector: dict[str, Any]) -> None:
        self.clock = ManualClock()
        self.registry = build(vector["registry"], self.clock)
        self.calls: dict[str, PathPermit] = {}

    def acquire(self, step: dict[str, Any]) -> None:
        expect = step["expect"]
        try:
            permit = self.registry.acquire(step["path"])
        except CacheError as e:
            rejection = "open" if e.error_code == "CIRCUIT_BREAKER_OPEN" else "throttled"
            assert expect == {"refused": e.level, "rejection": rejection}  # type: ignore[attr-defined]
            return
        except ValueError as e:
            assert str(e).startswith(expect["error"]), (expect, e)
            return
        assert expect == "admitted", f"admitted, expected {expect}"
        self.calls[step["call"]] = permit

    def outcome(self, op: str, step: dict[str, Any]) -> None:
        permit = self.calls.pop(step["call"])
        if op == "success":
            got = moved(self.registry.record_success(permit))
        elif op == "failure":
            got = moved(self.registry.record_failure(permit, ConnectionError("down")))
        else:
            self.registry.record_neutral(permit)
            got = []
        if "expect_transitions" in step:
            assert got == step["expect_transitions"]

    def expect(self, step: dict[str, Any]) -> None:
        r = self.registry
        if "len" in step:
            assert len(r) == step["len"]
        if "evicted" in step:
            assert r.evicted == step["evicted"]
        for path in step.get("kept", []):
            assert r.state(path) is not None, f"{path} should be kept"
        for path in step.get("dropped", []):
            assert r.state(path) is None, f"{path} should be dropped"
        for path, state in step.get("states", []):
            got = r.state(path)
            assert (None if got is None else got.value) == state, path
        for path, want in step.get("metrics", []):
            m = r.metrics(path)
            assert m is not None, path
            for name, value in want.items():
                assert getattr(m, name) == value, (path, name)
        if "in_flight" in step:
            assert [s["in_flight"] for s in r.summary()] == step["in_flight"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_registry_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    if "registry_error" in vector:
        with pytest.raises(ValueError) as e:
            build(vector["registry"], ManualClock())
        # In Python a bad level config is refused as the config is built, naming its field.
        fields = {f for level in vector["registry"].get("levels", []) for f in level["config"]}
        named = [vector["registry_error"], *fields]
        assert any(str(e.value).startswith(n) for n in named), e.value
        return
    run = Replay(vector)
    for i, step in enumerate(vector["steps"]):
        op = step["op"]
        try:
            if op == "acquire":
                run.acquire(step)
            elif op in ("success", "failure", "neutral"):
                run.outcome(op, step)
            elif op == "advance":
                run.clock.advance(step["ms"] / 1000)
            elif op == "expect":
                run.expect(step)
            else:
                raise AssertionError(f"unknown op {op}")
        except AssertionError as e:
            raise AssertionError(f"{path.name}: step {i} ({op}): {e}") from None


def test_every_registry_vector_is_here() -> None:
    assert len(FILES) >= 20
