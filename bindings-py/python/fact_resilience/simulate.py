"""`fact-resilience simulate`: what would these configurations have done with this traffic?

A thin layer over the core's virtual-time simulator (`_native.simulate_*`): it reads configs
(presets, TOML/JSON files, flags) and a scenario or trace, runs each config on the same calls
and prints the figures side by side. Nothing sleeps; a 10-minute scenario takes milliseconds.

Bounds: a scenario may generate at most `MAX_SCENARIO_CALLS` calls (``--rate`` x
``--duration``); a trace is streamed line by line through every config at once, so memory
stays flat with its length. Ctrl-C stops any run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, TextIO

from . import _native
from ._svg import timeline_svg

#: The built-in scenarios, from the core.
SCENARIOS: tuple[str, ...] = tuple(_native.SCENARIOS)
#: The most calls a scenario may generate (rate x duration), from the core.
MAX_SCENARIO_CALLS: int = _native.MAX_SCENARIO_CALLS
MAX_SEED = 2**64 - 1
#: The first sampling interval of a trace (whose length is unknown until it ends); the core
#: doubles it whenever it holds too many samples, so any trace ends with a few hundred.
TRACE_SAMPLE_EVERY = 1e-6
#: Exit status after the reader of our output went away (128 + SIGPIPE, as a shell reports).
EXIT_BROKEN_PIPE = 141
#: CLI flag -> config field, for a config given on the command line.
FLAG_FIELDS = {
    "failure_threshold": int,
    "success_threshold": int,
    "timeout_seconds": float,
    "rolling_window_seconds": float,
    "recovery_factor": float,
    "half_open_max_in_flight": int,
    "failure_rate_threshold": float,
    "minimum_calls": int,
    "slow_call_duration_seconds": float,
    "slow_call_rate_threshold": float,
    "open_backoff_multiplier": float,
    "max_timeout_seconds": float,
    "jitter": float,
    "jitter_seed": int,
    "ramp_seconds": float,
}


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fact-resilience simulate",
        description="Replay a fault scenario or a recorded trace against breaker configs "
        "on virtual time and compare what each would have done.",
    )
    src = p.add_argument_group("configs (any number; side by side)")
    src.add_argument(
        "--preset",
        action="append",
        default=[],
        metavar="NAME",
        help="FACT preset: development, production, high_traffic",
    )
    src.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="TOML or JSON file: config fields at the top level, or named "
        "tables under [configs.NAME]",
    )
    for field, kind in FLAG_FIELDS.items():
        src.add_argument(
            f"--{field.replace('_', '-')}",
            type=kind,
            metavar=kind.__name__.upper(),
            help=f"{field} of a config built from flags (others default)",
        )
    src.add_argument(
        "--no-gradual-recovery",
        action="store_true",
        help="gradual_recovery=false for the config built from flags",
    )
    traffic = p.add_argument_group("traffic")
    traffic.add_argument("--scenario", choices=SCENARIOS, help="built-in scenario (default outage)")
    traffic.add_argument(
        "--trace",
        metavar="FILE",
        help='JSON lines: {"time": seconds, "outcome": "success"|"failure", "latency_ms": ms, '
        '"error": kind}; latency_ms and error optional',
    )
    traffic.add_argument("--rate", type=float, default=20.0, help="scenario calls per second")
    traffic.add_argument("--duration", type=float, default=600.0, help="scenario seconds")
    traffic.add_argument("--seed", type=int, default=1, help="scenario random seed")
    out = p.add_argument_group("output")
    out.add_argument("--plot", metavar="FILE.svg", help="write an SVG timeline")
    out.add_argument("--json", action="store_true", help="print the reports as JSON")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    try:
        args = build_parser().parse_args(argv)
        configs = _configs(args)
        label, results = _run(args, configs)
        if args.plot:
            _write_plot(args.plot, timeline_svg(results, label))
    except (UsageError, ValueError, TypeError, OSError) as e:
        print(f"fact-resilience simulate: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fact-resilience simulate: interrupted", file=sys.stderr)
        return 130
    try:
        if args.json:
            json.dump({name: report for name, report in results}, out, indent=2)
            out.write("\n")
        else:
            out.write(f"{label}\n\n{format_table(results)}\n")
            if args.plot:
                out.write(f"\ntimeline written to {args.plot}\n")
        out.flush()
    except BrokenPipeError:
        _silence(out)
        return EXIT_BROKEN_PIPE
    return 0


def _silence(out: TextIO) -> None:
    """The reader went away: point the stream at /dev/null, so that the flush at exit does not
    fail again and print a traceback."""
    try:
        fd = out.fileno()
    except (OSError, ValueError):  # not a real file (a StringIO in tests)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _write_plot(path: str, svg: str) -> None:
    try:
        Path(path).write_text(svg, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"--plot {path}: {e.strerror or e}") from None


# ---- inputs ------------------------------------------------------------------------------


def _configs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    configs: list[tuple[str, Any]] = []
    presets = _native.presets()
    for name in args.preset:
        if name not in presets:
            raise UsageError(f"unknown preset {name!r} (choose from {', '.join(presets)})")
        configs.append((name, presets[name]))
    for path in args.config:
        configs.extend(_config_file(Path(path)))
    flags = {f: getattr(args, f) for f in FLAG_FIELDS if getattr(args, f) is not None}
    if args.no_gradual_recovery:
        flags["gradual_recovery"] = False
    if flags or not configs:
        configs.append(("flags" if flags else "default", _make(flags, "flags")))
    return configs


def _config_file(path: Path) -> list[tuple[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        data = _load_toml(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, TypeError) as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise UsageError(f"{path}: {e}") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a table of config fields")
    named = data.get("configs")
    if isinstance(named, dict):
        return [(str(n), _make(c, f"{path} [configs.{n}]")) for n, c in named.items()]
    return [(path.stem, _make(data, str(path)))]


def _load_toml(text: str) -> Any:
    try:  # tomllib is 3.11+; the package supports 3.9
        toml = importlib.import_module("tomllib")
    except ModuleNotFoundError:
        raise UsageError("reading TOML needs Python 3.11+ (or use JSON)") from None
    return toml.loads(text)


def _make(fields: Any, where: str) -> Any:
    if not isinstance(fields, dict):
        raise UsageError(f"{where}: expected a table of config fields")
    try:
        return _native.CircuitBreakerConfig(**fields)
    except TypeError as e:
        raise UsageError(f"{where}: {e}") from None
    except ValueError as e:
        raise UsageError(f"{where}: {e}") from None


def _run(
    args: argparse.Namespace, configs: list[tuple[str, Any]]
) -> tuple[str, list[tuple[str, Any]]]:
    """Runs every config on the traffic; returns the label and `(name, report)` pairs."""
    if args.trace and args.scenario:
        raise UsageError("give --scenario or --trace, not both")
    if args.trace:
        trace = TraceReader(Path(args.trace))
        reports = _native.simulate_trace([cfg for _, cfg in configs], trace, TRACE_SAMPLE_EVERY)
        if trace.count == 0:
            raise UsageError(f"{args.trace}: no calls in trace")
        label = f"trace {args.trace}: {trace.count} calls"
        return label, [(name, r) for (name, _), r in zip(configs, reports)]
    scenario = args.scenario or "outage"
    if not (math.isfinite(args.rate) and args.rate > 0):
        raise UsageError(f"--rate must be a positive number, got {args.rate}")
    if not (math.isfinite(args.duration) and 0 < args.duration <= 30 * 86400):
        raise UsageError(f"--duration must be in (0, 30 days], got {args.duration}")
    if not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be in 0..{MAX_SEED}, got {args.seed}")
    calls = args.rate * args.duration
    if calls > MAX_SCENARIO_CALLS:
        raise UsageError(
            f"--rate x --duration is {calls:.3g} calls, more than the {MAX_SCENARIO_CALLS:,} "
            "a scenario may simulate"
        )
    label = f"scenario {scenario}: {args.duration:g} s at {args.rate:g} calls/s (seed {args.seed})"
    every = _sample_every(args.duration)
    return label, [
        (name, _native.simulate_scenario(cfg, scenario, args.rate, args.duration, args.seed, every))
        for name, cfg in configs
    ]


def _sample_every(duration: float) -> float:
    return duration / 600 if duration > 0 else 0.0  # ~600 points per curve


class TraceReader:
    """A JSON-lines trace as `(time_seconds, ok, latency_ms, error_kind)` tuples, read one line
    at a time (the simulator pulls them, so memory stays flat with the trace's length). A bad
    line raises `UsageError` naming the file and line number. ``count`` is the calls read so
    far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def __iter__(self) -> Iterator[tuple[float, bool, float, str]]:
        path = self.path
        last = -math.inf
        try:
            f = path.open(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"{path}: {e.strerror or e}") from None
        with f:
            n = 0
            try:
                for line in f:
                    n += 1
                    if not line.strip():
                        continue
                    call = _trace_line(line, last)
                    last = call[0]
                    self.count += 1
                    yield call
            except UnicodeDecodeError as e:
                raise UsageError(f"{path}: not UTF-8 text after line {n} ({e.reason})") from None
            except ValueError as e:
                raise UsageError(f"{path}:{n}: {e}") from None
            except RecursionError:
                raise UsageError(f"{path}:{n}: nested too deeply") from None


def _trace_line(line: str, last: float) -> tuple[float, bool, float, str]:
    rec = json.loads(line)
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    t = _number(rec, "time")
    outcome = rec.get("outcome")
    if outcome not in ("success", "failure"):
        raise ValueError(f'"outcome" must be "success" or "failure", got {outcome!r}')
    latency = _number(rec, "latency_ms") if "latency_ms" in rec else 0.0
    if t < 0 or latency < 0:
        raise ValueError('"time" and "latency_ms" must not be negative')
    if t < last:
        raise ValueError(f'"time" goes backwards ({t} after {last})')
    kind = rec.get("error", "")
    if not isinstance(kind, str):
        raise ValueError(f'"error" must be a string (the failure\'s kind), got {kind!r}')
    return t, outcome == "success", latency, kind


def _number(rec: dict[str, Any], key: str) -> float:
    v = rec.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{key!r} must be a finite number, got {v!r}")
    return float(v)


# ---- output ------------------------------------------------------------------------------

SLOW_MS = round(_native.SLOW_CALL_SECONDS * 1000)

ROWS: list[tuple[str, Any]] = [
    ("calls", lambda r: f"{r['calls']:,}"),
    ("trips (entered OPEN)", lambda r: f"{r['trips']}"),
    ("first trip at", lambda r: _maybe(r["first_trip_seconds"])),
    ("time open", lambda r: _duration(r["time_open_seconds"])),
    ("time half-open", lambda r: _duration(r["time_half_open_seconds"])),
    ("calls rejected (open)", lambda r: f"{r['rejected']:,}"),
    ("calls throttled (half-open, ramp)", lambda r: f"{r['throttled']:,}"),
    ("calls the cache answered", lambda r: f"{r['admitted'] - r['failed_admitted']:,}"),
    ("calls reaching failing cache", lambda r: f"{r['failed_admitted']:,}"),
    ("peak calls/s reaching cache", lambda r: f"{r['peak_admitted_per_second']:,}"),
    ("recovery after fault ends", lambda r: _maybe(r["recovery_seconds"])),
    ("flaps per hour", lambda r: f"{r['flaps_per_hour']:.1f}"),
]
#: Rows shown only when some report has a figure for them.
SOMETIMES_ROWS: list[tuple[str, str, Any]] = [
    ("slow_admitted", f"calls >= {SLOW_MS} ms reaching cache", lambda r: f"{r['slow_admitted']:,}"),
    ("retries", "waiting callers' retries", lambda r: f"{r['retries']:,}"),
]


def format_table(results: Iterable[tuple[str, Any]]) -> str:
    results = list(results)
    head = ["", *(name for name, _ in results)]
    shown = ROWS + [
        (label, fmt) for key, label, fmt in SOMETIMES_ROWS if any(r[key] for _, r in results)
    ]
    rows = [head] + [[label, *(fmt(r) for _, r in results)] for label, fmt in shown]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _maybe(s: float | None) -> str:
    return "never" if s is None else _duration(s)


def _duration(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(s, 60)
    return f"{int(m)}m {sec:04.1f}s"
