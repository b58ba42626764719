"""Fault: one key range (a shard) fails under load while the rest of the cache is healthy; and
a full outage with the origin behind `get_or_load` and single-flight (issue 14)."""

from __future__ import annotations

from faults.conftest import REPORTS, RedisServer
from faults.keyed import FAILING_SHARD, run_keyed, table


async def test_a_failing_key_range_opens_only_its_shard(redis_server: RedisServer) -> None:
    baseline = await run_keyed(redis_server, fault="none")
    faulty = await run_keyed(redis_server, fault="key_range")
    REPORTS.append(table("one key range fails", {"no fault": baseline, "shard down": faulty}))
    why = "\n" + table("one key range fails", {"no fault": baseline, "shard down": faulty})
    for run in (baseline, faulty):
        assert run.requests > 0 and run.healthy_requests > 0, why
        assert run.errors == 0, "user-facing errors" + why + "\n" + "\n".join(run.error_examples)
        assert run.wrong == 0, why
        assert not run.root_opened, "the whole cache's breaker opened" + why
    assert baseline.shards_opened == set(), why
    assert faulty.shards_opened == {FAILING_SHARD}, "only the failing shard opens" + why
    assert faulty.shard_states[FAILING_SHARD] in ("open", "half_open"), why
    # The healthy keys are served from the cache as often as without the fault.
    assert faulty.healthy_hit_rate >= baseline.healthy_hit_rate - 0.05, why
    assert faulty.origin["origin_calls"] > baseline.origin["origin_calls"], why


async def test_a_full_outage_loads_each_key_once_per_flight(redis_server: RedisServer) -> None:
    # The origin takes a while per load, so that misses of one key overlap.
    shared = await run_keyed(redis_server, fault="outage", single_flight=True, load_seconds=0.02)
    each = await run_keyed(redis_server, fault="outage", single_flight=False, load_seconds=0.02)
    stale = await run_keyed(
        redis_server,
        fault="outage",
        single_flight=True,
        stale_if_error_seconds=30.0,
        load_seconds=0.02,
    )
    title = "full outage, origin behind get_or_load"
    runs = {
        "single_flight=True": shared,
        "single_flight=False": each,
        "single_flight + stale_if_error 30 s": stale,
    }
    REPORTS.append(table(title, runs))
    why = "\n" + table(title, runs)
    for run in (shared, each, stale):
        assert run.errors == 0, "user-facing errors" + why + "\n" + "\n".join(run.error_examples)
        assert run.wrong == 0, why
        assert run.root_opened, "the outage must open the wrapper's breaker" + why
    # At most one origin call per key in flight at a time: a miss of a key being loaded joins.
    assert shared.overlapping_loads == 0, why
    assert shared.origin["in_flight"] == 0, why
    assert shared.origin["origin_calls"] == shared.loads, why
    assert stale.overlapping_loads == 0, why
    # Every key was served before the outage: remembered values answer while it lasts.
    assert stale.origin["stale_served"] > 0, why
