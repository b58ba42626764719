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
    assert s.full_cycle, text  # closed -> open -> half_open -> closed at least once
    assert s.shed > 0, "while open, calls must fail fast instead of reaching the cache"
    assert s.recovery_time is not None, "the circuit must be closed again at the end"
    assert 0 < s.cache_hits < 600
    assert "summary:" in text and "user-facing errors" in text and "closed -> open" in text
    assert s.ok
