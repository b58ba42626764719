"""Type stubs for the native module `fact_resilience._native` (pyo3 over fact-resilience-core).

Hand-written; `make lint-python` checks them against the built module with `mypy.stubtest`.
"""

from collections.abc import Callable, Iterable
from typing import Any, Final, Optional, TypeVar, Union, final

from typing_extensions import Self, TypeAlias, disjoint_base

from ._state import CircuitState

__all__ = [
    "__version__",
    "CIRCUIT_BREAKER_OPEN",
    "CIRCUIT_BREAKER_THROTTLING",
    "_END_AFTER_FAILURE",
    "_END_RAISE",
    "MAX_SCENARIO_CALLS",
    "MIN_HEALTH_CHECK_INTERVAL",
    "CircuitBreakerConfig",
    "ManualClock",
    "FailureRecord",
    "CircuitBreakerMetrics",
    "Permit",
    "CacheCircuitBreaker",
    "HealthThresholds",
    "METRIC_FAMILIES",
    "DEFAULT_NAMESPACE",
    "HEALTH_STATUS_LEVELS",
    "READINESS_POLICIES",
    "HEALTH_RULES",
    "check_namespace",
    "ResilientCacheWrapper",
    "set_error_class",
    "get_error_class",
    "_panic_for_tests",
    "presets",
    "simulate_scenario",
    "simulate_trace",
]

__version__: Final[str]
CIRCUIT_BREAKER_OPEN: Final[str]
CIRCUIT_BREAKER_THROTTLING: Final[str]
_END_AFTER_FAILURE: Final[int]
_END_RAISE: Final[int]
MAX_SCENARIO_CALLS: Final[int]
"""The most calls `simulate_scenario` generates (rate x duration)."""
MIN_HEALTH_CHECK_INTERVAL: Final[float]
"""The shortest `health_check_interval`, in seconds."""

_T = TypeVar("_T")
_L = TypeVar("_L", bound=Callable[[CircuitState, CircuitState, str], object])
_ExcTypes: TypeAlias = Union[type[BaseException], Iterable[type[BaseException]]]
_Listeners: TypeAlias = Union[
    Callable[[CircuitState, CircuitState, str], object],
    Iterable[Callable[[CircuitState, CircuitState, str], object]],
]

def set_error_class(cls: Optional[type[BaseException]]) -> None:
    """Registers the exception class raised for refused calls (None: the package's own)."""

def get_error_class() -> type[BaseException]:
    """The exception class raised for refused calls by breakers without their own."""

def _panic_for_tests() -> None: ...
def presets() -> dict[str, CircuitBreakerConfig]:
    """FACT's named presets (`development`, `production`, `high_traffic`), as new configs."""

def simulate_scenario(
    config: CircuitBreakerConfig,
    scenario: str,
    rate: float,
    duration: float,
    seed: int,
    sample_every: float,
) -> dict[str, Any]:
    """Replays a built-in scenario on virtual time; returns the report as a JSON-safe dict."""

def simulate_trace(
    configs: list[CircuitBreakerConfig],
    calls: Iterable[tuple[float, bool, float]],
    sample_every: float,
) -> list[dict[str, Any]]:
    """Replays a recorded trace of (arrival seconds, success, latency ms), pulled one call at a
    time, through every config in one pass on virtual time; one report per config."""

@final
class CircuitBreakerConfig:
    """Circuit-breaker configuration; validated on construction and on every assignment."""

    def __new__(
        cls,
        failure_threshold: int = 5,
        success_threshold: int = 3,
        timeout_seconds: float = 60.0,
        rolling_window_seconds: float = 300.0,
        gradual_recovery: bool = True,
        recovery_factor: float = 0.5,
        health_check_interval: float = 30.0,
        max_recent_failures: int = 50,
        recovery_timeout: Optional[float] = None,
        half_open_max_calls: int = 3,
        *,
        max_message_bytes: int = 256,
        window_buckets: int = 60,
        half_open_max_in_flight: Optional[int] = None,
        probe_lease_seconds: Optional[float] = None,
    ) -> Self: ...
    failure_threshold: int
    success_threshold: int
    timeout_seconds: float
    rolling_window_seconds: float
    gradual_recovery: bool
    recovery_factor: float
    health_check_interval: float
    max_recent_failures: int
    recovery_timeout: float
    half_open_max_calls: int
    max_message_bytes: int
    window_buckets: int
    half_open_max_in_flight: Optional[int]
    probe_lease_seconds: Optional[float]
    def to_dict(self) -> dict[str, Any]: ...
    def copy(self) -> CircuitBreakerConfig: ...
    def __copy__(self) -> CircuitBreakerConfig: ...
    def __deepcopy__(self, memo: Any, /) -> CircuitBreakerConfig: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]

