"""`fact-resilience demo`'s command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Sequence, TextIO

from . import __doc__ as _doc
from .run import run_demo


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    p = argparse.ArgumentParser(
        prog="fact-resilience demo", description=(_doc or "").splitlines()[0]
    )
    p.add_argument("--redis", metavar="URL", help="use a real Redis (redis://127.0.0.1:PORT)")
    p.add_argument("--queries", type=int, default=3000)
    p.add_argument("--duration", type=float, default=12.0, help="seconds the schedule spans")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on 127.0.0.1:PORT while running (0: any free port)",
    )
    args = p.parse_args(argv)
    # The timeline below already tells the story; per-call fallback warnings would drown it.
    logging.getLogger("fact_resilience").setLevel(logging.ERROR)
    if args.queries < 1 or args.concurrency < 1 or not 0 < args.duration <= 600:
        print(
            "fact-resilience demo: error: --queries and --concurrency must be >= 1 and "
            "--duration in (0, 600]",
            file=sys.stderr,
        )
        return 2
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        print("fact-resilience demo: error: --metrics-port must be in 0..65535", file=sys.stderr)
        return 2
    summary = asyncio.run(
        run_demo(
            args.queries,
            args.duration,
            args.concurrency,
            redis_url=args.redis,
            out=out,
            metrics_port=args.metrics_port,
        )
    )
    return 0 if summary.ok else 1
