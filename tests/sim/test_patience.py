"""Patience in the SimPy model: a checked-in patient not called by check-in + patience leaves at that instant."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from opdsim.engine import Category, Engine, Policy
from opdsim.engine.events import Called, Left
from opdsim.sim import model
from opdsim.sim.model import DayPlan, DoctorPlan, play_day
from opdsim.sim.population import KIND_WALK_IN, Population

NAN = math.nan
INF = math.inf


def _walk_ins(arrival: list[float], consultation: list[float], patience: list[float]) -> Population:
    n = len(arrival)
    return Population(
        patient=np.array([f"W{i + 1}" for i in range(n)]),
        category=np.full(n, int(Category.WALK_IN)),
        kind=np.full(n, KIND_WALK_IN),
        doctor=np.array([None] * n, dtype=object),
        slot=np.full(n, -1),
        booked_at=np.array(arrival),
        arrival=np.array(arrival),
        cancel_at=np.full(n, NAN),
        consultation=np.array(consultation),
        patience=np.array(patience),
    )


def _play(pop: Population) -> Engine:
    doctor = DoctorPlan("D1", [(0.0, 240.0, 10)], late=0.0, breaks=[], last_call=240.0)
    return play_day(DayPlan(Policy(), [doctor], pop, session_start=0.0, close=300.0))[0]


def _patient(eng: Engine, token: str) -> str:
    return eng.token(token).patient


def test_patients_leave_exactly_when_their_patience_ends_unless_called_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # One doctor, walk-ins served in arrival order. W1 is seen 0-100, so everyone else waits at least until 100.
    #   W2 (1 + 50 = 51) and W5 (4 + 47 = 51) leave at 51, in check-in order;
    #   W4 (3 + 20 = 23) leaves first, though its deadline came after the one at 51 was already set;
    #   W3 (2 + 200) is called at 100, W6 (5 + 120) at 110 (after W3's 10 min): both before their deadlines;
    #   W7 (6 + 130 = 136) is still waiting behind W6 (seen 110-140) and leaves at 136.
    pop = _walk_ins(
        arrival=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        consultation=[100.0, 5.0, 10.0, 5.0, 5.0, 30.0, 5.0],
        patience=[INF, 50.0, 200.0, 20.0, 47.0, 120.0, 130.0],
    )
    timeouts: list[float] = []
    call_at = model._Clock.call_at

    def spy(self: model._Clock, t: float, callback: Any) -> None:
        if callback.__name__ == "run_out":
            timeouts.append(t)
        call_at(self, t, callback)

    monkeypatch.setattr(model._Clock, "call_at", spy)
    eng = _play(pop)
    left = [(ev.now, _patient(eng, ev.token)) for ev in eng.events if isinstance(ev, Left)]
    called = [(ev.now, _patient(eng, ev.token)) for ev in eng.events if isinstance(ev, Called)]
    assert left == [(23.0, "W4"), (51.0, "W2"), (51.0, "W5"), (136.0, "W7")]
    assert called == [(0.0, "W1"), (100.0, "W3"), (110.0, "W6")]
    # one timeout per deadline that was the first of a waiting patient when set: W2's and W4's at check-in, then
    # W6's (set at 51, moot by 125) and W7's; none for W3, called before its turn came
    assert timeouts == [51.0, 23.0, 125.0, 136.0]


def test_a_deadline_set_from_a_later_instant_is_kept_to_the_last_bit() -> None:
    # W3's deadline, 0.51 + 4.53 = 5.04, gets its timeout only when W2 leaves at 0.5 + 0.48 = 0.98; a timeout of
    # 5.04 - 0.98 from then would come at 5.040000000000001, an ulp late
    pop = _walk_ins(arrival=[0.0, 0.5, 0.51], consultation=[60.0, 5.0, 5.0], patience=[INF, 0.48, 4.53])
    eng = _play(pop)
    left = [(ev.now, _patient(eng, ev.token)) for ev in eng.events if isinstance(ev, Left)]
    assert left == [(0.5 + 0.48, "W2"), (0.51 + 4.53, "W3")]
    assert 0.98 + (5.04 - 0.98) != 5.04  # the case is the one it says


def test_no_patience_no_departures() -> None:
    pop = _walk_ins(arrival=[0.0, 1.0], consultation=[200.0, 5.0], patience=[INF, INF])
    eng = _play(pop)
    assert not [ev for ev in eng.events if isinstance(ev, Left)]
    assert [ev.now for ev in eng.events if isinstance(ev, Called)] == [0.0, 200.0]
