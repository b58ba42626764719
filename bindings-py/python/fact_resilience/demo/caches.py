"""The demo's cache: an embedded FACT-shaped manager, and a wrapper that breaks any manager on
the fault schedule."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from .schedule import Phase


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


SHARDS = 8
FAILING_SHARD = "shard-5"  # the one the "shard down" phase breaks


def shard_of(query_hash: str) -> str:
    """The shard a key lives on, as a sharded cache (Redis Cluster, memcached) would place it."""
    return f"shard-{int(query_hash[:8], 16) % SHARDS}"


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
        if mode == "shard":
            key = args[0] if op in ("store", "get", "invalidate") else None
            if key is None or shard_of(key) != FAILING_SHARD:
                return await getattr(self.inner, op)(*args)
            self.calls_while_faulty += 1
            raise ConnectionError(f"{FAILING_SHARD} unreachable (injected shard fault)")
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
