"""The fault schedule: which way the cache misbehaves, and when."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """From `start` to `end` seconds into the run, the cache behaves as `mode`."""

    name: str
    start: float
    end: float
    mode: str  # healthy | shard (one shard of keys fails) | errors | outage | slow


def schedule(total: float) -> list[Phase]:
    """The default script, scaled to `total` seconds."""
    cut = [0.0, 0.1, 0.2, 0.33, 0.53, 0.66, 1.0]
    names = [
        ("warm-up", "healthy"),
        ("shard down", "shard"),
        ("errors", "errors"),
        ("outage", "outage"),
        ("slowness", "slow"),
        ("recovery", "healthy"),
    ]
    return [Phase(n, cut[i] * total, cut[i + 1] * total, m) for i, (n, m) in enumerate(names)]
