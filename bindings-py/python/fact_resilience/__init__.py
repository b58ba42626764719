"""fact-resilience: a Rust circuit breaker for cache resilience, FACT-compatible.

A drop-in for FACT's ``src/cache/resilience.py``: ``CircuitBreakerConfig``, ``CircuitState``,
``FailureRecord``, ``CircuitBreakerMetrics``, ``CacheCircuitBreaker`` and
``ResilientCacheWrapper``, with the same names, defaults, error codes and behaviour. The state
machine runs in Rust (``fact_resilience._native``); the ``async`` methods are a thin Python
layer.

Example::

    import asyncio
    from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig, CircuitState

    breaker = CacheCircuitBreaker(CircuitBreakerConfig(failure_threshold=3))

    async def fetch(key: str) -> str:
        return f"value for {key}"

    assert asyncio.run(breaker.execute(fetch, "get", "k")) == "value for k"
    assert breaker.get_state() is CircuitState.CLOSED
"""

from __future__ import annotations

from ._breaker import CacheCircuitBreaker
from ._errors import CacheError, CacheShedError
from ._guard import CallGuard
from ._native import (
    CIRCUIT_BREAKER_OPEN,
    CIRCUIT_BREAKER_THROTTLING,
    ORIGIN_BUSY,
    BreakerRegistry,
    CircuitBreakerConfig,
    CircuitBreakerMetrics,
    FailureRecord,
    HealthThresholds,
    ManualClock,
    OriginGuard,
    PathPermit,
    Permit,
    __version__,
    get_error_class,
    set_error_class,
)
from ._state import CircuitState
from ._wrapper import ResilientCacheWrapper

__all__ = [
    "CIRCUIT_BREAKER_OPEN",
    "CIRCUIT_BREAKER_THROTTLING",
    "ORIGIN_BUSY",
    "BreakerRegistry",
    "CacheCircuitBreaker",
    "CacheError",
    "CacheShedError",
    "CallGuard",
    "CircuitBreakerConfig",
    "CircuitBreakerMetrics",
    "CircuitState",
    "FailureRecord",
    "HealthThresholds",
    "ManualClock",
    "OriginGuard",
    "PathPermit",
    "Permit",
    "ResilientCacheWrapper",
    "__version__",
    "get_error_class",
    "set_error_class",
]
