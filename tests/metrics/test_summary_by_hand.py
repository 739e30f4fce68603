"""Every summary column computed by hand on small days played through a real engine.

Each case plays a day with explicit engine calls, folds its log, joins the patients' planned arrivals and
computes the summary row; the expected values beside it are worked out by hand in the comments. Together the
cases assert every metric of the registry: ``test_every_registry_metric_is_asserted_by_hand`` fails when a
metric is added without a hand-computed value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opdsim.engine import BookingRejected, Category, Engine, Policy
from opdsim.engine.records import fold
from opdsim.metrics import _quantiles, patient_columns, summary_row
from opdsim.registry import CATEGORIES, REGISTRY

NAN = math.nan
Case = tuple[dict[str, float], dict[str, float]]  # (computed row, expected by hand)

EM, PA, FU, ON, WI = (c.name for c in Category)


def _population(rows: list[tuple[str, str, str, float, float]]) -> dict[str, np.ndarray]:
    """(patient, category, kind, booked_at, arrival) rows; the consultation is not used by the summary."""
    return {
        "patient": np.array([r[0] for r in rows], dtype=object),
        "category": np.array([r[1] for r in rows], dtype=object),
        "kind": np.array([r[2] for r in rows], dtype=object),
        "booked_doctor": np.array(["D1"] * len(rows), dtype=object),
        "booked_at": np.array([r[3] for r in rows], dtype=float),
        "arrival": np.array([r[4] for r in rows], dtype=float),
        "consultation": np.full(len(rows), 5.0),
    }


def _one_of_each() -> Engine:
    """One doctor, one slot [5, 35) of 10 seats, bypass aging K = 2, one patient of every category.

    Check-ins: walk-in W1 at 0, online O1 at 2, follow-up F1 at 4 (booked at 0), paid P1 at 6, emergency E1 at 8.
    The slot opens at 5, so W1, O1 and F1 are callable from 5; P1 from 6; E1 at once (8).
    Calls: E1 at 10 (overtakes all four), P1 at 15 (overtakes W1, O1, F1: their second bypass upgrades them to
    PAID_PRIORITY's rank), then by queue number W1 at 20, O1 at 25, F1 at 30; consultations end at 15, 20, 25,
    30 and 40.
    """
    eng = Engine(Policy(aging="bypass", aging_threshold=2))
    eng.add_doctor("D1", [(5.0, 35.0, 10)])
    o1 = eng.book("O1", Category.ONLINE, "D1", now=0.0)
    f1 = eng.book("F1", Category.FOLLOW_UP, "D1", now=0.0)
    p1 = eng.book("P1", Category.PAID_PRIORITY, "D1", now=0.0)
    eng.book("W1", Category.WALK_IN, "D1", now=0.0, check_in=True)
    eng.check_in(o1.id, 2.0)
    eng.check_in(f1.id, 4.0)
    eng.check_in(p1.id, 6.0)
    eng.emergency("E1", now=8.0)
    for at, done in ((10.0, 15.0), (15.0, 20.0), (20.0, 25.0), (25.0, 30.0), (30.0, 40.0)):
        v = eng.call_next("D1", at)
        assert v is not None
        eng.complete(v.id, done)
    eng.close_day(60.0)
    return eng


ONE_OF_EACH_POPULATION = [
    ("W1", WI, "walk_in", 0.0, 0.0),
    ("O1", ON, "booked", 0.0, 2.0),
    ("F1", FU, "booked", 0.0, 4.0),
    ("P1", PA, "booked", 0.0, 6.0),
    ("E1", EM, "emergency", 8.0, 8.0),
]


def _per_category(
    suffix: str, wait: float, from_arrival: float, starved: int, starved_a: int, overtaken: float, upgraded: int
) -> dict[str, float]:
    """One present patient: every statistic of a wait is that wait."""
    out: dict[str, float] = {f"n{suffix}": 1}
    for stat in ("mean", "median", "p90", "p95", "max"):
        out[f"wait_{stat}{suffix}"] = wait
        out[f"wait_from_arrival_{stat}{suffix}"] = from_arrival
    out[f"starved{suffix}"] = starved
    out[f"starved_from_arrival{suffix}"] = starved_a
    out[f"overtaken_mean{suffix}"] = overtaken
    out[f"upgraded{suffix}"] = upgraded
    return out


def _one_of_each_expected() -> dict[str, float]:
    # waits (callable time): W1 5->20 = 15, O1 5->25 = 20, F1 5->30 = 25, P1 6->15 = 9, E1 8->10 = 2
    # from arrival:          W1 0->20 = 20, O1 2->25 = 23, F1 4->30 = 26, P1 9, E1 2
    # starvation limit 22: starved F1 (25); from arrival O1 (23) and F1 (26)
    # overtaken: E1's call overtakes W1, O1, F1, P1; P1's overtakes W1, O1, F1: W1 2, O1 2, F1 2, P1 1, E1 0
    exp: dict[str, float] = {}
    exp |= _per_category(f"_{WI}", 15.0, 20.0, 0, 0, 2.0, 1)
    exp |= _per_category(f"_{ON}", 20.0, 23.0, 0, 1, 2.0, 1)
    exp |= _per_category(f"_{FU}", 25.0, 26.0, 1, 1, 2.0, 1)
    exp |= _per_category(f"_{PA}", 9.0, 9.0, 0, 0, 1.0, 0)
    exp |= _per_category(f"_{EM}", 2.0, 2.0, 0, 0, 0.0, 0)
    # overall waits sorted 2, 9, 15, 20, 25: mean 71/5; median 15; p90 at rank 0.9 x 4 = 3.6: 20 + 0.6 x 5 = 23;
    # p95 at 3.8: 20 + 0.8 x 5 = 24; max 25
    exp |= {"n": 5, "wait_mean": 14.2, "wait_median": 15.0, "wait_p90": 23.0, "wait_p95": 24.0, "wait_max": 25.0}
    # from arrival sorted 2, 9, 20, 23, 26: mean 80/5 = 16; median 20; p90 23 + 0.6 x 3 = 24.8; p95 23 + 0.8 x 3
    exp |= {
        "wait_from_arrival_mean": 16.0,
        "wait_from_arrival_median": 20.0,
        "wait_from_arrival_p90": 24.8,
        "wait_from_arrival_p95": 25.4,
        "wait_from_arrival_max": 26.0,
    }
    exp |= {"starved": 1, "starved_from_arrival": 2, "overtaken_mean": 7 / 5, "upgraded": 3}
    # the day: 5 patients all completed; session (5, 35), the last consultation ends at 40: overtime 5;
    # consultation minutes 5 + 5 + 5 + 5 + 10 = 30 over the doctor minutes from 5 to 40 = 35
    exp |= {
        "patients": 5,
        "completed": 5,
        "rejected": 0,
        "left_unseen": 0,
        "no_shows": 0,
        "cancellations": 0,
        "unserved": 0,
        "rebooked": 0,
        "overflow_used": 0,
        "cap_breaches": 0,
        "utilisation": 30 / 35,
        "overtime_mean": 5.0,
        "overtime_max": 5.0,
        "throughput": 5 / 0.5,
    }
    return exp


def case_one_of_each() -> Case:
    eng = _one_of_each()
    records = fold(eng.events)
    cols = patient_columns(records, _population(ONE_OF_EACH_POPULATION), starvation_limit=22.0)
    return summary_row(cols, records, (5.0, 35.0)), _one_of_each_expected()


def case_one_of_each_from_object_columns() -> Case:
    # columns of plain Python objects (a frame read back without dtypes): the same figures
    eng = _one_of_each()
    records = fold(eng.events)
    cols = patient_columns(records, _population(ONE_OF_EACH_POPULATION), starvation_limit=22.0)
    loose = {k: np.array(v.tolist(), dtype=object) for k, v in cols.items()}
    return summary_row(loose, records, (5.0, 35.0)), _one_of_each_expected()


def case_one_of_each_from_the_log_alone() -> Case:
    # the booking service's view: no simulation, the arrival is the check-in: the same figures
    eng = _one_of_each()
    records = fold(Engine.replay(eng.events).events)
    cols = patient_columns(records, None, starvation_limit=22.0)
    return summary_row(cols, records, (5.0, 35.0)), _one_of_each_expected()


def case_a_day_of_mishaps() -> Case:
    """Refusal, cancellation, overflow, displacement, a cap breach, leaving, a no-show rebooked, unserved.

    One doctor, slots [0, 60) and [60, 120) of 2 seats, overflow cap 1, full slots reject, grace 15.
    """
    eng = Engine(Policy(on_full="reject", overflow_cap=1, no_show_grace=15.0))
    eng.add_doctor("D1", [(0.0, 60.0, 2), (60.0, 120.0, 2)])
    b = eng.book("B", Category.ONLINE, "D1", now=0.0, slot=0)  # issued first
    a = eng.book("A", Category.ONLINE, "D1", now=0.0, slot=0)  # slot 0 full
    with pytest.raises(BookingRejected):
        eng.book("C", Category.ONLINE, "D1", now=0.0, slot=0)  # refused: rejected 1
    g = eng.book("G", Category.FOLLOW_UP, "D1", now=0.0, slot=1)
    h = eng.book("H", Category.FOLLOW_UP, "D1", now=0.0, slot=1)
    eng.check_in(a.id, 1.0)  # A callable from 1
    eng.cancel(g.id, 2.0)  # cancellations 1; slot 1 holds H
    eng.emergency("E1", now=3.0)  # slot 0: B, A, E1 = 3 = capacity + overflow cap
    eng.emergency("E2", now=4.0)  # 4 > 3: A (issued after B, same rank) displaced into slot 1 at 4
    eng.emergency("E3", now=5.0)  # 4 > 3: B displaced; slot 1 full (H, A): B heads the waitlist
    eng.emergency("E4", now=6.0)  # 4 > 3 and only emergencies left: a cap breach; slot 0 peaks at 4
    for at in (6.0, 8.0, 10.0, 12.0):  # E1..E4, two minutes each
        v = eng.call_next("D1", at)
        assert v is not None
        eng.complete(v.id, at + 2.0)
    eng.tick(60.0)  # slot 1 opens: A callable again from 60
    eng.leave(a.id, 70.0)  # left unseen; its seat goes to B (promoted, never comes: unserved at the close)
    eng.tick(75.0)  # H never came: no-show at 60 + 15
    h2 = eng.book("H", Category.FOLLOW_UP, "D1", now=80.0, check_in=True)  # H late: rebooked, callable at 80
    assert eng.call_next("D1", 85.0) is not None
    eng.complete(h2.id, 90.0)
    eng.close_day(120.0)
    assert eng.token(b.id).state.value == "unserved" and eng.token(h.id).state.value == "no_show"
    records = fold(eng.events)
    population = _population(
        [
            ("B", ON, "booked", 0.0, math.nan),
            ("A", ON, "booked", 0.0, 1.0),
            ("C", ON, "booked", 0.0, math.nan),
            ("G", FU, "booked", 0.0, math.nan),
            ("H", FU, "booked", 0.0, 80.0),
            ("E1", EM, "emergency", 3.0, 3.0),
            ("E2", EM, "emergency", 4.0, 4.0),
            ("E3", EM, "emergency", 5.0, 5.0),
            ("E4", EM, "emergency", 6.0, 6.0),
        ]
    )
    cols = patient_columns(records, population, starvation_limit=120.0)
    # present: A, H (their last token), E1..E4. A waits 1->4 and 60->70 = 13 callable, 69 from arrival;
    # H 80->85 = 5; emergencies 6-3, 8-4, 10-5, 12-6 = 3, 4, 5, 6 (mean 4.5)
    expected = {
        "patients": 9,
        "n": 6,
        "n_ONLINE": 1,
        "wait_max_ONLINE": 13.0,
        "wait_from_arrival_max_ONLINE": 69.0,
        "wait_mean_FOLLOW_UP": 5.0,
        "wait_from_arrival_mean_FOLLOW_UP": 5.0,
        "wait_mean_EMERGENCY": 4.5,
        "wait_max": 13.0,
        "wait_from_arrival_max": 69.0,
        "completed": 5,
        "rejected": 1,
        "left_unseen": 1,
        "no_shows": 1,
        "cancellations": 1,
        "unserved": 1,
        "rebooked": 1,
        "overflow_used": 2,  # slot 0 held 4 seats of 2 after the breach; slot 1 never more than 2
        "cap_breaches": 1,
        "utilisation": 13 / 120,  # 4 x 2 + 5 minutes over the session 0-120 (no overtime)
        "overtime_mean": 0.0,
        "overtime_max": 0.0,
        "throughput": 5 / 2,
        # nobody present in these categories: no statistic at all (NaN, not 0), counts 0
        "wait_mean_WALK_IN": NAN,
        "wait_from_arrival_p95_PAID_PRIORITY": NAN,
        "overtaken_mean_WALK_IN": NAN,
        "n_PAID_PRIORITY": 0,
        "starved_WALK_IN": 0,
    }
    return summary_row(cols, records, (0.0, 120.0)), expected


CASES: dict[str, Callable[[], Case]] = {
    "one of each": case_one_of_each,
    "one of each, log alone": case_one_of_each_from_the_log_alone,
    "one of each, object columns": case_one_of_each_from_object_columns,
    "a day of mishaps": case_a_day_of_mishaps,
}


def _same(got: Any, want: float) -> bool:
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return bool(got == pytest.approx(want, rel=1e-12, abs=1e-12))


@pytest.mark.parametrize("name", list(CASES))
def test_summary_by_hand(name: str) -> None:
    row, expected = CASES[name]()
    assert list(row) == list(REGISTRY), "the summary row has exactly the registry's columns, in its order"
    wrong = {k: (row[k], v) for k, v in expected.items() if not _same(row[k], v)}
    assert not wrong, wrong


def test_every_registry_metric_is_asserted_by_hand() -> None:
    asserted: set[str] = set()
    for build in CASES.values():
        asserted |= set(build()[1])
    assert asserted <= set(REGISTRY), sorted(asserted - set(REGISTRY))
    assert set(REGISTRY) <= asserted, f"no hand-computed value for {sorted(set(REGISTRY) - asserted)}"


def test_the_categories_are_the_engines() -> None:
    assert tuple(c.name for c in Category) == CATEGORIES


def test_quantiles_by_hand() -> None:
    # 1, 2, 3, 4: virtual indexes 3 * (0.5, 0.9, 0.95) = 1.5, 2.7, 2.85 -> 2.5, 3.7, 3.85
    assert _quantiles([1.0, 2.0, 3.0, 4.0]) == pytest.approx([2.5, 3.7, 3.85], rel=1e-15)
    # 0, 10: 5, 9, 9.5; one value: itself at every quantile; the last order statistic at q = 1
    assert _quantiles([0.0, 10.0]) == pytest.approx([5.0, 9.0, 9.5], rel=1e-15)
    assert _quantiles([7.0]) == [7.0, 7.0, 7.0]
    assert _quantiles([1.0, 2.0, 5.0], (0.0, 0.25, 1.0)) == [1.0, 1.5, 5.0]
    # 11 values 0..100 by tens: index 5 exactly, 9 exactly, 9.5 -> 50, 90, 95
    assert _quantiles([10.0 * i for i in range(11)]) == pytest.approx([50.0, 90.0, 95.0], rel=1e-15)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=60))
def test_quantiles_equal_numpys_percentile_bit_for_bit(values: list[float]) -> None:
    # the summary row once took them from np.percentile; a policy's table must not move by a rounding
    want = np.percentile(np.array(values), [50, 90, 95]).tolist()
    assert _quantiles(sorted(values)) == want
