"""The simulation side of opdsim: scenario configuration, distributions and (later) the SimPy processes.

Importing this package loads only the configuration modules; SimPy is imported by the modules that need it.
"""

from opdsim.sim.distributions import Distribution
from opdsim.sim.errors import ScenarioError
from opdsim.sim.scenario import Scenario

__all__ = ["Distribution", "Scenario", "ScenarioError"]
