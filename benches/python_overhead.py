"""Per-call overhead of fact-resilience against a direct call, side by side with pybreaker,
aiobreaker, purgatory and circuitbreaker, in one run; plus memory per breaker instance and the
cold start (import and first breaker, in fresh interpreters).

Run with `make bench-python` (installs the peers into .venv/). Each number is the median over
several interleaved rounds of the time per call minus the same loop calling the function
directly, in nanoseconds. Every row is one kind of work, done by each library that offers it
(a raise beside raises, a fallback value beside fallback values); `-` means the library has no
such path. Prints Markdown tables, each library's ratio to the fastest peer, and the targets'
verdicts.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiobreaker
import circuitbreaker
import purgatory
import pybreaker

import fact_resilience
from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig

N = 20_000  # calls per round
ROUNDS = 9
LOOP = asyncio.new_event_loop()


def value() -> int:
    return 1


async def avalue() -> int:
    return 1


async def anone() -> None:
    return None


class Fail(Exception):
    pass


def every_tenth_fails() -> Callable[[], int]:
    count = [0]

    def op() -> int:
        count[0] += 1
        if count[0] % 10 == 0:
            raise Fail
        return 1

    return op


# ---- case builders: each returns a function running the case N times -------------------


def _compile(body: str, env: dict[str, Any], is_async: bool) -> Callable[..., Any]:
    """A function running `body` (one call expression, written as a user would) N times, so
    that no per-call wrapper (lambda, partial) adds to any library's number."""
    src = (
        f"{'async ' if is_async else ''}def run(n):\n"
        "    start = perf_counter_ns()\n"
        "    for _ in range(n):\n"
        f"{body}\n"
        "    return (perf_counter_ns() - start) / n\n"
    )
    namespace = dict(env, perf_counter_ns=time.perf_counter_ns)
    exec(src, namespace)
    return namespace["run"]  # type: ignore[no-any-return]


def _body(call: str, catch: str | None, is_async: bool) -> str:
    expr = f"await {call}" if is_async else call
    if catch is None:
        return f"        {expr}"
    return f"        try:\n            {expr}\n        except {catch}:\n            pass"


def sync_loop(call: str, catch: str | None = None, **env: Any) -> Callable[[], float]:
    run = _compile(_body(call, catch, False), env, False)
    return lambda: float(run(N))


def async_loop(call: str, catch: str | None = None, **env: Any) -> Callable[[], float]:
    run = _compile(_body(call, catch, True), env, True)
    return lambda: float(LOOP.run_until_complete(run(N)))


def ours(**cfg: Any) -> CacheCircuitBreaker:
    return CacheCircuitBreaker(CircuitBreakerConfig(**cfg))


def opened_ours() -> CacheCircuitBreaker:
    b = ours(timeout_seconds=3600.0)
    b.force_open()
    return b


def opened_pybreaker() -> pybreaker.CircuitBreaker:
    b = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
    b.open()
    return b


def opened_aiobreaker() -> aiobreaker.CircuitBreaker:
    b = aiobreaker.CircuitBreaker(fail_max=1, timeout_duration=timedelta(hours=1))
    b.open()
    return b


def opened_circuitbreaker(fn: Callable[..., Any], fallback: Any = None) -> Callable[..., Any]:
    cb = circuitbreaker.CircuitBreaker(
        failure_threshold=1,
        recovery_timeout=3600,
        expected_exception=Fail,
        fallback_function=fallback,
    )

    def trip() -> None:
        raise Fail

    try:
        cb(trip)()
    except Fail:
        pass
    return cb(fn)


def sync_purgatory(threshold: int) -> purgatory.SyncCircuitBreakerFactory:
    return purgatory.SyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=3600)


def opened_sync_purgatory() -> Callable[[], Any]:
    factory = sync_purgatory(1)
    try:
        with factory.get_breaker("p"):
            raise Fail
    except Fail:
        pass

    def call() -> int:
        with factory.get_breaker("p"):
            return value()

    return call


async def async_purgatory(threshold: int) -> purgatory.AsyncCircuitBreakerFactory:
    factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=3600)
    await factory.initialize()
    return factory


def opened_async_purgatory() -> Callable[[], Awaitable[Any]]:
    factory = LOOP.run_until_complete(async_purgatory(1))

    async def trip() -> None:
        async with await factory.get_breaker("p"):
            raise Fail

    try:
        LOOP.run_until_complete(trip())
    except Fail:
        pass

    async def call() -> int:
        async with await factory.get_breaker("p"):
            return await avalue()

    return call


def closed_sync_purgatory(op: Callable[[], int]) -> Callable[[], int]:
    factory = sync_purgatory(10**9)

    def call() -> int:
        with factory.get_breaker("p"):
            return op()

    return call


