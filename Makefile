# All targets are exercised by CI (.ci/run).
PY ?= .venv/bin/python

.PHONY: setup protos check-protos lint test demo bench clean

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

clean:
	rm -rf .flame-local build dist *.egg-info
