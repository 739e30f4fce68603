"""Long validation near saturation (``make slow``): Cobham's waits at rho = 0.9, where the lowest category's wait
varies most. Same tolerance rule as test_validation.py, longer runs."""

from __future__ import annotations

import pytest

from opdsim import theory
from opdsim.engine import Category, Policy
from opdsim.validation import REFERENCE_MIX, category_means, compare, replicate_open_access

MIX = REFERENCE_MIX
RHO = 0.9


@pytest.mark.slow
def test_cobham_waits_at_rho_0_9() -> None:
    rates = {c: m * RHO * 60.0 for c, m in zip(Category, MIX, strict=True)}
    res = replicate_open_access(1, rates, 1.0, 200_000, 5_000, Policy(aging="none"), 12, 909)
    means = category_means(res)
    exact = theory.cobham_waits(1, [m * RHO for m in MIX], 1.0)
    checks = [compare(c.name, e, means[c.name]) for c, e in zip(Category, exact, strict=True)]
    assert all(ch.ok for ch in checks), [ch for ch in checks if not ch.ok]
