"""Validation of the model against queueing theory, on the open-access clinic.

Each check runs independent replications of :func:`opdsim.scenarios.open_access`, takes one mean per
replication (patients arriving after the warm-up; those still waiting at the horizon count with their wait so
far), and compares the mean over replications with the exact value.

Tolerance rule
--------------
A check passes when ``|mean - exact| <= 3 * se + margin * exact``, with ``se`` the standard error over
replications (sample sd / sqrt(R)). Three standard errors make a false failure about 1 in 370 per compared
value under normality (a 95% interval would fail one run in twenty, too often for CI); the small relative
``margin`` (default 3%) absorbs the bias of a finite horizon and warm-up, which the interval does not measure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from opdsim import theory
from opdsim.engine import Category, Policy
from opdsim.scenarios import open_access
from opdsim.sim.simulate import SimResult, simulate

__all__ = [
    "Comparison",
    "category_means",
    "compare",
    "conservation_study",
    "little_study",
    "multi_doctor_report",
    "reference_rates",
    "replicate_open_access",
    "weighted_mean_wait",
]

CATEGORIES = tuple(Category)
# The reference case (tests/test_theory.py): one doctor, mu = 1/min, this category mix (EMERGENCY first), rho 0.8
REFERENCE_MIX = (0.05, 0.15, 0.2, 0.3, 0.3)
REFERENCE_RHO = 0.8


def reference_rates(rho: float = REFERENCE_RHO, doctors: int = 1) -> dict[Category, float]:
    """Arrivals per hour by category for the reference mix at utilisation ``rho`` with ``doctors`` doctors of
    service rate 1 per minute [1/h]."""
    return {c: m * rho * doctors * 60.0 for c, m in zip(CATEGORIES, REFERENCE_MIX, strict=True)}


@dataclass(frozen=True)
class Comparison:
    """One simulated mean against its exact value."""

    label: str
    exact: float
    mean: float
    se: float
    replications: int
    margin: float

    @property
    def tolerance(self) -> float:
        """Allowed distance: 3 standard errors plus ``margin`` times the exact value."""
        return 3.0 * self.se + self.margin * abs(self.exact)

    @property
    def ok(self) -> bool:
        """Whether the simulated mean is within tolerance of the exact value."""
        return abs(self.mean - self.exact) <= self.tolerance

    def as_row(self) -> dict[str, object]:
        """Plain row for a report table."""
        return {
            "check": self.label,
            "exact": self.exact,
            "simulated": self.mean,
            "se": self.se,
            "tolerance": self.tolerance,
            "ok": self.ok,
        }


def compare(label: str, exact: float, per_replication: ArrayLike, margin: float = 0.03) -> Comparison:
    """Compare the mean of ``per_replication`` values with ``exact`` (see the module's tolerance rule)."""
    x = np.asarray(per_replication, dtype=float)
    se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.inf
    return Comparison(label, exact, float(x.mean()), se, len(x), margin)


def replicate_open_access(
    doctors: int,
    rates_per_hour: Mapping[Category, float],
    service_mean: float,
    horizon: float,
    warmup: float,
    policy: Policy,
    replications: int,
    seed: int = 0,
    run: Callable[..., SimResult] = simulate,
) -> list[SimResult]:
    """Independent replications of one open-access clinic (replication r uses streams (seed, r))."""
    spec = open_access(doctors, rates_per_hour, service_mean, horizon, warmup, policy)
    return [run(spec, seed, r) for r in range(replications)]


def category_means(results: Sequence[SimResult]) -> pd.DataFrame:
    """Mean wait per category per replication (rows: replications, columns: category names) [min]."""
    rows = [r.patients.groupby("category")["wait"].mean() for r in results]
    return pd.DataFrame(rows).reset_index(drop=True)


def weighted_mean_wait(results: Sequence[SimResult]) -> list[float]:
    """Arrival-weighted mean wait over all patients, per replication [min]."""
    return [float(r.patients["wait"].mean()) for r in results]


def conservation_study(
    rates_per_hour: Mapping[Category, float],
    service_mean: float,
    policies: Mapping[str, Policy],
    horizon: float,
    warmup: float,
    replications: int,
    seed: int = 0,
    margin: float = 0.03,
) -> tuple[list[Comparison], pd.DataFrame]:
    """Kleinrock's conservation law on one doctor: for every policy, the arrival-weighted mean wait must equal
    the first-come-first-served M/M/1 wait. Returns the comparisons and the per-category mean waits by policy."""
    lam = sum(rates_per_hour.values()) / 60.0
    exact = theory.mmc_wait(1, lam, 1.0 / service_mean)
    checks: list[Comparison] = []
    by_policy: dict[str, pd.Series] = {}
    for name, policy in policies.items():
        res = replicate_open_access(1, rates_per_hour, service_mean, horizon, warmup, policy, replications, seed)
        checks.append(compare(f"conservation, {name}", exact, weighted_mean_wait(res), margin))
        by_policy[name] = category_means(res).mean()
    return checks, pd.DataFrame(by_policy).T


def little_study(results: Sequence[SimResult]) -> list[tuple[float, float]]:
    """Little's law per replication: (time-average number waiting from the timeline, lambda x mean wait)."""
    out = []
    for r in results:
        tl = r.timeline
        span = float(tl["t_end"].iloc[-1] - tl["t_start"].iloc[0])
        width = (tl["t_end"] - tl["t_start"]).to_numpy()
        length = float((tl["queue_length"].to_numpy() * width).sum() / span)
        lam = len(r.patients) / span
        out.append((length, lam * float(r.patients["wait"].mean())))
    return out


def multi_doctor_report(
    doctors: int,
    rates_per_hour: Mapping[Category, float],
    service_mean: float,
    horizon: float,
    warmup: float,
    replications: int,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-doctor queues against the pooled M/M/c (Cobham) figures, which they can only approach: a report,
    not a check (DESIGN: the engine assigns each patient to a doctor at booking)."""
    policy = Policy(aging="none")
    res = replicate_open_access(doctors, rates_per_hour, service_mean, horizon, warmup, policy, replications, seed)
    means = category_means(res)
    lams = [rates_per_hour.get(c, 0.0) / 60.0 for c in CATEGORIES]
    cobham = theory.cobham_waits(doctors, [x for x in lams if x > 0], 1.0 / service_mean)
    present = [c.name for c, x in zip(CATEGORIES, lams, strict=True) if x > 0]
    rows = []
    for name, exact in zip(present, cobham, strict=True):
        col = means[name]
        rows.append(
            {
                "category": name,
                "pooled_mmc": exact,
                "per_doctor_sim": float(col.mean()),
                "se": float(col.std(ddof=1) / math.sqrt(len(col))),
                "ratio": float(col.mean()) / exact if exact > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows)
