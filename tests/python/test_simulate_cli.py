"""`fact-resilience simulate`: figures, presets, scenarios, plots and bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fact_resilience import simulate as sim
from fact_resilience._native import presets

SVG = "{http://www.w3.org/2000/svg}"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = sim.main(list(argv), out=out)
    return code, out.getvalue()


def run_json(*argv: str) -> dict:
    code, text = run(*argv, "--json")
    assert code == 0, text
    return json.loads(text)


def write_trace(path: Path, rows: list[tuple[float, str, float]]) -> Path:
    path.write_text(
        "\n".join(json.dumps({"time": t, "outcome": o, "latency_ms": lat}) for t, o, lat in rows)
        + "\n"
    )
    return path


def test_small_trace_matches_hand_computed_figures(tmp_path: Path) -> None:
    # threshold 2, timeout 1 s, every half-open call probes, one success closes.
    trace = write_trace(
        tmp_path / "t.jsonl",
        [
            (0.0, "success", 0),
            (0.1, "failure", 0),
            (0.2, "failure", 0),  # trips at 0.2
            (0.3, "failure", 0),
            (0.7, "success", 0),  # both rejected
            (1.2, "success", 0),
            (1.3, "success", 0),  # probe closes at 1.2
        ],
    )
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "failure_threshold": 2,
                "success_threshold": 1,
                "timeout_seconds": 1.0,
                "gradual_recovery": False,
            }
        )
    )
    r = run_json("--config", str(cfg), "--trace", str(trace))["c"]
    assert (r["calls"], r["admitted"], r["rejected"], r["throttled"]) == (7, 5, 2, 0)
    assert (r["failed_admitted"], r["trips"], r["flaps"]) == (2, 1, 0)
    assert r["time_open_seconds"] == pytest.approx(1.0)
    assert r["fault_end_seconds"] == pytest.approx(0.3)
    assert r["recovery_seconds"] == pytest.approx(0.9)
    assert r["duration_seconds"] == pytest.approx(1.3)
    assert [(t["from"], t["to"], t["reason"]) for t in r["timeline"]] == [
        ("closed", "open", "failure_threshold"),
        ("open", "half_open", "timeout_elapsed"),
        ("half_open", "closed", "probes_succeeded"),
    ]


@pytest.mark.parametrize(
    "scenario", ["outage", "flapping", "brownout", "intermittent", "slow-brownout"]
)
def test_every_builtin_scenario_runs_each_preset_side_by_side(scenario: str) -> None:
    reports = run_json(
        "--scenario",
        scenario,
        "--preset",
        "development",
        "--preset",
        "production",
        "--preset",
        "high_traffic",
    )
    assert list(reports) == ["development", "production", "high_traffic"]
    for name, r in reports.items():
        assert r["calls"] == 12_000, name  # 600 s at 20 calls/s
        assert r["admitted"] + r["rejected"] + r["throttled"] == r["calls"]
        assert r["failed_admitted"] <= r["admitted"]
    # development trips after 3 failures in a row: every scenario trips it, and it recovers.
    dev = reports["development"]
    assert dev["trips"] >= 1 and dev["recovery_seconds"] is not None, dev
    if scenario == "outage":
        # development waits 30 s open, production 300 s: after one total outage,
        # development is back first.
        prod = reports["production"]
        assert dev["recovery_seconds"] < prod["recovery_seconds"]
        assert dev["time_open_seconds"] < prod["time_open_seconds"]


def test_table_lists_configs_side_by_side() -> None:
    code, text = run("--scenario", "outage", "--preset", "production", "--timeout-seconds", "5")
    assert code == 0
    header = next(line for line in text.splitlines() if "production" in line)
    assert header.split() == ["production", "flags"]
    for label in (
        "trips",
        "time open",
        "calls rejected",
        "calls throttled",
        "calls reaching failing cache",
        "recovery after fault ends",
        "flaps per hour",
    ):
        assert label in text


def test_presets_are_facts() -> None:
    p = presets()
    assert list(p) == ["development", "production", "high_traffic"]
    assert p["production"].failure_threshold == 10
    assert p["production"].recovery_factor == 0.3
    assert p["development"].gradual_recovery is False
    assert p["high_traffic"].rolling_window_seconds == 600.0
    assert p["production"].health_check_interval == 30.0  # the Python-only fields default


def test_plot_is_an_svg_with_a_band_and_a_curve_per_config(tmp_path: Path) -> None:
    svg = tmp_path / "timeline.svg"
    code, _ = run(
        "--scenario",
        "flapping",
        "--preset",
        "development",
        "--preset",
        "production",
        "--plot",
        str(svg),
    )
    assert code == 0
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG}svg"
    panels = root.findall(f"{SVG}g[@class='panel']")
    assert [p.get("data-config") for p in panels] == ["development", "production"]
    for panel in panels:
        states = {
            r.get("class")
            for r in panel.findall(f"{SVG}rect")
            if (r.get("class") or "").startswith("state")
        }
        assert {"state closed", "state open"} <= states
        assert panel.find(f"{SVG}polyline[@class='failure-rate']") is not None


def test_toml_file_with_named_configs(tmp_path: Path) -> None:
    f = tmp_path / "configs.toml"
    f.write_text("[configs.fast]\nfailure_threshold = 2\n[configs.slow]\nfailure_threshold = 20\n")
    reports = run_json("--config", str(f), "--scenario", "brownout")
    assert list(reports) == ["fast", "slow"]
    assert reports["fast"]["trips"] >= reports["slow"]["trips"]


def test_slow_call_detection_opens_earlier_in_a_slow_brownout(tmp_path: Path) -> None:
    # Latency climbs from 20 % of the run (120 s of 600 s); errors start at 40 % (240 s).
    f = tmp_path / "c.json"
    slow = {
        "slow_call_duration_seconds": 0.1,
        "slow_call_rate_threshold": 0.5,
        "rolling_window_seconds": 30,
    }
    f.write_text(json.dumps({"configs": {"fact": {}, "slow": {**slow, "minimum_calls": 20}}}))
    reports = run_json("--config", str(f), "--scenario", "slow-brownout")
    first = {n: r["timeline"][0] for n, r in reports.items()}
    assert first["fact"]["reason"] == "failure_threshold" and first["fact"]["at_seconds"] >= 240
    assert first["slow"]["reason"] == "slow_calls" and first["slow"]["at_seconds"] < 240


def test_policy_flags_reach_the_simulated_breaker(tmp_path: Path) -> None:
    # Ten successes of 200 ms each: only a slow-call rule sees anything wrong.
    trace = write_trace(tmp_path / "t.jsonl", [(i * 0.1, "success", 200) for i in range(10)])
    plain = run_json("--trace", str(trace))["default"]
    assert plain["trips"] == 0
    slow = run_json(
        "--trace", str(trace), "--slow-call-duration-seconds", "0.1", "--minimum-calls", "3"
    )["flags"]
    assert slow["trips"] == 1 and slow["timeline"][0]["reason"] == "slow_calls"


def test_a_trace_names_its_failures_kinds_for_the_weights(tmp_path: Path) -> None:
    # Threshold 1: three TemporaryErrors at 0.3 each do not trip; one KeyError (unlisted,
    # weight 1) does.
    lines = [{"time": i * 0.1, "outcome": "failure", "error": "TemporaryError"} for i in range(3)]
    lines.append({"time": 0.3, "outcome": "failure", "error": "KeyError"})
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"failure_threshold": 1, "failure_weights": {"TemporaryError": 0.3}}))
    report = run_json("--trace", str(trace), "--config", str(cfg))["c"]
    assert report["trips"] == 1 and report["first_trip_seconds"] == pytest.approx(0.3)


def test_the_ramp_spreads_a_thundering_herd(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"configs": {"fact": {}, "ramp": {"ramp_seconds": 30}}}))
    reports = run_json("--config", str(f), "--scenario", "thundering-herd")
    fact, ramp = reports["fact"], reports["ramp"]
    assert fact["retries"] == ramp["retries"] > 0
    assert fact["peak_admitted_per_second"] > fact["retries"]  # the herd lands in one second
    assert ramp["peak_admitted_per_second"] < fact["peak_admitted_per_second"] * 0.6
    svg = tmp_path / "herd.svg"
    code, text = run("--config", str(f), "--scenario", "thundering-herd", "--plot", str(svg))
    assert code == 0 and "waiting callers' retries" in text
    panels = ET.parse(svg).getroot().findall(f"{SVG}g")
    has_ramp = [p.find(f"{SVG}polyline[@class='ramp-share']") is not None for p in panels]
    assert has_ramp == [False, True]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--preset", "staging"], "unknown preset 'staging'"),
        (["--scenario", "earthquake"], "invalid choice: 'earthquake'"),
        (["--failure-threshold", "0"], "failure_threshold"),
        (["--recovery-factor", "1.5"], "recovery_factor"),
        (["--slow-call-duration-seconds", "-1"], "slow_call_duration_seconds"),
        (["--jitter", "2"], "jitter"),
        (["--timeout-seconds", "nan"], "timeout_seconds"),
        (["--rate", "-1"], "--rate"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(*argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and fragment in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("not json", "t.jsonl:2:"),
        ('{"time": 1, "outcome": "maybe"}', '"outcome" must be'),
        ('{"time": "soon", "outcome": "success"}', "'time' must be a finite number"),
        ('{"time": 0.5, "outcome": "success"}', "goes backwards"),
        ("[1, 2]", "expected a JSON object"),
        ('{"time": 2, "outcome": "failure", "error": 7}', '"error" must be a string'),
    ],
)
def test_malformed_trace_lines_are_reported_with_the_line_number(
    tmp_path: Path, line: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"time": 1, "outcome": "success"}\n' + line + "\n")
    code, _ = run("--trace", str(f))
    err = capsys.readouterr().err
    assert code == 2 and "t.jsonl:2:" in err and fragment in err, err


def test_module_entry_point_runs_without_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fact_resilience", "simulate", "--preset", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "fact-resilience simulate: error: unknown preset 'nope' "
        "(choose from development, production, high_traffic)"
    )


def test_timeline_figures_are_the_simulators_for_a_logged_timeline() -> None:
    from fact_resilience import _native

    log = [(1.0, "closed", "open"), (3.0, "open", "half_open"), (3.5, "half_open", "closed")]
    f = _native.timeline_figures(log, 10.0, "closed", fault_end=3.2)
    assert f["time_open"] == pytest.approx(2.0)
    assert f["time_half_open"] == pytest.approx(0.5)
    assert f["recovery_time"] == pytest.approx(0.3)
    still_open = _native.timeline_figures(log[:1], 10.0, "open", fault_end=3.2)
    assert still_open["time_open"] == pytest.approx(9.0)
    assert still_open["recovery_time"] is None
    with pytest.raises(ValueError, match="state must be 'closed', 'open' or 'half_open'"):
        _native.timeline_figures([], 1.0, "shut")