@final
class ManualClock:
    """A clock that moves only when told to; also a callable returning its time in seconds."""

    def __new__(cls, start: float = 0.0) -> Self: ...
    def advance(self, seconds: float) -> None: ...
    def advance_ns(self, nanoseconds: int) -> None: ...
    def set(self, seconds: float) -> None: ...
    def now(self) -> float: ...
    def now_ns(self) -> int: ...
    def __call__(self) -> float: ...

@final
class FailureRecord:
    """One remembered failure."""

    def __new__(
        cls, timestamp: float, error_type: str, error_message: str, operation: str
    ) -> Self: ...
    @property
    def timestamp(self) -> float: ...
    @property
    def error_type(self) -> str: ...
    @property
    def error_message(self) -> str: ...
    @property
    def operation(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]

@final
class CircuitBreakerMetrics:
    """A point-in-time snapshot of a breaker."""

    @property
    def state(self) -> CircuitState: ...
    @property
    def failure_count(self) -> int: ...
    @property
    def success_count(self) -> int: ...
    @property
    def total_operations(self) -> int: ...
    @property
    def failure_rate(self) -> float: ...
    @property
    def window_calls(self) -> int: ...
    @property
    def state_changes(self) -> int: ...
    @property
    def time_in_current_state(self) -> float: ...
    @property
    def recent_failures(self) -> list[FailureRecord]: ...
    @property
    def recent_failures_count(self) -> int: ...
    @property
    def last_failure_time(self) -> Optional[float]: ...
    @property
    def consecutive_failures(self) -> int: ...
    @property
    def rejected_count(self) -> int: ...
    @property
    def throttled_count(self) -> int: ...
    @property
    def neutral_count(self) -> int: ...
    @property
    def half_open_admitted(self) -> int: ...
    @property
    def half_open_successes(self) -> int: ...
    @property
    def half_open_in_flight(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Permit:
    """Leave to run one call; report its outcome exactly once."""

    @property
    def probe(self) -> bool: ...
    @property
    def generation(self) -> int: ...
    @property
    def operation(self) -> str: ...
    @property
    def reported(self) -> bool: ...

METRIC_FAMILIES: Final[list[tuple[str, str, list[str], str]]]
"""The exported metric families, declared in the core: ``(name, kind, labels, help)``."""
DEFAULT_NAMESPACE: Final[str]
HEALTH_STATUS_LEVELS: Final[dict[str, int]]
"""``{"ok": 0, "warning": 1, "critical": 2}``: the health-status gauge's values."""
READINESS_POLICIES: Final[list[str]]
HEALTH_RULES: Final[list[tuple[str, str]]]
"""Every health rule as ``(rule, severity)``, in report order."""

def check_namespace(namespace: str) -> None:
    """Raises ``ValueError`` unless Prometheus accepts ``namespace`` as a metric-name prefix."""

@final
class HealthThresholds:
    """The health report's thresholds; every argument left out takes the seed's default
    (critical: OPEN > 300 s, > 10 state changes in the last hour, failure rate > 0.5; warning:
    failure rate > 0.1, > 5 recovery attempts since the last close, HALF_OPEN > 60 s). Each must
    be a finite number >= 0 (failure rates at most 1): otherwise ``ValueError`` naming it."""

    def __new__(
        cls,
        *,
        critical_open_seconds: Optional[float] = None,
        critical_state_changes_per_hour: Optional[float] = None,
        critical_failure_rate: Optional[float] = None,
        warning_failure_rate: Optional[float] = None,
        warning_recovery_attempts: Optional[float] = None,
        warning_half_open_seconds: Optional[float] = None,
    ) -> Self: ...
    @property
    def critical_open_seconds(self) -> float: ...
    @property
    def critical_state_changes_per_hour(self) -> float: ...
    @property
    def critical_failure_rate(self) -> float: ...
    @property
    def warning_failure_rate(self) -> float: ...
    @property
    def warning_recovery_attempts(self) -> float: ...
    @property
    def warning_half_open_seconds(self) -> float: ...
    def to_dict(self) -> dict[str, float]: ...
    def __eq__(self, value: object, /) -> bool: ...

@disjoint_base
class CacheCircuitBreaker:
    """The native half of `fact_resilience.CacheCircuitBreaker` (sync members)."""

    def __new__(
        cls,
        config: Optional[CircuitBreakerConfig] = None,
        *,
        clock: Union[ManualClock, Callable[[], float], None] = None,
        wall_clock: Optional[Callable[[], float]] = None,
        error_class: Optional[type[BaseException]] = None,
        neutral_exceptions: Optional[_ExcTypes] = None,
        on_state_change: Optional[_Listeners] = None,
    ) -> Self: ...
    config: CircuitBreakerConfig
    @property
    def error_class(self) -> Optional[type[BaseException]]: ...
    @property
    def neutral_exceptions(self) -> tuple[type[BaseException], ...]: ...
    @property
    def state(self) -> CircuitState: ...
    @property
    def state_change_listeners(
        self,
    ) -> list[Callable[[CircuitState, CircuitState, str], object]]: ...
    def get_state(self) -> CircuitState: ...
    def is_open(self) -> bool: ...
    def is_closed(self) -> bool: ...
    def is_half_open(self) -> bool: ...
    def is_call_permitted(self) -> bool: ...
    def poll(self) -> CircuitState: ...
    def next_deadline_in(self) -> Optional[float]: ...
    def force_open(self) -> None: ...
    def force_closed(self) -> None: ...
    def reset(self) -> None: ...
    def get_metrics(self) -> CircuitBreakerMetrics: ...
    health_thresholds: HealthThresholds
    def health_report(self, thresholds: Optional[HealthThresholds] = None) -> dict[str, Any]:
        """``{"status": "ok"|"warning"|"critical", "alerts": [{"rule", "severity", "value",
        "threshold"}], "figures": {"state", "time_in_state_seconds", "failure_rate",
        "window_calls", "state_changes_last_hour", "recovery_attempts"}}`` (no side effects)."""
    def readiness(self, unready_when: str = "open") -> tuple[bool, dict[str, Any]]:
        """``(ready, report)``: unready while OPEN (``"open"``), while critical
        (``"critical"``) or while warning or critical (``"warning"``)."""
    def transition_counts(self) -> list[tuple[str, str, str, int]]:
        """``[(from, to, reason, count)]`` since creation or reset, zeros included."""
    def on_state_change(self, listener: _L) -> _L: ...
    def remove_state_change_listener(
        self, listener: Callable[[CircuitState, CircuitState, str], object]
    ) -> bool: ...
    def execute_sync(
        self, operation: Callable[..., _T], operation_name: str, *args: Any, **kwargs: Any
    ) -> _T: ...
    def call_with_fallback(
        self,
        fallback: Any,
        operation: Callable[..., Any],
        operation_name: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any: ...
    def acquire(self, operation: Optional[str] = None) -> Permit: ...
    def record_success(self, permit: Permit) -> None: ...
    def record_failure(
        self, permit: Permit, exc: BaseException, operation: Optional[str] = None
    ) -> None: ...
    def record_neutral(self, permit: Permit) -> None: ...
    def record_exception(self, permit: Permit, exc: BaseException) -> bool: ...
    def _acquire(self, operation_name: str) -> int: ...
    def _acquire_or(self, operation_name: str, default: _T) -> Union[int, _T]: ...
    def _admit(self, operation: Callable[..., Any], operation_name: str) -> int: ...
    def _admit_or(
        self, operation: Callable[..., Any], operation_name: str, default: _T
    ) -> Union[int, _T]: ...
    def _succeed(self, bits: int) -> None: ...
    def _fail(self, bits: int, exc: BaseException, operation_name: str) -> bool: ...
    def _neutral(self, bits: int) -> None: ...
    def _health_check_interval(self) -> float: ...

@disjoint_base
class ResilientCacheWrapper:
    """The native half of `fact_resilience.ResilientCacheWrapper` (sync members)."""

    def __new__(
        cls,
        cache_manager: Any,
        circuit_breaker: Optional[CacheCircuitBreaker] = None,
        enable_graceful_degradation: bool = True,
        fallback_responses: Optional[dict[str, Any]] = None,
        *,
        max_pending_invalidations: Optional[int] = 1024,
        stale_keys: str = "auto",
    ) -> Self: ...
    cache_manager: Any
    circuit_breaker: CacheCircuitBreaker
    enable_graceful_degradation: bool
    fallback_responses: dict[str, Any]
    @property
    def max_pending_invalidations(self) -> Optional[int]:
        """The most keys remembered for invalidation before a prefix flush, or None (off)."""
    @property
    def stale_keys(self) -> str:
        """The stale-key policy in force: ``"per_key"``, ``"prefix"`` or ``"off"``."""
    @property
    def pending_invalidations(self) -> int:
        """Keys awaiting invalidation (not counting a batch being flushed right now)."""
    @property
    def pending_overflowed(self) -> bool:
        """Whether the next flush invalidates the whole prefix."""
    def clear_pending_invalidations(self) -> None:
        """Forgets every pending invalidation (for a host that flushed the cache itself)."""
    def generate_hash(self, query: str) -> str: ...
    def get_metrics(self) -> dict[str, Any]: ...
    def _begin(
        self, op: str, key: Any
    ) -> tuple[int, Any, Optional[list[tuple[Callable[[Any], Any], Any]]]]: ...
    def _flushed(self, ticket: int) -> None: ...
    def _end_ok(self, ticket: int, result: Any) -> Any: ...
    def _end_error(self, ticket: int, op: str, exc: BaseException) -> tuple[int, Any]: ...
