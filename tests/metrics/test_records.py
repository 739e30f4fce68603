"""Lifecycle records folded from real engine logs: hand-built days whose every interval is worked out by hand,
and simulated days whose records must agree with the engine's own accounting (its aging clock, bypass counter,
seat counts)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from opdsim.engine import BookingRejected, Category, Engine, Policy, TokenState
from opdsim.engine.records import DayRecords, fold
from opdsim.metrics import callable_intervals, patient_columns, patient_table
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import play

TWO_HOURS = [(0.0, 60.0, 1), (60.0, 120.0, 1)]


def _engine(slots: list[tuple[float, float, int]] = TWO_HOURS, **policy: object) -> Engine:
    eng = Engine(Policy(**policy))  # type: ignore[arg-type]
    eng.add_doctor("D1", slots)
    return eng


def test_a_displaced_patient_waits_the_time_callable_in_all() -> None:
    # present from minute 0 in slot 0; an emergency at 30 displaces them into slot 1, which opens at 60; called at
    # 70. Callable [0, 30) and [60, 70): a wait of 40 minutes, not the 10 since the last slot's start.
    eng = _engine(overflow_cap=0)
    a = eng.book("A", Category.ONLINE, "D1", now=0.0, slot=0, check_in=True)
    e = eng.emergency("E", now=30.0)
    assert eng.call_next("D1", 30.0) is not None  # the emergency
    eng.complete(e.id, 40.0)
    assert eng.call_next("D1", 45.0) is None  # A sits in slot 1, not open yet
    called = eng.call_next("D1", 70.0)  # no tick at 60: the slot opens inside this call, counted from 60
    assert called is not None and called.id == a.id
    eng.complete(a.id, 75.0)
    eng.close_day(120.0)
    rec = fold(eng.events).tokens[a.id]
    assert rec.callable == [(0.0, 30.0), (60.0, 70.0)]
    assert rec.callable_time == 40.0
    assert rec.first_callable == 0.0
    assert rec.displacements == [(30.0, 0, 1)]
    assert rec.seats == [(0.0, 0), (30.0, 1)]
    assert (rec.called_at, rec.ended_at, rec.state) == (70.0, 75.0, TokenState.COMPLETED)
    assert eng.snapshot()["tokens"][a.id]["wait_acc"] == 40.0  # the engine's own clock agrees
    # the timeline's intervals: both of A's, in order, after the emergency's one (issue order), or A's alone
    records = fold(eng.events)
    assert records.callable_spans() == [0.0, 30.0, 60.0, 70.0, 30.0, 30.0]
    assert records.callable_spans([e.id, a.id]) == [30.0, 30.0, 0.0, 30.0, 60.0, 70.0]
    starts, ends = callable_intervals(records, [a.id])
    assert starts.tolist() == [0.0, 60.0] and ends.tolist() == [30.0, 70.0]
    with pytest.raises(KeyError):
        records.callable_spans(["T99"])


def test_the_patient_table_gives_each_patients_intervals_in_the_columns_pass() -> None:
    # A is displaced (two intervals), E is the emergency (one, of no length), R and Z hold no token here (none);
    # the table lists the intervals patient by patient in the population's order, each with its row
    eng = _engine(overflow_cap=0)
    a = eng.book("A", Category.ONLINE, "D1", now=0.0, slot=0, check_in=True)
    e = eng.emergency("E", now=30.0)
    eng.call_next("D1", 30.0)
    eng.complete(e.id, 40.0)
    called = eng.call_next("D1", 70.0)
    assert called is not None and called.id == a.id
    eng.complete(a.id, 75.0)
    eng.close_day(120.0)
    records = fold(eng.events)
    pop = {
        "patient": np.array(["Z", "E", "R", "A"], dtype=object),
        "category": np.array(["WALK_IN", "EMERGENCY", "ONLINE", "ONLINE"], dtype=object),
        "kind": np.array(["walk_in", "emergency", "booked", "booked"], dtype=object),
        "booked_doctor": np.array([None, None, "D1", "D1"], dtype=object),
        "booked_at": np.array([np.nan, np.nan, 0.0, 0.0]),
        "arrival": np.array([np.nan, 30.0, 5.0, 0.0]),
        "consultation": np.array([5.0, 10.0, 5.0, 5.0]),
    }
    table = patient_table(records, pop, 60.0)
    assert table.starts.tolist() == [30.0, 0.0, 60.0]
    assert table.ends.tolist() == [30.0, 30.0, 70.0]
    assert table.row.tolist() == [1, 3, 3]
    plain = patient_columns(records, pop, 60.0)
    assert table.columns.keys() == plain.keys()  # the count of intervals is not a column
    for name, column in plain.items():
        np.testing.assert_array_equal(table.columns[name], column)
    # the same intervals as the records give for the patients' tokens, in the same order
    starts, ends = callable_intervals(records, [e.id, a.id])
    assert (table.starts.tolist(), table.ends.tolist()) == (starts.tolist(), ends.tolist())
    # keeping rows keeps their intervals and renumbers them
    kept = table.take(np.array([False, False, True, True]))
    assert kept.columns["patient"].tolist() == ["R", "A"]
    assert (kept.starts.tolist(), kept.ends.tolist(), kept.row.tolist()) == ([0.0, 60.0], [30.0, 70.0], [1, 1])
    first = table.take(np.array([True, True, False, False]))
    assert (first.starts.tolist(), first.row.tolist()) == ([30.0], [1])


def test_an_emergency_before_its_slot_opens_is_callable_from_check_in() -> None:
    # the only slot opens at 60. A walk-in present from 10 waits for it; an emergency at 30 is callable at once
    # (whatever its slot) and called at 40: the emergency waits 10 minutes, the walk-in [60, 70), also 10, not 60
    eng = _engine([(60.0, 120.0, 2)])
    w = eng.book("W", Category.WALK_IN, "D1", now=10.0, check_in=True)
    e = eng.emergency("E", now=30.0)
    called = eng.call_next("D1", 40.0)
    assert called is not None and called.id == e.id
    eng.complete(e.id, 50.0)
    assert eng.call_next("D1", 55.0) is None  # the walk-in's slot is not open yet
    called = eng.call_next("D1", 70.0)
    assert called is not None and called.id == w.id
    eng.complete(w.id, 80.0)
    eng.close_day(120.0)
    records = fold(eng.events).tokens
    assert records[e.id].callable == [(30.0, 40.0)]
    assert records[w.id].callable == [(60.0, 70.0)]
    assert records[e.id].first_callable == 30.0
    tokens = eng.snapshot()["tokens"]
    assert [tokens[t]["wait_acc"] for t in (e.id, w.id)] == [10.0, 10.0]  # the engine's own clock agrees


def test_displaced_to_the_waitlist_then_promoted() -> None:
    # one slot of one seat, no later slot: the displaced token goes to the waitlist and is callable again only
    # once promoted into a freed seat (the emergency's completion keeps its seat: a cancellation frees one)
    eng = _engine([(0.0, 120.0, 2)], overflow_cap=0)
    b = eng.book("B", Category.ONLINE, "D1", now=0.0)
    a = eng.book("A", Category.WALK_IN, "D1", now=5.0, check_in=True)
    eng.emergency("E", now=20.0)  # 3 seated > 2: the walk-in (worst rank) goes to the waitlist head
    eng.cancel(b.id, 50.0)  # frees a seat: A is promoted at 50
    eng.close_day(90.0)
    rec = fold(eng.events).tokens[a.id]
    assert rec.displacements == [(20.0, 0, None)]
    assert rec.waitlisted == [20.0]
    assert rec.seats == [(5.0, 0), (50.0, 0)]
    assert rec.callable == [(5.0, 20.0), (50.0, 90.0)]  # unserved at the close: counted to it
    assert rec.callable_time == 55.0
    assert rec.state is TokenState.UNSERVED and rec.ended_at == 90.0


def test_a_delay_shifts_when_a_later_slot_makes_its_patients_callable() -> None:
    eng = _engine()
    a = eng.book("A", Category.ONLINE, "D1", now=40.0, slot=1, check_in=True)
    eng.delay("D1", 15.0, now=50.0)  # slot 1 now starts at 75, the running slot 0 ends then
    eng.tick(60.0)  # nothing opens at 60 any more
    assert eng.call_next("D1", 61.0) is None
    eng.tick(75.0)
    called = eng.call_next("D1", 90.0)
    assert called is not None and called.id == a.id
    eng.close_day(120.0)
    day = fold(eng.events)
    assert day.tokens[a.id].callable == [(75.0, 90.0)]
    assert [(s.start, s.end) for s in day.slots["D1"]] == [(0.0, 75.0), (75.0, 135.0)]


def test_waitlisted_present_patient_is_callable_from_the_promotion() -> None:
    eng = _engine([(0.0, 120.0, 1)])
    b = eng.book("B", Category.ONLINE, "D1", now=0.0)
    w = eng.book("W", Category.WALK_IN, "D1", now=5.0, check_in=True)  # full: waitlisted, present
    assert w.state is TokenState.WAITLISTED
    eng.cancel(b.id, 20.0)
    called = eng.call_next("D1", 32.5)
    assert called is not None and called.id == w.id
    eng.close_day(120.0)
    rec = fold(eng.events).tokens[w.id]
    assert rec.waitlisted == [5.0] and rec.seats == [(20.0, 0)]
    assert rec.rank == int(Category.WALK_IN)
    assert rec.checked_in_at == 5.0
    assert rec.callable == [(20.0, 32.5)]


def test_bypasses_and_upgrades_with_times_and_ranks() -> None:
    # bypass aging K=2: a walk-in checked in first is overtaken by two online patients, then upgraded to PAID
    eng = _engine([(0.0, 120.0, 10)], aging="bypass", aging_threshold=2)
    w = eng.book("W", Category.WALK_IN, "D1", now=0.0, check_in=True)
    o1 = eng.book("O1", Category.ONLINE, "D1", now=1.0, check_in=True)
    o2 = eng.book("O2", Category.ONLINE, "D1", now=2.0, check_in=True)
    p = eng.book("P", Category.PAID_PRIORITY, "D1", now=3.0, check_in=True)
    for t in (4.0, 8.0):
        v = eng.call_next("D1", t)
        assert v is not None
        eng.complete(v.id, t + 3.0)
    eng.close_day(60.0)
    day = fold(eng.events)
    assert [day.tokens[t].called_at for t in (p.id, o1.id)] == [4.0, 8.0]
    rec = day.tokens[w.id]
    assert rec.bypasses == 2
    assert rec.upgrades == [(8.0, int(Category.PAID_PRIORITY))]
    assert rec.rank == int(Category.PAID_PRIORITY)
    assert day.tokens[o2.id].bypasses == 1  # only P (later queue number, better rank) overtook it
    assert day.tokens[o1.id].bypasses == 1
    assert rec.callable == [(0.0, 60.0)]  # an upgrade does not break the callable interval


def test_wait_aging_upgrade_time_and_rank() -> None:
    eng = _engine([(0.0, 120.0, 10)], aging="wait", aging_threshold=10)
    w = eng.book("W", Category.WALK_IN, "D1", now=0.0, check_in=True)
    eng.tick(10.0)
    eng.close_day(30.0)
    rec = fold(eng.events).tokens[w.id]
    assert rec.upgrades == [(10.0, int(Category.PAID_PRIORITY))]


def test_end_states_reasons_and_refusals() -> None:
    eng = _engine([(0.0, 60.0, 1)], on_full="reject")
    a = eng.book("A", Category.ONLINE, "D1", now=0.0, slot=0)
    with pytest.raises(BookingRejected):
        eng.book("B", Category.ONLINE, "D1", now=1.0, slot=0)
    eng.close_day(30.0)  # A was booked but never came: unserved at the close (auto no-show at 15 needs a tick)
    day = fold(eng.events)
    assert len(day.rejected) == 1 and day.rejected[0].patient == "B"
    assert day.tokens[a.id].state is TokenState.UNSERVED
    assert day.tokens[a.id].callable == []


def test_cancelled_reason_and_seat_counts() -> None:
    eng = _engine([(0.0, 60.0, 2)], overflow_cap=1)
    a = eng.book("A", Category.ONLINE, "D1", now=0.0)
    eng.book("B", Category.ONLINE, "D1", now=0.0)
    eng.emergency("A", now=5.0)  # supersedes A's own token
    eng.emergency("E", now=6.0)  # 3 seated of 2, within the overflow cap of 1
    eng.close_day(30.0)
    day = fold(eng.events)
    assert (day.tokens[a.id].state, day.tokens[a.id].end_reason) == (TokenState.CANCELLED, "superseded")
    slot = day.slots["D1"][0]
    assert (slot.peak, slot.overflow, slot.breaches) == (3, 1, 0)


def _check_against_engine(events: DayRecords, eng: Engine) -> None:
    snap = eng.snapshot()
    assert list(events.tokens) == list(snap["tokens"])
    for tid, entry in snap["tokens"].items():
        rec = events.tokens[tid]
        assert rec.callable_time == pytest.approx(entry["wait_acc"], abs=1e-9), tid
        assert (rec.bypasses, len(rec.upgrades), len(rec.displacements)) == (
            entry["bypasses"],
            entry["upgrades"],
            entry["displacements"],
        ), tid
        assert (str(rec.state), rec.called_at, rec.ended_at, rec.rank, rec.queue_seq) == (
            str(entry["state"]),
            entry["called_at"],
            entry["ended_at"],
            entry["effective_rank"],
            entry["queue_seq"],
        ), tid
    for doctor, table in snap["doctors"].items():
        got = [(s.start, s.end, s.capacity, s.seated, s.breaches) for s in events.slots[doctor]]
        assert got == [(st, en, cap, reg + em, br) for st, en, cap, reg, em, br in table["slots"]]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"policy.aging": "wait", "policy.aging_threshold": 20},
        {"policy.aging": "wait", "policy.aging_threshold": 10, "policy.aging_target": "step"},
        {"policy.on_full": "next_slot", "policy.overflow_cap": 0},
        {"demand.emergency.rate_per_hour": 8, "policy.overflow_cap": 0},
    ],
)
def test_simulated_days_agree_with_the_engines_own_accounting(
    standard_day: Scenario, changes: dict[str, object]
) -> None:
    spec = standard_day.replace(**changes) if changes else standard_day
    for seed in (0, 1):
        played = play(spec, seed=seed, replication=0)
        records = fold(played.engine.events)
        _check_against_engine(records, played.engine)
        if "demand.emergency.rate_per_hour" in changes:
            assert any(r.displacements for r in records.tokens.values())
        # replayed logs fold to the same records
        assert fold(Engine.replay(played.engine.events).events) == records


def test_token_records_pickle_with_every_field(standard_day: Scenario) -> None:
    # a day's records travel between processes: each token record comes back equal, lists and all
    records = fold(play(standard_day, seed=3, replication=0).engine.events)
    tokens = list(records.tokens.values())
    assert any(r.callable for r in tokens) and any(r.seats for r in tokens)
    assert pickle.loads(pickle.dumps(tokens)) == tokens
