"""The public API named in the issues: importable from ``opdsim``, and the engine import stays light."""

from __future__ import annotations

import subprocess
import sys

import opdsim


def test_public_names_resolve() -> None:
    for name in opdsim.__all__:
        assert getattr(opdsim, name) is not None, name
    assert callable(opdsim.simulate) and callable(opdsim.sweep) and callable(opdsim.replicate)


def test_importing_the_engine_loads_no_simulation_stack() -> None:
    code = "import sys, opdsim.engine; print(sorted(m for m in ('pandas', 'simpy', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
