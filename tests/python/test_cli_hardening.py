"""Hostile or clumsy input to the `fact-resilience` command (issue 10): one line on stderr and
exit code 2, never a traceback; nothing runs for years or grows with the trace."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fact_resilience import cli
from fact_resilience import simulate as sim

SVG = "{http://www.w3.org/2000/svg}"
COMMAND = [sys.executable, "-m", "fact_resilience"]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = sim.main(list(argv), out=out)
    return code, out.getvalue()


def one_error_line(capsys: pytest.CaptureFixture[str], fragment: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err
    assert "Traceback" not in err
    return err


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.mark.parametrize("where", ["missing/dir/t.svg", "."])
def test_plot_into_a_missing_directory_or_onto_a_directory_is_one_error_line(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run("--plot", str(tmp_path / where))
    assert code == 2 and out == ""
    one_error_line(capsys, "--plot")


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_seed_outside_64_bits_is_one_error_line(
    seed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("--seed", seed)
    assert code == 2
    one_error_line(capsys, "--seed must be in 0..18446744073709551615")


def test_trace_with_equal_times_after_a_positive_time_keeps_its_samples_bounded(
    tmp_path: Path,
) -> None:
    # Arrivals span a microsecond, outcomes land 100 s later: sampling by the arrivals' span
    # asked for tens of billions of samples and ran out of memory.
    rows = [json.dumps({"time": 0, "outcome": "success"})]
    rows += [json.dumps({"time": 1e-6, "outcome": "failure", "latency_ms": 1e5})] * 1000
    trace = write_lines(tmp_path / "t.jsonl", rows)
    result = subprocess.run(
        [*COMMAND, "simulate", "--trace", str(trace), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["default"]
    assert report["calls"] == 1001
    assert 100 < len(report["samples"]) <= 1024
    assert report["samples"][-1]["at_seconds"] > 50


def test_json_nested_too_deeply_in_a_trace_line_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_lines(
        tmp_path / "t.jsonl", ['{"time": 0, "outcome": "success"}', "[" * 100_000 + "]" * 100_000]
    )
    code, _ = run("--trace", str(trace))
    assert code == 2
    one_error_line(capsys, "t.jsonl:2: nested too deeply")


def test_json_nested_too_deeply_in_a_config_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text('{"failure_threshold": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code, _ = run("--config", str(cfg))
    assert code == 2
    one_error_line(capsys, "c.json: nested too deeply")


def test_closed_output_pipe_exits_quietly() -> None:
    # Three presets' reports are far more than a pipe holds, so the write meets the closed end.
    presets = ("--preset", "development", "--preset", "production", "--preset", "high_traffic")
    proc = subprocess.Popen(
        [*COMMAND, "simulate", "--json", *presets],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(1) == b"{"
    proc.stdout.close()
    code = proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert err == ""
    assert code == sim.EXIT_BROKEN_PIPE


def test_demo_redis_url_that_is_not_a_url_is_one_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["demo", "--redis", "notaurl"]) == 2
    one_error_line(capsys, "--redis 'notaurl' is not a Redis URL")


def test_demo_unreachable_redis_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    assert cli.main(["demo", f"--redis=redis://127.0.0.1:{port}/0"]) == 2
    assert time.monotonic() - start < cli.REDIS_CONNECT_TIMEOUT + 2
    one_error_line(capsys, "cannot connect")


def test_scenario_beyond_the_call_bound_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    code, _ = run("--rate", "1e12", "--duration", "2592000")
    assert code == 2 and time.monotonic() - start < 5
    one_error_line(capsys, f"more than the {sim.MAX_SCENARIO_CALLS:,} a scenario may simulate")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def default_sigint() -> None:
    """In the child, before exec: a process started in the background without job control (a
    CI runner, say) inherits SIGINT ignored, and Python then installs no handler for it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_long_scenario_stops_on_ctrl_c() -> None:
    # At the call bound a run needs several seconds of CPU; once it has used 1 s (start-up,
    # bytecode compilation in a fresh clone included, takes far less), it is inside the
    # native loop with most of it still to go. Waiting on its CPU time, not the wall clock,
    # holds however busy the machine is.
    proc = subprocess.Popen(
        [*COMMAND, "simulate", "--rate", str(sim.MAX_SCENARIO_CALLS / 1000), "--duration", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 60
    while cpu_seconds(proc.pid) < 1.0:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err == "fact-resilience simulate: interrupted\n"


def test_config_names_are_escaped_in_the_svg(tmp_path: Path) -> None:
    name = "q\"uo'te <b>&amp;\x01\x1b\ttab\nline"
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"configs": {name: {"failure_threshold": 2}}}))
    svg = tmp_path / "t.svg"
    code, _ = run("--config", str(cfg), "--plot", str(svg))
    assert code == 0
    root = ET.parse(svg).getroot()  # well-formed XML
    (panel,) = root.findall(f"{SVG}g[@class='panel']")
    expected = name.replace("\x01", "\ufffd").replace("\x1b", "\ufffd")
    assert panel.get("data-config") == expected
    assert panel.find(f"{SVG}text").text == expected  # type: ignore[union-attr]


def _peak_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        code, _ = run("--trace", str(path), "--json", "--preset", "development")
        assert code == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_trace_is_streamed_so_memory_stays_flat_with_its_length(tmp_path: Path) -> None:
    def trace(n: int) -> Path:
        line = '{"time": %d, "outcome": "%s", "latency_ms": 1}\n'
        path = tmp_path / f"t{n}.jsonl"
        with path.open("w") as f:
            for i in range(n):
                f.write(line % (i, "failure" if i % 7 == 0 else "success"))
        return path

    small, large = _peak_bytes(trace(10_000)), _peak_bytes(trace(100_000))
    # Loading the whole trace grew with every line; streaming it holds one line at a time.
    assert large - small < 1_000_000, (small, large)


def test_module_entry_point_prints_one_line_for_a_missing_trace(tmp_path: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "simulate", "--trace", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nope.jsonl" in result.stderr
