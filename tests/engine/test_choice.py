"""The doctor choice of ``emergency(doctor=None)`` and ``book(doctor=None)``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opdsim.engine import Engine, OpdsimError, Policy
from opdsim.engine.choice import SCAN_UP_TO, EarliestCall, ScanChoice
from opdsim.engine.rules import Rules
from opdsim.engine.types import Category, TokenState
from tests.engine.strategies import PATIENTS, categories, policies, schedules, time_steps

Schedule = list[tuple[float, float, int]]

C = Category
Make = Callable[..., Engine]

#: One slot of six seats: before any completion the mean consultation is 60 / 6 = 10 min.
HOUR_OF_SIX = [(0.0, 60.0, 6)]
#: One slot of three seats: mean 20 min.
HOUR_OF_THREE = [(0.0, 60.0, 3)]


def walk_in(eng: Engine, patient: str, doctor: str, now: float) -> str:
    tok = eng.book(patient, C.WALK_IN, doctor, now=now, check_in=True)
    return tok.id


def test_emergency_goes_to_the_idle_doctor_not_the_busy_one(make_clinic: Make) -> None:
    # the case: D1 consulting, D2 idle, both queues empty
    eng = make_clinic({"D1": HOUR_OF_SIX, "D2": HOUR_OF_SIX})
    walk_in(eng, "A", "D1", 0)
    assert eng.call_next("D1", 0) is not None
    assert eng.emergency("E", None, now=1).doctor == "D2"  # D1 free at 0 + 10 = 10, D2 at once (1)


def test_emergency_goes_to_the_busy_doctor_who_frees_first(make_clinic: Make) -> None:
    # D1 busy since 0, mean 10: free at 10, no emergency ahead -> 10.
    # D2 idle, one emergency waiting, mean 20: 4 + 1 x 20 = 24.
    eng = make_clinic({"D1": HOUR_OF_SIX, "D2": HOUR_OF_THREE})
    walk_in(eng, "A", "D1", 0)
    eng.call_next("D1", 0)
    eng.emergency("E0", "D2", now=0)
    assert eng.emergency("E", None, now=4).doctor == "D1"


def test_emergencies_ahead_count_at_the_doctors_mean(make_clinic: Make) -> None:
    # D1 idle with one emergency waiting, mean 10: 5 + 10 = 15.
    # D2 busy since 0, mean 20: free at 20 -> 20. D1 wins; with D1's emergencies at two, 5 + 20 = 25 > 20.
    eng = make_clinic({"D1": HOUR_OF_SIX, "D2": HOUR_OF_THREE})
    walk_in(eng, "A", "D2", 0)
    eng.call_next("D2", 0)
    eng.emergency("E1", "D1", now=0)
    assert eng.emergency("X", None, now=5).doctor == "D1"
    assert eng.emergency("Y", None, now=5).doctor == "D2"


def test_an_overrunning_doctor_is_expected_free_now_not_in_the_past(make_clinic: Make) -> None:
    # D1 busy since 0 with mean 10 is overrunning at 30: expected free at 30 (not 10), so both doctors give 30;
    # the tie goes to the fewest callable tokens: D2 (none) before D1 (one walk-in waiting).
    eng = make_clinic({"D1": HOUR_OF_SIX, "D2": HOUR_OF_SIX})
    walk_in(eng, "A", "D1", 0)
    eng.call_next("D1", 0)
    walk_in(eng, "B", "D1", 1)
    assert eng.emergency("E", None, now=30).doctor == "D2"


def test_emergency_ties_go_to_fewest_callable_tokens_then_lowest_id(make_clinic: Make) -> None:
    eng = make_clinic({"D3": HOUR_OF_SIX, "D1": HOUR_OF_SIX, "D2": HOUR_OF_SIX})
    walk_in(eng, "A", "D1", 0)  # all idle, no emergency: every estimate is now
    assert eng.emergency("X", None, now=1).doctor == "D2"  # D2, D3 have no callable token: lowest id
    walk_in(eng, "B", "D3", 1)
    # D2 now has one emergency (1 + 10 = 11); D1 and D3 one walk-in each (1): tie on tokens, lowest id
    assert eng.emergency("Y", None, now=1).doctor == "D1"


# ---------------------------------------------------------------------------------------------- index vs scan

SCAN = Rules(choice=ScanChoice)
_OPS = ("book", "book", "walk_in", "walk_in", "emergency", "emergency", "call", "call", "complete", "cancel", "leave")


def _step(eng: Engine, op: tuple[Any, ...], now: float) -> tuple[str, Any]:
    """One operation on ``eng``; typed errors become outcomes."""
    kind, patient, cat, pick = op
    try:
        if kind == "book":
            return ("ok", eng.book(patient, cat, None, now=now))
        if kind == "walk_in":
            return ("ok", eng.book(patient, cat, None, now=now, check_in=True))
        if kind == "emergency":
            return ("ok", eng.emergency(patient, None, now=now))
        docs = eng.doctors()
        idle = [d for d in docs if eng.busy_with(d) is None]
        if kind == "call":
            return ("ok", eng.call_next(idle[pick % len(idle)], now)) if idle else ("skip", None)
        busy = [b for d in docs if (b := eng.busy_with(d)) is not None]
        if kind == "complete":
            if not busy:
                return ("skip", None)
            eng.complete(busy[pick % len(busy)], now)
            return ("ok", None)
        doctor = docs[pick % len(docs)]
        queue = eng.queue(doctor)
        if not queue:
            return ("skip", None)
        token = queue[pick % len(queue)].id
        (eng.cancel if kind == "cancel" else eng.leave)(token, now)
        return ("ok", None)
    except OpdsimError as err:
        return ("err", type(err).__name__)


@st.composite
def _clinic_days(draw: st.DrawFn) -> tuple[Policy, dict[str, Schedule], list[tuple[float, tuple[Any, ...]]]]:
    policy = draw(policies(draw(st.sampled_from(["bypass", "wait", "none"])), "paid_priority"))
    n = draw(st.integers(1, 6))
    clinic = {f"D{i}": draw(schedules()) for i in draw(st.permutations(range(n)))}
    steps = st.one_of(time_steps, st.floats(0.0, 7.0, allow_nan=False))
    op = st.tuples(
        st.sampled_from(_OPS),
        st.sampled_from(PATIENTS),
        categories(with_emergency=False),
        st.integers(0, 50),
    )
    return policy, clinic, draw(st.lists(st.tuples(steps, op), min_size=1, max_size=60))


# the index itself (a look at each doctor is off), and the default, which looks at each doctor in a clinic this small
INDEXED = Rules(choice=functools.partial(EarliestCall, scan_up_to=0))


@pytest.mark.parametrize("rules", [INDEXED, None], ids=["index", "small-clinic scan"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_clinic_days())
def test_indexed_choice_agrees_with_a_scan_of_every_doctor(
    rules: Rules | None,
    day: tuple[Policy, dict[str, Schedule], list[tuple[float, tuple[Any, ...]]]],
) -> None:
    """EarliestCall, through its index and through its own look at each doctor of a small clinic, makes the
    same choice as the brute-force ScanChoice at every call."""
    assert SCAN_UP_TO >= 6  # the days drawn have 1 to 6 doctors: the default looks at each of them
    policy, clinic, ops = day
    fast, scan = Engine(policy, rules=rules), Engine(policy, rules=SCAN)
    for eng in (fast, scan):
        for doctor, slots in clinic.items():
            eng.add_doctor(doctor, slots, now=0.0)
    now = 0.0
    for step, op in ops:
        now += step
        assert _step(fast, op, now) == _step(scan, op, now), op
        assert fast.events == scan.events
    fast.close_day(now)
    scan.close_day(now)
    assert fast.snapshot() == scan.snapshot()


def test_scan_choice_is_the_rule_on_its_own(make_clinic: Make) -> None:
    # the reference applied directly: an idle doctor with one emergency waiting (mean 10: 0 + 10) loses to an
    # idle doctor without (0), and a booking goes where fewer tokens of its rank or better wait
    eng = make_clinic({"D1": HOUR_OF_SIX, "D2": HOUR_OF_SIX}, aging="none")
    eng.emergency("E1", "D1", now=0)
    choice = ScanChoice([0, 1, 2, 3, 4], 0)
    d1, d2 = eng._core._docs["D1"], eng._core._docs["D2"]
    choice.add(d2)
    choice.add(d1)
    assert choice.for_emergency(0.0) is d2
    assert choice.for_booking(4, 0.0, lambda d: False) is d2
    assert choice.for_booking(4, 0.0, lambda d: d is d2) is d1
    assert choice.for_waitlist(0.0, lambda d: d is d1) is d2
    assert choice.for_waitlist(0.0, lambda d: True) is None


def test_a_completion_makes_the_doctor_free_for_the_choice_at_once(make_clinic: Make) -> None:
    # D1 called at 0 (mean 10) completes at 1: at 2 it is idle, so its estimate is 2, not the 10 it was
    # expected free at; D2, idle with one walk-in waiting, also gives 2 and loses the tie on callable tokens
    eng = make_clinic({"D1": HOUR_OF_SIX, "D2": HOUR_OF_SIX})
    walk_in(eng, "A", "D1", 0)
    called = eng.call_next("D1", 0)
    assert called is not None
    assert eng.emergency("E0", None, now=0.5).doctor == "D2"  # D1 busy (free at 10), D2 idle: D2
    eng.complete(called.id, 1)
    walk_in(eng, "B", "D2", 1)
    e0 = eng.queue("D2")[0]
    assert e0.category is C.EMERGENCY
    eng.call_next("D2", 1.5)  # D2 sees E0; B waits
    eng.complete(e0.id, 1.8)
    assert eng.emergency("E", None, now=2).doctor == "D1"


@pytest.mark.parametrize("rules", [INDEXED, None], ids=["index", "small-clinic scan"])
def test_with_every_seat_taken_a_booking_joins_the_shortest_waitlist(rules: Rules | None) -> None:
    # one seat per doctor, all taken; then waitlists of 2 at D1 and 1 at D2 and D3: the shortest, ties to the
    # lowest id, is D2, then D3 (D2 now has 2), then D1 (all have 2)
    eng = Engine(Policy(aging="none"), rules=rules)
    doctors = ("D1", "D2", "D3")
    for d in doctors:
        eng.add_doctor(d, [(0.0, 60.0, 1)], now=0.0)
    for d in doctors:
        eng.book(f"seated-{d}", Category.ONLINE, d, now=0.0)
    for patient, d in (("w1", "D1"), ("w2", "D1"), ("w3", "D2"), ("w4", "D3")):
        assert eng.book(patient, Category.ONLINE, d, now=1.0).state is TokenState.WAITLISTED
    chosen = [eng.book(f"any-{i}", Category.ONLINE, None, now=2.0) for i in range(3)]
    assert [v.doctor for v in chosen] == ["D2", "D3", "D1"]
    assert all(v.state is TokenState.WAITLISTED for v in chosen)
