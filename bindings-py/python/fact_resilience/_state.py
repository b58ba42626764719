"""`CircuitState`: the circuit's state, a real `enum.Enum` with FACT's string values."""

from __future__ import annotations

import enum

__all__ = ["CircuitState"]


class CircuitState(enum.Enum):
    """Where the circuit is. Members compare, hash and have `.value` / `.name` as FACT expects."""

    CLOSED = "closed"
    """Calls flow; consecutive failures are counted."""
    OPEN = "open"
    """Calls fail fast until `timeout_seconds` has passed since the circuit opened."""
    HALF_OPEN = "half_open"
    """Some calls probe the cache; `success_threshold` successes close it, a failure re-opens it."""
