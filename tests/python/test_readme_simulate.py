"""The README's `fact-resilience simulate` runs are real: each command shown runs again here
and must print exactly the table shown under it and draw exactly the SVG committed beside it."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from fact_resilience import simulate

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def runs() -> list[tuple[list[str], str]]:
    """(argv, expected output) for each ```text block that starts with a simulate command."""
    found = []
    for block in re.findall(
        r"```text\n(\$ fact-resilience simulate.*?)\n```", README.read_text(), re.S
    ):
        lines = block.split("\n")
        n = 1
        while lines[n - 1].endswith("\\"):
            n += 1
        command = " ".join(line.rstrip("\\").strip() for line in lines[:n])
        found.append((shlex.split(command)[3:], "\n".join(lines[n:])))
    return found


RUNS = runs()


def test_the_readme_shows_a_run_for_each_policy_scenario() -> None:
    scenarios = {argv[argv.index("--scenario") + 1] for argv, _ in RUNS}
    assert {"slow-brownout", "thundering-herd", "brownout", "outage"} <= scenarios
    configs = {argv[argv.index("--config") + 1] for argv, _ in RUNS if "--config" in argv}
    assert len(configs) == 5, configs


@pytest.mark.parametrize(
    "argv, expected", RUNS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_readme_simulate_output_is_a_real_run(
    argv: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    plot = argv[argv.index("--plot") + 1] if "--plot" in argv else None
    if plot:  # draw into tmp, then compare with the committed file
        argv = [str(tmp_path / "plot.svg") if a == plot else a for a in argv]
    out = io.StringIO()
    assert simulate.main(argv, out=out) == 0
    printed = out.getvalue().rstrip("\n")
    if plot:
        printed = printed.replace(str(tmp_path / "plot.svg"), plot)
        assert (tmp_path / "plot.svg").read_text() == (ROOT / plot).read_text(), (
            f"{plot} is stale: rerun the README command"
        )
    assert printed == expected
