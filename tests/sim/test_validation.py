"""The model against queueing theory (opdsim.theory), on the open-access clinic.

Tolerance rule (see opdsim.validation): |simulated mean - exact| <= 3 standard errors over independent
replications + 3% of the exact value for the bias of a finite horizon and warm-up. Run lengths are chosen so
that the whole module takes well under a minute; the lowest category, whose wait varies most, decides them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from opdsim import theory
from opdsim.engine import Category, Policy
from opdsim.sim.simulate import SimResult
from opdsim.validation import (
    REFERENCE_MIX,
    category_means,
    compare,
    conservation_study,
    little_study,
    multi_doctor_report,
    replicate_open_access,
    weighted_mean_wait,
)

pytestmark = pytest.mark.usefixtures("untraced")  # long studies: see tests/conftest.py

C = Category
SERVICE = 1.0  # mean consultation [min]; mu = 1 per minute
MIX = REFERENCE_MIX  # the five-category mix of tests/test_theory.py
RHO = 0.8


def rates(total_per_min: float, mix: tuple[float, ...] = MIX) -> dict[Category, float]:
    return {c: m * total_per_min * 60.0 for c, m in zip(C, mix, strict=True)}


def test_mm1_single_category_wait_matches_the_formula() -> None:
    res = replicate_open_access(1, {C.WALK_IN: RHO * 60.0}, SERVICE, 20_000, 1_000, Policy(aging="none"), 10, 101)
    check = compare("M/M/1 Wq", theory.mmc_wait(1, RHO, 1.0 / SERVICE), weighted_mean_wait(res))
    assert check.ok, check


@pytest.fixture(scope="module")
def strict_priority(untraced: None) -> list[SimResult]:
    return replicate_open_access(1, rates(RHO), SERVICE, 30_000, 1_000, Policy(aging="none"), 10, 202)


def test_cobham_waits_for_five_categories_with_aging_off(strict_priority: list[SimResult]) -> None:
    exact = theory.cobham_waits(1, [m * RHO for m in MIX], 1.0 / SERVICE)
    means = category_means(strict_priority)
    checks = [compare(c.name, e, means[c.name]) for c, e in zip(C, exact, strict=True)]
    assert all(ch.ok for ch in checks), [ch for ch in checks if not ch.ok]
    # and the order is strict: each category waits longer than the one above it
    sim = [ch.mean for ch in checks]
    assert sim == sorted(sim)


def test_littles_law_holds_on_the_timeline(strict_priority: list[SimResult]) -> None:
    # L read from the engine's own queue by the observer process, against lambda x W from the patients' waits
    pairs = little_study(strict_priority)
    observed = [float(r.timeline["queue_observed"].mean()) for r in strict_priority]
    ratios = [obs / lw for obs, (_, lw) in zip(observed, pairs, strict=True)]
    check = compare("L / (lambda W)", 1.0, ratios, margin=0.05)
    assert check.ok, check
    # the time-average from the timeline's intervals agrees with lambda W to rounding
    assert all(math.isclose(length, lw, rel_tol=1e-6) for length, lw in pairs)


@pytest.mark.parametrize(
    "policies",
    [
        {
            "bypass K=2": Policy(aging="bypass", aging_threshold=2),
            "bypass K=8 step": Policy(aging="bypass", aging_threshold=8, aging_target="step"),
        },
        {
            "wait T=5": Policy(aging="wait", aging_threshold=5),
            "wait T=20 step": Policy(aging="wait", aging_threshold=20, aging_target="step"),
        },
    ],
    ids=["bypass", "wait"],
)
def test_kleinrock_conservation_with_aging_on(policies: dict[str, Policy], strict_priority: list[SimResult]) -> None:
    checks, by_policy = conservation_study(rates(RHO), SERVICE, policies, 20_000, 1_000, 8, 303)
    assert all(ch.ok for ch in checks), [ch for ch in checks if not ch.ok]
    # aging did move waits between categories: walk-ins wait less and follow-ups more than under strict priority
    strict = category_means(strict_priority).mean()
    for name in policies:
        assert by_policy.loc[name, "WALK_IN"] < 0.9 * strict["WALK_IN"], name
        assert by_policy.loc[name, "FOLLOW_UP"] > strict["FOLLOW_UP"], name


def test_multi_doctor_distance_to_pooled_mmc_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    # Per-doctor queues only approach the pooled M/M/c figures: report, and check only that the
    # pooled system is the better one for the lowest category, as pooling theory says.
    report = multi_doctor_report(3, rates(3 * RHO), SERVICE, 10_000, 1_000, 5, 404)
    print("\n" + report.to_string(index=False))
    walk = report.set_index("category").loc["WALK_IN"]
    assert walk["per_doctor_sim"] > walk["pooled_mmc"]
    assert np.isfinite(report["ratio"]).all()
