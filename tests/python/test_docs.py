"""The README's Python blocks run: the usage example as is, the FACT shim in a FACT-shaped tree
(both of FACT's import modes, each in a fresh interpreter)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "bindings-py" / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
SHIM = next(b for b in BLOCKS if "from ..core.errors import CacheError" in b)
# The observability blocks are run by their own tests (test_readiness.py runs the ASGI app);
# here they only have to run.
OBSERVABILITY = [b for b in BLOCKS if "prometheus_client" in b or "readiness probe" in b]
# The policy examples (first line "# policy: ...") assert their own outcome.
POLICIES = [b for b in BLOCKS if b.startswith("# policy:")]
EXAMPLES = [b for b in BLOCKS if b is not SHIM and b not in OBSERVABILITY and b not in POLICIES]

FACT_ERRORS = """
from typing import Any, Dict, Optional


class FACTError(Exception):
    def __init__(self, message: str, error_code: Optional[str] = None,
                 context: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.message = message
        self.error_code = error_code or self.__class__.__name__
        self.context = context or {}


class CacheError(FACTError):
    pass
"""

CHECK = """
import asyncio
{imports}

cfg = CircuitBreakerConfig(failure_threshold=1, timeout_seconds=60.0)
breaker = CacheCircuitBreaker(cfg)
wrapper = ResilientCacheWrapper(cache_manager=object(), circuit_breaker=breaker,
                                enable_graceful_degradation=False)
breaker.force_open()
try:
    asyncio.run(breaker.execute(lambda: 1, "get"))
except CacheError as e:
    assert "CIRCUIT_BREAKER" in str(e.error_code) and "CIRCUIT_BREAKER" in str(e), e
    assert type(e) is CacheError and e.context["state"] == "open"
else:
    raise SystemExit("no CacheError raised")
assert breaker.get_state() == CircuitState.OPEN
assert set(resilience.__all__) == {{"CircuitBreakerConfig", "CircuitState", "FailureRecord",
    "CircuitBreakerMetrics", "CacheCircuitBreaker", "ResilientCacheWrapper"}}
print("ok")
"""


@pytest.mark.parametrize("block", EXAMPLES, ids=lambda b: b.split("\n", 1)[0][:40])
def test_readme_example_runs(block: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})
    assert "closed -> open (failure_threshold)" in capsys.readouterr().out


@pytest.mark.parametrize("block", POLICIES, ids=lambda b: b.split("\n", 1)[0][:40])
def test_readme_policy_example_runs(block: str) -> None:
    exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})


def test_readme_has_policy_examples() -> None:
    assert POLICIES, "the policy examples were not found"


@pytest.mark.parametrize("block", OBSERVABILITY, ids=lambda b: b.split("\n", 1)[0][:40])
def test_readme_observability_example_runs(block: str) -> None:
    exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})


def fact_tree(root: Path) -> Path:
    src = root / "src"
    for pkg in ("", "core", "cache"):
        (src / pkg).mkdir(parents=True, exist_ok=True)
        (src / pkg / "__init__.py").write_text("")
    (src / "core" / "errors.py").write_text(FACT_ERRORS)
    (src / "cache" / "resilience.py").write_text(SHIM)
    return src


def run(cwd: Path, code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_shim_as_top_level_cache_module(tmp_path: Path) -> None:
    src = fact_tree(tmp_path)
    imports = (
        "import sys; sys.path.insert(0, 'src')\n"
        "from core.errors import CacheError\n"
        "import cache.resilience as resilience\n"
        "from cache.resilience import *\n"
    )
    assert run(src.parent, CHECK.format(imports=imports)).strip() == "ok"


def test_shim_in_package_mode(tmp_path: Path) -> None:
    src = fact_tree(tmp_path)
    imports = (
        "from src.core.errors import CacheError\n"
        "import src.cache.resilience as resilience\n"
        "from src.cache.resilience import *\n"
    )
    assert run(src.parent, CHECK.format(imports=imports)).strip() == "ok"


def test_root_readme_shows_the_same_shim() -> None:
    root = README.parents[1] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", root.read_text(), re.S)
    assert SHIM in blocks, "README.md's 'Use it in FACT' shim must match bindings-py/README.md"
