"""Cache managers for real cache servers, ready to sit behind `ResilientCacheWrapper`.

`RedisCacheManager` gives FACT's cache-manager surface (``store``, ``get`` returning an entry
with ``.content``, ``invalidate_by_prefix``, ``generate_hash``, ``get_metrics``) over redis-py's
asyncio client, plus ``invalidate`` / ``invalidate_many`` so the wrapper can invalidate single
keys. What is bounded is the server's time: each Redis round trip gets ``op_timeout`` (default
50 ms), and a hung or slow server becomes a `CacheBackendTimeout`, a failure the breaker counts,
instead of a stall. The client's own queue is not the server's fault: a call that waits longer
than ``slot_timeout`` for a free connection is shed (`CacheBackendShed`, which the wrapper
answers with the fallback without charging the breaker).

Needs the ``redis`` extra: ``pip install 'fact-resilience[redis]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional, TypeVar, Union

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ._errors import CacheShedError

__all__ = [
    "CacheBackendError",
    "CacheBackendShed",
    "CacheBackendTimeout",
    "RedisCacheEntry",
    "RedisCacheManager",
]

_T = TypeVar("_T")

# get: count the access and read the entry in one atomic round trip; nil on a miss.
_GET_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = redis.call('HINCRBY', KEYS[1], 'access_count', 1)
local v = redis.call('HMGET', KEYS[1], 'content', 'created_at')
return {v[1], v[2], n}
"""

# store: replace the entry (and set its expiry, ARGV[3] ms, when > 0) in one atomic round trip.
# A script rather than a MULTI pipeline, because a pipeline takes its own connection from the
# pool instead of the one this call already holds (see `RedisCacheManager._bounded`).
_STORE_SCRIPT = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'content', ARGV[1], 'created_at', ARGV[2], 'access_count', 0)
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
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
    """The server took longer than the manager's ``op_timeout`` to answer (or longer than
    ``connect_timeout`` to accept a connection)."""


class CacheBackendShed(CacheBackendError, CacheShedError):
    """The call never reached the server: every one of the manager's ``max_in_flight``
    connections stayed busy for ``slot_timeout``. The client had no capacity, the server was
    not asked, so `ResilientCacheWrapper` does not charge the breaker for it."""


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


class _Deadline:
    """Cancels ``task`` once ``budget`` seconds of event-loop time have passed.

    A timer that fires late means the loop could not run for that long (it was busy, or the
    process was not scheduled), and a reply may be sitting unread in the socket: that time was
    the loop's, not the server's. So the first time the timer fires it re-arms itself for as
    long as it was late (at most ``budget`` more), and only the second firing cancels.
    """

    __slots__ = ("budget", "deadline", "extended", "fired", "handle", "loop", "task")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], budget: float
    ) -> None:
        self.loop, self.task, self.budget = loop, task, budget
        self.deadline = loop.time() + budget
        self.extended = False
        self.fired = False
        self.handle = loop.call_at(self.deadline, self._expire)

    def _expire(self) -> None:
        late = self.loop.time() - self.deadline
        if not self.extended and late > 0:
            self.extended = True
            self.deadline = self.loop.time() + min(late, self.budget)
            self.handle = self.loop.call_at(self.deadline, self._expire)
            return
        self.fired = True
        self.task.cancel()

    def cancel(self) -> None:
        self.handle.cancel()


def _uncancel(task: asyncio.Task[Any]) -> None:
    # Python 3.11+ counts cancellation requests; ours is handled, so take it back.
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


