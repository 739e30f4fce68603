"""opdsim: an OPD token allocation engine and the simulation that tunes its policy.

The engine names load at once (standard library only); the simulation and experiment names load on first use,
so that a booking service importing ``opdsim.engine`` never pays for pandas, SimPy or numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from opdsim.engine import Category, Engine, OpdsimError, Policy

__version__ = "0.1.0"

__all__ = [
    "Category",
    "Engine",
    "OpdsimError",
    "Policy",
    "Results",
    "Scenario",
    "SimResult",
    "SweepSpec",
    "__version__",
    "compare_results",
    "load_results",
    "open_access",
    "regress",
    "replicate",
    "simulate",
    "sweep",
]

_LAZY = {
    "Scenario": "opdsim.sim.scenario",
    "SimResult": "opdsim.sim.simulate",
    "simulate": "opdsim.sim.simulate",
    "open_access": "opdsim.scenarios",
    "Results": "opdsim.experiments",
    "SweepSpec": "opdsim.experiments",
    "compare_results": "opdsim.experiments",
    "load_results": "opdsim.experiments",
    "regress": "opdsim.experiments",
    "replicate": "opdsim.experiments",
    "sweep": "opdsim.experiments",
}

if TYPE_CHECKING:
    from opdsim.experiments import Results, SweepSpec, compare_results, load_results, regress, replicate, sweep
    from opdsim.scenarios import open_access
    from opdsim.sim.scenario import Scenario
    from opdsim.sim.simulate import SimResult, simulate


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'opdsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
