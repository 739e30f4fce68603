# opdsim: one command each for a fresh machine with Python 3.11 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit slow bench baseline mutate clean

setup: $(STAMP)

# Re-install only when the project's metadata changed: a second `make setup` is a no-op.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[api,notebooks,distributed,dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/opdsim demo

lint: setup
	$(BIN)/ruff check opdsim tests benchmarks
	$(BIN)/ruff format --check opdsim tests benchmarks

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/python -m pytest -q -m "not slow"

test: lint typecheck unit

slow: setup
	$(BIN)/python -m pytest -q -m slow

bench: setup
	$(BIN)/python -m benchmarks

# Regenerate the regression baseline after an intended change of results (review the diff, then commit it).
baseline: setup
	rm -rf tests/baselines/standard
	$(BIN)/opdsim sweep tests/baselines/regression_sweep.toml --out tests/baselines/standard

# Mutation testing of the metrics, the records fold and the statistics ([tool.mutmut] in pyproject.toml).
mutate: setup
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
