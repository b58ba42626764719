"""`fact-resilience demo`: a FACT-style query service rides out a cache outage.

Cache-first, as FACT answers queries: look the query up in the cache; on a miss ask the source
of truth (a real SQLite database of quarterly figures, made on the fly) and store the answer.
The cache sits behind `ResilientCacheWrapper` + `CacheCircuitBreaker`, and a fault schedule
breaks it in turn with errors, a full outage and slowness before letting it recover. Halfway
through the outage some figures change in SQLite and their cache entries are invalidated the way
a write path would, which the open circuit skips: the wrapper remembers those keys and
invalidates them before the cache is used again. Every answer is checked against SQLite as it
is when the query is asked; the run succeeds only if every query was answered correctly, no
stale figure was served after the change, and no user saw an error.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import random
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, TextIO

from . import CacheCircuitBreaker, CircuitBreakerConfig, CircuitState, ResilientCacheWrapper

# ---- the fault schedule -------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """From `start` to `end` seconds into the run, the cache behaves as `mode`."""

    name: str
    start: float
    end: float
    mode: str  # healthy | errors | outage | slow


def schedule(total: float) -> list[Phase]:
    """The default script, scaled to `total` seconds."""
    cut = [0.0, 0.2, 0.33, 0.53, 0.66, 1.0]
    names = [
        ("warm-up", "healthy"),
        ("errors", "errors"),
        ("outage", "outage"),
        ("slowness", "slow"),
        ("recovery", "healthy"),
    ]
    return [Phase(n, cut[i] * total, cut[i + 1] * total, m) for i, (n, m) in enumerate(names)]


# ---- the cache and its faults -------------------------------------------------------------


@dataclass
class Entry:
    """What the cache returns: FACT reads `.content`."""

    content: str
    created_at: float = field(default_factory=time.time)


class MemoryCacheManager:
    """An embedded in-process cache with FACT's cache-manager surface."""

    def __init__(self, prefix: str = "fact_demo") -> None:
        self.prefix = prefix
        self.entries: dict[str, Entry] = {}
        self.hits = 0
        self.misses = 0

    def generate_hash(self, query: str) -> str:
        return hashlib.sha256(f"{self.prefix}:{query}:v1.0".encode()).hexdigest()

    async def store(self, query_hash: str, content: str) -> Entry:
        entry = self.entries[query_hash] = Entry(content)
        return entry

    async def get(self, query_hash: str) -> Optional[Entry]:
        entry = self.entries.get(query_hash)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    async def invalidate(self, query_hash: str) -> int:
        """Removes one entry (so the wrapper can invalidate single keys); 1 if it existed."""
        return 1 if self.entries.pop(query_hash, None) is not None else 0

    async def delete(self, query_hash: str) -> int:
        return await self.invalidate(query_hash)

    async def invalidate_many(self, query_hashes: list[str]) -> int:
        return sum([self.entries.pop(h, None) is not None for h in query_hashes])

    async def invalidate_by_prefix(self, prefix: str) -> int:
        n = len(self.entries) if prefix == self.prefix else 0
        if n:
            self.entries.clear()
        return n

    def get_metrics(self) -> dict[str, Any]:
        total = self.hits + self.misses
        return {
            "total_entries": len(self.entries),
            "cache_hits": self.hits,
            "cache_misses": self.misses,
            "hit_rate": 100.0 * self.hits / total if total else 0.0,
        }


class CacheFault(Exception):
    """An error injected into the cache."""


class FaultyCache:
    """Wraps any cache manager and misbehaves on schedule. Slowness is turned into a failure by
    a per-operation timeout, as a real cache client would."""

    def __init__(
        self,
        inner: Any,
        phases: list[Phase],
        started: float,
        op_timeout: float = 0.05,
        seed: int = 7,
    ) -> None:
        self.inner, self.phases, self.started = inner, phases, started
        self.op_timeout = op_timeout
        self.rng = random.Random(seed)
        self.calls_while_faulty = 0

    def mode(self) -> str:
        t = time.monotonic() - self.started
        return next((p.mode for p in self.phases if p.start <= t < p.end), "healthy")

    @property
    def prefix(self) -> str:
        return str(self.inner.prefix)

    def generate_hash(self, query: str) -> str:
        return str(self.inner.generate_hash(query))

    def get_metrics(self) -> Any:
        return self.inner.get_metrics()

    async def _run(self, op: str, *args: Any) -> Any:
        mode = self.mode()
        if mode != "healthy":
            self.calls_while_faulty += 1
        if mode == "outage":
            raise ConnectionError("cache unreachable (injected outage)")
        if mode == "errors" and self.rng.random() < 0.5:
            raise CacheFault(f"cache {op} failed (injected error)")
        method = getattr(self.inner, op)
        if mode != "slow":
            return await method(*args)

        async def slow() -> Any:
            await asyncio.sleep(self.op_timeout * 4)
            return await method(*args)

        try:
            return await asyncio.wait_for(slow(), self.op_timeout)
        except asyncio.TimeoutError:
            ms = self.op_timeout * 1000
            raise TimeoutError(f"cache {op} took longer than {ms:.0f} ms") from None

    async def store(self, query_hash: str, content: str) -> Any:
        return await self._run("store", query_hash, content)

    async def get(self, query_hash: str) -> Any:
        return await self._run("get", query_hash)

    async def invalidate(self, query_hash: str) -> Any:
        return await self._run("invalidate", query_hash)

    async def delete(self, query_hash: str) -> Any:
        return await self._run("invalidate", query_hash)

    async def invalidate_many(self, query_hashes: list[str]) -> Any:
        return await self._run("invalidate_many", query_hashes)

    async def invalidate_by_prefix(self, prefix: str) -> Any:
        return await self._run("invalidate_by_prefix", prefix)


