"""Cache managers for real cache servers, ready to sit behind `ResilientCacheWrapper`.

`RedisCacheManager` gives FACT's cache-manager surface (``store``, ``get`` returning an entry
with ``.content``, ``invalidate_by_prefix``, ``generate_hash``, ``get_metrics``) over redis-py's
asyncio client, plus ``invalidate`` / ``invalidate_many`` so the wrapper can invalidate single
keys. Every Redis round trip is bounded by ``op_timeout`` (default 50 ms): a hung or slow
server becomes a `CacheBackendTimeout`, a failure the breaker counts, instead of a stall.

Needs the ``redis`` extra: ``pip install 'fact-resilience[redis]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Optional, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

__all__ = ["CacheBackendError", "CacheBackendTimeout", "RedisCacheEntry", "RedisCacheManager"]

_T = TypeVar("_T")

# get: count the access and read the entry in one atomic round trip; nil on a miss.
_GET_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = redis.call('HINCRBY', KEYS[1], 'access_count', 1)
local v = redis.call('HMGET', KEYS[1], 'content', 'created_at')
return {v[1], v[2], n}
"""


class CacheBackendError(Exception):
    """A cache server operation failed (unreachable, refused, protocol error...).

    ``operation`` names the manager method (``"get"``, ``"store"``...); the redis-py error, if
    any, is the ``__cause__``.
    """

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(message)
        self.operation = operation


class CacheBackendTimeout(CacheBackendError, TimeoutError):
    """A cache server operation took longer than the manager's ``op_timeout``."""


@dataclass
class RedisCacheEntry:
    """What `RedisCacheManager.get` returns (FACT reads ``.content``)."""

    content: str
    created_at: float
    access_count: int = 0
    prefix: str = ""
    query_hash: str = ""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _glob_escape(s: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in s)


