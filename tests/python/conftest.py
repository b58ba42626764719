"""Fixtures and FACT-shaped doubles for the Python suite.

- `FactCacheError` mirrors FACT's `core.errors.CacheError` (Exception <- FACTError <- CacheError;
  `str()` is only the message).
- `FactCacheManager` mirrors FACT's synchronous `cache.manager.CacheManager`
  (docs/fact-contract.md §9).
- `AsyncMockManager` mirrors the async mocks of FACT's scripts and demo (no `get_metrics`).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

import fact_resilience
from fact_resilience import ManualClock


class FACTError(Exception):
    """FACT's base error."""


class FactCacheError(FACTError):
    """FACT's `CacheError`: same constructor; `str()` is only the message."""

    def __init__(
        self,
        message: str,
        error_code: Optional[str] = None,
        context: Optional[dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code or self.__class__.__name__
        self.context = context or {}


@dataclass
class CacheEntry:
    prefix: str
    content: str
    token_count: int
    created_at: float
    version: str = "1.0"
    is_valid: bool = True
    access_count: int = 0
    last_accessed: Optional[float] = None


@dataclass
class CacheMetrics:
    total_entries: int = 0
    total_requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    total_size: int = 0
    hit_rate: float = 0.0
    miss_rate: float = 0.0
    avg_access_count: float = 0.0
    cost_savings: float = 0.0
    token_efficiency: float = 0.0
    timestamp: float = field(default_factory=time.time)


class FactCacheManager:
    """Synchronous, like FACT's `CacheManager(config)`."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.prefix: str = config["prefix"]
        self.min_tokens: int = config.get("min_tokens", 50)
        self.max_size = config.get("max_size", "5MB")
        self.ttl_seconds = config.get("ttl_seconds", 3600)
        self.cache: dict[str, CacheEntry] = {}
        self._lock = threading.RLock()
        self._access_frequency: dict[str, int] = {}
        self.hits = 0
        self.misses = 0
        self._hit_latencies: list[float] = []
        self._miss_latencies: list[float] = []

    def generate_hash(self, query: str) -> str:
        return hashlib.sha256(f"{self.prefix}:{query}:v1.0".encode()).hexdigest()

    def store(self, query_hash: str, content: str) -> CacheEntry:
        if not content:
            raise FactCacheError("Content cannot be empty", "CACHE_EMPTY_CONTENT")
        tokens = int(len(content) / 4.2)
        if tokens < self.min_tokens:
            raise FactCacheError(
                f"Content has {tokens} tokens, below minimum {self.min_tokens}",
                "CACHE_MIN_TOKENS",
            )
        with self._lock:
            entry = CacheEntry(self.prefix, content, tokens, time.time())
            self.cache[query_hash] = entry
            return entry

    def get(self, query_hash: str) -> Optional[CacheEntry]:
        start = time.perf_counter()
        with self._lock:
            entry = self.cache.get(query_hash)
            if entry is None:
                self.misses += 1
                self._miss_latencies.append((time.perf_counter() - start) * 1000)
                return None
            entry.access_count += 1
            entry.last_accessed = time.time()
            self._access_frequency[query_hash] = self._access_frequency.get(query_hash, 0) + 1
            self.hits += 1
            self._hit_latencies.append((time.perf_counter() - start) * 1000)
            return entry

    def invalidate_by_prefix(self, prefix: str) -> int:
        with self._lock:
            doomed = [k for k, e in self.cache.items() if e.prefix == prefix]
            for k in doomed:
                del self.cache[k]
            return len(doomed)

    def get_metrics(self) -> CacheMetrics:
        with self._lock:
            requests = self.hits + self.misses
            return CacheMetrics(
                total_entries=len(self.cache),
                total_requests=requests,
                cache_hits=self.hits,
                cache_misses=self.misses,
                total_size=sum(len(e.content) for e in self.cache.values()),
                hit_rate=100.0 * self.hits / requests if requests else 0.0,
                miss_rate=100.0 * self.misses / requests if requests else 0.0,
            )

    def get_performance_stats(self) -> dict[str, Any]:
        def avg(xs: list[float]) -> float:
            return sum(xs) / len(xs) if xs else 0.0

        return {
            "avg_hit_latency_ms": avg(self._hit_latencies),
            "avg_miss_latency_ms": avg(self._miss_latencies),
            "hit_target_ms": 48,
            "miss_target_ms": 140,
            "hit_latency_compliance": True,
            "miss_latency_compliance": True,
            "recent_hit_count": len(self._hit_latencies),
            "recent_miss_count": len(self._miss_latencies),
        }


@dataclass
class MockEntry:
    content: str
    timestamp: float


class AsyncMockManager:
    """Like the scripts' mocks: async store/get/invalidate_by_prefix, sync generate_hash, no
    get_metrics. `failing = True` makes every call raise; `failure_rate` makes some raise."""

    def __init__(self, failure_rate: float = 0.0, seed: int = 7) -> None:
        self.storage: dict[str, MockEntry] = {}
        self.failing = False
        self.failure_rate = failure_rate
        self.calls = 0
        self._rng = random.Random(seed)

    def _maybe_fail(self, op: str) -> None:
        self.calls += 1
        if self.failing or (self.failure_rate and self._rng.random() < self.failure_rate):
            raise FactCacheError(f"Simulated {op} failure", "CACHE_STORAGE_ERROR")

    async def store(self, query_hash: str, content: str) -> bool:
        self._maybe_fail("store")
        self.storage[query_hash] = MockEntry(content, time.time())
        return True

    async def get(self, query_hash: str) -> Optional[MockEntry]:
        self._maybe_fail("get")
        return self.storage.get(query_hash)

    async def invalidate_by_prefix(self, prefix: str) -> int:
        self._maybe_fail("invalidate")
        doomed = [k for k in self.storage if k.startswith(prefix)]
        for k in doomed:
            del self.storage[k]
        return len(doomed)

    def generate_hash(self, query: str) -> str:
        return hashlib.md5(query.encode()).hexdigest()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fact_errors() -> Iterator[type[FactCacheError]]:
    """Registers FACT's CacheError (as FACT's shim does) for the test, then restores."""
    previous = fact_resilience.get_error_class()
    fact_resilience.set_error_class(FactCacheError)
    try:
        yield FactCacheError
    finally:
        fact_resilience.set_error_class(previous)


@pytest.fixture
def fact_manager() -> FactCacheManager:
    return FactCacheManager(
        {"prefix": "fact_v1", "min_tokens": 10, "max_size": "5MB", "ttl_seconds": 3600}
    )


@pytest.fixture
def mock_manager() -> AsyncMockManager:
    return AsyncMockManager()


LONG_CONTENT = (
    "FACT caches complete answers so that repeated questions skip the model entirely. " * 3
)
