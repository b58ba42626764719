"""`fact_resilience.otel`: instruments and spans seen through the OpenTelemetry SDK's in-memory
metric reader and span exporter, through a trip and a recovery on a `ManualClock`."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fact_resilience import (
    CacheCircuitBreaker,
    CacheError,
    CircuitBreakerConfig,
    ManualClock,
    ResilientCacheWrapper,
)
from fact_resilience.otel import BreakerInstruments, trace_calls


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], float]]]:
    data = reader.get_metrics_data()
    out: dict[str, list[tuple[dict[str, Any], float]]] = {}
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out[m.name] = [(dict(p.attributes or {}), p.value) for p in m.data.data_points]
    return out


def point(got: dict[str, Any], name: str, **attrs: str) -> float:
    return next(v for a, v in got[name] if a == attrs)


def breaker(clock: ManualClock) -> CacheCircuitBreaker:
    config = CircuitBreakerConfig(failure_threshold=2, success_threshold=1, timeout_seconds=5.0)
    return CacheCircuitBreaker(config, clock=clock)


async def test_instruments_follow_a_trip_and_a_recovery() -> None:
    clock = ManualClock()
    b = breaker(clock)
    reader = InMemoryMetricReader()
    BreakerInstruments({"cache": b}, meter_provider=MeterProvider(metric_readers=[reader]))

    async def down() -> None:
        raise ConnectionError("cache down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await b.execute(down, "get")
    got = points(reader)
    assert point(got, "fact_resilience.state", breaker="cache", state="open") == 1
    assert point(got, "fact_resilience.calls", breaker="cache", outcome="failure") == 2
    assert point(got, "fact_resilience.health_status", breaker="cache") == 2

    async def up() -> str:
        return "ok"

    clock.advance(5)
    assert await b.execute(up, "get") == "ok"
    got = points(reader)
    assert point(got, "fact_resilience.state", breaker="cache", state="closed") == 1
    t = {"breaker": "cache", "from": "half_open", "to": "closed", "reason": "probes_succeeded"}
    assert point(got, "fact_resilience.transitions", **t) == 1
    assert point(got, "fact_resilience.time_in_state_seconds", breaker="cache") == 0


async def test_a_span_per_guarded_call_carries_state_operation_outcome_and_error_type() -> None:
    clock = ManualClock()
    b = breaker(clock)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_calls(b, tracer_provider=provider)

    async def down() -> None:
        raise ConnectionError("cache down")

    async def up() -> str:
        return "ok"

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await b.execute(down, "get")
    with pytest.raises(CacheError):
        await b.execute(up, "get")
    clock.advance(5)
    await b.execute(up, "store")
    seen = [
        (
            s.name,
            s.attributes["circuit.state"],
            s.attributes["operation.name"],
            s.attributes["outcome"],
            s.attributes.get("error.type"),
        )
        for s in exporter.get_finished_spans()
        if s.attributes is not None
    ]
    assert seen == [
        ("circuit_breaker get", "closed", "get", "failure", "ConnectionError"),
        ("circuit_breaker get", "closed", "get", "failure", "ConnectionError"),
        ("circuit_breaker get", "open", "get", "rejected", None),
        ("circuit_breaker store", "open", "store", "success", None),
    ]


async def test_wrapper_spans_name_the_cache_operation_and_its_fallback() -> None:
    class Down:
        async def get(self, key: str) -> Any:
            raise ConnectionError("cache down")

    clock = ManualClock()
    w = ResilientCacheWrapper(Down(), breaker(clock))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_calls(w, tracer_provider=provider)
    for _ in range(3):
        assert await w.get("k") is None
    outcomes = [
        (s.attributes["outcome"], s.attributes.get("error.type"))
        for s in exporter.get_finished_spans()
        if s.attributes is not None
    ]
    assert outcomes == [
        ("failure", "ConnectionError"),
        ("failure", "ConnectionError"),
        ("rejected", None),
    ]


def test_bad_namespace_and_duplicate_names_are_clear_errors() -> None:
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    with pytest.raises(ValueError, match="namespace must match"):
        BreakerInstruments(namespace="fact-resilience", meter_provider=provider)
    i = BreakerInstruments({"a": CacheCircuitBreaker()}, meter_provider=provider)
    with pytest.raises(ValueError, match="already registered under the name 'a'"):
        i.add("a", CacheCircuitBreaker())
