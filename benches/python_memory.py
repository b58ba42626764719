"""Resident memory (RSS, every heap: Python's and the Rust core's) per idle key in a
`BreakerRegistry`, and per standalone `CacheCircuitBreaker()`, each measured in a fresh
interpreter (RSS only grows, so one measurement per process).

Run with `make bench-memory-python`. A registry of two levels (`op` -> `key`) takes one
successful call on each of N keys (`user:<i>`), the `ManualClock` moving one second per key,
so that all but the last few hundred keys (the default 300 s window) are idle, their windows
given back as the registry walks them; the figure is the RSS growth over the N keys divided by
N. Prints a Markdown table; the figures are kept in `bindings-py/README.md`, not here.
"""

from __future__ import annotations

import subprocess
import sys

SIZES = (10_000, 100_000, 1_000_000)
STANDALONE = 100_000

PRELUDE = """
import gc, sys
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
"""

REGISTRY = (
    PRELUDE
    + """
from fact_resilience import BreakerRegistry, ManualClock
n = int(sys.argv[1])
clock = ManualClock(1.0)
registry = BreakerRegistry(["op", "key"], max_breakers=n + 10, clock=clock)
registry.record_success(registry.acquire(["get", "warm-up"]))
gc.collect()
before = rss()
for i in range(n):
    clock.advance(1.0)
    registry.record_success(registry.acquire(["get", f"user:{i}"]))
gc.collect()
assert len(registry) == n + 2
print((rss() - before) / n)
"""
)

STANDALONE_SNIPPET = (
    PRELUDE
    + """
from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig
n = int(sys.argv[1])
shared = CircuitBreakerConfig()
make = {"own": CacheCircuitBreaker, "shared": lambda: CacheCircuitBreaker(shared)}[sys.argv[2]]
make()
gc.collect()
before = rss()
keep = [make() for _ in range(n)]
print((rss() - before) / n)
"""
)


def run(snippet: str, *args: object) -> float:
    out = subprocess.run(
        [sys.executable, "-c", snippet, *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(out.stdout)


def main() -> int:
    print("RSS per idle key in a `BreakerRegistry` (fresh interpreter per size):\n")
    print("| keys | bytes per idle key | total for the keys (MB) |")
    print("|---:|---:|---:|")
    per_key = {}
    for n in SIZES:
        per_key[n] = run(REGISTRY, n)
        print(f"| {n:,} | {per_key[n]:,.0f} | {per_key[n] * n / 1e6:,.1f} |")
    print(f"\nRSS per standalone breaker, over {STANDALONE:,} instances:\n")
    print("| breaker | bytes per instance |")
    print("|---|---:|")
    own = run(STANDALONE_SNIPPET, STANDALONE, "own")
    shared = run(STANDALONE_SNIPPET, STANDALONE, "shared")
    print(f"| `CacheCircuitBreaker()` | {own:,.0f} |")
    print(f"| `CacheCircuitBreaker(shared_config)` | {shared:,.0f} |")
    million = per_key[1_000_000] * 1_000_000 / 1e6
    checks = [
        ("idle key <= 256 B (1M keys)", per_key[1_000_000] <= 256),
        (f"1,000,000 idle keys < 300 MB ({million:,.0f} MB)", million < 300),
        (f"standalone CacheCircuitBreaker() <= 300 B ({own:,.0f} B)", own <= 300),
    ]
    print("\ntargets (issue 14):\n")
    for name, ok in checks:
        print(f"- {'PASS' if ok else 'FAIL'} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
