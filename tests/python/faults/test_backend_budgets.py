"""`RedisCacheManager`'s three budgets against the harness's redis-server: waiting for a
connection (shed, never charged as a server failure), opening one, and the round trip."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis import Redis as SyncRedis

from fact_resilience import CacheShedError
from fact_resilience.backends import (
    CacheBackendError,
    CacheBackendShed,
    CacheBackendTimeout,
    RedisCacheManager,
)
from faults.conftest import RedisServer


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"slot_timeout": -0.1}, "slot_timeout"),
        ({"slot_timeout": float("nan")}, "slot_timeout"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"op_timeout": 0}, "op_timeout"),
        ({"max_in_flight": 0}, "max_in_flight"),
    ],
)
def test_bad_budget_is_refused_naming_it(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        RedisCacheManager.from_url("redis://127.0.0.1:1/0", **kwargs)  # type: ignore[arg-type]


def test_shed_is_a_cache_shed_error_and_a_backend_error() -> None:
    shed = CacheBackendShed("get", "no connection free")
    assert isinstance(shed, CacheShedError) and isinstance(shed, CacheBackendError)
    assert not isinstance(shed, TimeoutError)  # a timeout is the server's; a shed is not
    assert shed.operation == "get"


async def test_a_call_that_gets_no_connection_in_time_is_shed_without_reaching_redis(
    redis_server: RedisServer,
) -> None:
    manager = RedisCacheManager.from_url(
        redis_server.url, prefix="t", max_in_flight=1, slot_timeout=0.02, op_timeout=1.0
    )
    try:
        await manager.warm_up()
        await manager.store("k", "v")
        redis_server.hang()  # the one connection's round trip now waits until resumed
        holder = asyncio.ensure_future(manager.get("k"))
        await asyncio.sleep(0)  # let it take the only connection
        with pytest.raises(CacheBackendShed, match="shed"):
            await manager.get("k")
        m = manager.get_metrics()
        assert (m["shed"], m["timeouts"], m["errors"]) == (1, 0, 0)
        redis_server.resume()
        entry = await holder
        assert entry is not None and entry.content == "v"
    finally:
        redis_server.resume()
        await manager.close()


async def test_opening_a_connection_has_its_own_budget(redis_server: RedisServer) -> None:
    manager = RedisCacheManager.from_url(
        redis_server.url, prefix="t", op_timeout=0.05, connect_timeout=0.3
    )
    try:
        redis_server.hang()  # the kernel accepts the TCP connection, the handshake hangs
        t0 = time.monotonic()
        with pytest.raises(CacheBackendTimeout, match="connect took longer than 300 ms"):
            await manager.get("k")
        assert 0.3 <= time.monotonic() - t0 < 1.0
        redis_server.resume()
        assert await manager.warm_up() == 32
        assert await manager.get("k") is None  # the round trip alone is bounded by 50 ms
        assert manager.get_metrics()["connects"] >= 32
    finally:
        redis_server.resume()
        await manager.close()


async def test_a_reply_the_stalled_loop_could_not_read_in_time_is_not_a_timeout(
    redis_server: RedisServer,
) -> None:
    """The event loop is blocked past the 50 ms deadline while the server answers at once:
    the late timer gives the call as long again, the waiting reply is read, and the call
    succeeds (counted as a late reply, not as a timeout)."""
    manager = RedisCacheManager.from_url(redis_server.url, prefix="t", op_timeout=0.05)
    try:
        await manager.warm_up()
        await manager.store("k", "v")
        await manager.get("k")  # loads the get script, so the next get is one round trip
        server = SyncRedis.from_url(redis_server.url)

        def gets_served() -> int:
            stats = server.info("commandstats").get("cmdstat_evalsha", {})
            return int(stats.get("calls", 0))

        served = gets_served()
        call = asyncio.ensure_future(manager.get("k"))
        for _ in range(1000):  # until the server has answered it (a busy machine may take a while)
            await asyncio.sleep(0)
            if gets_served() > served:
                break
        time.sleep(0.08)  # the loop stalls (a busy handler, a descheduled process)
        server.close()
        entry = await call
        assert entry is not None and entry.content == "v"
        m = manager.get_metrics()
        assert (m["timeouts"], m["late_replies"]) == (0, 1)
    finally:
        await manager.close()


async def test_a_hung_server_still_times_out(redis_server: RedisServer) -> None:
    # The wait is bounded by the 50 ms round trip (twice that for a late loop timer); the
    # assertion allows a busy machine's stalls on top, and still fails a wait that hangs.
    manager = RedisCacheManager.from_url(redis_server.url, prefix="t", op_timeout=0.05)
    try:
        await manager.warm_up()
        redis_server.hang()
        t0 = time.monotonic()
        with pytest.raises(CacheBackendTimeout, match="round trip took longer than 50 ms"):
            await manager.get("k")
        assert time.monotonic() - t0 < 1.0
        assert manager.get_metrics()["timeouts"] == 1
    finally:
        redis_server.resume()
        await manager.close()
