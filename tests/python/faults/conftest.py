"""Fault-injection harness: a real `redis-server` this test starts, breaks and always stops.

The `redis_server` fixture starts `redis-server` on a free 127.0.0.1 port, without persistence,
in its own process group, and kills that group when the test ends (pass or fail). Faults:
`kill()` (SIGKILL), `hang()` / `resume()` (SIGSTOP / SIGCONT), `restart()` (same port, empty),
`slow(seconds)` (CLIENT PAUSE: every command waits that long). The control plane speaks RESP
over a plain socket, so it needs no client library and never goes through the code under test.

`redis-server` comes from Debian's `redis-server` package (`make setup-redis`). If it is missing
the tests skip, except under CI (CI set), where they fail.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

HOST = "127.0.0.1"

# Every fault-suite summary, printed at the end of the session (see pytest_terminal_summary).
REPORTS: list[str] = []


def find_redis_server() -> Optional[str]:
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in (
        "/usr/bin/redis-server",
        "/usr/sbin/redis-server",
        "/usr/local/bin/redis-server",
    ):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RedisServer:
    """One `redis-server` process under the test's control."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.stopped = False  # SIGSTOPped
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    # ---- control plane ------------------------------------------------------------------

    def command(self, *args: str, timeout: float = 0.5) -> bytes:
        """Sends one command on a fresh connection and returns the first reply line."""
        with socket.create_connection((HOST, self.port), timeout=timeout) as s:
            s.sendall(_resp(*args))
            data = b""
            deadline = time.monotonic() + timeout
            while b"\r\n" not in data and time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.split(b"\r\n", 1)[0]

    def ping(self, timeout: float = 0.2) -> bool:
        try:
            return self.command("PING", timeout=timeout) == b"+PONG"
        except OSError:
            return False

    def wait_ready(self, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        for _ in range(10_000):  # bounded in count and time
            if self.proc is not None and self.proc.poll() is not None:
                log = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n{log}")
            if self.ping():
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING in {within} s")

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        assert self.proc is None, "already running"
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - closed with the process
        options = {
            "port": str(self.port),
            "bind": HOST,
            "save": "",  # no RDB snapshots
            "appendonly": "no",  # no AOF: a restart comes back empty
            "dir": str(self.workdir),
            "daemonize": "no",
            "protected-mode": "yes",
            "enable-debug-command": "local",  # DEBUG SLEEP from 127.0.0.1
            "maxclients": "2000",
        }
        argv = [self.binary] + [x for k, v in options.items() for x in (f"--{k}", v)]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches it and only it
        )
        log.close()
        self.stopped = False
        self.starts += 1
        _LIVE.add(self)
        self.wait_ready()

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL: connections reset, the data is gone (no persistence)."""
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None
        self.stopped = False

    def hang(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nothing answers."""
        self._signal(signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        """SIGCONT after `hang`; the data survived."""
        self._signal(signal.SIGCONT)
        self.stopped = False
        self.wait_ready()

    def restart(self) -> None:
        """Kill if running, then start again on the same port (empty)."""
        self.kill()
        self.start()

    def slow(self, seconds: float) -> None:
        """Every client command (new connections included, CLIENT UNPAUSE too) waits until
        `seconds` have passed, then runs: a server that answers, but late."""
        reply = self.command("CLIENT", "PAUSE", str(max(1, int(seconds * 1000))), "ALL")
        assert reply == b"+OK", reply

    def debug_sleep(self, seconds: float) -> None:
        """DEBUG SLEEP: the whole server blocks for `seconds` (the reply is not awaited)."""
        with socket.create_connection((HOST, self.port), timeout=0.5) as s:
            s.sendall(_resp("DEBUG", "SLEEP", f"{seconds:.3f}"))

    def stop(self) -> None:
        """Always safe: kills the process group (a stopped process dies on SIGKILL too)."""
        if self.proc is not None:
            self._signal(signal.SIGCONT)
            self.kill()
        _LIVE.discard(self)


_LIVE: set[RedisServer] = set()


@atexit.register
def _stop_leftovers() -> None:  # belt and braces, if a finalizer never ran
    for server in list(_LIVE):
        server.stop()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    binary = find_redis_server()
    if binary is None:
        reason = (
            "redis-server not found: install Debian's redis-server package "
            "(`make setup-redis` does it)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is an error, not a skip)")
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="fact-redis-") as tmp:
        server = RedisServer(binary, Path(tmp))
        try:
            server.start()
            yield server
        finally:
            server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    terminalreporter.section("fault-injection summary")
    for text in REPORTS:
        terminalreporter.write_line(text)
    out = Path(__file__).resolve().parents[3] / "target" / "fault-report.md"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n\n".join(REPORTS) + "\n")
        terminalreporter.write_line(f"(also written to {out})")
    except OSError as e:  # pragma: no cover - a read-only checkout
        print(f"could not write {out}: {e}", file=sys.stderr)
