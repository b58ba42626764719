"""The health monitor: one periodic task on the running loop that applies a due OPEN ->
HALF_OPEN move (the core's `poll`). It never admits calls and holds no event loop between
calls, so a breaker used from fresh loops in several threads keeps working."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Optional

_log = logging.getLogger("fact_resilience")


class HealthMonitor:
    """Mixin for `CacheCircuitBreaker`: ``start_health_monitoring`` /
    ``stop_health_monitoring``. Needs the native ``poll()`` and ``_health_check_interval()``."""

    _monitor_task: Optional[asyncio.Task[None]] = None

    if TYPE_CHECKING:  # provided by the native breaker

        def poll(self) -> Any: ...
        def _health_check_interval(self) -> float: ...

    async def start_health_monitoring(self) -> None:
        """Starts one periodic task on the running loop that applies a due OPEN -> HALF_OPEN
        move every ``config.health_check_interval`` seconds (read live). Idempotent."""
        task = self._monitor_task
        if task is not None and not task.done() and not task.get_loop().is_closed():
            return
        loop = asyncio.get_running_loop()
        self._monitor_task = loop.create_task(self._monitor(), name="fact_resilience-monitor")

    async def stop_health_monitoring(self) -> None:
        """Cancels the monitor task and waits for it. Idempotent."""
        task, self._monitor_task = self._monitor_task, None
        if task is None or task.done():
            return
        task.cancel()
        loop = task.get_loop()
        if loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - always called from a coroutine
            return
        if loop is running:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def is_monitoring(self) -> bool:
        """Whether the health-monitor task is running."""
        task = self._monitor_task
        return task is not None and not task.done()

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(self._health_check_interval())
            try:
                self.poll()
            except Exception:  # a failing clock callable must not kill the monitor
                _log.exception("health monitor tick failed")
