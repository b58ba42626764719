"""Per-key faults under load: one key range fails while the rest of the cache is healthy, and a
full outage with the origin behind `get_or_load` (issue 14).

The service reads through `ResilientCacheWrapper.get_or_load` with a two-level hierarchy
(shard -> key) under the wrapper's own breaker. Keys belong to one of `SHARDS` shards; the
per-key fault makes every call on one shard's keys fail (`KeyRangeFaultManager`: the failing
manager is how a fault that the server cannot express, "this key range is down", is injected;
server-wide faults stay the harness's `kill()`). Every run is bounded by a request count and by
time, and the checks are on counts and states, never on how long anything took.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from fact_resilience import (
    BreakerRegistry,
    CacheCircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    ResilientCacheWrapper,
)
from fact_resilience.backends import CacheBackendError, RedisCacheEntry, RedisCacheManager

from .conftest import RedisServer
from .load import CONFIG, Truth, frozen_heap

SHARDS = 8
FAILING_SHARD = "s3"
LEVELS = [
    ("shard", dict(failure_threshold=3, success_threshold=2, timeout_seconds=1.0)),
    ("key", dict(failure_threshold=2, success_threshold=2, timeout_seconds=1.0)),
]


def shard_of(k: int) -> str:
    return f"s{k % SHARDS}"


def key_of(k: int) -> str:
    """The cache key of fact `k`: its shard, then its number."""
    return f"{shard_of(k)}:{k:04d}"


def key_path(key: str) -> list[str]:
    return [key.split(":", 1)[0], key]


class KeyRangeFaultManager(RedisCacheManager):
    """`RedisCacheManager` whose calls on the keys of `failing` shards raise while the fault is
    on, as a shard that is down would; every other key goes to Redis."""

    failing: frozenset[str] = frozenset()

    def _check(self, operation: str, keys: Iterable[str]) -> None:
        for key in keys:
            if key.split(":", 1)[0] in self.failing:
                raise CacheBackendError(operation, f"shard of {key} is down")

    async def get(self, query_hash: str) -> Optional[RedisCacheEntry]:
        self._check("get", [query_hash])
        return await super().get(query_hash)

    async def store(self, query_hash: str, content: str) -> RedisCacheEntry:
        self._check("store", [query_hash])
        return await super().store(query_hash, content)

    async def invalidate_many(self, query_hashes: Iterable[str]) -> int:
        hashes = list(query_hashes)
        self._check("invalidate", hashes)
        return await super().invalidate_many(hashes)


@dataclass
class KeyedResult:
    """One run's counts: requests, user-facing errors, wrong answers, and for the healthy keys
    how many answers came from the cache."""

    requests: int = 0
    errors: int = 0
    wrong: int = 0
    healthy_requests: int = 0
    healthy_hits: int = 0
    loads: int = 0
    overlapping_loads: int = 0  # a load of a key began while another load of it was running
    distinct_loaded: int = 0
    error_examples: list[str] = field(default_factory=list)
    origin: dict[str, int] = field(default_factory=dict)
    root_opened: bool = False
    shard_states: dict[str, str] = field(default_factory=dict)
    shards_opened: set[str] = field(default_factory=set)

    @property
    def healthy_hit_rate(self) -> float:
        return self.healthy_hits / self.healthy_requests if self.healthy_requests else 0.0


async def run_keyed(
    server: RedisServer,
    *,
    fault: str,
    workers: int = 100,
    keys: int = 400,
    duration: float = 3.0,
    max_requests: int = 200_000,
    load_seconds: float = 0.0,
    single_flight: bool = False,
    stale_if_error_seconds: Optional[float] = None,
    seed: int = 3,
) -> KeyedResult:
    """One run of the same seeded traffic: `fault` is "none", "key_range" (the failing shard's
    calls raise for the middle of the run) or "outage" (the server is killed for the middle
    of the run, then restarted). Every key is in the cache before the run starts."""
    with frozen_heap():
        return await _run_keyed(
            server,
            fault=fault,
            workers=workers,
            keys=keys,
            duration=duration,
            max_requests=max_requests,
            load_seconds=load_seconds,
            single_flight=single_flight,
            stale_if_error_seconds=stale_if_error_seconds,
            seed=seed,
        )


async def _run_keyed(
    server: RedisServer,
    *,
    fault: str,
    workers: int,
    keys: int,
    duration: float,
    max_requests: int,
    load_seconds: float,
    single_flight: bool,
    stale_if_error_seconds: Optional[float],
    seed: int,
) -> KeyedResult:
    result = KeyedResult()
    truth = Truth(keys)
    manager = KeyRangeFaultManager.from_url(server.url, prefix=f"keyed-{fault}", op_timeout=0.05)
    breaker = CacheCircuitBreaker(CircuitBreakerConfig(**CONFIG))  # type: ignore[arg-type]
    registry = BreakerRegistry(
        [(name, CircuitBreakerConfig(**cfg)) for name, cfg in LEVELS],  # type: ignore[arg-type]
        max_breakers=10_000,
    )
    # stale_keys="off": with per-key invalidation, a failing key's skipped write would be
    # flushed inside the next admitted call of any key and charged to that key's breakers
    # (see test_wrapper_origin.py, the xfail on pending invalidations).
    wrapper = ResilientCacheWrapper(
        manager,
        breaker,
        hierarchy=registry,
        key_path=key_path,
        stale_keys="off",
        single_flight=single_flight,
        stale_if_error_seconds=stale_if_error_seconds,
    )
    hashes = [key_of(k) for k in range(keys)]

    def on_change(_frm: CircuitState, to: CircuitState, _reason: str) -> None:
        if to is CircuitState.OPEN:
            result.root_opened = True

    breaker.on_state_change(on_change)
    loading: dict[int, int] = {}
    loaded: set[int] = set()
    try:
        await manager.warm_up()
        for k in range(keys):
            await manager.store(hashes[k], truth.read(k))
        rng = random.Random(seed)
        deadline = time.monotonic() + duration
        fault_on = asyncio.Event()

        async def script() -> None:
            await asyncio.sleep(duration / 6)
            if fault == "key_range":
                manager.failing = frozenset({FAILING_SHARD})
            elif fault == "outage":
                await asyncio.to_thread(server.kill)
            fault_on.set()
            await asyncio.sleep(duration / 2)
            if fault == "key_range":
                # The shards' states while the fault is still on.
                for s in range(SHARDS):
                    state = registry.state([f"s{s}"])
                    result.shard_states[f"s{s}"] = "-" if state is None else state.value
                manager.failing = frozenset()
            elif fault == "outage":
                await asyncio.to_thread(server.start)

        def loader(k: int, ran: list[bool]) -> Any:
            async def load() -> str:
                ran.append(True)
                result.loads += 1
                loaded.add(k)
                if loading.get(k, 0) > 0:
                    result.overlapping_loads += 1
                loading[k] = loading.get(k, 0) + 1
                try:
                    if load_seconds:
                        await asyncio.sleep(load_seconds)  # the origin's own latency
                    return truth.read(k)
                finally:
                    loading[k] -= 1

            return load

        async def worker(i: int) -> None:
            await asyncio.sleep(0.5 * i / workers)
            for _ in range(max_requests):  # bounded in count; the deadline bounds it in time
                if time.monotonic() >= deadline or result.requests >= max_requests:
                    return
                result.requests += 1
                k = min(int(rng.expovariate(1 / (keys / 4))), keys - 1)
                ran: list[bool] = []
                load = loader(k, ran)
                try:
                    answer = await wrapper.get_or_load(hashes[k], load)
                except Exception as e:  # a user-facing error
                    result.errors += 1
                    if len(result.error_examples) < 5:
                        result.error_examples.append(f"{type(e).__name__}: {e}")
                    continue
                if answer != truth.read(k):
                    result.wrong += 1
                if shard_of(k) != FAILING_SHARD:
                    result.healthy_requests += 1
                    # A hit: this call's own loader did not run (without single-flight every
                    # miss runs its own; with it, a joined miss would count as a hit).
                    result.healthy_hits += not ran
                await asyncio.sleep(0.1 * rng.random())

        def watch_shards() -> None:
            for s in range(SHARDS):
                if registry.state([f"s{s}"]) is CircuitState.OPEN:
                    result.shards_opened.add(f"s{s}")

        async def watcher() -> None:
            for _ in range(100_000):  # bounded; ends with the run
                watch_shards()
                if time.monotonic() >= deadline:
                    return
                await asyncio.sleep(0.01)

        script_task = asyncio.ensure_future(script())
        watch_task = asyncio.ensure_future(watcher())
        await asyncio.gather(*(worker(i) for i in range(workers)))
        await script_task
        await watch_task
        assert fault_on.is_set()
    finally:
        await manager.close()
    result.origin = dict(wrapper.origin_metrics())
    result.distinct_loaded = len(loaded)
    return result


def table(title: str, runs: dict[str, KeyedResult]) -> str:
    rows = [
        ("requests", lambda r: f"{r.requests}"),
        ("user-facing errors", lambda r: f"{r.errors}"),
        ("answers != SQLite truth", lambda r: f"{r.wrong}"),
        (
            "healthy keys: answered without a load of their own",
            lambda r: f"{r.healthy_hit_rate:.3f}",
        ),
        ("origin calls / joined", lambda r: f"{r.origin['origin_calls']} / {r.origin['joined']}"),
        ("answered stale (cache down)", lambda r: f"{r.origin['stale_served']}"),
        ("distinct keys loaded", lambda r: f"{r.distinct_loaded}"),
        ("loads overlapping one of the same key", lambda r: f"{r.overlapping_loads}"),
        ("root breaker opened", lambda r: "yes" if r.root_opened else "no"),
        ("shards opened", lambda r: " ".join(sorted(r.shards_opened)) or "-"),
    ]
    names = list(runs)
    head = f"| metric | {' | '.join(names)} |"
    lines = [f"### {title}", "", head, "|" + "---|" * (len(names) + 1)]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(runs[n]) for n in names) + " |")
    return "\n".join(lines)
