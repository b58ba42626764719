"""CircuitBreakerConfig: defaults, positional order, aliases, live reads, and bad input."""

from __future__ import annotations

import copy
import inspect
from typing import Any

import pytest

from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig, ManualClock, _native

DEFAULTS = {
    "failure_threshold": 5,
    "success_threshold": 3,
    "timeout_seconds": 60.0,
    "rolling_window_seconds": 300.0,
    "gradual_recovery": True,
    "recovery_factor": 0.5,
    "health_check_interval": 30.0,
    "max_recent_failures": 50,
    "half_open_max_calls": 3,
    "max_message_bytes": 256,
    "window_buckets": 60,
    "half_open_max_in_flight": None,
    "probe_lease_seconds": None,
}
# Every core field: its default as the core declares it (`core/src/config/fields.rs`). Fields
# beyond FACT's and the ones above are opt-in policies, checked by the vectors.
DECLARED = {f["name"]: f["default"] for f in _native._config_fields() if f["core"]}

INT_FIELDS = [
    "failure_threshold",
    "success_threshold",
    "max_recent_failures",
    "half_open_max_calls",
    "max_message_bytes",
    "window_buckets",
    "half_open_max_in_flight",
]
FLOAT_FIELDS = [
    "timeout_seconds",
    "rolling_window_seconds",
    "recovery_factor",
    "health_check_interval",
    "recovery_timeout",
    "probe_lease_seconds",
]
OPTIONAL = {"half_open_max_in_flight", "probe_lease_seconds"}

# field -> values refused with ValueError
BAD_VALUES: dict[str, list[Any]] = {
    "failure_threshold": [0, -1, 2**32, 2**70],
    "success_threshold": [0, -3],
    "max_recent_failures": [0],
    "half_open_max_calls": [0],
    "max_message_bytes": [0],
    "window_buckets": [0, 4097],
    "half_open_max_in_flight": [0],
    "timeout_seconds": [0, -1.0, float("nan"), float("inf"), 1e300],
    "recovery_timeout": [0.0, -5],
    "rolling_window_seconds": [0.0, float("-inf")],
    "recovery_factor": [0, 0.0, -0.1, 1.0001, 2, float("nan")],
    "health_check_interval": [0, -1.0, float("nan")],
    "probe_lease_seconds": [0, -1.0, float("inf")],
}


def test_defaults_are_facts() -> None:
    cfg = CircuitBreakerConfig()
    for name, value in DEFAULTS.items():
        assert getattr(cfg, name) == value, name
    assert cfg.recovery_timeout == 60.0
    assert cfg.to_dict() == {**DECLARED, **DEFAULTS}
    assert all(DECLARED[k] == v for k, v in DEFAULTS.items() if k in DECLARED)


def test_positional_order_is_the_contract_table() -> None:
    cfg = CircuitBreakerConfig(2, 4, 10.0, 20.0, False, 0.25, 1.0, 7)
    assert (cfg.failure_threshold, cfg.success_threshold) == (2, 4)
    assert (cfg.timeout_seconds, cfg.rolling_window_seconds) == (10.0, 20.0)
    assert (cfg.gradual_recovery, cfg.recovery_factor) == (False, 0.25)
    assert (cfg.health_check_interval, cfg.max_recent_failures) == (1.0, 7)
    params = list(inspect.signature(CircuitBreakerConfig).parameters)
    assert params[:10] == [
        "failure_threshold",
        "success_threshold",
        "timeout_seconds",
        "rolling_window_seconds",
        "gradual_recovery",
        "recovery_factor",
        "health_check_interval",
        "max_recent_failures",
        "recovery_timeout",
        "half_open_max_calls",
    ]
    with pytest.raises(TypeError, match="keyword"):
        CircuitBreakerConfig(timeout_seconds=1, bogus=3)
    with pytest.raises(TypeError, match="multiple values"):
        CircuitBreakerConfig(5, failure_threshold=5)
    with pytest.raises(TypeError, match="positional"):
        CircuitBreakerConfig(*range(1, 12))


def test_recovery_timeout_is_an_alias_of_timeout_seconds() -> None:
    cfg = CircuitBreakerConfig(recovery_timeout=12)
    assert cfg.timeout_seconds == 12.0
    assert CircuitBreakerConfig(timeout_seconds=5, recovery_timeout=7).timeout_seconds == 7.0
    cfg.recovery_timeout = 3
    assert cfg.timeout_seconds == 3.0
    cfg.half_open_max_calls = 9  # accepted, no effect
    assert cfg.half_open_max_calls == 9


def test_ints_are_accepted_for_float_fields() -> None:
    cfg = CircuitBreakerConfig(timeout_seconds=2, recovery_factor=1)
    assert isinstance(cfg.timeout_seconds, float) and cfg.timeout_seconds == 2.0
    assert cfg.recovery_factor == 1.0


