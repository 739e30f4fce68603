"""The doctor choice of ``emergency(doctor=None)`` and ``book(doctor=None)`` (DESIGN.md section 1)."""

from __future__ import annotations

from collections.abc import Callable

from opdsim.engine import Engine
from opdsim.engine.types import Category

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
