"""`fact-resilience demo --redis URL`, run in-process on a short schedule against the harness's
redis-server (the in-memory version is tests/python/test_demo.py)."""

from __future__ import annotations

import io

from fact_resilience.demo import run_demo
from faults.conftest import RedisServer


async def test_demo_with_redis_rides_out_the_outage(redis_server: RedisServer) -> None:
    out = io.StringIO()
    s = await run_demo(
        queries=600,
        duration=3.0,
        concurrency=20,
        timeout_seconds=0.25,
        redis_url=redis_server.url,
        out=out,
        live=False,
    )
    text = out.getvalue()
    assert f"Redis {redis_server.url}" in text
    assert s.user_errors == 0, text
    assert s.answered == s.correct == 600, text
    assert s.truth_changes == 8 and s.stale_answers == 0, text
    assert s.full_cycle, text
    assert s.refused > 0, text
    assert s.recovery_time is not None, text
    assert 0 < s.cache_hits < 600, text
    assert s.ok
    assert redis_server.ping()  # the demo closed its client, the server is untouched
