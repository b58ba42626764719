"""OpenTelemetry for breakers (extra ``otel``, on ``opentelemetry-api`` only; bring your own SDK).

- :class:`BreakerInstruments` registers the Prometheus collector's families as observable
  instruments (``<namespace>.<family>``, e.g. ``fact_resilience.calls``) on a meter, read from
  one snapshot per breaker at each collection, with a ``breaker`` attribute.
- :func:`trace_calls` opts one breaker or wrapper in to a span per guarded call, with the
  attributes the seed proposes: ``circuit.state`` (when the call came), ``operation.name``,
  ``outcome`` and ``error.type``. A breaker's ``execute`` ends ``success``, ``failure``,
  ``rejected`` (OPEN) or ``throttled`` (HALF_OPEN); a wrapper call ends ``success``,
  ``failure`` (a fallback served after the cache failed), ``rejected`` or ``fallback`` (refused
  before calling the cache, while OPEN or otherwise), ``shed``, or ``raised`` (the exception was
  passed on: degradation off, or a neutral or cancelled call).

Example::

    from fact_resilience import CacheCircuitBreaker
    from fact_resilience.otel import BreakerInstruments, trace_calls

    breaker = CacheCircuitBreaker()
    instruments = BreakerInstruments({"cache": breaker})  # the global MeterProvider
    trace_calls(breaker)  # the global TracerProvider
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from ._breaker import CacheCircuitBreaker
from ._native import (
    CIRCUIT_BREAKER_OPEN,
    CIRCUIT_BREAKER_THROTTLING,
    DEFAULT_NAMESPACE,
    METRIC_FAMILIES,
    __version__,
    check_namespace,
)
from ._observe import STATES, Observable, breaker_of, observe
from ._wrapper import Observe, ResilientCacheWrapper

__all__ = ["BreakerInstruments", "trace_calls"]

_UNITS = {"time_in_state_seconds": "s", "failure_rate": "1"}


class BreakerInstruments:
    """Observable instruments over named breakers.

    Args:
        breakers: ``{name: breaker or wrapper}`` to start with.
        namespace: the instrument-name prefix; ``ValueError`` if Prometheus would refuse it
            (so that the same names survive an OTLP-to-Prometheus pipeline).
        meter_provider: None for the global one.
    """

    def __init__(
        self,
        breakers: Optional[Mapping[str, Observable]] = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        meter_provider: Optional[metrics.MeterProvider] = None,
    ) -> None:
        check_namespace(namespace)
        self._lock = threading.Lock()  # guards the name table only
        self._breakers: dict[str, Observable] = {}
        for name, b in (breakers or {}).items():
            self.add(name, b)
        meter = metrics.get_meter("fact_resilience", __version__, meter_provider=meter_provider)
        for fname, kind, _labels, help_text in METRIC_FAMILIES:
            callback = self._callback(fname)
            make = (
                meter.create_observable_counter
                if kind == "counter"
                else meter.create_observable_gauge
            )
            make(
                f"{namespace}.{fname}",
                callbacks=[callback],
                unit=_UNITS.get(fname, "1" if kind == "gauge" else "{call}"),
                description=help_text,
            )

    def add(self, name: str, breaker: Observable) -> None:
        """Adds ``breaker`` under ``name``; ``ValueError`` if the name is taken."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"breaker name must be a non-empty str, got {name!r}")
        breaker_of(breaker)
        with self._lock:
            if name in self._breakers:
                raise ValueError(f"a breaker is already registered under the name {name!r}")
            self._breakers[name] = breaker

    def remove(self, name: str) -> None:
        with self._lock:
            del self._breakers[name]

    def _callback(self, family: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe_family(_options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                targets = list(self._breakers.items())
            out: list[Observation] = []
            for name, target in targets:
                o = observe(target)
                b = {"breaker": name}
                if family == "state":
                    out += [Observation(int(s == o.state), {**b, "state": s}) for s in STATES]
                elif family == "calls":
                    out += [Observation(n, {**b, "outcome": k}) for k, n in o.calls.items()]
                elif family == "transitions":
                    out += [
                        Observation(n, {**b, "from": f, "to": t, "reason": r})
                        for f, t, r, n in o.transitions
                    ]
                elif family == "health_alert":
                    out += [
                        Observation(v, {**b, "rule": r, "severity": s})
                        for (r, s), v in o.alerts.items()
                    ]
                else:
                    out.append(Observation(getattr(o, family), b))
            return out

        return observe_family


def _refusal(exc: BaseException) -> Optional[str]:
    code = str(getattr(exc, "error_code", ""))
    if CIRCUIT_BREAKER_OPEN in code:
        return "rejected"
    if CIRCUIT_BREAKER_THROTTLING in code:
        return "throttled"
    return None


def trace_calls(
    target: Observable, *, tracer_provider: Optional[trace.TracerProvider] = None
) -> None:
    """A span per guarded call from now on: ``breaker.execute(...)`` for a breaker; ``store``,
    ``get``, ``invalidate_by_prefix`` and ``invalidate`` for a wrapper. Spans are named
    ``circuit_breaker <operation>``."""
    tracer = trace.get_tracer("fact_resilience", __version__, tracer_provider=tracer_provider)
    breaker_of(target)  # a TypeError naming what was given if it is neither
    if isinstance(target, ResilientCacheWrapper):
        _trace_wrapper(target, tracer)
    else:
        _trace_breaker(target, tracer)


def _trace_breaker(breaker: CacheCircuitBreaker, tracer: trace.Tracer) -> None:
    plain = type(breaker).execute

    async def execute(
        operation: Callable[..., Any], operation_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        with tracer.start_as_current_span(
            f"circuit_breaker {operation_name}",
            attributes={
                "circuit.state": breaker.get_state().value,
                "operation.name": operation_name,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                result = await plain(breaker, operation, operation_name, *args, **kwargs)
            except Exception as exc:
                refused = _refusal(exc)
                span.set_attribute("outcome", refused or "failure")
                if refused is None:
                    span.set_attribute("error.type", type(exc).__name__)
                    span.record_exception(exc)
                    span.set_status(trace.StatusCode.ERROR)
                raise
            span.set_attribute("outcome", "success")
            return result

    breaker.execute = execute  # type: ignore[method-assign]


def _trace_wrapper(wrapper: ResilientCacheWrapper, tracer: trace.Tracer) -> None:
    # The wrapper's own steps (every decision is the core's), told to report how each call
    # ended; the untraced path pays only for a `None` check.
    plain = type(wrapper)._call

    async def call(op: str, key: Any, *args: Any, observe: Optional[Observe] = None) -> Any:
        with tracer.start_as_current_span(
            f"circuit_breaker {op}",
            attributes={
                "circuit.state": wrapper.circuit_breaker.get_state().value,
                "operation.name": op,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:

            def note(outcome: str, exc: Optional[BaseException]) -> None:
                if observe is not None:
                    observe(outcome, exc)
                if outcome == "refused":
                    outcome = "rejected" if wrapper.circuit_breaker.is_open() else "fallback"
                span.set_attribute("outcome", outcome)
                if exc is not None and outcome != "shed":
                    span.set_attribute("error.type", type(exc).__name__)
                if outcome == "failure":
                    span.set_status(trace.StatusCode.ERROR)

            return await plain(wrapper, op, key, *args, observe=note)

    wrapper._call = call  # type: ignore[method-assign]
