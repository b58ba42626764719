"""`fact_resilience.prometheus`: the collector's exposition, parsed back with
`prometheus_client`'s own text parser, through a trip and a recovery on a `ManualClock`."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fact_resilience import (
    CacheCircuitBreaker,
    CacheShedError,
    CircuitBreakerConfig,
    ManualClock,
    ResilientCacheWrapper,
)
from fact_resilience._native import METRIC_FAMILIES
from fact_resilience.prometheus import BreakerCollector


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(got: dict[Any, float], name: str, **labels: str) -> float:
    return got[(name, tuple(sorted(labels.items())))]


def test_a_trip_and_a_recovery_show_in_every_family() -> None:
    clock = ManualClock()
    b = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=2, success_threshold=1, timeout_seconds=10.0),
        clock=clock,
    )
    registry = CollectorRegistry()
    BreakerCollector({"cache": b}, registry=registry)
    for _ in range(2):
        b.record_failure(b.acquire(), RuntimeError("down"))
    with pytest.raises(Exception, match="CIRCUIT_BREAKER_OPEN"):
        b.acquire()
    clock.advance(4)
    got = samples(registry)
    ns = "fact_resilience"
    assert value(got, f"{ns}_state", breaker="cache", state="open") == 1
    assert value(got, f"{ns}_state", breaker="cache", state="closed") == 0
    assert value(got, f"{ns}_calls_total", breaker="cache", outcome="failure") == 2
    assert value(got, f"{ns}_calls_total", breaker="cache", outcome="rejected") == 1
    t = {"breaker": "cache", "from": "closed", "to": "open", "reason": "failure_threshold"}
    assert value(got, f"{ns}_transitions_total", **t) == 1
    assert value(got, f"{ns}_failure_rate", breaker="cache") == 1.0
    assert value(got, f"{ns}_time_in_state_seconds", breaker="cache") == pytest.approx(4.0)
    assert value(got, f"{ns}_health_status", breaker="cache") == 2  # failure rate 1.0 > 0.5
    rule = {"breaker": "cache", "rule": "critical_failure_rate", "severity": "critical"}
    assert value(got, f"{ns}_health_alert", **rule) == 1

    clock.advance(6)
    b.record_success(b.acquire())  # the probe closes it
    got = samples(registry)
    assert value(got, f"{ns}_state", breaker="cache", state="closed") == 1
    t = {"breaker": "cache", "from": "half_open", "to": "closed", "reason": "probes_succeeded"}
    assert value(got, f"{ns}_transitions_total", **t) == 1
    assert value(got, f"{ns}_calls_total", breaker="cache", outcome="success") == 1


def test_every_declared_family_is_exported_with_help() -> None:
    registry = CollectorRegistry()
    BreakerCollector({"a": CacheCircuitBreaker()}, registry=registry, namespace="svc")
    text = generate_latest(registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, kind, _labels, help_text in METRIC_FAMILIES:
        assert families[f"svc_{name}"].type == kind
        assert families[f"svc_{name}"].documentation == help_text


async def test_a_wrappers_shed_calls_are_counted() -> None:
    class Shedding:
        async def get(self, key: str) -> Any:
            raise CacheShedError("pool exhausted")

    w = ResilientCacheWrapper(Shedding(), CacheCircuitBreaker(clock=ManualClock()))
    registry = CollectorRegistry()
    BreakerCollector({"cache": w}, registry=registry)
    assert await w.get("k") is None  # the fallback
    got = samples(registry)
    assert value(got, "fact_resilience_calls_total", breaker="cache", outcome="shed") == 1
    assert value(got, "fact_resilience_calls_total", breaker="cache", outcome="failure") == 0


@pytest.mark.parametrize("namespace", ["my-app", "9lives", "", "a:b", "é"])
def test_a_namespace_prometheus_refuses_is_a_clear_error(namespace: str) -> None:
    with pytest.raises(ValueError, match=r"namespace must match \[a-zA-Z_\]"):
        BreakerCollector(namespace=namespace)


def test_two_breakers_under_one_name_is_a_clear_error() -> None:
    c = BreakerCollector({"cache": CacheCircuitBreaker()})
    with pytest.raises(ValueError, match="already registered under the name 'cache'"):
        c.add("cache", CacheCircuitBreaker())
    with pytest.raises(TypeError, match="CacheCircuitBreaker or ResilientCacheWrapper"):
        c.add("other", object())  # type: ignore[arg-type]
    c.remove("cache")
    c.add("cache", CacheCircuitBreaker())
    assert c.names() == ["cache"]


def test_collecting_a_thousand_breakers_exports_every_breakers_series() -> None:
    # How long it takes is a benchmark (benches/python_metrics.py; the figure is in
    # bindings-py/README.md), not a timed test; here, that 1,000 breakers come out whole.
    registry = CollectorRegistry()
    BreakerCollector({f"b{i}": CacheCircuitBreaker() for i in range(1000)}, registry=registry)
    families = list(text_string_to_metric_families(generate_latest(registry).decode()))
    assert families
    for family in families:
        names = {s.labels.get("breaker") for s in family.samples}
        assert len(names) == 1000, family.name