@pytest.mark.parametrize("field", INT_FIELDS)
@pytest.mark.parametrize("value", [True, 3.0, "3", [3]])
def test_int_fields_refuse_other_types_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(TypeError, match=field):
        CircuitBreakerConfig(**{field: value})
    cfg = CircuitBreakerConfig()
    with pytest.raises(TypeError, match=field):
        setattr(cfg, field, value)


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [True, "1.0", None, [1.0]])
def test_float_fields_refuse_other_types_naming_the_field(field: str, value: Any) -> None:
    if value is None and (field in OPTIONAL or field == "recovery_timeout"):
        pytest.skip("None is valid here")
    with pytest.raises(TypeError, match=field):
        CircuitBreakerConfig(**{field: value})
    cfg = CircuitBreakerConfig()
    with pytest.raises(TypeError, match=field):
        setattr(cfg, field, value)


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_gradual_recovery_must_be_a_bool(value: Any) -> None:
    with pytest.raises(TypeError, match="gradual_recovery"):
        CircuitBreakerConfig(gradual_recovery=value)


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f, vs in BAD_VALUES.items() for v in vs], ids=repr
)
def test_bad_values_raise_value_error_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        CircuitBreakerConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f, vs in BAD_VALUES.items() for v in vs], ids=repr
)
def test_bad_assignment_is_refused_and_changes_nothing(field: str, value: Any) -> None:
    cfg = CircuitBreakerConfig()
    before = cfg.to_dict()
    with pytest.raises(ValueError, match=field):
        setattr(cfg, field, value)
    assert cfg.to_dict() == before


def test_optional_fields_accept_none() -> None:
    cfg = CircuitBreakerConfig(half_open_max_in_flight=2, probe_lease_seconds=1.5)
    assert (cfg.half_open_max_in_flight, cfg.probe_lease_seconds) == (2, 1.5)
    cfg.half_open_max_in_flight = None
    cfg.probe_lease_seconds = None
    assert (cfg.half_open_max_in_flight, cfg.probe_lease_seconds) == (None, None)


def test_fields_cannot_be_deleted_or_invented() -> None:
    cfg = CircuitBreakerConfig()
    with pytest.raises(AttributeError):
        del cfg.failure_threshold
    with pytest.raises(AttributeError):
        cfg.not_a_field = 1  # type: ignore[attr-defined]


def test_equality_copy_and_repr() -> None:
    a = CircuitBreakerConfig(failure_threshold=2)
    b = copy.copy(a)
    assert a == b and a is not b and a == copy.deepcopy(a) and a == a.copy()
    b.failure_threshold = 3
    assert a != b and a.failure_threshold == 2
    assert a != "config"
    assert "failure_threshold=2" in repr(a)
    with pytest.raises(TypeError):
        hash(a)


def test_assignments_are_read_live_by_the_breaker(clock: ManualClock) -> None:
    cfg = CircuitBreakerConfig(failure_threshold=2, timeout_seconds=60.0)
    breaker = CacheCircuitBreaker(cfg, clock=clock)
    assert breaker.config is cfg
    cfg.failure_threshold = 1

    def boom() -> None:
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        breaker.execute_sync(boom, "get")
    assert breaker.is_open(), "the lowered threshold applies to the next failure"
    clock.advance(1.0)
    assert not breaker.is_call_permitted()
    breaker.config.timeout_seconds = 0.5
    assert breaker.is_call_permitted() and breaker.is_half_open()


def test_replacing_the_config_object_applies_on_the_next_call(clock: ManualClock) -> None:
    breaker = CacheCircuitBreaker(clock=clock)
    old = breaker.config
    new = CircuitBreakerConfig(failure_threshold=1)
    breaker.config = new
    assert breaker.config is new
    old.failure_threshold = 100  # the old object no longer matters
    with pytest.raises(RuntimeError):
        breaker.execute_sync(lambda: (_ for _ in ()).throw(RuntimeError("x")), "get")
    assert breaker.is_open()
    with pytest.raises(TypeError, match="config"):
        breaker.config = {"failure_threshold": 1}  # type: ignore[assignment]
    with pytest.raises(TypeError, match="config"):
        CacheCircuitBreaker({"failure_threshold": 1})  # type: ignore[arg-type]


def test_one_config_shared_by_two_breakers(clock: ManualClock) -> None:
    cfg = CircuitBreakerConfig(failure_threshold=3)
    a = CacheCircuitBreaker(cfg, clock=clock)
    b = CacheCircuitBreaker(cfg, clock=clock)
    cfg.failure_threshold = 1
    for breaker in (a, b):
        with pytest.raises(KeyError):
            breaker.execute_sync({}.__getitem__, "get", "missing")
        assert breaker.is_open()
