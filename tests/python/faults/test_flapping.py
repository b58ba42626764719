"""Fault: the cache server is killed and restarted again and again under load."""

from __future__ import annotations

from faults.conftest import REPORTS, RedisServer
from faults.load import FLAPPING, check, run_scenario


async def test_flapping_server_degrades_gracefully_and_recovers(redis_server: RedisServer) -> None:
    report = await run_scenario(redis_server, FLAPPING)
    REPORTS.append(report.table())
    check(report)
