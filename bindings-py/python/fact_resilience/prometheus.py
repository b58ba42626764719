"""Prometheus metrics for one or many named breakers (extra ``prometheus``, on
``prometheus_client``).

Example::

    from prometheus_client import CollectorRegistry, generate_latest
    from fact_resilience import CacheCircuitBreaker
    from fact_resilience.prometheus import BreakerCollector

    registry = CollectorRegistry()
    collector = BreakerCollector({"cache": CacheCircuitBreaker()}, registry=registry)
    text = generate_latest(registry).decode()
    assert 'fact_resilience_state{breaker="cache",state="closed"} 1.0' in text

The families (names, labels, help) are declared once in the core; every series carries a
``breaker`` label. A breaker may be a ``CacheCircuitBreaker`` or a ``ResilientCacheWrapper``
(whose shed calls are then counted too). Collection reads one snapshot per breaker and holds
no lock while any user code runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ._native import DEFAULT_NAMESPACE, METRIC_FAMILIES, check_namespace
from ._observe import STATES, Observable, Observation, breaker_of, observe

__all__ = ["BreakerCollector"]


class BreakerCollector(Collector):
    """A ``prometheus_client`` collector over named breakers.

    Args:
        breakers: ``{name: breaker or wrapper}`` to start with.
        namespace: the metric-name prefix (``fact_resilience``); ``ValueError`` if Prometheus
            would refuse it.
        registry: a registry to register with (None: register nowhere; pass
            ``prometheus_client.REGISTRY`` for the default one).
    """

    def __init__(
        self,
        breakers: Optional[Mapping[str, Observable]] = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        check_namespace(namespace)
        self.namespace = namespace
        self._lock = threading.Lock()  # guards the name table only, never held while collecting
        self._breakers: dict[str, Observable] = {}
        for name, b in (breakers or {}).items():
            self.add(name, b)
        if registry is not None:
            registry.register(self)

    def add(self, name: str, breaker: Observable) -> None:
        """Adds ``breaker`` under ``name``; ``ValueError`` if the name is taken."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"breaker name must be a non-empty str, got {name!r}")
        breaker_of(breaker)  # TypeError for anything else
        with self._lock:
            if name in self._breakers:
                raise ValueError(f"a breaker is already registered under the name {name!r}")
            self._breakers[name] = breaker

    def remove(self, name: str) -> None:
        """Stops exporting the breaker called ``name`` (``KeyError`` if there is none)."""
        with self._lock:
            del self._breakers[name]

    def names(self) -> list[str]:
        with self._lock:
            return list(self._breakers)

    def describe(self) -> Iterator[Metric]:
        # Lets registries detect clashing names at registration without collecting.
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            targets = list(self._breakers.items())
        families = self._families()
        by_name = {f.name.removeprefix(self.namespace + "_"): f for f in families}
        for name, target in targets:
            _add(by_name, name, observe(target))
        yield from families

    def _families(self) -> list[Metric]:
        out: list[Metric] = []
        for fname, kind, labels, help_text in METRIC_FAMILIES:
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            out.append(cls(f"{self.namespace}_{fname}", help_text, labels=["breaker", *labels]))
        return out


def _add(f: dict[str, Metric], name: str, o: Observation) -> None:
    state: GaugeMetricFamily = f["state"]  # type: ignore[assignment]
    for s in STATES:
        state.add_metric([name, s], 1.0 if s == o.state else 0.0)
    calls: CounterMetricFamily = f["calls"]  # type: ignore[assignment]
    for outcome, n in o.calls.items():
        calls.add_metric([name, outcome], n)
    transitions: CounterMetricFamily = f["transitions"]  # type: ignore[assignment]
    for frm, to, reason, n in o.transitions:
        transitions.add_metric([name, frm, to, reason], n)
    gauge = {k: v for k, v in f.items() if isinstance(v, GaugeMetricFamily)}
    gauge["failure_rate"].add_metric([name], o.failure_rate)
    gauge["time_in_state_seconds"].add_metric([name], o.time_in_state_seconds)
    gauge["health_status"].add_metric([name], o.health_status)
    for (rule, severity), firing in o.alerts.items():
        gauge["health_alert"].add_metric([name, rule, severity], firing)
