# The few verbs a newcomer needs. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv test test-all test-matrix lint typecheck pytest emulator demo bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint typecheck pytest  ## ruff, mypy and the whole test suite

test-all:  ## the test suite on every Python 3.10-3.13 found on this machine, newest pulumi
	bash scripts/test_all.sh

test-matrix:  ## what CI runs: the suite on Python 3.10 and 3.13 x the lowest and newest pulumi
	bash scripts/matrix.sh

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)  ## the quickstart against the local emulator: the pulumi CLI if on PATH, else tests/harness
	bash scripts/demo.sh

bench: $(STAMP)  ## benchmarks through the real provider host (never part of the tests)
	$(PY) -m benchmarks $(BENCH_ARGS)

emulator: $(STAMP)  ## run the local Kibana Fleet API on :5601 with one policy
	$(PY) -m fleet_provider.emulator --policy fleet-server-policy

clean:
	rm -rf $(VENV) .venvs .mypy_cache .ruff_cache .pytest_cache *.egg-info
