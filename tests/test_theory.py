"""opdsim.theory against published reference cases, plus the conservation law as a property."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opdsim.theory import (
    accumulating_priority_waits_1server,
    cobham_waits,
    conservation_wait,
    erlang_c,
    littles_law_l,
    mmc_wait,
    pk_wait,
)

MIX = (0.05, 0.15, 0.2, 0.3, 0.3)


# -- reference cases --------------------------------------------------------------------------------------


def test_erlang_c_ciw_readme_case() -> None:
    # c = 3, lambda = 0.2, mu = 0.1: C = 4/9, Wq = 4.444
    assert erlang_c(3, 0.2 / 0.1) == pytest.approx(4 / 9, rel=1e-12)
    assert mmc_wait(3, 0.2, 0.1) == pytest.approx(40 / 9, rel=1e-12)


def test_cobham_one_server_two_categories_ciw_literature_case() -> None:
    waits = cobham_waits(1, [0.2, 0.6], 1.0)
    assert waits == pytest.approx([1.0, 5.0], rel=1e-12)
    # time in system adds one mean consultation (1 / mu)
    assert [w + 1.0 for w in waits] == pytest.approx([2.0, 6.0], rel=1e-12)


def test_cobham_three_servers_five_categories() -> None:
    lams = [2.4 * share for share in MIX]
    assert erlang_c(3, 2.4) == pytest.approx(0.647191, abs=5e-7)
    waits = cobham_waits(3, lams, 1.0)
    assert waits == pytest.approx([0.22472, 0.26752, 0.37768, 0.72102, 2.45148], abs=5e-6)
    weighted = math.fsum(lam * w for lam, w in zip(lams, waits, strict=True)) / 2.4
    assert weighted == pytest.approx(1.078652, abs=5e-7)
    assert weighted == pytest.approx(mmc_wait(3, 2.4, 1.0), rel=1e-12)
    assert conservation_wait(3, lams, 1.0) == pytest.approx(weighted, rel=1e-12)


def test_kleinrock_accumulating_priority_case() -> None:
    # lambda_low = 0.6, lambda_high = 0.2, mu = 1, b_high / b_low = 4
    low, high = accumulating_priority_waits_1server([0.6, 0.2], 1.0, [1.0, 4.0])
    assert [low, high] == pytest.approx([80 / 17, 32 / 17], rel=1e-12)
    assert (round(low, 3), round(high, 3)) == (4.706, 1.882)
    assert 0.6 * low + 0.2 * high == pytest.approx(3.2, rel=1e-12)


def test_accumulating_priority_limits_are_fcfs_and_strict_priority() -> None:
    fcfs = accumulating_priority_waits_1server([0.6, 0.2], 1.0, [1.0, 1.0])
    assert fcfs == pytest.approx([4.0, 4.0], rel=1e-12)
    strict = accumulating_priority_waits_1server([0.6, 0.2], 1.0, [1.0, 1e12])
    assert strict == pytest.approx([5.0, 1.0], rel=1e-9)
    assert strict == pytest.approx(cobham_waits(1, [0.2, 0.6], 1.0)[::-1], rel=1e-9)
    for waits in (fcfs, strict):
        assert 0.6 * waits[0] + 0.2 * waits[1] == pytest.approx(3.2, rel=1e-9)


# -- other exact checks ----------------------------------------------------------------------------------------


def test_erlang_c_is_stable_for_hundreds_of_servers() -> None:
    p = erlang_c(500, 480.0)
    assert 0 < p < 1
    # Halfin-Whitt regime sanity check: c = a + beta sqrt(a) keeps P(wait) away from 0 and 1
    assert 0.05 < erlang_c(500, 500 - 1.0 * math.sqrt(500)) < 0.5


def test_erlang_c_one_server_is_rho() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7, rel=1e-12)
    assert erlang_c(4, 0.0) == 0.0


def test_pk_with_exponential_service_equals_mm1() -> None:
    lam, mu = 0.7, 1.3
    es, es2 = 1 / mu, 2 / mu**2
    assert pk_wait(lam, es, es2) == pytest.approx(mmc_wait(1, lam, mu), rel=1e-12)


def test_pk_with_deterministic_service_halves_the_mm1_wait() -> None:
    assert pk_wait(0.5, 1.0, 1.0) == pytest.approx(mmc_wait(1, 0.5, 1.0) / 2, rel=1e-12)


def test_littles_law() -> None:
    assert littles_law_l(2.0, 3.5) == 7.0
    # the number waiting in the Ciw case: lambda Wq
    assert littles_law_l(0.2, mmc_wait(3, 0.2, 0.1)) == pytest.approx(8 / 9, rel=1e-12)


# -- the conservation law as a property ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    c=st.integers(min_value=1, max_value=40),
    rho=st.floats(min_value=0.01, max_value=0.98),
    shares=st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=1, max_size=6),
    mu=st.floats(min_value=0.05, max_value=20.0),
)
def test_cobham_waits_satisfy_kleinrock_conservation(c: int, rho: float, shares: list[float], mu: float) -> None:
    lam = rho * c * mu
    lams = [lam * s / math.fsum(shares) for s in shares]
    waits = cobham_waits(c, lams, mu)
    weighted = math.fsum(lk * wk for lk, wk in zip(lams, waits, strict=True)) / math.fsum(lams)
    assert weighted == pytest.approx(conservation_wait(c, lams, mu), rel=1e-9)
    assert waits == sorted(waits)  # higher priority never waits longer


@settings(max_examples=100, deadline=None)
@given(
    lams=st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=1, max_size=5),
    bs=st.lists(st.floats(min_value=0.1, max_value=10.0), min_size=5, max_size=5),
    rho=st.floats(min_value=0.05, max_value=0.95),
)
def test_accumulating_priority_satisfies_conservation(lams: list[float], bs: list[float], rho: float) -> None:
    scaled = [lk * rho / math.fsum(lams) for lk in lams]
    waits = accumulating_priority_waits_1server(scaled, 1.0, bs[: len(scaled)])
    weighted = math.fsum(lk * wk for lk, wk in zip(scaled, waits, strict=True)) / rho
    assert weighted == pytest.approx(mmc_wait(1, rho, 1.0), rel=1e-9)


# -- errors ----------------------------------------------------------------------------------------------------


def test_unstable_queues_are_rejected_with_rho_named() -> None:
    with pytest.raises(ValueError, match=r"rho = 1\.05 >= 1: the queue is unstable"):
        mmc_wait(1, 1.05, 1.0)
    with pytest.raises(ValueError, match=r"a = 3\.5 >= c = 3"):
        erlang_c(3, 3.5)
    with pytest.raises(ValueError, match=r"rho = 1\.2 >= 1: the queue is unstable"):
        cobham_waits(1, [0.6, 0.6], 1.0)
    with pytest.raises(ValueError, match=r"rho = 1 >= 1"):
        pk_wait(1.0, 1.0, 2.0)
    with pytest.raises(ValueError, match=r"rho = 1 >= 1"):
        accumulating_priority_waits_1server([0.5, 0.5], 1.0, [1.0, 2.0])


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match=r"c = 0: the number of servers must be a whole number >= 1"):
        erlang_c(0, 0.5)
    with pytest.raises(ValueError, match=r"c = 2\.5"):
        mmc_wait(2.5, 1.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"mu = 0 must be > 0"):
        mmc_wait(2, 1.0, 0)
    with pytest.raises(ValueError, match=r"lam = -1 is negative"):
        mmc_wait(2, -1, 1.0)
    with pytest.raises(ValueError, match=r"lams\[1\] = -0\.2 is negative"):
        cobham_waits(2, [0.1, -0.2], 1.0)
    with pytest.raises(ValueError, match=r"lams = \[\] must be a non-empty sequence"):
        conservation_wait(2, [], 1.0)
    with pytest.raises(ValueError, match=r"a = nan is not a finite number"):
        erlang_c(2, math.nan)
    with pytest.raises(ValueError, match=r"es2 = 0\.5 < es\*\*2 = 1\.0"):
        pk_wait(0.5, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"b = \[1\.0\] must have one rate per class"):
        accumulating_priority_waits_1server([0.1, 0.2], 1.0, [1.0])
    with pytest.raises(ValueError, match=r"b\[1\] = 0 must be > 0"):
        accumulating_priority_waits_1server([0.1, 0.2], 1.0, [1.0, 0])
    with pytest.raises(ValueError, match=r"w = -2 is negative"):
        littles_law_l(1.0, -2)
