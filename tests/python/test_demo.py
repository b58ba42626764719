"""`fact-resilience demo`, run in-process on a short schedule."""

from __future__ import annotations

import io

from fact_resilience.demo import run_demo


async def test_demo_rides_out_the_outage_with_correct_answers() -> None:
    out = io.StringIO()
    s = await run_demo(
        queries=600, duration=3.0, concurrency=20, timeout_seconds=0.25, out=out, live=False
    )
    text = out.getvalue()
    assert s.user_errors == 0, text
    assert s.answered == s.correct == 600, text
    assert s.truth_changes == 8, "the source of truth must really change during the outage"
    assert s.stale_answers == 0, text
    assert s.full_cycle, text  # closed -> open -> half_open -> closed at least once
    assert s.refused > 0, "while open, calls must fail fast instead of reaching the cache"
    assert s.recovery_time is not None, "the circuit must be closed again at the end"
    assert 0 < s.cache_hits < 600
    assert "summary:" in text and "user-facing errors" in text and "closed -> open" in text
    assert "stale answers (replaced figure served)  0" in text
    assert s.ok
    # The shard fault: only that shard's breaker opened, the whole cache's stayed closed.
    assert s.shard_fault_opened == ["shard-5"], text
    assert not s.circuit_opened_in_shard_fault, text
    assert "shard-5 breaker closed -> open" in text
    # Single-flight: misses of one key while another's origin call runs wait for it.
    assert s.origin_joined > 0, text
    assert 0 < s.origin_calls < 600 - s.cache_hits, text


async def test_demo_check_catches_stale_answers_when_skipped_writes_are_forgotten() -> None:
    """The control experiment: with the wrapper's pending invalidations off, the cache keeps
    the figures SQLite replaced during the outage, and the demo's check says so."""
    out = io.StringIO()
    s = await run_demo(
        queries=600,
        duration=3.0,
        concurrency=20,
        timeout_seconds=0.25,
        out=out,
        live=False,
        remember_skipped_writes=False,
    )
    text = out.getvalue()
    assert s.truth_changes == 8, text
    assert s.stale_answers > 0, text
    assert s.user_errors == 0, text
    assert not s.ok and "FAILED" in text, text


async def test_demo_serves_metrics_on_loopback_and_reports_the_peak_health() -> None:
    # Issue 13: --metrics-port. A short run; the scrape happens mid-run from a thread.
    import asyncio
    import io
    import urllib.request

    out = io.StringIO()
    task = asyncio.ensure_future(
        run_demo(
            queries=300,
            duration=3.0,
            concurrency=10,
            timeout_seconds=0.25,
            out=out,
            metrics_port=0,
            live=False,
            # No model time: ten workers waiting on loads would pace the probes, and this test
            # counts transitions.
            model_seconds=0.0,
        )
    )
    url = None
    for _ in range(100):  # at most 5 s for the server line
        await asyncio.sleep(0.05)
        line = next((x for x in out.getvalue().splitlines() if x.startswith("metrics: ")), None)
        if line:
            url = line.split(" ", 1)[1]
            break
    assert url and url.startswith("http://127.0.0.1:")
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert 'fact_resilience_state{breaker="cache",state="closed"}' in text
    s = await task
    # More than 10 state changes within the hour is critical, and they stay counted, so the
    # progress loop (every 0.1 s) must have seen it.
    assert len(s.transitions) > 10, out.getvalue()
    assert s.peak_health == "critical"
    assert f"peak health status                      {s.peak_health}" in out.getvalue()
