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
