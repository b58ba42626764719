"""A real Prometheus server (Debian's `prometheus`, installed by `make`) scrapes a test
service's `/metrics` every second on 127.0.0.1 while a breaker goes through an outage; its HTTP
API must then answer the OPEN state and the rejected-call counter."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from prometheus_client import CollectorRegistry, start_http_server

from fact_resilience import CacheCircuitBreaker, CircuitBreakerConfig, ManualClock
from fact_resilience.prometheus import BreakerCollector

PROMETHEUS = shutil.which("prometheus")
DEADLINE = 60.0  # seconds for Prometheus to start and scrape, on a loaded 2-core machine

if PROMETHEUS is None and not os.environ.get("CI"):
    pytest.skip("prometheus is not installed (make test installs it)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for(port: int, promql: str, want: float, proc: subprocess.Popen[bytes]) -> float:
    """Polls (at most DEADLINE seconds, every 0.25 s) until `promql` has a sample >= `want`."""
    last: Optional[object] = None
    deadline = time.monotonic() + DEADLINE
    for _ in range(int(DEADLINE / 0.25) + 1):
        assert proc.poll() is None, "prometheus exited"
        try:
            result = query(port, promql)
            last = result
            if result and float(result[0]["value"][1]) >= want:
                return float(result[0]["value"][1])
        except OSError as e:  # not listening yet
            last = e
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    raise AssertionError(f"{promql} never reached {want} within {DEADLINE} s; last: {last}")


@pytest.fixture
def service() -> Iterator[tuple[int, CacheCircuitBreaker]]:
    clock = ManualClock()
    breaker = CacheCircuitBreaker(
        CircuitBreakerConfig(failure_threshold=3, timeout_seconds=30.0), clock=clock
    )
    registry = CollectorRegistry()
    BreakerCollector({"cache": breaker}, registry=registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield server.server_port, breaker
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def prometheus(
    tmp_path: Path, service: tuple[int, CacheCircuitBreaker]
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    assert PROMETHEUS is not None, "prometheus is not installed (make test installs it)"
    target, _ = service
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: breaker\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_prometheus_scrapes_the_open_state_and_the_rejected_calls(
    service: tuple[int, CacheCircuitBreaker], prometheus: tuple[int, subprocess.Popen[bytes]]
) -> None:
    _, breaker = service
    port, proc = prometheus
    # Healthy first: the closed state is scraped before the outage begins.
    wait_for(port, 'fact_resilience_state{breaker="cache",state="closed"}', 1, proc)
    # The outage: three failures open the circuit; the next 7 calls are rejected.
    for _ in range(3):
        breaker.record_failure(breaker.acquire("get"), ConnectionError("cache down"), "get")
    for _ in range(7):
        with pytest.raises(Exception, match="CIRCUIT_BREAKER_OPEN"):
            breaker.acquire("get")
    wait_for(port, 'fact_resilience_state{breaker="cache",state="open"}', 1, proc)
    rejected = 'fact_resilience_calls_total{breaker="cache",outcome="rejected"}'
    assert wait_for(port, rejected, 7, proc) == 7
    trips = 'fact_resilience_transitions_total{breaker="cache",reason="failure_threshold"}'
    assert wait_for(port, trips, 1, proc) == 1
    assert query(port, 'fact_resilience_health_status{breaker="cache"}')[0]["value"][1] == "2"
