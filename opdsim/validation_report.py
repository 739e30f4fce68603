"""The validation tables printed by ``opdsim validate`` (and quoted in release notes)."""

from __future__ import annotations

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

__all__ = ["report"]

MIX = REFERENCE_MIX
RHO = REFERENCE_RHO


def report(
    replications: int = 10, horizon: float = 20_000.0, warmup: float = 1_000.0
) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) pairs: M/M/1, Cobham (five categories), Kleinrock conservation, per-doctor vs pooled."""
    rates = reference_rates()
    out: list[tuple[str, pd.DataFrame]] = []
    res = replicate_open_access(
        1, {Category.WALK_IN: RHO * 60}, 1.0, horizon, warmup, Policy(aging="none"), replications
    )
    mm1 = compare("M/M/1 Wq, rho 0.8", theory.mmc_wait(1, RHO, 1.0), weighted_mean_wait(res))
    out.append(("M/M/1, one category (minutes)", pd.DataFrame([mm1.as_row()])))
    res = replicate_open_access(1, rates, 1.0, horizon, warmup, Policy(aging="none"), replications)
    means = category_means(res)
    exact = theory.cobham_waits(1, [m * RHO for m in MIX], 1.0)
    rows = [compare(c.name, e, means[c.name]).as_row() for c, e in zip(Category, exact, strict=True)]
    out.append(("Cobham, five categories, aging off, rho 0.8 (minutes)", pd.DataFrame(rows)))
    policies = {
        "bypass K=2": Policy(aging="bypass", aging_threshold=2),
        "bypass K=5": Policy(aging="bypass", aging_threshold=5),
        "wait T=10": Policy(aging="wait", aging_threshold=10),
        "wait T=10 step": Policy(aging="wait", aging_threshold=10, aging_target="step"),
    }
    checks, by_policy = conservation_study(rates, 1.0, policies, horizon, warmup, replications)
    out.append(
        ("Kleinrock conservation: weighted mean wait = FCFS Wq (minutes)", pd.DataFrame([c.as_row() for c in checks]))
    )
    out.append(("Mean wait per category under each aging policy (minutes)", by_policy.reset_index(names="policy")))
    out.append(
        (
            "Three doctors: per-doctor queues against the pooled M/M/c (reported, not asserted)",
            multi_doctor_report(3, reference_rates(doctors=3), 1.0, horizon / 2, warmup, replications),
        )
    )
    return out
