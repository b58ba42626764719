"""`docs/grafana-dashboard.json` queries only what the collector exports: every metric name in
every panel's PromQL (and the template variable's query) is a family of
`fact_resilience.prometheus`, with labels it really carries."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fact_resilience import CacheCircuitBreaker
from fact_resilience.prometheus import BreakerCollector

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


def exported() -> dict[str, set[str]]:
    registry = CollectorRegistry()
    BreakerCollector({"cache": CacheCircuitBreaker()}, registry=registry)
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def test_every_metric_the_dashboard_queries_is_exported_with_its_labels() -> None:
    dash = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    queries += [v["query"] for v in dash["templating"]["list"]]
    have = exported()
    seen = set()
    for q in queries:
        for name, selector in re.findall(r"(fact_resilience_\w+)(\{[^}]*\})?", q):
            assert name in have, f"{name} (in {q!r}) is not exported"
            labels = set(re.findall(r"(\w+)\s*=~?", selector))
            assert labels <= have[name], f"{name}: labels {labels - have[name]} not exported"
            seen.add(name)
    # The seed's panels: state, failure rate, transitions, rejected/shed calls, health.
    for needed in ("state", "failure_rate", "transitions_total", "calls_total", "health_status"):
        assert f"fact_resilience_{needed}" in seen
