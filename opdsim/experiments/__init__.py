"""Experiments: replications, parameter sweeps, the results store, paired comparison and regression tests."""

from opdsim.experiments.compare import compare_results, regress
from opdsim.experiments.spec import SweepError, SweepSpec
from opdsim.experiments.study import ReplicationFailed, Results, load_results, replicate, sweep

__all__ = [
    "ReplicationFailed",
    "Results",
    "SweepError",
    "SweepSpec",
    "compare_results",
    "load_results",
    "regress",
    "replicate",
    "sweep",
]