class RedisCacheManager:
    """FACT's cache-manager surface over a `redis.asyncio.Redis` client.

    Entries are Redis hashes at ``"{prefix}:{query_hash}"`` (fields ``content``,
    ``created_at``, ``access_count``), optionally expiring after ``ttl_seconds``.

    Each call has three separate budgets, so that only the server's time is charged to it:

    - ``slot_timeout`` (default 0.25 s): waiting for one of ``max_in_flight`` connections. At
      most that many commands are in flight at once; a call that gets no connection in time
      raises `CacheBackendShed` (the server was never asked).
    - ``connect_timeout`` (default 0.25 s): opening (or re-opening, after the server dropped
      it) the connection the call holds, handshake included. A connection is opened once and
      kept; a cold start or a reconnect after a restart costs this budget, not ``op_timeout``.
      `warm_up` opens them all ahead of traffic.
    - ``op_timeout`` (default 50 ms): the round trip to the server. A timer the event loop
      runs late (the loop was busy or the process was not scheduled) does not count against
      the server: the call gets as long again as the timer was late, at most one more
      ``op_timeout``, to read a reply that may already be waiting (``late_replies`` in
      `get_metrics`).

    ``max_in_flight=None`` drops the first two: commands share the client's pool unbounded and
    connection set-up counts toward ``op_timeout``. ``invalidate_by_prefix`` (SCAN + DEL in
    batches of ``scan_batch``) is bounded per round trip and by ``max(1 s, 20 x op_timeout)``
    in total. Errors are raised as `CacheBackendError` / `CacheBackendTimeout` /
    `CacheBackendShed` naming the operation; ``get`` does not swallow them (unlike FACT's
    in-memory manager), so the breaker sees the outage.
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
        slot_timeout: float = 0.25,
        connect_timeout: float = 0.25,
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
        if not slot_timeout >= 0:
            raise ValueError(f"slot_timeout must be >= 0 seconds, got {slot_timeout!r}")
        if not connect_timeout > 0:
            raise ValueError(f"connect_timeout must be > 0 seconds, got {connect_timeout!r}")
        self.max_in_flight = max_in_flight
        self.slot_timeout = float(slot_timeout)
        self.connect_timeout = float(connect_timeout)
        # One single-connection client ("lane") per slot, made on first use on a loop.
        self._slots: Optional[asyncio.Semaphore] = None
        self._idle: list[Redis] = []
        self._lanes: list[Redis] = []
        self._slots_loop: Optional[asyncio.AbstractEventLoop] = None
        self.client = client
        self.prefix = prefix
        self.op_timeout = float(op_timeout)
        self.ttl_seconds = ttl_seconds
        self.scan_batch = scan_batch
        self._get_script = client.register_script(_GET_SCRIPT)
        self._store_script = client.register_script(_STORE_SCRIPT)
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.invalidations = 0
        self.errors = 0
        self.timeouts = 0
        self.shed = 0
        self.connects = 0
        self.late_replies = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "fact_v1",
        op_timeout: float = 0.05,
        ttl_seconds: Optional[float] = None,
        max_in_flight: Optional[int] = 32,
        slot_timeout: float = 0.25,
        connect_timeout: float = 0.25,
        **redis_kwargs: Any,
    ) -> RedisCacheManager:
        """A manager with its own client for ``url`` (``redis://127.0.0.1:6379/0``).

        Unless overridden in ``redis_kwargs``: the TCP connect is bounded by
        ``connect_timeout``; a command retries once at once on a connection error (a
        connection the server closed since it was checked; no backoff sleeps, since the breaker
        is the retry policy); and the pool may hold 1024 connections (``max_in_flight`` keeps
        the number in use far lower; redis-py's default of 100 would refuse the 101st
        concurrent call when ``max_in_flight`` is None).
        """
        redis_kwargs.setdefault("socket_connect_timeout", connect_timeout)
        redis_kwargs.setdefault("retry", Retry(NoBackoff(), 1))
        redis_kwargs.setdefault("max_connections", 1024)
        client = Redis.from_url(url, **redis_kwargs)
        return cls(
            client,
            prefix=prefix,
            op_timeout=op_timeout,
            ttl_seconds=ttl_seconds,
            max_in_flight=max_in_flight,
            slot_timeout=slot_timeout,
            connect_timeout=connect_timeout,
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
            # Connections belong to the loop that opened them: a new loop gets new lanes.
            self._lanes = [self.client.client() for _ in range(self.max_in_flight)]
            self._idle = list(self._lanes)
            self._slots, self._slots_loop = asyncio.Semaphore(self.max_in_flight), loop
        return self._slots

    async def _within(self, operation: str, what: str, work: Awaitable[_T], budget: float) -> _T:
        """Awaits ``work`` in this task for at most ``budget`` seconds of event-loop time (see
        `_Deadline`), translating redis-py's errors."""
        task = asyncio.current_task()
        assert task is not None, "RedisCacheManager is called from a coroutine"
        deadline = _Deadline(asyncio.get_running_loop(), task, budget)
        try:
            result = await work
        except asyncio.CancelledError:
            if not deadline.fired:
                raise
            _uncancel(task)
            self.timeouts += 1
            raise CacheBackendTimeout(
                operation, f"redis {operation} {what} took longer than {budget * 1000:.0f} ms"
            ) from None
        except (RedisError, OSError) as e:
            self.errors += 1
            raise CacheBackendError(
                operation, f"redis {operation} failed: {type(e).__name__}: {e}"
            ) from e
        finally:
            deadline.cancel()
        if deadline.extended:
            self.late_replies += 1
        return result

    async def _connect(self, lane: Redis) -> None:
        conn = lane.connection
        if conn is None:
            await lane.initialize()  # takes a connection from the pool and opens it
        else:
            await conn.disconnect()
            await conn.connect()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        self.connects += 1

    async def _run_on(
        self, operation: str, call: Callable[[Redis], Awaitable[_T]], lane: Redis, timeout: float
    ) -> _T:
        """Opens ``lane``'s connection if it has none or the server closed it (bounded by
        ``connect_timeout``), then runs the round trip (bounded by ``timeout``)."""
        conn = lane.connection
        try:
            # Closed by us (a cancelled command drops its connection) or by the server (EOF or
            # stray data waiting). Checking costs no round trip and no loop iteration.
            stale = conn is None or not conn.is_connected or await conn.can_read()
        except (RedisError, OSError):
            stale = True
        if stale:
            await self._within(operation, "connect", self._connect(lane), self.connect_timeout)
        return await self._within(operation, "round trip", call(lane), timeout)

    async def _bounded(
        self, operation: str, call: Callable[[Redis], Awaitable[_T]], timeout: float
    ) -> _T:
        """Runs ``call(client)`` on a connection of its own: waits for a slot (shed after
        ``slot_timeout``), then `_run_on`. ``call`` makes the command only when it runs, so a
        call shed or timed out while waiting leaves no coroutine behind un-awaited."""
        gate = self._gate()
        if gate is None:
            return await self._within(operation, "round trip", call(self.client), timeout)
        if gate.locked():
            try:
                await asyncio.wait_for(gate.acquire(), self.slot_timeout)
            except asyncio.TimeoutError:
                self.shed += 1
                raise CacheBackendShed(
                    operation,
                    f"redis {operation} shed: all {self.max_in_flight} connections busy for "
                    f"{self.slot_timeout * 1000:.0f} ms",
                ) from None
        else:
            await gate.acquire()  # free: returns at once
        lane = self._idle.pop()
        try:
            return await self._run_on(operation, call, lane, timeout)
        finally:
            self._idle.append(lane)
            gate.release()

    async def warm_up(self, timeout: float = 10.0) -> int:
        """Opens every connection ahead of traffic and PINGs the server on each, so the first
        calls do not pay for set-up; returns how many connections answered. No caller waits on
        a warm-up, so each connection's set-up and PING get ``timeout`` seconds, not the
        traffic's ``connect_timeout`` and ``op_timeout``: a busy machine makes it slower, not
        failed. Raises `CacheBackendError` / `CacheBackendTimeout` if the server cannot be
        reached."""
        if not (isinstance(timeout, (int, float)) and timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        if self._gate() is None:
            await self._within("warm_up", "round trip", self.client.ping(), timeout)
            return 1

        async def open_lane(lane: Redis) -> None:
            await self._within("warm_up", "connect", self._connect(lane), timeout)
            await self._within("warm_up", "round trip", lane.ping(), timeout)

        lanes = list(self._idle)
        await asyncio.gather(*(open_lane(lane) for lane in lanes))
        return len(lanes)

    async def store(self, query_hash: str, content: str) -> RedisCacheEntry:
        """Stores ``content`` (replacing any entry) and returns the new entry."""
        if not isinstance(content, str) or not content:
            raise ValueError("content must be a non-empty str")
        now = time.time()
        ttl_ms = 0 if self.ttl_seconds is None else max(1, int(self.ttl_seconds * 1000))
        args: list[Union[str, int]] = [content, repr(now), ttl_ms]
        keys = [self.key(query_hash)]
        await self._bounded(
            "store",
            lambda c: self._store_script(keys=keys, args=args, client=c),
            self.op_timeout,
        )
        self.stores += 1
        return RedisCacheEntry(content, now, 0, self.prefix, query_hash)

    async def get(self, query_hash: str) -> Optional[RedisCacheEntry]:
        """The entry (its ``access_count`` raised by 1), or None on a miss."""
        keys = [self.key(query_hash)]
        raw = await self._bounded(
            "get", lambda c: self._get_script(keys=keys, client=c), self.op_timeout
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
        n = int(await self._bounded("invalidate", lambda c: c.delete(*keys), self.op_timeout))
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
                "invalidate_by_prefix", self._scan_step(cursor, pattern), min(self.op_timeout, left)
            )
            if keys:
                n = await self._bounded(
                    "invalidate_by_prefix", self._delete_step(keys), self.op_timeout
                )
                removed += int(n)
            if int(cursor) == 0:
                break
        self.invalidations += removed
        return removed

    def _scan_step(self, cursor: int, pattern: str) -> Callable[[Redis], Awaitable[Any]]:
        return lambda c: c.scan(cursor=cursor, match=pattern, count=self.scan_batch)

    @staticmethod
    def _delete_step(keys: list[Any]) -> Callable[[Redis], Awaitable[Any]]:
        return lambda c: c.delete(*keys)

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
            "shed": self.shed,
            "connects": self.connects,
            "late_replies": self.late_replies,
            "op_timeout_ms": self.op_timeout * 1000,
            "slot_timeout_ms": self.slot_timeout * 1000,
            "connect_timeout_ms": self.connect_timeout * 1000,
            "prefix": self.prefix,
        }

    async def close(self) -> None:
        """Closes the client and its connections (bounded; never raises for a dead server)."""
        lanes, self._lanes, self._idle, self._slots = self._lanes, [], [], None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._close(lanes), max(1.0, 20 * self.op_timeout))

    async def _close(self, lanes: list[Redis]) -> None:
        for lane in lanes:
            await lane.aclose()  # gives its connection back to the pool
        await self.client.aclose()

    def __repr__(self) -> str:
        return (
            f"RedisCacheManager(prefix={self.prefix!r}, op_timeout={self.op_timeout}, "
            f"slot_timeout={self.slot_timeout}, connect_timeout={self.connect_timeout}, "
            f"max_in_flight={self.max_in_flight}, ttl_seconds={self.ttl_seconds})"
        )
