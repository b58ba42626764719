"""Fault: the cache server hangs (SIGSTOP) under load, then resumes (SIGCONT) with its data."""

from __future__ import annotations

from faults.conftest import REPORTS, RedisServer
from faults.load import HANG, Timing, check, run_scenario


async def test_hung_server_degrades_gracefully_and_recovers(redis_server: RedisServer) -> None:
    report = await run_scenario(redis_server, HANG)
    REPORTS.append(report.table())
    check(report)


async def test_without_pending_invalidations_the_old_value_survives_the_outage(
    redis_server: RedisServer,
) -> None:
    """The control experiment: with the pending-invalidation set turned off, the invalidation
    skipped during the hang is lost, and the cache still holds the pre-update value after
    recovery (the server kept its data). This is what the default guards against.

    The fault window is shorter than the open timeout, so no probe reaches the hung server
    after the update: a probe there could be a store of the new value, buffered by the stopped
    server and applied on SIGCONT although the client timed it out, which would make the old
    value vanish by chance."""
    timing = Timing(warm=1.0, fault=0.8, recover=1.5, baseline=0.2)
    report = await run_scenario(
        redis_server, HANG, workers=50, timing=timing, max_pending_invalidations=None
    )
    assert report.final_state == "closed", report.table()
    assert report.stale_answers > 0 or report.updated_key_cached not in (
        None,
        report.updated_key_value,
    ), report.table()
