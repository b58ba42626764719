"""How long one Prometheus scrape of 1,000 breakers takes (`fact_resilience.prometheus`):
`generate_latest` over a registry holding one `BreakerCollector` of 1,000 breakers, some of them
open. Run: `.venv/bin/python benches/python_metrics.py` (after `make develop-python` and
`pip install prometheus_client`)."""

from __future__ import annotations

import statistics
import time

from prometheus_client import CollectorRegistry, generate_latest

from fact_resilience import CacheCircuitBreaker, ResilientCacheWrapper
from fact_resilience.prometheus import BreakerCollector


class Manager:
    def get_metrics(self) -> dict[str, int]:
        return {"total_entries": 0}


def main() -> None:
    breakers: dict[str, object] = {}
    for i in range(1000):
        b = CacheCircuitBreaker()
        if i % 10 == 0:
            b.force_open()
        # One in four is a wrapper, whose shed count costs a get_metrics() call.
        breakers[f"b{i}"] = ResilientCacheWrapper(Manager(), b) if i % 4 == 0 else b
    registry = CollectorRegistry()
    BreakerCollector(breakers, registry=registry)  # type: ignore[arg-type]
    size = len(generate_latest(registry))
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        generate_latest(registry)
        times.append(time.perf_counter() - t0)
    print(
        f"1,000 breakers: scrape median {statistics.median(times) * 1e3:.1f} ms, "
        f"min {min(times) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms; {size:,} bytes"
    )


if __name__ == "__main__":
    main()
