"""Metamorphic relations under common random numbers, on means over replications.

Each test pairs replications (same seed and replication number on both sides, so the same patients) and
asserts the relation on the mean paired difference with a tolerance of 3 standard errors of that difference:
a genuine reversal larger than the noise fails, noise alone fails about 1 run in 700 (one-sided).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from opdsim.engine import Category, Policy
from opdsim.scenarios import open_access
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate

pytestmark = pytest.mark.usefixtures("untraced")  # studies over replications: see tests/conftest.py

REPS = 8


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of b - a and its standard error."""
    d = np.asarray(b) - np.asarray(a)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def metric(scenario: Scenario, column: str, seed: int) -> list[float]:
    return [float(simulate(scenario, seed, r).summary[column].iloc[0]) for r in range(REPS)]


def test_more_emergencies_do_not_shorten_walk_in_p95_waits(standard_day: Scenario) -> None:
    calm = standard_day.replace(**{"demand.emergency.rate_per_hour": 0.5})
    busy = standard_day.replace(**{"demand.emergency.rate_per_hour": 6.0})
    diff, se = paired(metric(calm, "wait_p95_WALK_IN", 21), metric(busy, "wait_p95_WALK_IN", 21))
    assert diff >= -3 * se, (diff, se)


def test_a_lower_aging_threshold_does_not_lengthen_the_longest_walk_in_wait(standard_day: Scenario) -> None:
    loaded = standard_day.replace(**{"demand.emergency.rate_per_hour": 4.0})
    late = loaded.replace(**{"policy.aging_threshold": 13})
    early = loaded.replace(**{"policy.aging_threshold": 2})
    diff, se = paired(metric(late, "wait_max_WALK_IN", 22), metric(early, "wait_max_WALK_IN", 22))
    assert diff <= 3 * se, (diff, se)


def test_more_doctors_do_not_lengthen_the_mean_wait() -> None:
    rates = {Category.PAID_PRIORITY: 20.0, Category.ONLINE: 40.0, Category.WALK_IN: 50.0, Category.EMERGENCY: 4.0}
    policy = Policy()
    waits: dict[int, list[float]] = {}
    for doctors in (2, 3):
        spec = open_access(doctors, rates, 1.0, 3_000, 200, policy)
        waits[doctors] = [float(simulate(spec, 23, r).patients["wait"].mean()) for r in range(REPS)]
    diff, se = paired(waits[2], waits[3])
    assert diff <= 3 * se, (diff, se)
    assert diff < 0  # at rho ~0.95 with two doctors, a third one shortens waits by far more than the noise
