"""opdsim: an OPD token allocation engine and the simulation that tunes its policy."""

from opdsim.engine import Category, Engine, OpdsimError, Policy

__all__ = ["Category", "Engine", "OpdsimError", "Policy"]
__version__ = "0.1.0"