def closed_async_purgatory() -> Callable[[], Awaitable[int]]:
    factory = LOOP.run_until_complete(async_purgatory(10**9))

    async def call() -> int:
        async with await factory.get_breaker("p"):
            return await avalue()

    return call


PY_OPEN = (pybreaker.CircuitBreakerError,)


def bench_env() -> dict[str, Any]:
    """The names the benchmarked statements use: each library's breakers in each state."""
    b_sync = ours()
    b_async = ours()
    b_open = opened_ours()
    b_fail = ours(failure_threshold=10**6)
    op_fail_direct, op_fail_ours, op_fail_py, op_fail_cb, op_fail_pg = (
        every_tenth_fails() for _ in range(5)
    )
    pb = pybreaker.CircuitBreaker(fail_max=10**6, reset_timeout=3600)
    pb_fail = pybreaker.CircuitBreaker(fail_max=10**6, reset_timeout=3600)
    ab = aiobreaker.CircuitBreaker(fail_max=10**6, timeout_duration=timedelta(hours=1))
    cb_value = circuitbreaker.CircuitBreaker(failure_threshold=10**6, recovery_timeout=3600)(value)
    cb_avalue = circuitbreaker.CircuitBreaker(failure_threshold=10**6, recovery_timeout=3600)(
        avalue
    )
    cb_fail = circuitbreaker.CircuitBreaker(
        failure_threshold=10**6, recovery_timeout=3600, expected_exception=Fail
    )(op_fail_cb)
    pb_open, ab_open = opened_pybreaker(), opened_aiobreaker()
    cb_open = opened_circuitbreaker(value)
    cb_open_fb = opened_circuitbreaker(value, fallback=lambda: None)
    cb_aopen = opened_circuitbreaker(avalue)
    cb_aopen_fb = opened_circuitbreaker(avalue, fallback=anone)
    env = dict(
        value=value,
        avalue=avalue,
        Fail=Fail,
        CacheError=fact_resilience.CacheError,
        PyOpen=pybreaker.CircuitBreakerError,
        AioOpen=aiobreaker.CircuitBreakerError,
        CbOpen=circuitbreaker.CircuitBreakerError,
        b=b_sync,
        ab_=b_async,
        bo=b_open,
        bf=b_fail,
        pb=pb,
        pb_fail=pb_fail,
        ab=ab,
        cb_value=cb_value,
        cb_avalue=cb_avalue,
        cb_fail=cb_fail,
        pb_open=pb_open,
        ab_open=ab_open,
        cb_open=cb_open,
        cb_open_fb=cb_open_fb,
        cb_aopen=cb_aopen,
        cb_aopen_fb=cb_aopen_fb,
        pg=closed_sync_purgatory(value),
        pg_fail=closed_sync_purgatory(op_fail_pg),
        pga=closed_async_purgatory(),
        pg_open=opened_sync_purgatory(),
        pga_open=opened_async_purgatory(),
        op_fail_direct=op_fail_direct,
        op_fail_ours=op_fail_ours,
        op_fail_py=op_fail_py,
    )
    return env


def build_cases() -> dict[str, dict[str, Callable[[], float]]]:
    """scenario -> {library: runner}; the "direct" runner is the baseline."""
    env = bench_env()
    s = functools.partial(sync_loop, **env)
    a = functools.partial(async_loop, **env)
    return {
        "sync closed success": {
            "direct": s("value()"),
            "fact-resilience": s("b.execute_sync(value, 'get')"),
            "pybreaker": s("pb.call(value)"),
            "circuitbreaker": s("cb_value()"),
            "purgatory": s("pg()"),
        },
        "async closed success": {
            "direct": a("avalue()"),
            "fact-resilience": a("ab_.execute(avalue, 'get')"),
            "aiobreaker": a("ab.call_async(avalue)"),
            "circuitbreaker": a("cb_avalue()"),
            "purgatory": a("pga()"),
        },
        "sync open fast-fail (raise)": {
            "direct": s("value()"),
            "fact-resilience": s("bo.execute_sync(value, 'get')", "CacheError"),
            "pybreaker": s("pb_open.call(value)", "PyOpen"),
            "circuitbreaker": s("cb_open()", "CbOpen"),
            "purgatory": s("pg_open()", "Exception"),
        },
        "sync open fast-fail (fallback value)": {
            "direct": s("value()"),
            "fact-resilience": s("bo.call_with_fallback(None, value, 'get')"),
            "circuitbreaker": s("cb_open_fb()"),
        },
        "async open fast-fail (raise)": {
            "direct": a("avalue()"),
            "fact-resilience": a("bo.execute(avalue, 'get')", "CacheError"),
            "aiobreaker": a("ab_open.call_async(avalue)", "AioOpen"),
            "circuitbreaker": a("cb_aopen()", "CbOpen"),
            "purgatory": a("pga_open()", "Exception"),
        },
        "async open fast-fail (fallback value)": {
            "direct": a("avalue()"),
            "fact-resilience": a("bo.execute_with_fallback(None, avalue, 'get')"),
            "circuitbreaker": a("cb_aopen_fb()"),
        },
        "sync closed, 10% failures": {
            "direct": s("op_fail_direct()", "Fail"),
            "fact-resilience": s("bf.execute_sync(op_fail_ours, 'get')", "Fail"),
            "pybreaker": s("pb_fail.call(op_fail_py)", "Fail"),
            "circuitbreaker": s("cb_fail()", "Fail"),
            "purgatory": s("pg_fail()", "Fail"),
        },
    }


