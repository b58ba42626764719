"""Fault: the cache server is killed (SIGKILL) under load, then restarted empty."""

from __future__ import annotations

from faults.conftest import REPORTS, RedisServer
from faults.load import KILL, check, run_scenario


async def test_killed_server_degrades_gracefully_and_recovers(redis_server: RedisServer) -> None:
    report = await run_scenario(redis_server, KILL)
    REPORTS.append(report.table())
    check(report)
