"""What a run adds up to, and how it is printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Summary:
    queries: int = 0
    answered: int = 0
    correct: int = 0
    stale_answers: int = 0  # an answer equal to a figure SQLite had already replaced
    truth_changes: int = 0  # figures changed in SQLite during the outage
    user_errors: int = 0
    cache_hits: int = 0
    time_open: float = 0.0
    refused: int = 0
    recovery_time: Optional[float] = None
    transitions: list[tuple[float, str, str, str]] = field(default_factory=list)
    wall_time: float = 0.0
    peak_health: str = "ok"  # the worst health-report status seen while running
    shard_transitions: list[tuple[float, str, str, str]] = field(default_factory=list)
    shard_fault_opened: list[str] = field(default_factory=list)  # shard breakers opened by then
    circuit_opened_in_shard_fault: bool = False
    origin_calls: int = 0  # model + database calls made for misses
    origin_joined: int = 0  # misses that waited for another's origin call (single-flight)

    @property
    def ok(self) -> bool:
        return self.user_errors == 0 and self.correct == self.queries and self.stale_answers == 0

    @property
    def shard_isolated(self) -> bool:
        """The shard fault opened that shard's breaker alone, and not the whole cache's."""
        return len(self.shard_fault_opened) == 1 and not self.circuit_opened_in_shard_fault

    @property
    def full_cycle(self) -> bool:
        seen = [(f, t) for _, f, t, _ in self.transitions]
        return all(
            step in seen
            for step in [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
        )


def format_summary(s: Summary) -> str:
    rows = [
        ("queries answered", f"{s.answered} / {s.queries}"),
        ("answers correct (vs SQLite)", f"{s.correct} / {s.queries}"),
        ("figures changed during the outage", f"{s.truth_changes}"),
        ("stale answers (replaced figure served)", f"{s.stale_answers}"),
        ("user-facing errors", f"{s.user_errors}"),
        ("cache hit rate", f"{100.0 * s.cache_hits / max(s.queries, 1):.1f}%"),
        (
            "breakers opened by the shard fault",
            ", ".join(s.shard_fault_opened or ["none"])
            + (
                " and the whole cache"
                if s.circuit_opened_in_shard_fault
                else " (whole cache closed)"
            ),
        ),
        ("origin calls (model + SQLite)", f"{s.origin_calls}"),
        (
            "  same misses without single-flight",
            f"{s.origin_calls + s.origin_joined} ({s.origin_joined} waited for another's call)",
        ),
        ("time open", f"{s.time_open:.2f}s"),
        ("calls refused while open (fail-fast)", f"{s.refused}"),
        (
            "recovery after faults end",
            "not recovered" if s.recovery_time is None else f"{s.recovery_time:.2f}s",
        ),
        ("state transitions", f"{len(s.transitions)}"),
        ("peak health status", s.peak_health),
        ("wall time", f"{s.wall_time:.1f}s"),
    ]
    w = max(len(k) for k, _ in rows)
    lines = ["summary:"] + [f"  {k:<{w}}  {v}" for k, v in rows]
    lines.append(
        "  result: "
        + (
            "OK: every query answered correctly, nothing stale, no user saw an error"
            if s.ok
            else "FAILED"
        )
    )
    return "\n".join(lines)
