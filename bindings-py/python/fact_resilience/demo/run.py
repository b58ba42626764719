"""One run of the demo: the service, its workers, the change of truth, and the summary."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from typing import Any, Optional, TextIO

from .. import (
    BreakerRegistry,
    CacheCircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    ResilientCacheWrapper,
)
from .._native import timeline_figures
from .caches import SHARDS, FaultyCache, MemoryCacheManager, shard_of
from .console import Console
from .schedule import Phase, schedule
from .summary import Summary, format_summary
from .truth import COMPANIES, QUARTERS, ask_database, change_figures, make_database

HEALTH_LEVELS = ("ok", "warning", "critical")


def query_of(company: str, quarter: str) -> str:
    return f"What were {company}'s revenue and profit in {quarter}?"


def pick_workload(
    queries: int, seed: int, changed_figures: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The queries in order, and the figures to change: ones cached before the faults and
    asked for again at the end, so a stale cache entry would be served."""
    rng = random.Random(seed)
    keys = [(c, q) for c in COMPANIES for q in QUARTERS]
    workload = [rng.choice(keys) for _ in range(queries)]
    early = set(workload[: queries // 5])
    late = [k for k in workload[queries - queries // 5 :] if k in early]
    return workload, list(dict.fromkeys(late))[:changed_figures]


class DemoRun:
    """The service under test: a cache-first answer path through `ResilientCacheWrapper`."""

    def __init__(
        self,
        inner: Any,
        phases: list[Phase],
        summary: Summary,
        console: Console,
        timeout_seconds: float,
        remember_skipped_writes: bool,
        model_seconds: float,
    ) -> None:
        self.phases, self.summary, self.console = phases, summary, console
        self.model_seconds = model_seconds
        self.db = make_database()
        self.started = time.monotonic()
        self.cache = FaultyCache(inner, phases, self.started)
        config = CircuitBreakerConfig(
            failure_threshold=5,
            success_threshold=3,
            timeout_seconds=timeout_seconds,
            rolling_window_seconds=10.0,
            gradual_recovery=True,
            recovery_factor=0.5,
        )
        self.breaker = CacheCircuitBreaker(config)
        # Below the whole-cache breaker, one per shard: a shard that fails opens only its own.
        shard_config = CircuitBreakerConfig(
            failure_threshold=3,
            success_threshold=2,
            timeout_seconds=timeout_seconds,
            rolling_window_seconds=10.0,
        )
        self.shards = BreakerRegistry([("shard", shard_config)], max_breakers=SHARDS)
        self.shard_states = {f"shard-{i}": "closed" for i in range(SHARDS)}
        self.wrapper = ResilientCacheWrapper(
            cache_manager=self.cache,
            circuit_breaker=self.breaker,
            max_pending_invalidations=1024 if remember_skipped_writes else None,
            hierarchy=self.shards,
            key_path=lambda key: [shard_of(key)],
            single_flight=True,
        )
        self.remember_skipped_writes = remember_skipped_writes
        self.replaced: dict[tuple[str, str], str] = {}  # the figures SQLite no longer holds
        self.breaker.on_state_change(self.on_change)

    def now(self) -> float:
        return time.monotonic() - self.started

    def on_change(self, frm: CircuitState, to: CircuitState, reason: str) -> None:
        t = self.now()
        m = self.breaker.get_metrics()
        self.summary.transitions.append((t, frm.value, to.value, reason))
        self.console.transition(
            t,
            f"{frm.value:>9} -> {to.value:<9} {reason:<17} "
            f"failures={m.failure_count} failure_rate={m.failure_rate:.2f} "
            f"cache={self.cache.mode()}",
        )

    async def ask_origin(self, company: str, quarter: str) -> str:
        await asyncio.sleep(self.model_seconds)
        return ask_database(self.db, company, quarter)

    async def answer(self, company: str, quarter: str) -> str:
        key = self.wrapper.generate_hash(query_of(company, quarter))
        value = await self.wrapper.get_or_load(key, lambda: self.ask_origin(company, quarter))
        return str(value)  # get_or_load answers a hit with the entry's content

    async def worker(self, queue: asyncio.Queue[tuple[int, tuple[str, str]]], pace: float) -> None:
        s = self.summary
        while True:
            try:
                i, (company, quarter) = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            delay = self.started + pace * i - time.monotonic()  # paced across the schedule
            if delay > 0:
                await asyncio.sleep(delay)
            before = ask_database(self.db, company, quarter)
            try:
                text = await self.answer(company, quarter)
            except Exception:  # a user-facing error: exactly what the breaker must prevent
                s.user_errors += 1
                continue
            s.answered += 1
            if text in (before, ask_database(self.db, company, quarter)):
                s.correct += 1
            elif text == self.replaced.get((company, quarter)):
                s.stale_answers += 1

    async def change_truth(self, to_change: list[tuple[str, str]]) -> None:
        """Halfway through the outage, restate some figures and invalidate their cache entries
        as the service's write path would (the open circuit skips the invalidation)."""
        outage = next(p for p in self.phases if p.mode == "outage")
        await asyncio.sleep(max(0.0, (outage.start + outage.end) / 2 - self.now()))
        for company, quarter in to_change:
            self.replaced[(company, quarter)] = ask_database(self.db, company, quarter)
            change_figures(self.db, company, quarter)
            await self.wrapper.invalidate(self.wrapper.generate_hash(query_of(company, quarter)))
            self.summary.truth_changes += 1
        self.console.transition(
            self.now(),
            f"{len(to_change)} figures changed in SQLite; their cache invalidations were "
            f"{'remembered' if self.remember_skipped_writes else 'dropped'} (circuit "
            f"{self.breaker.get_state().value})",
        )

    def watch_shards(self) -> None:
        """Prints each shard breaker's transitions (the registry is polled: it has no
        listeners)."""
        for shard, before in self.shard_states.items():
            state = self.shards.state([shard])
            now = "closed" if state is None else state.value
            if now != before:
                self.shard_states[shard] = now
                t = self.now()
                self.summary.shard_transitions.append((t, shard, before, now))
                circuit = self.breaker.get_state().value
                self.console.transition(
                    t, f"  {shard} breaker {before} -> {now} (circuit {circuit})"
                )

    async def progress(self) -> None:
        s = self.summary
        while True:
            self.watch_shards()
            status = self.breaker.health_report()["status"]
            if HEALTH_LEVELS.index(status) > HEALTH_LEVELS.index(s.peak_health):
                s.peak_health = status
            self.console.progress(
                s.answered + s.user_errors, self.breaker.get_state().value, self.cache.mode()
            )
            await asyncio.sleep(0.05)

    def finish(self) -> None:
        """The figures, from the core's `timeline_figures` (the ones `simulate` reports)."""
        s = self.summary
        end = self.now()
        fault_end = max(p.end for p in self.phases if p.mode != "healthy")
        figures = timeline_figures(
            [(t, frm, to) for t, frm, to, _ in s.transitions],
            end,
            self.breaker.get_state().value,
            fault_end,
        )
        s.time_open = figures["time_open"] or 0.0
        s.recovery_time = figures["recovery_time"]
        m = self.breaker.get_metrics()
        s.refused = m.rejected_count + m.throttled_count
        s.wall_time = end
        origin = self.wrapper.origin_metrics()
        s.origin_calls = origin["origin_calls"]
        s.origin_joined = origin["joined"]
        s.cache_hits = s.answered - origin["origin_calls"] - origin["joined"]
        shard = next(p for p in self.phases if p.mode == "shard")
        s.shard_fault_opened = sorted(
            {name for t, name, _, to in s.shard_transitions if to == "open" and t < shard.end}
        )
        s.circuit_opened_in_shard_fault = any(
            to == "open" and t < shard.end for t, _, to, _ in s.transitions
        )


def serve_metrics(wrapper: ResilientCacheWrapper, port: int, out: TextIO) -> Any:
    """Serves Prometheus metrics on 127.0.0.1:`port` (needs the ``prometheus`` extra)."""
    from prometheus_client import CollectorRegistry, start_http_server

    from ..prometheus import BreakerCollector

    registry = CollectorRegistry()
    BreakerCollector({"cache": wrapper}, registry=registry)
    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    out.write(f"metrics: http://127.0.0.1:{server.server_port}/metrics\n")
    return server


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
    model_seconds: float = 0.1,
) -> Summary:
    """Runs the scripted outage and returns the summary (also printed to `out`).

    ``changed_figures`` rows change in SQLite halfway through the outage.
    ``remember_skipped_writes=False`` turns the wrapper's pending invalidations off (the
    control experiment: the old figures are then served after recovery).
    ``metrics_port`` serves Prometheus metrics on 127.0.0.1 while it runs (needs the
    ``prometheus`` extra). ``model_seconds``: the model's share of each origin call (FACT asks
    an LLM, then the database), during which misses of the same key wait for it.
    """
    live = out.isatty() if live is None else live
    phases = schedule(duration)
    workload, to_change = pick_workload(queries, seed, changed_figures)
    inner: Any
    if redis_url:
        from ..backends import RedisCacheManager  # needs the `redis` extra

        inner = RedisCacheManager.from_url(redis_url, prefix="fact_demo")
        await inner.warm_up()  # open the connections before the clock starts
        await inner.invalidate_by_prefix("fact_demo")
    else:
        inner = MemoryCacheManager()
    summary = Summary(queries=queries)
    run = DemoRun(
        inner,
        phases,
        summary,
        Console(out, queries, live),
        timeout_seconds,
        remember_skipped_writes,
        model_seconds,
    )
    server = None if metrics_port is None else serve_metrics(run.wrapper, metrics_port, out)
    out.write(
        f"FACT-style service: {queries} queries, {concurrency} concurrent, "
        f"{'Redis ' + redis_url if redis_url else 'embedded cache'}, SQLite as truth\n"
        "fault schedule: "
        + ", ".join(f"{p.name} {p.start:.1f}-{p.end:.1f}s" for p in phases)
        + "\n\ntimeline:\n"
    )
    # The wrapper's monitoring is the breaker's: started and stopped once.
    await run.wrapper.start_monitoring()
    queue: asyncio.Queue[tuple[int, tuple[str, str]]] = asyncio.Queue()
    for i, k in enumerate(workload):
        queue.put_nowait((i, k))
    ticker = asyncio.ensure_future(run.progress())
    writer = asyncio.ensure_future(run.change_truth(to_change))
    try:
        await asyncio.gather(*(run.worker(queue, duration / queries) for _ in range(concurrency)))
        await writer
    finally:
        ticker.cancel()
        writer.cancel()
        await run.wrapper.stop_monitoring()
        if redis_url:
            await inner.close()
        if server is not None:
            server.shutdown()
            server.server_close()
    run.console.clear()
    run.finish()
    out.write("\n" + format_summary(summary) + "\n")
    return summary