# ---- the source of truth ------------------------------------------------------------------

COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"]
QUARTERS = [f"{y}-Q{q}" for y in (2024, 2025) for q in (1, 2, 3, 4)]


def make_database() -> sqlite3.Connection:
    """An in-memory SQLite database of quarterly figures, made on the fly."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(
        "CREATE TABLE figures (company TEXT, quarter TEXT, revenue INTEGER, profit INTEGER,"
        " PRIMARY KEY (company, quarter))"
    )
    rng = random.Random(2024)
    db.executemany(
        "INSERT INTO figures VALUES (?, ?, ?, ?)",
        [
            (c, q, rng.randrange(10_000, 90_000), rng.randrange(-5_000, 20_000))
            for c in COMPANIES
            for q in QUARTERS
        ],
    )
    db.commit()
    return db


def change_figures(db: sqlite3.Connection, company: str, quarter: str) -> str:
    """A write to the source of truth (a restated quarter); returns the new answer."""
    db.execute(
        "UPDATE figures SET revenue = revenue + 1000, profit = profit + 100"
        " WHERE company = ? AND quarter = ?",
        (company, quarter),
    )
    db.commit()
    return ask_database(db, company, quarter)


def ask_database(db: sqlite3.Connection, company: str, quarter: str) -> str:
    revenue, profit = db.execute(
        "SELECT revenue, profit FROM figures WHERE company = ? AND quarter = ?", (company, quarter)
    ).fetchone()
    return f"{company} {quarter}: revenue ${revenue}k, profit ${profit}k"


# ---- the run ------------------------------------------------------------------------------


@dataclass
class Summary:
    queries: int = 0
    answered: int = 0
    correct: int = 0
    stale_answers: int = 0  # an answer equal to a figure SQLite had already replaced
    truth_changes: int = 0  # figures changed in SQLite during the outage
    user_errors: int = 0
    cache_hits: int = 0
    time_open: float = 0.0
    refused: int = 0
    recovery_time: Optional[float] = None
    transitions: list[tuple[float, str, str, str]] = field(default_factory=list)
    wall_time: float = 0.0
    peak_health: str = "ok"  # the worst health-report status seen while running

    @property
    def ok(self) -> bool:
        return self.user_errors == 0 and self.correct == self.queries and self.stale_answers == 0

    @property
    def full_cycle(self) -> bool:
        seen = [(f, t) for _, f, t, _ in self.transitions]
        return all(
            step in seen
            for step in [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
        )


class Console:
    """Live output a person can follow: a progress bar, and the transitions as they happen."""

    def __init__(self, out: TextIO, total: int, live: bool) -> None:
        self.out, self.total, self.live = out, total, live
        self.drawn = False

    def transition(self, t: float, line: str) -> None:
        self.clear()
        self.out.write(f"  {t:6.2f}s  {line}\n")
        self.out.flush()

    def progress(self, done: int, state: str, phase: str) -> None:
        if not self.live:
            return
        width = 30
        filled = width * done // max(self.total, 1)
        self.out.write(
            f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:>5}/{self.total}"
            f"  circuit {state:<9}  cache {phase:<8}"
        )
        self.out.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.out.write("\r" + " " * 78 + "\r")
            self.drawn = False


async def run_demo(
    queries: int = 3000,
    duration: float = 12.0,
    concurrency: int = 50,
    timeout_seconds: float = 1.0,
    redis_url: Optional[str] = None,
    out: TextIO = sys.stdout,
    live: Optional[bool] = None,
    seed: int = 11,
    changed_figures: int = 8,
    remember_skipped_writes: bool = True,
    metrics_port: Optional[int] = None,
) -> Summary:
    """Runs the scripted outage and returns the summary (also printed to `out`).

    ``changed_figures`` rows change in SQLite halfway through the outage.
    ``remember_skipped_writes=False`` turns the wrapper's pending invalidations off (the
    control experiment: the old figures are then served after recovery).
    ``metrics_port`` serves Prometheus metrics on 127.0.0.1 while it runs (needs the
    ``prometheus`` extra).
    """
    live = out.isatty() if live is None else live
    phases = schedule(duration)
    db = make_database()
    rng = random.Random(seed)
    keys = [(c, q) for c in COMPANIES for q in QUARTERS]
    workload = [rng.choice(keys) for _ in range(queries)]
    # Change figures that are cached before the faults and asked for again at the end, so a
    # stale cache entry would be served.
    early = set(workload[: queries // 5])
    late = [k for k in workload[queries - queries // 5 :] if k in early]
    to_change = list(dict.fromkeys(late))[:changed_figures]
    replaced: dict[tuple[str, str], str] = {}  # the figures SQLite no longer holds

    inner: Any
    if redis_url:
        from .backends import RedisCacheManager  # needs the `redis` extra

        inner = RedisCacheManager.from_url(redis_url, prefix="fact_demo")
        await inner.warm_up()  # open the connections before the clock starts
        await inner.invalidate_by_prefix("fact_demo")
    else:
        inner = MemoryCacheManager()
    started = time.monotonic()
    cache = FaultyCache(inner, phases, started)
    config = CircuitBreakerConfig(
        failure_threshold=5,
        success_threshold=3,
        timeout_seconds=timeout_seconds,
        rolling_window_seconds=10.0,
        gradual_recovery=True,
        recovery_factor=0.5,
    )
    breaker = CacheCircuitBreaker(config)
    wrapper = ResilientCacheWrapper(
        cache_manager=cache,
        circuit_breaker=breaker,
        max_pending_invalidations=1024 if remember_skipped_writes else None,
    )
    summary = Summary(queries=queries)
    console = Console(out, queries, live)
    server = None
    if metrics_port is not None:
        from prometheus_client import CollectorRegistry, start_http_server

        from .prometheus import BreakerCollector

        registry = CollectorRegistry()
        BreakerCollector({"cache": wrapper}, registry=registry)
        server, _ = start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
        out.write(f"metrics: http://127.0.0.1:{server.server_port}/metrics\n")
    levels = ("ok", "warning", "critical")
    opened_at: Optional[float] = None

    out.write(
        f"FACT-style service: {queries} queries, {concurrency} concurrent, "
        f"{'Redis ' + redis_url if redis_url else 'embedded cache'}, SQLite as truth\n"
    )
    out.write(
        "fault schedule: "
        + ", ".join(f"{p.name} {p.start:.1f}-{p.end:.1f}s" for p in phases)
        + "\n\ntimeline:\n"
    )

    def on_change(frm: CircuitState, to: CircuitState, reason: str) -> None:
        nonlocal opened_at
        t = time.monotonic() - started
        m = breaker.get_metrics()
        if to == CircuitState.OPEN:
            opened_at = t
        elif frm == CircuitState.OPEN and opened_at is not None:
            summary.time_open += t - opened_at
            opened_at = None
        summary.transitions.append((t, frm.value, to.value, reason))
        console.transition(
            t,
            f"{frm.value:>9} -> {to.value:<9} {reason:<17} "
            f"failures={m.failure_count} failure_rate={m.failure_rate:.2f} "
            f"cache={cache.mode()}",
        )

    breaker.on_state_change(on_change)
    await wrapper.start_monitoring()

    def query_of(company: str, quarter: str) -> str:
        return f"What were {company}'s revenue and profit in {quarter}?"

    async def answer(company: str, quarter: str) -> str:
        key = wrapper.generate_hash(query_of(company, quarter))
        entry = await wrapper.get(key)
        if entry is not None:
            summary.cache_hits += 1
            return str(entry.content)
        text = ask_database(db, company, quarter)
        await wrapper.store(key, text)
        return text

    queue: asyncio.Queue[tuple[int, tuple[str, str]]] = asyncio.Queue()
    for i, k in enumerate(workload):
        queue.put_nowait((i, k))

    async def worker() -> None:
        while True:
            try:
                i, (company, quarter) = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            due = started + duration * i / queries  # paced across the schedule
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            before = ask_database(db, company, quarter)
            try:
                text = await answer(company, quarter)
            except Exception:  # a user-facing error: exactly what the breaker must prevent
                summary.user_errors += 1
                continue
            summary.answered += 1
            if text in (before, ask_database(db, company, quarter)):
                summary.correct += 1
            elif text == replaced.get((company, quarter)):
                summary.stale_answers += 1

    async def change_truth() -> None:
        """Halfway through the outage, restate some figures and invalidate their cache entries
        as the service's write path would (the open circuit skips the invalidation)."""
        outage = next(p for p in phases if p.mode == "outage")
        await asyncio.sleep(max(0.0, started + (outage.start + outage.end) / 2 - time.monotonic()))
        for company, quarter in to_change:
            replaced[(company, quarter)] = ask_database(db, company, quarter)
            change_figures(db, company, quarter)
            await wrapper.invalidate(wrapper.generate_hash(query_of(company, quarter)))
            summary.truth_changes += 1
        console.transition(
            time.monotonic() - started,
            f"{len(to_change)} figures changed in SQLite; their cache invalidations were "
            f"{'remembered' if remember_skipped_writes else 'dropped'} (circuit "
            f"{breaker.get_state().value})",
        )

    async def progress() -> None:
        while True:
            status = breaker.health_report()["status"]
            if levels.index(status) > levels.index(summary.peak_health):
                summary.peak_health = status
            console.progress(
                summary.answered + summary.user_errors, breaker.get_state().value, cache.mode()
            )
            await asyncio.sleep(0.1)

    ticker = asyncio.ensure_future(progress())
    writer = asyncio.ensure_future(change_truth())
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await writer
    finally:
        ticker.cancel()
        writer.cancel()
        await wrapper.stop_monitoring()
        await breaker.stop_health_monitoring()
        if redis_url:
            await inner.close()
        if server is not None:
            server.shutdown()
            server.server_close()
    console.clear()
    end = time.monotonic() - started
    if opened_at is not None:
        summary.time_open += end - opened_at
    m = breaker.get_metrics()
    summary.refused = m.rejected_count + m.throttled_count
    fault_end = max(p.end for p in phases if p.mode != "healthy")
    closes = [t for t, _, to, _ in summary.transitions if to == "closed" and t >= fault_end]
    if breaker.get_state() == CircuitState.CLOSED:
        summary.recovery_time = (closes[0] - fault_end) if closes else 0.0
    summary.wall_time = end
    out.write("\n" + format_summary(summary) + "\n")
    return summary


