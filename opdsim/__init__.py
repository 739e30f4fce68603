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
    "Scenario",
    "SimResult",
    "__version__",
    "open_access",
    "simulate",
]

_LAZY = {
    "Scenario": "opdsim.sim.scenario",
    "SimResult": "opdsim.sim.simulate",
    "simulate": "opdsim.sim.simulate",
    "open_access": "opdsim.scenarios",
}

if TYPE_CHECKING:
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
