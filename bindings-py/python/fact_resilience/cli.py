"""The `fact-resilience` command: `demo` (the main job) and `simulate` (what-if for configs)."""

from __future__ import annotations

import sys
from typing import Sequence

USAGE = """usage: fact-resilience {demo,simulate} [options]

  demo       a FACT-style service rides out a scripted cache outage (SQLite as the truth)
  simulate   what a breaker config would do with a fault scenario or trace, on virtual time

'fact-resilience COMMAND --help' for the options of a command."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "demo":
        from .demo import main as demo

        return demo(rest)
    if command == "simulate":
        from .simulate import main as simulate

        return simulate(rest)
    print(
        f"fact-resilience: error: unknown command {command!r} (choose demo or simulate)",
        file=sys.stderr,
    )
    return 2
