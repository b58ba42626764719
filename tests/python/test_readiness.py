"""`fact_resilience.readiness`: the health report as an HTTP status and JSON body, by policy,
and the README's ASGI readiness-probe example run against a fake ASGI server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig, ManualClock
from fact_resilience.readiness import readiness

README = Path(__file__).resolve().parents[2] / "bindings-py" / "README.md"


def opened(clock: ManualClock) -> CacheCircuitBreaker:
    b = CacheCircuitBreaker(CircuitBreakerConfig(timeout_seconds=1000.0), clock=clock)
    b.force_open()
    return b


def test_each_policy_answers_by_state_or_status() -> None:
    clock = ManualClock()
    b = opened(clock)
    assert readiness(b, unready_when="open")[0] == 503
    assert readiness(b, unready_when="critical")[0] == 200  # open, but only for 0 s
    clock.advance(301)
    status, body = readiness(b, unready_when="critical")
    assert status == 503 and body["ready"] is False and body["status"] == "critical"
    assert body["alerts"][0]["rule"] == "critical_open_seconds"
    json.dumps(body)  # JSON-safe
    b.force_closed()
    assert readiness(b, unready_when="warning") == (
        200,
        readiness(b)[1] | {"unready_when": "warning"},
    )


def test_many_named_breakers_are_ready_only_together() -> None:
    clock = ManualClock()
    status, body = readiness({"cache": opened(clock), "db": CacheCircuitBreaker(clock=clock)})
    assert status == 503
    assert (body["breakers"]["cache"]["ready"], body["breakers"]["db"]["ready"]) == (False, True)


def test_an_unknown_policy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unready_when must be one of open, critical, warning"):
        readiness(CacheCircuitBreaker(), unready_when="closed")


async def test_the_readmes_asgi_readiness_probe_runs() -> None:
    code = re.search(r"```python\n(# readiness probe.*?)```", README.read_text(), re.S)
    assert code, "the README's ASGI example is missing"
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)
    app, breaker = scope["app"], scope["breaker"]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": "/ready"}, receive, send)
    assert sent[0]["status"] == 200
    breaker.force_open()
    sent.clear()
    await app({"type": "http", "path": "/ready"}, receive, send)
    assert sent[0]["status"] == 503
    assert json.loads(sent[1]["body"])["figures"]["state"] == "open"
