"""The validation tables printed by ``opdsim validate`` (and quoted in release notes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd

from opdsim import theory
from opdsim.engine import Category, Policy
from opdsim.validation import (
    REFERENCE_MIX,
    REFERENCE_RHO,
    category_means,
    compare,
    conservation_study,
    multi_doctor_report,
    reference_rates,
    replicate_open_access,
    weighted_mean_wait,
)

__all__ = ["STEPS", "TABLES", "report"]

TABLES = 5  # tables report() yields

MIX = REFERENCE_MIX
RHO = REFERENCE_RHO


STEPS = (
    "M/M/1, one category",
    "Cobham, five categories",
    "Kleinrock conservation",
    "three doctors against the pooled M/M/c",
)


def report(
    replications: int = 10,
    horizon: float = 20_000.0,
    warmup: float = 1_000.0,
    announce: Callable[[int, int, str], None] | None = None,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """(title, table) pairs, each as soon as it is computed: M/M/1, Cobham (five categories), Kleinrock
    conservation (two tables), per-doctor vs pooled. Tables with an ``ok`` column hold checks (see
    :mod:`opdsim.validation` for the tolerance rule).

    Parameters
    ----------
    replications : int
        Replications of every check.
    horizon, warmup : float
        Simulated minutes per replication, and the minutes left out at its start [min].
    announce : callable, optional
        Called as ``announce(k, len(STEPS), step)`` before each step starts.
    """

    def step(k: int) -> None:
        if announce is not None:
            announce(k + 1, len(STEPS), STEPS[k])

    rates = reference_rates()
    step(0)
    res = replicate_open_access(
        1, {Category.WALK_IN: RHO * 60}, 1.0, horizon, warmup, Policy(aging="none"), replications
    )
    mm1 = compare("M/M/1 Wq, rho 0.8", theory.mmc_wait(1, RHO, 1.0), weighted_mean_wait(res))
    yield ("M/M/1, one category (minutes)", pd.DataFrame([mm1.as_row()]))
    step(1)
    res = replicate_open_access(1, rates, 1.0, horizon, warmup, Policy(aging="none"), replications)
    means = category_means(res)
    exact = theory.cobham_waits(1, [m * RHO for m in MIX], 1.0)
    rows = [compare(c.name, e, means[c.name]).as_row() for c, e in zip(Category, exact, strict=True)]
    yield ("Cobham, five categories, aging off, rho 0.8 (minutes)", pd.DataFrame(rows))
    step(2)
    policies = {
        "bypass K=2": Policy(aging="bypass", aging_threshold=2),
        "bypass K=5": Policy(aging="bypass", aging_threshold=5),
        "wait T=10": Policy(aging="wait", aging_threshold=10),
        "wait T=10 step": Policy(aging="wait", aging_threshold=10, aging_target="step"),
    }
    checks, by_policy = conservation_study(rates, 1.0, policies, horizon, warmup, replications)
    yield (
        "Kleinrock conservation: weighted mean wait = FCFS Wq (minutes)",
        pd.DataFrame([c.as_row() for c in checks]),
    )
    yield ("Mean wait per category under each aging policy (minutes)", by_policy.reset_index(names="policy"))
    step(3)
    yield (
        "Three doctors: per-doctor queues against the pooled M/M/c (reported, not asserted)",
        multi_doctor_report(3, reference_rates(doctors=3), 1.0, horizon / 2, warmup, replications),
    )