def format_summary(s: Summary) -> str:
    rows = [
        ("queries answered", f"{s.answered} / {s.queries}"),
        ("answers correct (vs SQLite)", f"{s.correct} / {s.queries}"),
        ("figures changed during the outage", f"{s.truth_changes}"),
        ("stale answers (replaced figure served)", f"{s.stale_answers}"),
        ("user-facing errors", f"{s.user_errors}"),
        ("cache hit rate", f"{100.0 * s.cache_hits / max(s.queries, 1):.1f}%"),
        ("time open", f"{s.time_open:.2f}s"),
        ("calls refused while open (fail-fast)", f"{s.refused}"),
        (
            "recovery after faults end",
            "not recovered" if s.recovery_time is None else f"{s.recovery_time:.2f}s",
        ),
        ("state transitions", f"{len(s.transitions)}"),
        ("peak health status", s.peak_health),
        ("wall time", f"{s.wall_time:.1f}s"),
    ]
    w = max(len(k) for k, _ in rows)
    lines = ["summary:"] + [f"  {k:<{w}}  {v}" for k, v in rows]
    lines.append(
        "  result: "
        + (
            "OK: every query answered correctly, nothing stale, no user saw an error"
            if s.ok
            else "FAILED"
        )
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    p = argparse.ArgumentParser(prog="fact-resilience demo", description=__doc__.splitlines()[0])
    p.add_argument("--redis", metavar="URL", help="use a real Redis (redis://127.0.0.1:PORT)")
    p.add_argument("--queries", type=int, default=3000)
    p.add_argument("--duration", type=float, default=12.0, help="seconds the schedule spans")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on 127.0.0.1:PORT while running (0: any free port)",
    )
    args = p.parse_args(argv)
    # The timeline below already tells the story; per-call fallback warnings would drown it.
    logging.getLogger("fact_resilience").setLevel(logging.ERROR)
    if args.queries < 1 or args.concurrency < 1 or not 0 < args.duration <= 600:
        print(
            "fact-resilience demo: error: --queries and --concurrency must be >= 1 and "
            "--duration in (0, 600]",
            file=sys.stderr,
        )
        return 2
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        print("fact-resilience demo: error: --metrics-port must be in 0..65535", file=sys.stderr)
        return 2
    summary = asyncio.run(
        run_demo(
            args.queries,
            args.duration,
            args.concurrency,
            redis_url=args.redis,
            out=out,
            metrics_port=args.metrics_port,
        )
    )
    return 0 if summary.ok else 1
