# Python package (bindings-py/ + pyproject.toml): tests, lint and benchmarks in a venv at .venv/.
# The venv is created on first use and reused; tool versions are pinned here.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PY_TOOLS := maturin==1.16.0 pytest==9.2.0 pytest-asyncio==1.5.0 redis==8.1.0 \
	prometheus_client==0.26.0 opentelemetry-api==1.45.2 opentelemetry-sdk==1.45.2
PY_LINT_TOOLS := ruff==0.17.6 mypy==2.4.1
PY_BENCH_PEERS := pybreaker==1.4.1 aiobreaker==1.2.0 purgatory==3.0.1 circuitbreaker==2.1.3
PY_FILES := bindings-py/python tests/python benches tools

.PHONY: venv-python develop-python setup-redis setup-prometheus test-python lint-python bench-python \
	bench-memory-python gen

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

venv-python: $(VPY)
	$(VPY) -m pip install --quiet $(PY_TOOLS)

# Builds the extension (release: the tests time real calls) and installs it editable.
develop-python: venv-python
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release --quiet

# The fault-injection suite (tests/python/faults/) starts its own redis-server from Debian's
# package; it is never started as a service here. CI runs as root.
setup-redis:
	@command -v redis-server >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server)

# tests/python/test_prometheus_server.py runs Debian's prometheus (2.42) by hand on a loopback
# port; it is never started as a service here.
setup-prometheus:
	@command -v prometheus >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus)

# FACT_SOAK=1 runs each fault for minutes instead of seconds.
test-python: develop-python setup-redis setup-prometheus
	$(VPY) -m pytest tests/python -q

lint-python: develop-python
	$(VPY) -m pip install --quiet $(PY_LINT_TOOLS)
	$(VENV)/bin/ruff check $(PY_FILES)
	$(VENV)/bin/ruff format --check $(PY_FILES)
	$(VPY) -m mypy.stubtest fact_resilience._native --allowlist bindings-py/stubtest-allowlist.txt
	$(VPY) -m mypy --strict  # files: [tool.mypy] in pyproject.toml (the package + tests/python/typing_example.py)
	$(VPY) tools/gen_config.py --check

# Rewrites the blocks generated from the core's config fields (stubs, TS type, docs' tables).
gen: develop-python
	$(VPY) tools/gen_config.py

bench-python: develop-python
	$(VPY) -m pip install --quiet $(PY_BENCH_PEERS)
	$(VPY) benches/python_overhead.py

# RSS per idle key in a BreakerRegistry (10k, 100k, 1M keys) and per standalone breaker.
bench-memory-python: develop-python
	$(VPY) benches/python_memory.py