class RedisCacheManager:
    """FACT's cache-manager surface over a `redis.asyncio.Redis` client.

    Entries are Redis hashes at ``"{prefix}:{query_hash}"`` (fields ``content``,
    ``created_at``, ``access_count``), optionally expiring after ``ttl_seconds``. Each Redis
    round trip is bounded by ``op_timeout`` seconds, waiting for one of ``max_in_flight``
    slots included: at most that many commands are in flight at once, which also bounds the
    reconnect storm after a restart (200 concurrent calls on a cold client would open 200
    connections, too many to finish within 50 ms; 32 do). ``invalidate_by_prefix`` (SCAN + DEL in
    batches of ``scan_batch``) is bounded per round trip and by ``max(1 s, 20 x op_timeout)`` in
    total. Errors are raised as `CacheBackendError` / `CacheBackendTimeout` naming the
    operation; ``get`` does not swallow them (unlike FACT's in-memory manager), so the breaker
    sees the outage.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "fact_v1",
        op_timeout: float = 0.05,
        ttl_seconds: Optional[float] = None,
        scan_batch: int = 500,
        max_in_flight: Optional[int] = 32,
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("prefix must be a non-empty str")
        if not op_timeout > 0:
            raise ValueError(f"op_timeout must be > 0 seconds, got {op_timeout!r}")
        if ttl_seconds is not None and not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be > 0 or None, got {ttl_seconds!r}")
        if scan_batch < 1:
            raise ValueError(f"scan_batch must be >= 1, got {scan_batch!r}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1 or None, got {max_in_flight!r}")
        self.max_in_flight = max_in_flight
        self._slots: Optional[asyncio.Semaphore] = None
        self._slots_loop: Optional[asyncio.AbstractEventLoop] = None
        self.client = client
        self.prefix = prefix
        self.op_timeout = float(op_timeout)
        self.ttl_seconds = ttl_seconds
        self.scan_batch = scan_batch
        self._get_script = client.register_script(_GET_SCRIPT)
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.invalidations = 0
        self.errors = 0
        self.timeouts = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "fact_v1",
        op_timeout: float = 0.05,
        ttl_seconds: Optional[float] = None,
        max_in_flight: int = 32,
        **redis_kwargs: Any,
    ) -> RedisCacheManager:
        """A manager with its own client for ``url`` (``redis://127.0.0.1:6379/0``).

        Unless overridden in ``redis_kwargs``: connecting is bounded by ``op_timeout``; a
        command retries once at once on a connection error (a pooled connection the server
        closed while it restarted; no backoff sleeps, since the breaker is the retry policy);
        and the pool may hold 1024 connections (``max_in_flight`` keeps the number in use far
        lower; redis-py's default of 100 would refuse the 101st concurrent call).
        """
        redis_kwargs.setdefault("socket_connect_timeout", op_timeout)
        redis_kwargs.setdefault("retry", Retry(NoBackoff(), 1))
        redis_kwargs.setdefault("max_connections", 1024)
        client = Redis.from_url(url, **redis_kwargs)
        return cls(
            client,
            prefix=prefix,
            op_timeout=op_timeout,
            ttl_seconds=ttl_seconds,
            max_in_flight=max_in_flight,
        )

    # ---- keys ---------------------------------------------------------------------------

    def key(self, query_hash: str) -> str:
        """The Redis key of an entry."""
        return f"{self.prefix}:{query_hash}"

    def generate_hash(self, query: str) -> str:
        """SHA-256 hex of ``"{prefix}:{query}:v1.0"``, as FACT's manager does."""
        return hashlib.sha256(f"{self.prefix}:{query}:v1.0".encode()).hexdigest()

    # ---- operations ---------------------------------------------------------------------

    def _gate(self) -> Optional[asyncio.Semaphore]:
        if self.max_in_flight is None:
            return None
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.max_in_flight), loop
        return self._slots

    async def _bounded(
        self, operation: str, call: Callable[[], Awaitable[_T]], timeout: float
    ) -> _T:
        # `call` makes the command only once a slot is free, so a timeout while waiting for
        # a slot leaves no coroutine behind un-awaited.
        gate = self._gate()

        async def run() -> _T:
            if gate is None:
                return await call()
            async with gate:
                return await call()

        try:
            return await asyncio.wait_for(run(), timeout)
        except asyncio.TimeoutError:
            self.timeouts += 1
            raise CacheBackendTimeout(
                operation, f"redis {operation} took longer than {timeout * 1000:.0f} ms"
            ) from None
        except (RedisError, OSError) as e:
            self.errors += 1
            raise CacheBackendError(
                operation, f"redis {operation} failed: {type(e).__name__}: {e}"
            ) from e

    async def store(self, query_hash: str, content: str) -> RedisCacheEntry:
        """Stores ``content`` (replacing any entry) and returns the new entry."""
        if not isinstance(content, str) or not content:
            raise ValueError("content must be a non-empty str")
        now = time.time()
        key = self.key(query_hash)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping={"content": content, "created_at": repr(now), "access_count": 0})
        if self.ttl_seconds is not None:
            pipe.pexpire(key, max(1, int(self.ttl_seconds * 1000)))
        await self._bounded("store", pipe.execute, self.op_timeout)
        self.stores += 1
        return RedisCacheEntry(content, now, 0, self.prefix, query_hash)

    async def get(self, query_hash: str) -> Optional[RedisCacheEntry]:
        """The entry (its ``access_count`` raised by 1), or None on a miss."""
        raw = await self._bounded(
            "get", lambda: self._get_script(keys=[self.key(query_hash)]), self.op_timeout
        )
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        content, created_at, count = raw
        return RedisCacheEntry(
            _text(content), float(_text(created_at)), int(count), self.prefix, query_hash
        )

    async def invalidate(self, query_hash: str) -> int:
        """Removes one entry; returns 1 if it existed, else 0."""
        return await self.invalidate_many([query_hash])

    async def invalidate_many(self, query_hashes: Iterable[str]) -> int:
        """Removes these entries in one round trip; returns how many existed."""
        keys = [self.key(h) for h in query_hashes]
        if not keys:
            return 0
        n = int(
            await self._bounded("invalidate", lambda: self.client.delete(*keys), self.op_timeout)
        )
        self.invalidations += n
        return n

    async def invalidate_by_prefix(self, prefix: str) -> int:
        """Removes every entry stored under ``prefix`` (``prefix == self.prefix`` clears this
        manager's entries), scanning ``"{prefix}:*"`` and deleting in batches."""
        deadline = time.monotonic() + max(1.0, 20 * self.op_timeout)
        pattern = _glob_escape(prefix) + ":*"
        cursor: int = 0
        removed = 0
        # Each SCAN step visits at most `scan_batch` slots; the deadline bounds the loop.
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.timeouts += 1
                raise CacheBackendTimeout(
                    "invalidate_by_prefix", "redis invalidate_by_prefix ran past its deadline"
                )
            cursor, keys = await self._bounded(
                "invalidate_by_prefix",
                partial(self.client.scan, cursor=cursor, match=pattern, count=self.scan_batch),
                min(self.op_timeout, left),
            )
            if keys:
                n = await self._bounded(
                    "invalidate_by_prefix", partial(self.client.delete, *keys), self.op_timeout
                )
                removed += int(n)
            if int(cursor) == 0:
                break
        self.invalidations += removed
        return removed

    def get_metrics(self) -> dict[str, Any]:
        """Client-side counters (JSON-safe); ``hit_rate``/``miss_rate`` are percentages, as in
        FACT. Entry counts need a server round trip, so they are not included."""
        requests = self.hits + self.misses
        return {
            "total_requests": requests,
            "cache_hits": self.hits,
            "cache_misses": self.misses,
            "hit_rate": 100.0 * self.hits / requests if requests else 0.0,
            "miss_rate": 100.0 * self.misses / requests if requests else 0.0,
            "stores": self.stores,
            "invalidations": self.invalidations,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "op_timeout_ms": self.op_timeout * 1000,
            "prefix": self.prefix,
        }

    async def close(self) -> None:
        """Closes the client and its connections (bounded; never raises for a dead server)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.aclose(), max(1.0, 20 * self.op_timeout))

    def __repr__(self) -> str:
        return (
            f"RedisCacheManager(prefix={self.prefix!r}, op_timeout={self.op_timeout}, "
            f"ttl_seconds={self.ttl_seconds})"
        )
