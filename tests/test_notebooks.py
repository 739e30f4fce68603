"""Every notebook runs from top to bottom on a real Jupyter kernel (a 4-replication version of its study)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_and_draws(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPDSIM_NOTEBOOK_QUICK", "1")
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]  # nbformat ships no type hints
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the plotting cells produced figures
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