def measure(cases: dict[str, dict[str, Callable[[], float]]]) -> dict[str, dict[str, float]]:
    samples: dict[tuple[str, str], list[float]] = {}
    for runners in cases.values():  # warm up
        for run in runners.values():
            run()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for scenario, runners in cases.items():
                for lib, run in runners.items():
                    samples.setdefault((scenario, lib), []).append(run())
    finally:
        gc.enable()
    out: dict[str, dict[str, float]] = {}
    for (scenario, lib), xs in samples.items():
        out.setdefault(scenario, {})[lib] = statistics.median(xs)
    return out


def bytes_per_instance(make: Callable[[], Any], count: int = 2000) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = [make() for _ in range(count)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / count


RSS_SNIPPET = """
import gc, sys
from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig
import pybreaker, aiobreaker, circuitbreaker
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
shared = CircuitBreakerConfig()
make = {
    "own": CacheCircuitBreaker,
    "shared": lambda: CacheCircuitBreaker(shared),
    "pybreaker": pybreaker.CircuitBreaker,
    "aiobreaker": aiobreaker.CircuitBreaker,
    "circuitbreaker": circuitbreaker.CircuitBreaker,
}[sys.argv[1]]
make()
gc.collect()
before = rss()
keep = [make() for _ in range(50_000)]
print((rss() - before) / 50_000)
"""


def rss_per_instance(which: str) -> float:
    """Resident memory per instance, all heaps (Python and Rust), in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", RSS_SNIPPET, which], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


COLD_RUNS = 15
COLD_SNIPPET = """
import time
t0 = time.perf_counter()
import {module}
t1 = time.perf_counter()
{make}
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""
COLD: dict[str, tuple[str, str]] = {
    "fact-resilience": ("fact_resilience", "fact_resilience.CacheCircuitBreaker()"),
    "pybreaker": ("pybreaker", "pybreaker.CircuitBreaker()"),
    "aiobreaker": ("aiobreaker", "aiobreaker.CircuitBreaker()"),
    "circuitbreaker": ("circuitbreaker", "circuitbreaker.CircuitBreaker()"),
}


def cold_start(module: str, make: str) -> tuple[float, float]:
    """Median milliseconds of `import module` and of the first breaker after it, each run in
    a fresh interpreter (so the first breaker pays any one-off set-up)."""
    imports, firsts = [], []
    for _ in range(COLD_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", COLD_SNIPPET.format(module=module, make=make)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        imported, first = map(float, out.stdout.split())
        imports.append(imported * 1e3)
        firsts.append(first * 1e3)
    return statistics.median(imports), statistics.median(firsts)


def print_ratios(results: dict[str, dict[str, float]], libs: list[str]) -> None:
    """Our overhead over each peer's, row by row, and over the fastest peer."""
    print("\nfact-resilience's overhead / each peer's (same row, same run):\n")
    peers = libs[1:]
    print("| scenario | " + " | ".join(peers) + " | fastest peer |")
    print("|---|" + "---:|" * (len(peers) + 1))
    for scenario, per_lib in results.items():
        base = per_lib["direct"]
        ours = per_lib["fact-resilience"] - base
        ratios = {p: ours / (per_lib[p] - base) for p in peers if p in per_lib}
        cells = [f"{ratios[p]:.2f}x" if p in ratios else "-" for p in peers]
        best = f"{max(ratios.values()):.2f}x" if ratios else "-"
        print(f"| {scenario} | " + " | ".join(cells) + f" | {best} |")


def fastest_peer(overhead: dict[tuple[str, str], float], scenario: str) -> tuple[str, float]:
    peers = [(v, lib) for (sc, lib), v in overhead.items() if sc == scenario]
    v, lib = min((v, lib) for v, lib in peers if lib != "fact-resilience")
    return lib, v


def main() -> int:
    print(
        f"fact-resilience {fact_resilience.__version__}, Python {sys.version.split()[0]}, "
        f"{N} calls x {ROUNDS} rounds, median ns per call minus the direct call\n"
    )
    results = measure(build_cases())
    libs = ["fact-resilience", "pybreaker", "aiobreaker", "circuitbreaker", "purgatory"]
    print("| scenario | direct call (ns) | " + " | ".join(libs) + " |")
    print("|---|---:|" + "---:|" * len(libs))
    overhead: dict[tuple[str, str], float] = {}
    for scenario, per_lib in results.items():
        base = per_lib["direct"]
        cells = []
        for lib in libs:
            if lib in per_lib:
                overhead[(scenario, lib)] = per_lib[lib] - base
                cells.append(f"{per_lib[lib] - base:,.0f}")
            else:
                cells.append("-")
        print(f"| {scenario} | {base:,.0f} | " + " | ".join(cells) + " |")
    print_ratios(results, libs)

    print("\ncold start, median of fresh interpreters (ms):\n")
    print("| library | `import` | first breaker after it |")
    print("|---|---:|---:|")
    cold = {}
    for lib, (module, make) in COLD.items():
        cold[lib] = cold_start(module, make)
        print(f"| {lib} | {cold[lib][0]:.1f} | {cold[lib][1]:.2f} |")

    print("\nbytes per breaker instance:\n")
    print("| library | tracemalloc (Python heap) | RSS delta (all heaps, 50k instances) |")
    print("|---|---:|---:|")
    shared = CircuitBreakerConfig()
    makers: dict[str, tuple[str, Callable[[], Any]]] = {
        "fact-resilience `CacheCircuitBreaker()`": ("own", CacheCircuitBreaker),
        "fact-resilience, config shared": ("shared", lambda: CacheCircuitBreaker(shared)),
        "pybreaker": ("pybreaker", pybreaker.CircuitBreaker),
        "aiobreaker": ("aiobreaker", aiobreaker.CircuitBreaker),
        "circuitbreaker": ("circuitbreaker", circuitbreaker.CircuitBreaker),
    }
    mem = {}
    for name, (key, make) in makers.items():
        mem[name] = bytes_per_instance(make)
        print(f"| {name} | {mem[name]:,.0f} | {rss_per_instance(key):,.0f} |")

    sync_closed = overhead[("sync closed success", "fact-resilience")]
    py_sync_closed = overhead[("sync closed success", "pybreaker")]
    async_closed = overhead[("async closed success", "fact-resilience")]
    async_peer, async_peer_ns = fastest_peer(overhead, "async closed success")
    open_raise = overhead[("sync open fast-fail (raise)", "fact-resilience")]
    raise_peer, raise_peer_ns = fastest_peer(overhead, "sync open fast-fail (raise)")
    open_fallback = overhead[("sync open fast-fail (fallback value)", "fact-resilience")]
    py_open = overhead[("sync open fast-fail (raise)", "pybreaker")]
    first_breaker = cold["fact-resilience"][1]
    checks = [
        (
            "sync closed <= 0.12x pybreaker",
            sync_closed <= 0.12 * py_sync_closed,
            f"{sync_closed:.0f} ns = {sync_closed / py_sync_closed:.3f}x",
        ),
        (
            "async closed <= 0.3x the fastest peer",
            async_closed <= 0.3 * async_peer_ns,
            f"{async_closed:.0f} ns = {async_closed / async_peer_ns:.2f}x {async_peer}",
        ),
        (
            "sync open raise-and-catch <= 0.5x the fastest raising peer",
            open_raise <= 0.5 * raise_peer_ns,
            f"{open_raise:.0f} ns = {open_raise / raise_peer_ns:.2f}x {raise_peer}",
        ),
        (
            "open fast-fail with fallback <= 0.3x pybreaker sync open",
            open_fallback <= 0.3 * py_open,
            f"{open_fallback:.0f} ns = {open_fallback / py_open:.3f}x",
        ),
        (
            "first CacheCircuitBreaker() <= 5 ms after the import",
            first_breaker <= 5.0,
            f"{first_breaker:.2f} ms",
        ),
        ("sync closed <= 200 ns", sync_closed <= 200, f"{sync_closed:.0f} ns"),
        ("async closed <= 400 ns", async_closed <= 400, f"{async_closed:.0f} ns"),
        (
            "bytes per instance <= 1 KB (tracemalloc)",
            mem["fact-resilience `CacheCircuitBreaker()`"] <= 1024,
            f"{mem['fact-resilience `CacheCircuitBreaker()`']:.0f} B",
        ),
    ]
    print("\ntargets:\n")
    for name, ok, detail in checks:
        print(f"- {'PASS' if ok else 'FAIL'} {name}: {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
