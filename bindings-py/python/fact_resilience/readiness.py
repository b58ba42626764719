"""Readiness probes from the health report, framework-free: :func:`readiness` answers an HTTP
status and a JSON-safe body for one breaker or many, by a policy the caller picks (the core
decides, for each breaker, whether it is ready under that policy).

Example (an ASGI app's ``/ready`` route; see the package README for the whole app)::

    from fact_resilience import CacheCircuitBreaker
    from fact_resilience.readiness import readiness

    status, body = readiness(CacheCircuitBreaker(), unready_when="open")
    assert status == 200 and body["ready"] is True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from ._observe import Observable, breaker_of

__all__ = ["readiness"]


def readiness(
    target: Union[Observable, Mapping[str, Observable]], *, unready_when: str = "open"
) -> tuple[int, dict[str, Any]]:
    """``(200 or 503, body)``. ``unready_when`` is ``"open"`` (unready while the circuit is
    OPEN), ``"critical"`` (while the health status is critical) or ``"warning"`` (warning or
    critical); anything else is a ``ValueError`` naming ``unready_when``.

    One breaker (or wrapper): ``{"ready", "unready_when", "status", "alerts", "figures"}``.
    A mapping of names to breakers: ready only if every one is, ``{"ready", "unready_when",
    "breakers": {name: {"ready", "status", "alerts", "figures"}}}``.
    """
    if isinstance(target, Mapping):
        reports: dict[str, dict[str, Any]] = {}
        for name, b in target.items():
            ok, report = breaker_of(b).readiness(unready_when)
            reports[name] = {"ready": ok, **report}
        ready = all(r["ready"] for r in reports.values())
        body: dict[str, Any] = {"ready": ready, "unready_when": unready_when, "breakers": reports}
    else:
        ready, report = breaker_of(target).readiness(unready_when)
        body = {"ready": ready, "unready_when": unready_when, **report}
    return (200 if ready else 503), body
