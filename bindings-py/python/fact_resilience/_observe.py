"""What the exporters read from one breaker or wrapper: one snapshot per collection, taken
through the native getters (each under the breaker's lock for nanoseconds, never across user
code). The families, names and levels are the core's (``_native.METRIC_FAMILIES``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from ._breaker import CacheCircuitBreaker
from ._native import HEALTH_RULES, HEALTH_STATUS_LEVELS
from ._wrapper import ResilientCacheWrapper

Observable = Union[CacheCircuitBreaker, ResilientCacheWrapper]
STATES = ("closed", "open", "half_open")


@dataclass(frozen=True)
class Observation:
    """One breaker's figures at one instant, as the families need them."""

    state: str
    calls: dict[str, int]
    transitions: list[tuple[str, str, str, int]]
    failure_rate: float
    time_in_state_seconds: float
    health_status: int
    alerts: dict[tuple[str, str], int]


def breaker_of(target: Observable) -> CacheCircuitBreaker:
    if isinstance(target, ResilientCacheWrapper):
        return target.breaker
    if isinstance(target, CacheCircuitBreaker):
        return target
    raise TypeError(
        f"a breaker must be a CacheCircuitBreaker or ResilientCacheWrapper, "
        f"got {type(target).__name__}"
    )


def shed_of(target: Observable) -> int:
    """The wrapper's shed calls (0 for a bare breaker). ``get_metrics()`` also reads the cache
    manager's own metrics; it never raises."""
    if isinstance(target, ResilientCacheWrapper):
        guard: dict[str, Any] = target.get_metrics().get("guard", {})
        return int(guard.get("shed", 0))
    return 0


def observe(target: Observable) -> Observation:
    breaker = breaker_of(target)
    m = breaker.get_metrics()
    report = breaker.health_report()
    firing = {(a["rule"], a["severity"]) for a in report["alerts"]}
    return Observation(
        state=m.state.value,
        calls={
            "success": m.success_count,
            "failure": m.failure_count,
            "rejected": m.rejected_count,
            "throttled": m.throttled_count,
            "neutral": m.neutral_count,
            "shed": shed_of(target),
        },
        transitions=breaker.transition_counts(),
        failure_rate=m.failure_rate,
        time_in_state_seconds=m.time_in_current_state,
        health_status=HEALTH_STATUS_LEVELS[report["status"]],
        alerts={(r, s): int((r, s) in firing) for r, s in HEALTH_RULES},
    )
