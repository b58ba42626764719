"""Fault: the cache server answers late (CLIENT PAUSE longer than the 50 ms timeout)."""

from __future__ import annotations

from faults.conftest import REPORTS, RedisServer
from faults.load import SLOW, check, run_scenario


async def test_slow_server_degrades_gracefully_and_recovers(redis_server: RedisServer) -> None:
    report = await run_scenario(redis_server, SLOW)
    REPORTS.append(report.table())
    check(report)
