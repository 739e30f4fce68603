# opdsim: one command each for a fresh machine with Python 3.11 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Every dependency is pinned in uv.lock and installed from it by uv, itself pinned here and installed into the
# venv by the interpreter's own pip. uv uses that interpreter and never downloads a Python of its own.
UV_VERSION := 0.13.9
UV         := $(BIN)/uv
UV_STAMP   := $(VENV)/.uv-$(UV_VERSION)
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup lock upgrade demo test lint typecheck unit slow bench baseline clean

setup: $(STAMP)

$(UV_STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check uv==$(UV_VERSION)
	rm -f $(VENV)/.uv-*
	touch $@

# Re-install only when the metadata or the lock changed: a second `make setup` is a no-op. --locked refuses a
# uv.lock that no longer matches pyproject.toml (run `make lock`) instead of installing something else.
$(STAMP): pyproject.toml uv.lock $(UV_STAMP)
	$(UV) sync --quiet --locked --all-extras --python $(BIN)/python \
		|| { echo "make setup: uv.lock is stale or cannot be installed; after changing pyproject.toml run make lock" >&2; exit 1; }
	touch $(STAMP)

# After changing dependencies in pyproject.toml: record them in uv.lock, keeping every other pin as it is.
lock: $(UV_STAMP)
	$(UV) lock --python $(BIN)/python

# Move every pin to the newest release the bounds in pyproject.toml allow (review the diff of uv.lock).
upgrade: $(UV_STAMP)
	$(UV) lock --upgrade --python $(BIN)/python

demo: setup
	$(BIN)/opdsim demo

lint: setup
	$(BIN)/ruff check opdsim tests benchmarks
	$(BIN)/ruff format --check opdsim tests benchmarks

typecheck: setup
	$(BIN)/mypy

# Line and branch coverage of opdsim/, CLI and worker processes included; fails below the floor in
# [tool.coverage.report] fail_under (90%). The report lists the files not fully covered.
unit: setup
	rm -f .coverage .coverage.*
	$(BIN)/python -m pytest -q -m "not slow" --cov --cov-report=term-missing:skip-covered

test: lint typecheck unit

slow: setup
	$(BIN)/python -m pytest -q -m slow

bench: setup
	$(BIN)/python -m benchmarks

# Regenerate the regression baseline after an intended change of results (review the diff, then commit it).
baseline: setup
	rm -rf tests/baselines/standard
	$(BIN)/opdsim sweep tests/baselines/regression_sweep.toml --out tests/baselines/standard

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage .coverage.* htmlcov
