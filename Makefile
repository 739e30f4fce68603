# opdsim: one command each for a fresh machine with Python 3.11 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NATIVE := $(VENV)/.engine-native
ENGINE_SRC := $(wildcard opdsim/engine/*.py)

.PHONY: setup demo test lint typecheck unit slow bench baseline clean

setup: $(STAMP) $(NATIVE)

# Re-install only when the project's metadata changed: a second `make setup` is a no-op.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[api,notebooks,distributed,dev]"
	touch $(STAMP)

# The optional compiled engine (mypyc, build_engine.py): rebuilt when an engine source changes; skipped without
# a C compiler; OPDSIM_PURE=1 removes it and keeps the pure-Python engine.
$(NATIVE): $(STAMP) $(ENGINE_SRC) build_engine.py
	$(BIN)/python build_engine.py
	@if [ -n "$$OPDSIM_PURE" ]; then rm -f $(NATIVE); else touch $(NATIVE); fi

demo: setup
	$(BIN)/opdsim demo

lint: setup
	$(BIN)/ruff check opdsim tests benchmarks
	$(BIN)/ruff format --check opdsim tests benchmarks

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/python -m pytest -q -m "not slow"
	@if $(BIN)/python -c "import sys; from opdsim.engine import _build; sys.exit(_build.build() != 'compiled')"; then \
		echo "== the engine suite again, on the pure-Python build (OPDSIM_PURE=1) =="; \
		OPDSIM_PURE=1 $(BIN)/python -m pytest -q -m "not slow" tests/engine; \
	fi

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build/mypyc opdsim/engine/*.so
