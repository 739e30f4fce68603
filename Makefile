# opdsim: one command each for a fresh machine with Python 3.11 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NATIVE := $(VENV)/.engine-native
ENGINE_SRC := $(wildcard opdsim/engine/*.py)

# Every dependency is pinned in uv.lock and installed from it by uv, itself pinned here and installed into the
# venv by the interpreter's own pip. uv uses that interpreter and never downloads a Python of its own.
UV_VERSION := 0.13.9
UV         := $(BIN)/uv
UV_STAMP   := $(VENV)/.uv-$(UV_VERSION)
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup lock upgrade demo test lint typecheck unit slow bench baseline mutate clean

setup: $(STAMP) $(NATIVE)

$(UV_STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check uv==$(UV_VERSION)
	rm -f $(VENV)/.uv-*
	touch $@

# Re-install only when the metadata or the lock changed: a second `make setup` is a no-op. --locked refuses a
# uv.lock that no longer matches pyproject.toml (run `make lock`) instead of installing something else.
# --compile-bytecode writes every installed module's .pyc once: a machine that sets PYTHONDONTWRITEBYTECODE
# (this one does) would otherwise compile pandas and SciPy from source in every `opdsim` process, about 3 s each.
$(STAMP): pyproject.toml uv.lock $(UV_STAMP)
	$(UV) sync --quiet --locked --all-extras --compile-bytecode --python $(BIN)/python \
		|| { echo "make setup: uv.lock is stale or cannot be installed; after changing pyproject.toml run make lock" >&2; exit 1; }
	touch $(STAMP)

# After changing dependencies in pyproject.toml: record them in uv.lock, keeping every other pin as it is.
lock: $(UV_STAMP)
	$(UV) lock --python $(BIN)/python

# Move every pin to the newest release the bounds in pyproject.toml allow (review the diff of uv.lock).
upgrade: $(UV_STAMP)
	$(UV) lock --upgrade --python $(BIN)/python

# The optional compiled engine (mypyc, build_engine.py): rebuilt when an engine source changes (not on
# every change of the lock: the install is an order-only prerequisite); skipped without
# a C compiler; OPDSIM_PURE=1 removes it and keeps the pure-Python engine.
$(NATIVE): $(ENGINE_SRC) build_engine.py | $(STAMP)
	$(BIN)/python build_engine.py
	@if [ -n "$$OPDSIM_PURE" ]; then rm -f $(NATIVE); else touch $(NATIVE); fi

demo: setup
	$(BIN)/opdsim demo

lint: setup
	$(BIN)/ruff check opdsim tests benchmarks
	$(BIN)/ruff format --check opdsim tests benchmarks

typecheck: setup
	$(BIN)/mypy

# Line and branch coverage of opdsim/, CLI and worker processes included, on every core (pytest-xdist).
# Compiled modules are invisible to coverage, so with the compiled engine installed its lines are measured in
# the second pass, on the pure build (the engine suite, and the metrics tests that drive the compiled records
# fold); `coverage report` then checks the floor in [tool.coverage.report]
# fail_under (90%) once, over both passes. PostgreSQL (for tests/service/test_postgres.py) and Chromium (for the
# report's rendering test) are installed and started by .ci/ scripts when missing; .ci/run requires both, a
# developer's machine without root falls back to skipping those tests with the reason printed.
# Files go whole to a worker (loadfile: a module's expensive fixture is built once), except in the engine pass,
# where the five long stateful tests of one file would otherwise keep one worker busy while the other idles.
RECORDS_TESTS := tests/metrics/test_records.py tests/metrics/test_patients_by_hand.py tests/metrics/test_summary_by_hand.py
# --timeout: a test still running after 10 minutes fails with its stack printed, so a hang cannot hold CI.
PYTEST := $(BIN)/python -m pytest -q -m "not slow" -n auto --timeout 600 --cov --cov-report= --cov-fail-under=0
unit: setup
	rm -f .coverage .coverage.*
	$(BIN)/python -m compileall -q -j 0 opdsim tests benchmarks >/dev/null
	@bash .ci/ensure-deb.sh chromium >/dev/null || echo "make test: no Chromium; the report rendering test is skipped" >&2
	@if [ -z "$$OPDSIM_TEST_PG_DSN" ]; then \
		eval "$$(bash .ci/postgres.sh)" || echo "make test: no PostgreSQL; its service tests are skipped" >&2; \
	fi; \
	$(PYTEST) --dist loadfile && \
	if $(BIN)/python -c "import sys; from opdsim.engine import _build; sys.exit(_build.build() != 'compiled')"; then \
		echo "== the engine suite and the records tests again, on the pure-Python build (OPDSIM_PURE=1) =="; \
		OPDSIM_PURE=1 $(PYTEST) --dist load --cov-append tests/engine $(RECORDS_TESTS); \
	fi
	$(BIN)/python -m coverage report --skip-covered --show-missing

test: lint typecheck unit

slow: setup
	$(BIN)/python -m pytest -q -m slow

bench: setup
	@bash .ci/ensure-deb.sh wrk >/dev/null || echo "make bench: no wrk; the service is loaded from a Python client only" >&2
	$(BIN)/python -m benchmarks

# Regenerate the regression baseline after an intended change of results (review the diff, then commit it).
baseline: setup
	rm -rf tests/baselines/standard
	$(BIN)/opdsim sweep tests/baselines/regression_sweep.toml --out tests/baselines/standard

.PHONY: chromium notebooks

# Headless Chromium for the report's rendering test (Debian's package; a no-op when installed).
chromium:
	bash .ci/ensure-deb.sh chromium

# JupyterLab on notebooks/ (the `notebooks` extra), served on 127.0.0.1 only.
notebooks: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks

# Mutation testing of the metrics, the records fold and the statistics ([tool.mutmut] in pyproject.toml).
mutate: setup
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage .coverage.* htmlcov build/mypyc opdsim/engine/*.so
