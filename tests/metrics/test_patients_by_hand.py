"""The patients and timeline frames of the hand-built days, column by column, and the records' edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from opdsim.engine import BookingRejected, Category, Engine, InvalidRequest, Policy, TokenState
from opdsim.engine.records import fold
from opdsim.frames import as_frame
from opdsim.metrics import (
    callable_intervals,
    patient_columns,
    patients_frame,
    summary_frame,
    summary_row,
    time_integral,
    timeline_frame,
    tokens_frame,
)
from tests.metrics.test_summary_by_hand import ONE_OF_EACH_POPULATION, _one_of_each, _population

NAN = math.nan


def _eq(got: np.ndarray, want: list[object]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got.tolist(), want, strict=True):
        if isinstance(w, float) and math.isnan(w):
            assert isinstance(g, float) and math.isnan(g), (got, want)
        else:
            assert g == w, (got, want)


def test_patient_columns_of_one_of_each() -> None:
    eng = _one_of_each()
    records = fold(eng.events)
    cols = patient_columns(records, _population(ONE_OF_EACH_POPULATION), 22.0)
    # rows in population order: W1, O1, F1, P1, E1
    _eq(cols["patient"], ["W1", "O1", "F1", "P1", "E1"])
    _eq(cols["kind"], ["walk_in", "booked", "booked", "booked", "emergency"])
    _eq(cols["token"], ["T4", "T1", "T2", "T3", "T5"])
    _eq(cols["doctor"], ["D1"] * 5)
    _eq(cols["slot"], [0.0] * 5)
    _eq(cols["booked_at"], [0.0, 0.0, 0.0, 0.0, 8.0])
    _eq(cols["arrival"], [0.0, 2.0, 4.0, 6.0, 8.0])
    _eq(cols["checked_in"], [0.0, 2.0, 4.0, 6.0, 8.0])
    _eq(cols["callable_at"], [5.0, 5.0, 5.0, 6.0, 8.0])
    _eq(cols["called"], [20.0, 25.0, 30.0, 15.0, 10.0])
    _eq(cols["completed"], [25.0, 30.0, 40.0, 20.0, 15.0])
    _eq(cols["wait"], [15.0, 20.0, 25.0, 9.0, 2.0])
    _eq(cols["wait_from_arrival"], [20.0, 23.0, 26.0, 9.0, 2.0])
    _eq(cols["consultation"], [5.0] * 5)
    _eq(cols["overtaken"], [2, 2, 2, 1, 0])
    _eq(cols["upgraded"], [True, True, True, False, False])
    _eq(cols["displaced"], [0] * 5)
    _eq(cols["rebooked"], [False] * 5)
    _eq(cols["state"], ["completed"] * 5)
    _eq(cols["starved"], [False, False, True, False, False])
    _eq(cols["starved_from_arrival"], [False, True, True, False, False])
    frame = patients_frame(records, _population(ONE_OF_EACH_POPULATION), 22.0)
    pd.testing.assert_frame_equal(frame, as_frame(cols))
    one = summary_frame(cols, records, (5.0, 35.0))
    assert one.shape[0] == 1 and one.iloc[0].to_dict() == summary_row(cols, records, (5.0, 35.0))


def test_patient_columns_from_the_log_alone() -> None:
    eng = Engine(Policy())
    eng.add_doctor("D1", [(0.0, 60.0, 5)])
    a = eng.book("A", Category.ONLINE, "D1", now=0.0)
    eng.book("B", Category.ONLINE, "D1", now=1.0)  # never comes
    eng.emergency("E", now=3.0)
    eng.check_in(a.id, 4.0)
    v = eng.call_next("D1", 5.0)
    assert v is not None and v.patient == "E"
    eng.complete(v.id, 9.0)
    eng.call_next("D1", 9.0)
    eng.close_day(12.0)  # A is being seen: completed at the close
    cols = patient_columns(fold(eng.events), None, 120.0)
    _eq(cols["patient"], ["A", "B", "E"])  # first token order
    _eq(cols["kind"], ["booked", "booked", "emergency"])
    _eq(cols["category"], ["ONLINE", "ONLINE", "EMERGENCY"])
    _eq(cols["booked_at"], [0.0, 1.0, 3.0])
    _eq(cols["arrival"], [4.0, NAN, 3.0])
    _eq(cols["consultation"], [3.0, NAN, 4.0])  # call to completion; B never seen
    _eq(cols["doctor"], ["D1"] * 3)
    _eq(cols["wait"], [5.0, NAN, 2.0])
    _eq(cols["wait_from_arrival"], [5.0, NAN, 2.0])
    _eq(cols["state"], ["completed", "unserved", "completed"])
    _eq(cols["completed"], [12.0, NAN, 9.0])
    assert [cols[k].dtype.kind for k in ("patient", "category", "kind", "doctor", "booked_at")] == list("OOOOf")


def test_patient_columns_of_a_refused_and_a_rebooked_patient() -> None:
    eng = Engine(Policy(on_full="reject", no_show_grace=10.0))
    eng.add_doctor("D1", [(0.0, 30.0, 1), (30.0, 60.0, 2)])
    h = eng.book("H", Category.FOLLOW_UP, "D1", now=0.0, slot=0)
    with pytest.raises(BookingRejected):
        eng.book("H2", Category.FOLLOW_UP, "D1", now=0.0, slot=0)
    eng.tick(10.0)  # H no-show at the deadline 0 + 10
    assert eng.state(h.id) is TokenState.NO_SHOW
    h2 = eng.book("H", Category.FOLLOW_UP, "D1", now=10.0, check_in=True)  # rebooked at the same minute
    eng.close_day(20.0)
    population = _population([("H", "FOLLOW_UP", "booked", 0.0, 10.0), ("H2", "FOLLOW_UP", "booked", 0.0, 1.0)])
    population["booked_doctor"] = np.array(["D1", "D2"], dtype=object)
    cols = patient_columns(fold(eng.events), population, 5.0)
    _eq(cols["token"], [h2.id, None])
    _eq(cols["rebooked"], [True, False])
    _eq(cols["doctor"], ["D1", "D2"])  # a refused patient keeps the doctor asked for
    _eq(cols["slot"], [0.0, NAN])
    _eq(cols["state"], ["unserved", "rejected"])
    _eq(cols["wait"], [10.0, NAN])  # callable from 10 to the close at 20
    _eq(cols["starved"], [True, False])
    _eq(cols["overtaken"], [0, 0])
    _eq(cols["upgraded"], [False, False])


def test_rebooked_means_after_a_no_show_only() -> None:
    eng = Engine(Policy(on_full="reject", no_show_grace=10.0))
    eng.add_doctor("D1", [(0.0, 30.0, 1)])
    c = eng.book("C", Category.ONLINE, "D1", now=0.0)
    eng.cancel(c.id, 1.0)
    eng.book("C", Category.ONLINE, "D1", now=2.0)  # booked again after a cancellation: not rebooked
    eng.tick(12.0)  # ... and a no-show at 12: C's last token, nothing after it
    eng.close_day(20.0)
    day = fold(eng.events)
    assert day.rebooked() == set()


def test_a_refusal_after_a_no_show_counts_as_rebooked() -> None:
    eng = Engine(Policy(on_full="reject", no_show_grace=10.0))
    eng.add_doctor("D1", [(0.0, 30.0, 1)])
    eng.book("L", Category.ONLINE, "D1", now=0.0)
    eng.tick(10.0)  # no-show at 10; the freed seat goes to Y
    eng.book("Y", Category.ONLINE, "D1", now=10.0)
    with pytest.raises(BookingRejected):
        eng.book("L", Category.ONLINE, "D1", now=10.0, check_in=True)  # came late at 10, refused
    eng.close_day(20.0)
    assert fold(eng.events).rebooked() == {"L"}


def test_timeline_of_one_of_each_by_hand() -> None:
    eng = _one_of_each()
    records = fold(eng.events)
    cols = patient_columns(records, _population(ONE_OF_EACH_POPULATION), 22.0)
    frame = as_frame(cols)
    spans = callable_intervals(records)
    # callable: W1 [5, 20), O1 [5, 25), F1 [5, 30), P1 [6, 15), E1 [8, 10); busy: 10-15-20-25-30-40
    tl = timeline_frame(frame, spans, 0.0, 45.0, 10.0)
    _eq(tl["t_start"].to_numpy(), [0.0, 10.0, 20.0, 30.0, 40.0])
    _eq(tl["t_end"].to_numpy(), [10.0, 20.0, 30.0, 40.0, 45.0])
    assert tl["queue_length"].to_numpy() == pytest.approx([21 / 10, 35 / 10, 15 / 10, 0.0, 0.0])
    assert tl["busy_doctors"].to_numpy() == pytest.approx([0.0, 1.0, 1.0, 1.0, 0.0])
    _eq(tl["arrivals"].to_numpy(), [5, 0, 0, 0, 0])
    _eq(tl["calls"].to_numpy(), [0, 2, 2, 1, 0])
    starts, ends = callable_intervals(records, ["T1", "T3"])  # O1 and P1 only
    _eq(starts, [5.0, 6.0])
    _eq(ends, [25.0, 15.0])
    empty = callable_intervals(fold(eng.events[:2]))
    assert empty[0].shape == (0,) and empty[1].shape == (0,)


def test_timeline_counts_a_patient_still_with_the_doctor_to_the_end() -> None:
    frame = pd.DataFrame({"callable_at": [0.0], "called": [5.0], "completed": [NAN]})
    tl = timeline_frame(frame, (np.array([0.0]), np.array([5.0])), 0.0, 10.0, 5.0)
    assert tl["busy_doctors"].to_numpy() == pytest.approx([0.0, 1.0])
    assert tl["queue_length"].to_numpy() == pytest.approx([1.0, 0.0])


def test_time_integral_ignores_missing_ends() -> None:
    grid = np.array([0.0, 2.0, 4.0])
    assert time_integral(np.array([1.0, NAN]), np.array([3.0, NAN]), grid).tolist() == [0.0, 1.0, 2.0]
    assert time_integral(np.array([]), np.array([]), grid).tolist() == [0.0, 0.0, 0.0]
    assert time_integral(np.array([2.0]), np.array([NAN]), grid).tolist() == [0.0, 0.0, 2.0]  # never ends


def test_tokens_frame() -> None:
    eng = _one_of_each()
    frame = tokens_frame(eng.token(t) for t in ("T1", "T5"))
    assert frame["category"].tolist() == ["ONLINE", "EMERGENCY"]
    assert frame["state"].tolist() == ["completed", "completed"]
    assert all(type(x) is str for x in frame["state"].tolist() + frame["category"].tolist())
    assert frame["id"].tolist() == ["T1", "T5"] and frame["bypasses"].tolist() == [2, 0]
    empty = tokens_frame([])
    assert empty.empty and "estimated_call" in empty.columns


# -- records: edge cases of the fold


def test_peaks_are_taken_after_displacements_and_before_frees() -> None:
    eng = Engine(Policy(overflow_cap=0))
    eng.add_doctor("D1", [(0.0, 60.0, 2), (60.0, 120.0, 2)])
    a = eng.book("A", Category.ONLINE, "D1", now=0.0)
    eng.book("B", Category.ONLINE, "D1", now=0.0)
    eng.emergency("E1", now=1.0)  # 3 > 2: B displaced to slot 1, slot 0 back at 2
    eng.cancel(a.id, 2.0)  # slot 0 at 1
    day = fold(eng.events)  # a day not closed
    s0, s1 = day.slots["D1"]
    assert (s0.index, s0.peak, s0.seated, s0.overflow) == (0, 2, 1, 0)
    assert (s1.index, s1.peak, s1.seated) == (1, 1, 1)
    b = day.tokens["T2"]
    assert b.state is TokenState.BOOKED and b.slot == 1 and b.displacements == [(1.0, 0, 1)]
    assert (b.issue, b.requested_slot) == (1, 0)
    assert day.policy == Policy(overflow_cap=0)
    assert day.closed_at is None


def test_a_displaced_waitlisted_token_frees_no_seat_twice() -> None:
    eng = Engine(Policy(overflow_cap=0))
    eng.add_doctor("D1", [(0.0, 60.0, 1)])
    x = eng.book("X", Category.ONLINE, "D1", now=0.0, check_in=True)
    eng.emergency("E", now=1.0)  # X to the waitlist (no later slot)
    eng.emergency("F", now=2.0)  # nobody left to displace: a breach
    eng.emergency("G", now=3.0)  # and another
    day = fold(eng.events)
    assert day.tokens[x.id].state is TokenState.WAITLISTED
    eng.cancel(x.id, 4.0)  # the waitlisted token holds no seat: the three emergencies still hold theirs
    day = fold(eng.events)
    s = day.slots["D1"][0]
    assert (s.seated, s.peak, s.breaches) == (3, 3, 2)
    assert day.tokens[x.id].callable == [(0.0, 1.0)]
    eng.close_day(10.0)  # the emergencies never called: unserved, their seats freed
    assert fold(eng.events).slots["D1"][0].seated == 0


def test_a_pending_token_displaced_to_a_later_slot_waits_for_that_slot() -> None:
    eng = Engine(Policy(overflow_cap=0))
    eng.add_doctor("D1", [(0.0, 30.0, 5), (60.0, 120.0, 1), (120.0, 180.0, 1)])
    x = eng.book("X", Category.ONLINE, "D1", now=35.0, slot=1, check_in=True)
    c = eng.book("C", Category.ONLINE, "D1", now=35.0, slot=2, check_in=True)
    eng.cancel(c.id, 36.0)  # a pending token that ended: never callable
    eng.emergency("E", now=40.0)  # between slots: seated in slot 1, pushes X to slot 2
    eng.tick(60.0)
    eng.tick(120.0)
    eng.close_day(130.0)
    day = fold(eng.events)
    assert day.tokens[x.id].callable == [(120.0, 130.0)]
    assert day.tokens[c.id].callable == [] and day.tokens[c.id].callable_since is None


def test_a_delay_at_a_slot_boundary_and_a_patient_with_the_doctor_at_the_close() -> None:
    eng = Engine(Policy())
    eng.add_doctor("D1", [(0.0, 60.0, 5), (60.0, 120.0, 5)])
    w = eng.book("W", Category.WALK_IN, "D1", now=0.0, check_in=True)
    eng.call_next("D1", 1.0)
    eng.delay("D1", 10.0, now=60.0)  # slot 0 has ended: unchanged; slot 1 is running: ends later
    day = fold(eng.events)
    assert day.tokens[w.id].state is TokenState.CALLED
    assert [(s.start, s.end) for s in day.slots["D1"]] == [(0.0, 60.0), (60.0, 130.0)]
    eng.close_day(70.0)
    day = fold(eng.events)
    rec = day.tokens[w.id]
    assert (rec.state, rec.ended_at, day.closed_at) == (TokenState.COMPLETED, 70.0, 70.0)
    waitlisted = Engine(Policy())
    waitlisted.add_doctor("D1", [(0.0, 60.0, 1)])
    waitlisted.book("A", Category.ONLINE, "D1", now=0.0)
    v = waitlisted.book("B", Category.ONLINE, "D1", now=0.0)
    assert fold(waitlisted.events).tokens[v.id].state is TokenState.WAITLISTED


def test_ranks_come_from_the_logged_policy() -> None:
    # a policy that ranks walk-ins before online patients: a walk-in called first overtakes nobody's turn
    ranks = {c: int(c) for c in Category}
    ranks[Category.WALK_IN], ranks[Category.ONLINE] = 3, 4
    eng = Engine(Policy(ranks=ranks))
    eng.add_doctor("D1", [(0.0, 60.0, 5)])
    o = eng.book("O", Category.ONLINE, "D1", now=0.0, check_in=True)
    eng.book("W", Category.WALK_IN, "D1", now=1.0, check_in=True)
    eng.call_next("D1", 2.0)  # W (rank 3) before O (rank 4, earlier queue number): O overtaken once
    day = fold(eng.events)
    assert day.tokens[o.id].bypasses == 1 and day.tokens[o.id].rank == 4
    # a log fragment without EngineStarted ranks by the default ranks
    assert fold(eng.events[1:]).tokens[o.id].rank == int(Category.ONLINE)


def test_an_unknown_event_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="unknown event"):
        fold([object()])  # type: ignore[list-item]


def test_a_day_with_no_doctor_and_no_patient() -> None:
    records = fold(Engine(Policy()).events)
    cols = patient_columns(records, None, 120.0)
    assert all(len(v) == 0 for v in cols.values()) and cols["wait"].dtype.kind == "f"
    row = summary_row(cols, records, (0.0, 60.0))
    assert math.isnan(row["utilisation"]) and math.isnan(row["wait_mean"])
    assert (row["overtime_mean"], row["overtime_max"], row["n"], row["patients"]) == (0.0, 0.0, 0, 0)


def test_utilisation_and_overtime_over_several_doctors() -> None:
    # D1 sees A 10-20 and B 20-70 (10 min past the session end 60); D2 sees C 5-15; D3 sees nobody
    eng = Engine(Policy())
    for d in ("D1", "D2", "D3"):
        eng.add_doctor(d, [(0.0, 60.0, 5)])
    for who, doc in (("A", "D1"), ("B", "D1"), ("C", "D2")):
        eng.book(who, Category.WALK_IN, doc, now=0.0, check_in=True)
    c = eng.call_next("D2", 5.0)
    a = eng.call_next("D1", 10.0)
    assert a is not None and c is not None
    eng.complete(c.id, 15.0)
    eng.complete(a.id, 20.0)
    b = eng.call_next("D1", 20.0)
    assert b is not None
    eng.complete(b.id, 70.0)
    eng.close_day(80.0)
    records = fold(eng.events)
    population = _population([("A", "WALK_IN", "walk_in", 0.0, NAN), ("B", "WALK_IN", "walk_in", 0.0, 0.0)])
    population = {k: np.append(v, v[:1]) for k, v in population.items()}
    population["patient"][2] = "C"
    population["arrival"][2] = 0.0
    cols = patient_columns(records, population, 20.0)
    # A's planned arrival is unknown: the check-in (0) stands in for it
    _eq(cols["wait_from_arrival"], [10.0, 20.0, 5.0])
    _eq(cols["starved"], [False, False, False])  # B waited exactly the limit: not over it
    _eq(cols["starved_from_arrival"], [False, False, False])
    assert cols["state"].dtype == object
    row = summary_row(cols, records, (0.0, 60.0))
    # consultations 10 + 50 + 10 = 70 min over D1 0-70, D2 0-60, D3 0-60 = 190 doctor minutes
    assert row["utilisation"] == pytest.approx(70 / 190)
    assert row["overtime_mean"] == pytest.approx(10 / 3) and row["overtime_max"] == 10.0


def test_a_patient_called_within_a_minute() -> None:
    eng = Engine(Policy())
    eng.add_doctor("D1", [(0.0, 60.0, 5)])
    eng.book("A", Category.WALK_IN, "D1", now=0.0, check_in=True)
    eng.call_next("D1", 0.5)
    eng.close_day(10.0)
    cols = patient_columns(fold(eng.events), None, 120.0)
    _eq(cols["wait_from_arrival"], [0.5])
    _eq(cols["wait"], [0.5])


def test_timeline_leaves_out_patients_never_called() -> None:
    frame = pd.DataFrame({"callable_at": [0.0, 2.0], "called": [5.0, NAN], "completed": [8.0, NAN]})
    tl = timeline_frame(frame, (np.array([0.0, 2.0]), np.array([5.0, 10.0])), 0.0, 10.0, 5.0)
    assert tl["busy_doctors"].to_numpy() == pytest.approx([0.0, 3 / 5])
    assert tl["calls"].tolist() == [0, 1] and tl["arrivals"].tolist() == [2, 0]


def test_time_integral_of_ends_without_starts() -> None:
    grid = np.array([0.0, 2.0, 4.0])
    assert time_integral(np.array([NAN]), np.array([1.0]), grid).tolist() == [0.0, -1.0, -3.0]


def test_a_displaced_patient_and_a_refused_one_in_the_patients_columns() -> None:
    eng = Engine(Policy(overflow_cap=0, on_full="reject"))
    eng.add_doctor("D1", [(0.0, 30.0, 1), (30.0, 60.0, 1)])
    eng.book("X", Category.ONLINE, "D1", now=0.0, slot=0, check_in=True)
    eng.emergency("E", now=1.0)  # X displaced into slot 1
    eng.close_day(10.0)
    population = _population(
        [
            ("X", "ONLINE", "booked", 0.0, 0.0),
            ("E", "EMERGENCY", "emergency", 1.0, 1.0),
            ("R", "ONLINE", "booked", 0.0, NAN),
        ]
    )
    cols = patient_columns(fold(eng.events), population, 120.0)
    _eq(cols["displaced"], [1, 0, 0])
    _eq(cols["state"], ["unserved", "unserved", "rejected"])


def test_utilisation_of_a_short_idle_session() -> None:
    eng = Engine(Policy())
    eng.add_doctor("D1", [(0.0, 0.5, 1)])
    eng.close_day(0.5)
    records = fold(eng.events)
    row = summary_row(patient_columns(records, None, 120.0), records, (0.0, 0.5))
    assert row["utilisation"] == 0.0  # half a doctor-minute available, none used


def test_a_patient_displaced_twice_keeps_the_first_callable_time_and_counts_both() -> None:
    # one seat a slot, no room over it: each emergency pushes A into the next slot. A is callable from its
    # check-in at 1 to the first emergency at 5, from slot 1's start at 30 to the second at 35, and from slot
    # 2's start at 60 to the close at 70: first callable at 1, displaced twice, 4 + 5 + 10 = 19 minutes in all
    eng = Engine(Policy(aging="none", overflow_cap=0, max_displacements=3))
    eng.add_doctor("D1", [(0.0, 30.0, 1), (30.0, 60.0, 1), (60.0, 90.0, 1)])
    a = eng.book("A", Category.ONLINE, "D1", now=0.0)
    eng.check_in(a.id, 1.0)
    eng.emergency("E1", "D1", now=5.0)
    eng.tick(30.0)
    eng.emergency("E2", "D1", now=35.0)
    eng.tick(60.0)
    eng.close_day(70.0)
    cols = patient_columns(fold(eng.events), None, 60.0)
    row = cols["patient"].tolist().index("A")
    assert cols["slot"][row] == 2.0
    assert cols["callable_at"][row] == 1.0
    assert cols["displaced"][row] == 2
    assert cols["wait"][row] == 19.0
    assert cols["state"][row] == "unserved"


def test_in_a_log_not_yet_closed_a_waiting_patient_is_callable_from_the_check_in() -> None:
    eng = Engine(Policy(aging="none"))
    eng.add_doctor("D1", [(0.0, 60.0, 2)])
    b = eng.book("B", Category.ONLINE, "D1", now=0.0)
    eng.check_in(b.id, 3.0)
    cols = patient_columns(fold(eng.events), None, 60.0)
    _eq(cols["callable_at"], [3.0])
    _eq(cols["wait"], [0.0])  # the open interval counts from its start: nothing closed yet
    _eq(cols["state"], ["checked_in"])
