# All targets are exercised by CI (.ci/run).
PY ?= .venv/bin/python

.PHONY: setup protos check-protos lint test demo bench bench-runner bench-chaos bench-all clean

setup:
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'

protos:
	$(PY) scripts/gen_protos.py

check-protos:
	$(PY) scripts/gen_protos.py --check

lint:
	$(PY) -m ruff check .
	$(PY) -m mypy

test: setup check-protos
	$(PY) -m pytest -q

demo: setup
	$(PY) -m examples.demo

bench: setup
	$(PY) bench/run.py

# The Runner: call overhead and a 1,000-call map; run from the repository root.
bench-runner: setup
	$(PY) bench/runner.py

# kill -9 of servers and services under 20,000 tasks, seeded (docs/reliability.md); CI runs a tiny
# --quick form from tests/bench/test_chaos_smoke.py. CHAOS_ARGS="--quick" for a one-minute run.
bench-chaos: setup
	$(PY) bench/chaos.py $(CHAOS_ARGS)

# Side by side with Ray and Dask, in a venv of its own so that .venv stays small.
# BENCH_ARGS=--quick for a ~3 minute smoke run (prints only); see bench/peers/main.py.
PEERS_VENV ?= bench/.venv-peers
PEERS_PY := $(PEERS_VENV)/bin/python
PEERS_PKGS ?= ray==2.60.0 dask==2026.8.0 distributed==2026.8.0 matplotlib

$(PEERS_VENV)/.installed: pyproject.toml
	@test -x $(PEERS_PY) || python3 -m venv $(PEERS_VENV)
	$(PEERS_PY) -m pip install -q --upgrade pip
	$(PEERS_PY) -m pip install -q $(PEERS_PKGS)
	$(PEERS_PY) -m pip install -q -e .
	touch $@

bench-all: $(PEERS_VENV)/.installed
	$(PEERS_PY) -m bench.peers $(BENCH_ARGS)

clean:
	rm -rf .flame-local build dist *.egg-info
