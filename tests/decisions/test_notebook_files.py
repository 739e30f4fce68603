"""The notebooks as stored: no outputs, a parameters cell, opdsim imported, no simulation written in them."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["01_policy_tuning", "02_compare_thresholds", "03_what_if", "04_validation"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_clean_with_parameters(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)  # type: ignore[no-untyped-call]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "REPLICATIONS" in params[0].source
    source = "\n".join(c.source for c in code)
    assert "from opdsim" in source
    for forbidden in ("import simpy", "Engine(", "numpy.random", "default_rng"):  # model logic stays in opdsim
        assert forbidden not in source, forbidden
