"""The `fact-resilience` command: `demo` (the main job) and `simulate` (what-if for configs)."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from typing import Optional, Sequence
from urllib.parse import urlsplit

USAGE = """usage: fact-resilience {demo,simulate} [options]

  demo       a FACT-style service rides out a scripted cache outage (SQLite as the truth)
  simulate   what a breaker config would do with a fault scenario or trace, on virtual time

'fact-resilience COMMAND --help' for the options of a command."""

#: Seconds `demo --redis` waits for the server to accept a connection before giving up.
REDIS_CONNECT_TIMEOUT = 3.0
#: Exit status after the reader of our output went away (128 + SIGPIPE, as a shell reports).
EXIT_BROKEN_PIPE = 141


class CliError(Exception):
    """Bad input: reported as one line on stderr, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    try:
        if command == "demo":
            check_redis_arg(rest)
            from .demo import main as demo

            return demo(rest)
        if command == "simulate":
            from .simulate import main as simulate

            return simulate(rest)
    except CliError as e:
        print(f"fact-resilience {command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fact-resilience {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    print(
        f"fact-resilience: error: unknown command {command!r} (choose demo or simulate)",
        file=sys.stderr,
    )
    return 2


def _silence_stdout() -> None:
    """The reader went away: point stdout at /dev/null, so that the flush at exit does not
    fail again and print a traceback."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _redis_arg(argv: Sequence[str]) -> Optional[str]:
    """The value of ``--redis URL`` / ``--redis=URL`` in `demo`'s arguments (the last one)."""
    url = None
    for i, a in enumerate(argv):
        if a == "--redis" and i + 1 < len(argv):
            url = argv[i + 1]
        elif a.startswith("--redis="):
            url = a.split("=", 1)[1]
    return url


def check_redis_arg(argv: Sequence[str], timeout: float = REDIS_CONNECT_TIMEOUT) -> None:
    """Checks `demo --redis URL` before the demo starts: a redis://, rediss:// or unix:// URL,
    the `redis` package installed, and a server accepting connections within ``timeout``."""
    url = _redis_arg(argv)
    if url is None:
        return
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise CliError(f"--redis {url!r} is not a valid URL ({e})") from None
    tcp: Optional[tuple[str, int]] = None
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise CliError(f"--redis {url!r} has no host (expected redis://HOST:PORT)")
        tcp = (parts.hostname, port or 6379)
    elif parts.scheme == "unix":
        if not parts.path:
            raise CliError(f"--redis {url!r} has no socket path (expected unix:///PATH)")
    else:
        raise CliError(
            f"--redis {url!r} is not a Redis URL (expected redis://HOST:PORT, rediss://... "
            "or unix:///PATH)"
        )
    if importlib.util.find_spec("redis") is None:
        raise CliError("--redis needs the redis package: pip install 'fact-resilience[redis]'")
    try:
        if tcp is not None:
            socket.create_connection(tcp, timeout=timeout).close()
        else:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(parts.path)
    except OSError as e:
        reason = "timed out" if isinstance(e, socket.timeout) else (e.strerror or str(e))
        raise CliError(f"--redis {url}: cannot connect ({reason})") from None
