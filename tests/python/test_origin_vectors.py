"""The origin-protection vectors, `tests/vectors/origin/*.json`, replayed through
`OriginGuard` on a `ManualClock`; the values it keeps for stale-if-error are the keys' names,
so a stale answer says whose value it is (the format is in `tests/vectors/README.md`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fact_resilience import ManualClock, OriginGuard

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "origin"
FILES = sorted(VECTORS.glob("*.json"))


def build(spec: dict[str, Any], clock: ManualClock) -> OriginGuard:
    return OriginGuard(**spec, clock=clock)


class Replay:
    def __init__(self, vector: dict[str, Any]) -> None:
        self.clock = ManualClock()
        self.guard = build(vector["origin"], self.clock)
        self.loads: dict[str, tuple[int, str]] = {}

    def begin(self, step: dict[str, Any]) -> None:
        key = step["key"]
        kind, value = self.guard.begin(key, step["cache_down"])
        names = {ticket: name for name, (ticket, _) in self.loads.items()}
        if kind == "lead":
            self.loads[step["load"]] = (value, key)
            got: Any = "lead"
        elif kind == "join":
            got = {"join": names.get(value, "<unknown>")}
        elif kind == "busy":
            got = "busy"
        else:
            got = {"stale": value[0], "age_ms": round((self.clock.now() - value[1]) * 1000)}
        assert got == step["expect"], (got, step["expect"])

    def end(self, step: dict[str, Any]) -> None:
        ticket, key = self.loads[step["load"]]
        expect = step["expect"]
        value = (key, self.clock.now())
        before = self.guard.counters()["remembered"]
        try:
            joined, store = self.guard.end(ticket, step["ok"], value if step["ok"] else None)
        except ValueError as e:
            assert "error" in expect and expect["error"] in str(e), (expect, e)
            return
        after = self.guard.counters()["remembered"]
        assert joined == expect["joined"], (joined, expect)
        assert store == expect["store"], (store, expect)
        if expect["remember"]:
            assert after >= max(before, 1), (before, after)
        else:
            assert after == before, (before, after)

    def step(self, step: dict[str, Any]) -> None:
        op = step["op"]
        if op == "begin":
            self.begin(step)
        elif op == "end":
            self.end(step)
        elif op == "served":
            self.guard.served(step["key"], (step["key"], self.clock.now()))
        elif op == "written":
            self.guard.written(step["key"])
        elif op == "written_all":
            self.guard.written_all()
        elif op == "advance":
            self.clock.advance(step["ms"] / 1000)
        elif op == "expect":
            counters = self.guard.counters()
            for name, want in step["counters"].items():
                assert counters[name] == want, (name, counters)
        else:
            raise AssertionError(f"unknown op {op}")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_origin_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    if "origin_error" in vector:
        with pytest.raises(ValueError) as e:
            build(vector["origin"], ManualClock())
        assert str(e.value).startswith(vector["origin_error"]), e.value
        return
    run = Replay(vector)
    for i, step in enumerate(vector["steps"]):
        try:
            run.step(step)
        except AssertionError as e:
            raise AssertionError(f"{path.name}: step {i} ({step['op']}): {e}") from None


def test_every_origin_vector_is_here() -> None:
    assert len(FILES) >= 15
