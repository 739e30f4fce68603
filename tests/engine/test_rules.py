"""One unit test per domain rule of the allocation engine."""

from __future__ import annotations

import gc
import math
import weakref
from collections.abc import Callable

import pytest

from opdsim.engine import Engine, Policy
from opdsim.engine.errors import (
    BookingRejected,
    DayClosedError,
    DuplicateBooking,
    IdempotencyConflict,
    InvalidRequest,
    InvalidSchedule,
    InvalidTransition,
    TimeWentBackwards,
    UnknownDoctor,
    UnknownSlot,
    UnknownToken,
)
from opdsim.engine.events import (
    Cancelled,
    CapBreached,
    DayClosed,
    Displaced,
    EngineStarted,
    NoShow,
    Promoted,
    Rejected,
    Upgraded,
)
from opdsim.engine.types import Category, TokenState
from tests.engine.invariants import check_closed, check_invariants, ids, issued_tokens, unchanged

C = Category
S = TokenState
Make = Callable[..., Engine]

ONE_HOUR_SLOTS = [(0.0, 60.0, 1), (60.0, 120.0, 1)]


def promoted(eng: Engine) -> list[str]:
    return [e.token for e in eng.events if isinstance(e, Promoted)]


def displaced(eng: Engine) -> list[Displaced]:
    return [e for e in eng.events if isinstance(e, Displaced)]


def breaches(eng: Engine) -> list[CapBreached]:
    return [e for e in eng.events if isinstance(e, CapBreached)]


# ---------------------------------------------------------------------------------------------- schedules


@pytest.mark.parametrize(
    ("slots", "pattern"),
    [
        pytest.param([(0, 60, 0)], r"(?i)capacity", id="capacity-0"),
        pytest.param([(0, 60, -2)], r"(?i)capacity", id="capacity-negative"),
        pytest.param([(0, 60, 1), (60, 120, 0)], r"(?i)slot 1.*capacity", id="second-slot-capacity-0"),
        pytest.param([(60, 60, 1)], r"(?i)end", id="end-equals-start"),
        pytest.param([(60, 30, 1)], r"(?i)end", id="end-before-start"),
        pytest.param([(60, 120, 1), (0, 60, 1)], r"(?i)order|overlap|before", id="out-of-order"),
        pytest.param([(0, 60, 1), (30, 90, 1)], r"(?i)order|overlap|before", id="overlapping"),
    ],
)
def test_bad_schedule_is_rejected(slots: list[tuple[float, float, int]], pattern: str) -> None:
    eng = Engine()
    with unchanged(eng, InvalidSchedule, pattern) as info:
        eng.add_doctor("D1", slots, now=0)
    assert "D1" in str(info.value)
    assert eng.doctors() == []
    eng.add_doctor("D1", [(0, 60, 1)], now=0)  # the failed attempt left no trace
    assert eng.doctors() == ["D1"]


def test_adjacent_slots_are_accepted() -> None:
    eng = Engine()
    eng.add_doctor("D1", [(0, 60, 1), (60, 120, 3)], now=0)
    got = [(s.index, s.start, s.end, s.capacity, s.regular, s.emergencies) for s in eng.slots("D1")]
    assert got == [(0, 0, 60, 1, 0, 0), (1, 60, 120, 3, 0, 0)]


# ---------------------------------------------------------------------------------------------- booking


def test_booking_takes_earliest_slot_with_a_free_seat(engine: Engine) -> None:
    a = engine.book("A", C.ONLINE, "D1", now=0)
    b = engine.book("B", C.ONLINE, "D1", now=0)
    c = engine.book("C", C.ONLINE, "D1", now=0)
    assert (a.slot, b.slot, c.slot) == (0, 0, 1)
    assert a.state is S.BOOKED and a.requested_slot == 0 and a.queue_seq is None
    assert a.category is C.ONLINE and a.effective_rank == 3 and a.issued_at == 0


def test_booking_skips_slots_that_have_ended(engine: Engine) -> None:
    engine.tick(60)
    a = engine.book("A", C.ONLINE, "D1", now=60)
    assert a.slot == 1


def test_booking_of_category_emergency_is_invalid(engine: Engine) -> None:
    with unchanged(engine, InvalidRequest, r"(?i)emergency"):
        engine.book("A", C.EMERGENCY, "D1", now=0)


def test_full_slot_waitlists_with_stable_position(make_engine: Make) -> None:
    eng = make_engine(ONE_HOUR_SLOTS, aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0, slot=0)
    b = eng.book("B", C.ONLINE, "D1", now=1, slot=0)
    c = eng.book("C", C.ONLINE, "D1", now=2, slot=0)
    assert a.state is S.BOOKED and a.slot == 0
    for t in (b, c):
        assert t.state is S.WAITLISTED and t.slot is None and t.requested_slot == 0
        assert t.estimated_call is None
    assert ids(eng.waitlist("D1")) == [b.id, c.id]
    # later operations leave the waitlist order alone
    eng.check_in(c.id, now=3)
    eng.book("E", C.ONLINE, "D1", now=4, slot=1)
    eng.tick(5)
    eng.delay("D1", 5, now=6)
    eng.check_in(a.id, now=7)
    assert ids(eng.waitlist("D1")) == [b.id, c.id]
    cv = eng.token(c.id)
    assert cv.state is S.WAITLISTED and cv.slot is None and cv.checked_in_at == 3
    assert c.id not in ids(eng.queue("D1")), "a waitlisted token is callable only once seated"
    check_invariants(eng)


def test_waitlisted_checked_in_token_becomes_callable_when_promoted(make_engine: Make) -> None:
    eng = make_engine(ONE_HOUR_SLOTS, aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0)
    w = eng.book("W", C.ONLINE, "D1", now=0, slot=0)
    eng.check_in(w.id, now=1)
    assert eng.queue("D1") == []
    eng.cancel(a.id, now=2)
    wv = eng.token(w.id)
    assert wv.state is S.CHECKED_IN and wv.slot == 0 and wv.checked_in_at == 1
    assert ids(eng.queue("D1")) == [w.id]


def test_fcfs_within_a_rank_survives_every_operation(make_engine: Make) -> None:
    eng = make_engine([(0, 120, 6), (120, 240, 6)], aging="none", overflow_cap=0)
    toks = [eng.book(p, C.ONLINE, "D1", now=0, slot=0) for p in "ABCD"]
    order = [toks[2], toks[0], toks[3], toks[1]]  # check-in order differs from booking order
    for i, tok in enumerate(order):
        eng.check_in(tok.id, now=1 + i)
    seqs = [eng.token(t.id).queue_seq for t in order]
    assert None not in seqs and len(set(seqs)) == 4 and seqs == sorted(seqs)  # type: ignore[type-var]
    x = eng.book("X", C.ONLINE, "D1", now=6, slot=0)
    eng.cancel(x.id, now=7)
    eng.tick(8)
    eng.delay("D1", 10, now=9)
    e = eng.emergency("E", "D1", now=10)
    assert ids(eng.queue("D1")) == [e.id, *ids(order)]
    called: list[str] = []
    clock = 11.0
    while (v := eng.call_next("D1", now=clock)) is not None:
        called.append(v.id)
        eng.complete(v.id, now=clock + 1)
        clock += 2
    assert called == [e.id, *ids(order)]
    assert [eng.token(x.id).queue_seq for x in order] == seqs


def test_token_ids_are_never_reused_and_a_cancel_touches_no_other_token(engine: Engine) -> None:
    toks = [engine.book(p, C.ONLINE, "D1", now=0) for p in "ABC"]
    engine.check_in(toks[0].id, now=1)
    before = {t.id: engine.token(t.id)._replace(estimated_call=None) for t in (toks[0], toks[2])}
    engine.cancel(toks[1].id, now=2)
    for tid, view in before.items():
        assert engine.token(tid)._replace(estimated_call=None) == view
    assert engine.token(toks[1].id).state is S.CANCELLED
    again = engine.book("B", C.ONLINE, "D1", now=3)
    other = engine.book("D", C.ONLINE, "D1", now=3)
    all_ids = [*ids(toks), again.id, other.id]
    assert all(isinstance(i, str) for i in all_ids)
    assert len(set(all_ids)) == len(all_ids)
    assert issued_tokens(engine.events) == all_ids


# ---------------------------------------------------------------------------------------------- unknown ids


def test_unknown_doctor_is_a_typed_error(engine: Engine) -> None:
    with unchanged(engine, UnknownDoctor, "Dx"):
        engine.book("A", C.ONLINE, "Dx", now=0)
    with unchanged(engine, UnknownDoctor, "Dx"):
        engine.emergency("A", "Dx", now=0)
    with unchanged(engine, UnknownDoctor, "Dx"):
        engine.call_next("Dx", now=0)
    with unchanged(engine, UnknownDoctor, "Dx"):
        engine.delay("Dx", 5, now=0)
    with pytest.raises(UnknownDoctor, match="Dx"):
        engine.queue("Dx")


@pytest.mark.parametrize("slot", [3, -1, 99])
def test_unknown_slot_is_a_typed_error(engine: Engine, slot: int) -> None:
    with unchanged(engine, UnknownSlot, str(slot)):
        engine.book("A", C.ONLINE, "D1", now=0, slot=slot)


@pytest.mark.parametrize("method", ["check_in", "complete", "cancel", "no_show", "leave"])
def test_unknown_token_is_a_typed_error(engine: Engine, method: str) -> None:
    engine.book("A", C.ONLINE, "D1", now=0)
    with unchanged(engine, UnknownToken, "nope"):
        getattr(engine, method)("nope", 1)
    with pytest.raises(UnknownToken, match="nope"):
        engine.token("nope")
    with pytest.raises(UnknownToken, match="nope"):
        engine.estimated_call("nope")


# ---------------------------------------------------------------------------------------------- emergencies


@pytest.mark.parametrize(
    ("now", "slot"),
    [(0, 0), (30, 0), (89, 0), (95, 1), (100, 1), (159, 1), (200, 1)],
    ids=["before-opening", "at-start", "running", "between-slots", "second-start", "second-running", "after-last"],
)
def test_emergency_is_seated_in_the_running_next_or_last_slot(make_engine: Make, now: float, slot: int) -> None:
    eng = make_engine([(30, 90, 2), (100, 160, 2)])
    e = eng.emergency("E", "D1", now=now)
    assert e.slot == slot
    assert e.state is S.CHECKED_IN and e.checked_in_at == now and e.queue_seq is not None
    assert e.category is C.EMERGENCY and e.effective_rank == 0
    assert ids(eng.queue("D1")) == [e.id], "an emergency is callable at once, whatever its slot's start"
    v = eng.call_next("D1", now=now)
    assert v is not None and v.id == e.id and v.state is S.CALLED


def test_emergency_under_the_cap_displaces_nobody(make_engine: Make) -> None:
    eng = make_engine([(30, 90, 1), (90, 150, 1)], overflow_cap=2)
    a = eng.book("A", C.ONLINE, "D1", now=0)
    e1 = eng.emergency("E1", "D1", now=5)
    e2 = eng.emergency("E2", "D1", now=6)
    assert e1.slot == e2.slot == 0
    assert eng.token(a.id).slot == 0 and eng.token(a.id).state is S.BOOKED
    s0 = eng.slots("D1")[0]
    assert (s0.regular, s0.emergencies) == (1, 2)
    assert displaced(eng) == [] and breaches(eng) == []
    check_invariants(eng)


def test_emergency_at_the_cap_displaces_lowest_priority_latest_issued(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 3), (60, 120, 3)], overflow_cap=1, aging="none")
    w1 = eng.book("W1", C.WALK_IN, "D1", now=0)
    o = eng.book("O", C.ONLINE, "D1", now=0)
    w2 = eng.book("W2", C.WALK_IN, "D1", now=0)
    eng.check_in(w2.id, now=1)
    eng.check_in(w1.id, now=2)
    seq = eng.token(w2.id).queue_seq
    eng.emergency("E1", "D1", now=3)  # 3 regular + 1 emergency = capacity + overflow_cap: fits
    assert displaced(eng) == []
    e2 = eng.emergency("E2", "D1", now=4)  # one past the cap
    assert e2.slot == 0
    d = eng.token(w2.id)
    assert d.slot == 1 and d.state is S.CHECKED_IN
    assert d.queue_seq == seq and d.checked_in_at == 1 and d.displacements == 1
    assert displaced(eng) == [Displaced(4, w2.id, 0, 1)]
    assert eng.token(w1.id).slot == 0 and eng.token(o.id).slot == 0
    s0, s1 = eng.slots("D1")
    assert (s0.regular, s0.emergencies, s1.regular, s1.emergencies) == (2, 2, 1, 0)
    check_invariants(eng)


def test_a_big_slot_keeps_a_short_displacement_list_and_heap_and_the_same_victims(make_engine: Make) -> None:
    """A slot that serves hundreds of tokens (open access) drops the heap entries of tokens already called, so its
    heap stays near the number still displaceable; the victims are those of the rule all the same."""
    eng = make_engine([(0, 900, 800), (900, 1800, 800)], overflow_cap=0, aging="none")
    first = [eng.book(f"A{i}", C.ONLINE, "D1", now=0, check_in=True) for i in range(70)]
    for k in range(700):  # a queue of 70, one booked as each is seen: every waiting token outlives a prune
        v = eng.call_next("D1", now=1 + k)
        assert v is not None and v.id == first[k].id
        eng.complete(v.id, now=1.5 + k)
        first.append(eng.book(f"A{k + 70}", C.ONLINE, "D1", now=1.5 + k, check_in=True))
    late_online = [eng.book(f"O{i}", C.ONLINE, "D1", now=800) for i in range(15)]
    late_walk_in = [eng.book(f"W{i}", C.WALK_IN, "D1", now=800) for i in range(15)]
    assert eng.slots("D1")[0].regular == 800  # full: each emergency now displaces one token
    slot = eng._core._docs["D1"].slots[0]
    assert not slot.armed and slot.displaceable == []  # no emergency has needed a victim: no heap yet
    assert len(slot.seated) <= 2 * 100, len(slot.seated)  # 100 displaceable: at most twice that, not one per seat
    eng.emergency("E0", "D1", now=801)
    assert slot.armed and slot.seated == []
    assert len(slot.displaceable) == 100 - 1  # one entry per token still displaceable, the victim popped
    for i in range(1, 100):
        eng.emergency(f"E{i}", "D1", now=801 + i / 10)
    # walk-ins first, latest issued first; then online, latest first: the fifteen booked last, then the 70
    # checked-in tokens still waiting from before
    expected = [t.id for t in reversed(late_walk_in)] + [t.id for t in reversed(late_online)]
    expected += [t.id for t in reversed(first[-70:])]
    assert [d.token for d in displaced(eng)] == expected
    check_invariants(eng)


def test_a_token_upgraded_before_any_displacement_is_ranked_by_its_new_rank(make_engine: Make) -> None:
    """The displacement heap is built when an emergency first needs a victim, from the tokens seated then, each
    under the rank it has then: a walk-in upgraded by aging before it is no longer the lowest priority."""
    eng = make_engine([(0, 60, 3), (60, 120, 3)], overflow_cap=0, aging="bypass", aging_threshold=1)
    w = eng.book("W", C.WALK_IN, "D1", now=0, check_in=True)
    p = eng.book("P", C.PAID_PRIORITY, "D1", now=1, check_in=True)
    called = eng.call_next("D1", now=2)  # P before W, who had the earlier queue number: W is upgraded
    assert called is not None and called.id == p.id
    assert eng.token(w.id).effective_rank == int(C.PAID_PRIORITY)
    o = eng.book("O", C.ONLINE, "D1", now=3)
    slot = eng._core._docs["D1"].slots[0]
    assert [t.id for t in slot.seated] == [w.id, p.id, o.id]  # the upgrade added no entry of its own
    eng.emergency("E", "D1", now=4)  # W (now paid priority), P (called) and O fill the slot: one past the cap
    assert [d.token for d in displaced(eng)] == [o.id]  # not W, the walk-in issued first
    assert [entry[4].id for entry in slot.displaceable] == [w.id]  # the called P never entered the heap
    check_invariants(eng)


def test_displaced_token_keeps_its_place_in_the_serving_order(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2), (60, 120, 3)], overflow_cap=0, aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0)
    b = eng.book("B", C.ONLINE, "D1", now=0)
    eng.check_in(b.id, now=1)
    eng.check_in(a.id, now=2)
    c = eng.book("C", C.ONLINE, "D1", now=3)  # slot 1
    eng.check_in(c.id, now=4)
    eng.emergency("E", "D1", now=5)  # displaces B (same rank, issued later) to slot 1
    assert eng.token(b.id).slot == 1
    eng.tick(60)
    queue = ids(eng.queue("D1"))
    assert queue[1:] == [b.id, a.id, c.id], "check-in order, not the order of arrival in slot 1"


def test_emergency_never_displaces_a_called_token(make_engine: Make) -> None:
    eng = make_engine(ONE_HOUR_SLOTS, overflow_cap=0)
    a = eng.book("A", C.WALK_IN, "D1", now=0)
    eng.check_in(a.id, now=0)
    assert eng.call_next("D1", now=1) is not None
    e = eng.emergency("E", "D1", now=2)
    assert eng.token(a.id).slot == 0 and eng.token(a.id).state is S.CALLED
    assert breaches(eng) == [CapBreached(2, "D1", 0, e.id)]


def test_emergency_in_a_slot_of_only_emergencies_records_a_breach(make_engine: Make) -> None:
    eng = make_engine(ONE_HOUR_SLOTS, overflow_cap=1)
    e1 = eng.emergency("E1", "D1", now=0)
    e2 = eng.emergency("E2", "D1", now=1)
    assert breaches(eng) == []
    e3 = eng.emergency("E3", "D1", now=2)
    assert e3.slot == 0 and e3.state is S.CHECKED_IN
    assert breaches(eng) == [CapBreached(2, "D1", 0, e3.id)]
    assert displaced(eng) == []
    assert eng.token(e1.id).slot == 0 and eng.token(e2.id).slot == 0, "an emergency is never displaced"
    assert eng.slots("D1")[0].emergencies == 3
    check_invariants(eng)


def test_displaced_token_with_nowhere_to_go_heads_the_waitlist(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2)], overflow_cap=0, aging="none")
    a = eng.book("A", C.WALK_IN, "D1", now=0)
    b = eng.book("B", C.WALK_IN, "D1", now=0)
    w = eng.book("W", C.PAID_PRIORITY, "D1", now=0, slot=0)
    assert w.state is S.WAITLISTED
    eng.check_in(a.id, now=1)
    seq_a = eng.token(a.id).queue_seq
    eng.emergency("E1", "D1", now=2)
    bv = eng.token(b.id)
    assert bv.state is S.WAITLISTED and bv.slot is None and bv.displacements == 1
    assert displaced(eng) == [Displaced(2, b.id, 0, None)]
    assert ids(eng.waitlist("D1")) == [b.id, w.id], "displaced tokens go ahead of everyone"
    eng.emergency("E2", "D1", now=3)
    av = eng.token(a.id)
    assert av.state is S.WAITLISTED and av.slot is None and av.checked_in_at == 1 and av.queue_seq == seq_a
    assert ids(eng.waitlist("D1")) == [b.id, a.id, w.id], "first displaced first"
    check_invariants(eng)


@pytest.mark.parametrize("max_displacements", [0, 1])
def test_max_displacements_is_respected(make_engine: Make, max_displacements: int) -> None:
    eng = make_engine([(0, 60, 1), (60, 120, 1), (120, 180, 1)], overflow_cap=0, max_displacements=max_displacements)
    a = eng.book("A", C.WALK_IN, "D1", now=0)
    eng.check_in(a.id, now=1)
    e1 = eng.emergency("E1", "D1", now=2)
    if max_displacements == 0:
        assert eng.token(a.id).slot == 0 and eng.token(a.id).displacements == 0
        assert breaches(eng) == [CapBreached(2, "D1", 0, e1.id)]
        return
    assert eng.token(a.id).slot == 1 and eng.token(a.id).displacements == 1
    e2 = eng.emergency("E2", "D1", now=61)  # slot 1 is running; A may not be displaced again
    assert e2.slot == 1
    assert eng.token(a.id).slot == 1 and eng.token(a.id).displacements == 1
    assert breaches(eng) == [CapBreached(61, "D1", 1, e2.id)]


def test_emergency_supersedes_the_patients_uncalled_token(make_clinic: Make) -> None:
    eng = make_clinic({"D1": ONE_HOUR_SLOTS, "D2": ONE_HOUR_SLOTS})
    p = eng.book("P", C.ONLINE, "D1", now=0)
    q = eng.book("P", C.ONLINE, "D2", now=0)
    e = eng.emergency("P", "D1", now=1)
    assert e.id != p.id and e.patient == "P" and e.category is C.EMERGENCY
    assert eng.token(p.id).state is S.CANCELLED
    assert Cancelled(1, p.id, "superseded") in eng.events
    assert eng.token(q.id).state is S.BOOKED, "a token at another doctor is not superseded"
    s0 = eng.slots("D1")[0]
    assert (s0.regular, s0.emergencies) == (0, 1)


def test_emergency_for_a_patient_being_seen_returns_that_token(engine: Engine) -> None:
    p = engine.book("P", C.ONLINE, "D1", now=0)
    engine.check_in(p.id, now=0)
    engine.call_next("D1", now=1)
    n = len(issued_tokens(engine.events))
    again = engine.emergency("P", "D1", now=2)
    assert again.id == p.id and again.state is S.CALLED
    assert len(issued_tokens(engine.events)) == n


def test_emergency_for_a_patient_holding_an_emergency_returns_it(engine: Engine) -> None:
    e = engine.emergency("P", "D1", now=0)
    n = len(issued_tokens(engine.events))
    again = engine.emergency("P", "D1", now=2)
    assert again.id == e.id and again.category is C.EMERGENCY
    assert len(issued_tokens(engine.events)) == n
    assert ids(engine.queue("D1")) == [e.id]


def test_emergency_without_doctor_ties_to_lowest_id(make_clinic: Make) -> None:
    eng = make_clinic({"D2": ONE_HOUR_SLOTS, "D1": ONE_HOUR_SLOTS})
    assert eng.emergency("E", None, now=0).doctor == "D1"


# ---------------------------------------------------------------------------------------------- aging


@pytest.mark.parametrize("k", [1, 3])
def test_bypass_aging_fires_at_exactly_k_bypasses(make_engine: Make, k: int) -> None:
    eng = make_engine([(0, 600, 20)], aging="bypass", aging_threshold=k)
    w = eng.book("W", C.WALK_IN, "D1", now=0)
    eng.check_in(w.id, now=0)
    seq = eng.token(w.id).queue_seq
    t = 1.0
    for i in range(k):
        assert eng.token(w.id).effective_rank == 4 and eng.token(w.id).upgrades == 0, f"upgraded after {i}"
        o = eng.book(f"O{i}", C.ONLINE, "D1", now=t)
        eng.check_in(o.id, now=t)
        v = eng.call_next("D1", now=t)
        assert v is not None and v.id == o.id
        assert eng.token(w.id).bypasses == i + 1
        eng.complete(o.id, now=t + 1)
        t += 2
    wv = eng.token(w.id)
    assert wv.effective_rank == 1 and wv.upgrades == 1
    assert wv.category is C.WALK_IN and wv.queue_seq == seq
    assert [e for e in eng.events if isinstance(e, Upgraded)] == [Upgraded(t - 2, w.id, 1)]


def test_aged_token_never_passes_paid_priority_and_precedes_later_paid_tokens(make_engine: Make) -> None:
    eng = make_engine([(0, 600, 20)], aging="bypass", aging_threshold=2, overflow_cap=10)
    w = eng.book("W", C.WALK_IN, "D1", now=0)
    eng.check_in(w.id, now=0)
    t = 1.0
    for i in range(2):
        o = eng.book(f"O{i}", C.ONLINE, "D1", now=t)
        eng.check_in(o.id, now=t)
        assert eng.call_next("D1", now=t) is not None
        eng.complete(o.id, now=t + 1)
        t += 2
    assert eng.token(w.id).effective_rank == 1
    pp = eng.book("PP", C.PAID_PRIORITY, "D1", now=t)
    eng.check_in(pp.id, now=t)
    for i in range(5):  # a stream of emergencies bypasses both
        e = eng.emergency(f"E{i}", "D1", now=t)
        v = eng.call_next("D1", now=t)
        assert v is not None and v.id == e.id
        eng.complete(e.id, now=t + 1)
        t += 2
    wv, pv = eng.token(w.id), eng.token(pp.id)
    assert wv.effective_rank == 1 and wv.upgrades == 1 and wv.category is C.WALK_IN
    assert pv.effective_rank == 1 and pv.upgrades == 0
    assert ids(eng.queue("D1")) == [w.id, pp.id]
    v = eng.call_next("D1", now=t)
    assert v is not None and v.id == w.id


def test_wait_aging_fires_at_exactly_t_and_is_idempotent(make_engine: Make) -> None:
    eng = make_engine([(10, 300, 10)], aging="wait", aging_threshold=30)
    w = eng.book("W", C.WALK_IN, "D1", now=0)
    eng.check_in(w.id, now=5)  # callable from 10, the slot's start
    eng.tick(39.5)
    assert eng.token(w.id).effective_rank == 4
    eng.tick(40)
    wv = eng.token(w.id)
    assert wv.effective_rank == 1 and wv.upgrades == 1 and wv.category is C.WALK_IN
    assert [e for e in eng.events if isinstance(e, Upgraded)] == [Upgraded(40, w.id, 1)]
    before, n = eng.snapshot(), len(eng.events)
    eng.tick(40)
    assert eng.snapshot() == before and len(eng.events) == n
    eng.tick(200)
    assert eng.token(w.id).upgrades == 1, "paid_priority target upgrades once"


def test_wait_aging_adds_up_time_callable_across_a_displacement(make_engine: Make) -> None:
    eng = make_engine(ONE_HOUR_SLOTS, aging="wait", aging_threshold=30, overflow_cap=0)
    w = eng.book("W", C.WALK_IN, "D1", now=0)
    eng.check_in(w.id, now=0)  # callable 0..10, then displaced into slot 1 (starts at 60)
    eng.emergency("E", "D1", now=10)
    assert eng.token(w.id).slot == 1
    eng.tick(79.5)
    assert eng.token(w.id).effective_rank == 4
    eng.tick(80)
    assert eng.token(w.id).effective_rank == 1


def test_bypass_aging_is_idempotent(make_engine: Make) -> None:
    eng = make_engine([(0, 600, 20)], aging="bypass", aging_threshold=1)
    w = eng.book("W", C.WALK_IN, "D1", now=0)
    eng.check_in(w.id, now=0)
    o = eng.book("O", C.ONLINE, "D1", now=1)
    eng.check_in(o.id, now=1)
    eng.call_next("D1", now=2)
    assert eng.token(w.id).effective_rank == 1
    before, n = eng.snapshot(), len(eng.events)
    eng.tick(2)
    eng.tick(2)
    assert eng.snapshot() == before and len(eng.events) == n


def test_step_target_climbs_one_rank_per_threshold_crossing(make_engine: Make) -> None:
    eng = make_engine([(0, 300, 10)], aging="wait", aging_threshold=10, aging_target="step")
    w = eng.book("W", C.WALK_IN, "D1", now=0)
    eng.check_in(w.id, now=0)
    for t, rank in [(9, 4), (10, 3), (19, 3), (20, 2), (29, 2), (30, 1), (40, 1), (60, 1)]:
        eng.tick(t)
        assert eng.token(w.id).effective_rank == rank, f"at {t}"
    assert eng.token(w.id).upgrades == 3
    assert eng.token(w.id).category is C.WALK_IN


def test_step_target_uses_the_ranks_in_use(make_engine: Make) -> None:
    ranks = {C.EMERGENCY: 0, C.PAID_PRIORITY: 1, C.FOLLOW_UP: 5, C.ONLINE: 7, C.WALK_IN: 9}
    eng = make_engine([(0, 300, 10)], aging="wait", aging_threshold=10, aging_target="step", ranks=ranks)
    w = eng.book("W", C.WALK_IN, "D1", now=0)
    assert w.effective_rank == 9
    eng.check_in(w.id, now=0)
    seen = []
    for t in (10, 20, 30, 40):
        eng.tick(t)
        seen.append(eng.token(w.id).effective_rank)
    assert seen == [7, 5, 1, 1]


def test_step_target_with_bypass_aging(make_engine: Make) -> None:
    eng = make_engine([(0, 600, 20)], aging="bypass", aging_threshold=1, aging_target="step")
    w = eng.book("W", C.WALK_IN, "D1", now=0)
    eng.check_in(w.id, now=0)
    ranks = []
    for i in range(4):
        e = eng.emergency(f"E{i}", "D1", now=i + 1)
        v = eng.call_next("D1", now=i + 1)
        assert v is not None and v.id == e.id
        eng.complete(e.id, now=i + 1.5)
        ranks.append(eng.token(w.id).effective_rank)
    assert ranks == [3, 2, 1, 1]


# ---------------------------------------------------------------------------------------------- cancel, refill


def test_cancel_of_a_waitlisted_token_promotes_nobody(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 1)])
    a = eng.book("A", C.ONLINE, "D1", now=0)
    b = eng.book("B", C.ONLINE, "D1", now=0, slot=0)
    c = eng.book("C", C.ONLINE, "D1", now=0, slot=0)
    eng.cancel(b.id, now=1)
    v = eng.token(b.id)
    assert v.state is S.CANCELLED and v.ended_at == 1
    assert promoted(eng) == []
    assert eng.token(c.id).state is S.WAITLISTED and eng.token(a.id).slot == 0
    assert ids(eng.waitlist("D1")) == [c.id]


def test_double_cancel_is_an_error(engine: Engine) -> None:
    a = engine.book("A", C.ONLINE, "D1", now=0)
    engine.cancel(a.id, now=1)
    with unchanged(engine, InvalidTransition, a.id):
        engine.cancel(a.id, now=2)


def test_cancel_promotes_exactly_the_best_waitlisted_token(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 1)], aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0)
    w1 = eng.book("W1", C.WALK_IN, "D1", now=0, slot=0)
    w2 = eng.book("W2", C.FOLLOW_UP, "D1", now=1, slot=0)
    w3 = eng.book("W3", C.FOLLOW_UP, "D1", now=2, slot=0)
    assert ids(eng.waitlist("D1")) == [w2.id, w3.id, w1.id], "refill order: (effective_rank, waitlist order)"
    eng.cancel(a.id, now=3)
    assert promoted(eng) == [w2.id]
    assert Promoted(3, w2.id, 0) in eng.events
    assert eng.token(w2.id).state is S.BOOKED and eng.token(w2.id).slot == 0
    assert ids(eng.waitlist("D1")) == [w3.id, w1.id]


def test_refill_takes_displaced_tokens_first(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2)], overflow_cap=0, aging="none")
    a = eng.book("A", C.WALK_IN, "D1", now=0)
    b = eng.book("B", C.ONLINE, "D1", now=0)
    p = eng.book("P", C.PAID_PRIORITY, "D1", now=0, slot=0)
    eng.emergency("E", "D1", now=1)  # displaces A to the head of the waitlist
    assert ids(eng.waitlist("D1")) == [a.id, p.id]
    eng.cancel(b.id, now=2)
    assert promoted(eng) == [a.id]
    assert eng.token(a.id).slot == 0 and eng.token(p.id).state is S.WAITLISTED


def test_refill_only_takes_tokens_accepting_the_slot(make_engine: Make) -> None:
    eng = make_engine(ONE_HOUR_SLOTS, aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0, slot=0)
    b = eng.book("B", C.ONLINE, "D1", now=0, slot=1)
    late = eng.book("L", C.PAID_PRIORITY, "D1", now=0, slot=1)  # accepts slot 1 on only
    early = eng.book("W", C.WALK_IN, "D1", now=0, slot=0)
    assert late.state is S.WAITLISTED and early.state is S.WAITLISTED
    eng.cancel(a.id, now=1)
    assert promoted(eng) == [early.id]
    assert eng.token(early.id).slot == 0
    eng.cancel(b.id, now=2)
    assert promoted(eng) == [early.id, late.id]
    assert eng.token(late.id).slot == 1


def test_several_seats_freed_in_one_call_are_all_refilled_in_order(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2), (60, 120, 2)], aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0)
    b = eng.book("B", C.ONLINE, "D1", now=0)
    for p in ("C", "D"):
        eng.check_in(eng.book(p, C.ONLINE, "D1", now=0).id, now=0)
    w1 = eng.book("W1", C.WALK_IN, "D1", now=0, slot=0)
    w2 = eng.book("W2", C.ONLINE, "D1", now=0, slot=0)
    w3 = eng.book("W3", C.ONLINE, "D1", now=0, slot=0)
    eng.tick(15)  # A and B become no-shows at once
    assert eng.token(a.id).state is S.NO_SHOW and eng.token(b.id).state is S.NO_SHOW
    assert promoted(eng) == [w2.id, w3.id]
    assert eng.token(w1.id).state is S.WAITLISTED
    assert eng.slots("D1")[0].regular == 2


def test_no_refill_after_the_slot_ended(make_engine: Make) -> None:
    eng = make_engine(ONE_HOUR_SLOTS)
    a = eng.book("A", C.ONLINE, "D1", now=0)
    b = eng.book("B", C.ONLINE, "D1", now=0)
    w = eng.book("W", C.ONLINE, "D1", now=0, slot=0)
    eng.check_in(a.id, now=1)
    eng.check_in(b.id, now=1)
    eng.cancel(a.id, now=70)  # slot 0 ended at 60
    assert promoted(eng) == []
    assert eng.token(w.id).state is S.WAITLISTED


def test_leave_frees_and_refills_the_seat(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 1)])
    a = eng.book("A", C.ONLINE, "D1", now=0)
    w = eng.book("W", C.ONLINE, "D1", now=0, slot=0)
    eng.check_in(a.id, now=1)
    eng.leave(a.id, now=5)
    v = eng.token(a.id)
    assert v.state is S.LEFT and v.ended_at == 5
    assert promoted(eng) == [w.id] and eng.token(w.id).slot == 0


def test_cancel_after_call_and_other_invalid_transitions(engine: Engine) -> None:
    a = engine.book("A", C.ONLINE, "D1", now=0)
    b = engine.book("B", C.ONLINE, "D1", now=0)
    with unchanged(engine, InvalidTransition, a.id):
        engine.leave(a.id, now=1)  # not checked in
    with unchanged(engine, InvalidTransition, a.id):
        engine.complete(a.id, now=1)  # not called
    engine.check_in(a.id, now=1)
    with unchanged(engine, InvalidTransition, a.id):
        engine.check_in(a.id, now=1)  # twice
    engine.check_in(b.id, now=1)
    assert engine.call_next("D1", now=2) is not None
    with unchanged(engine, InvalidTransition, "D1"):
        engine.call_next("D1", now=3)  # busy
    with unchanged(engine, InvalidTransition, a.id):
        engine.cancel(a.id, now=3)  # already called
    with unchanged(engine, InvalidTransition, a.id):
        engine.leave(a.id, now=3)
    engine.complete(a.id, now=4)
    with unchanged(engine, InvalidTransition, a.id):
        engine.complete(a.id, now=5)
    c = engine.book("C", C.ONLINE, "D1", now=5)
    engine.cancel(c.id, now=5)
    with unchanged(engine, InvalidTransition, c.id):
        engine.check_in(c.id, now=6)


def test_call_next_with_nobody_callable_returns_none(make_engine: Make) -> None:
    eng = make_engine([(30, 90, 2)])
    a = eng.book("A", C.ONLINE, "D1", now=0)
    eng.check_in(a.id, now=1)
    assert eng.queue("D1") == [], "the slot has not started"
    assert eng.call_next("D1", now=2) is None
    assert eng.busy_with("D1") is None
    eng.tick(30)
    assert ids(eng.queue("D1")) == [a.id]


# ---------------------------------------------------------------------------------------------- no-shows


def test_no_show_before_the_deadline_is_an_error_and_at_it_ok(make_engine: Make) -> None:
    eng = make_engine([(10, 70, 2)], auto_no_show=False, no_show_grace=15)
    a = eng.book("A", C.ONLINE, "D1", now=0)  # deadline: slot start 10 + 15
    with unchanged(eng, InvalidTransition, a.id):
        eng.no_show(a.id, now=24.9)
    eng.no_show(a.id, now=25)
    v = eng.token(a.id)
    assert v.state is S.NO_SHOW and v.ended_at == 25
    assert NoShow(25, a.id) in eng.events
    assert eng.slots("D1")[0].regular == 0


def test_no_show_of_a_checked_in_token_is_an_error(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2)], auto_no_show=False)
    a = eng.book("A", C.ONLINE, "D1", now=0)
    eng.check_in(a.id, now=1)
    with unchanged(eng, InvalidTransition, a.id):
        eng.no_show(a.id, now=30)


def test_auto_no_show_by_tick_at_the_deadline(make_engine: Make) -> None:
    eng = make_engine([(10, 70, 2)])
    a = eng.book("A", C.ONLINE, "D1", now=0)
    eng.tick(24.9)
    assert eng.token(a.id).state is S.BOOKED
    eng.tick(25)
    assert eng.token(a.id).state is S.NO_SHOW and eng.token(a.id).ended_at == 25


def test_no_show_deadline_counts_from_the_seat_time(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2)])
    eng.tick(30)
    a = eng.book("A", C.ONLINE, "D1", now=30)  # seated at 30, after the slot's start
    eng.tick(44.9)
    assert eng.token(a.id).state is S.BOOKED
    eng.tick(45)
    assert eng.token(a.id).state is S.NO_SHOW


def test_tick_reaches_a_fixpoint_with_zero_grace(make_engine: Make) -> None:
    """A seat refilled by a tick at its own deadline (grace 0) is settled by that same tick.

    Otherwise ``next_due()`` would name a time that is not in the future, and a second ``tick`` at the same
    ``now`` would change the state again.
    """
    eng = make_engine([(0, 30, 1)], no_show_grace=0.0, aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0)
    b = eng.book("B", C.ONLINE, "D1", now=0)
    assert b.state is S.WAITLISTED
    eng.tick(0)
    assert eng.token(a.id).state is S.NO_SHOW
    due = eng.next_due()
    assert due is None or due > 0
    before, n = eng.snapshot(), len(eng.events)
    eng.tick(0)
    assert eng.snapshot() == before and len(eng.events) == n


def test_tick_leaves_no_shows_alone_when_auto_no_show_is_off(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2)], auto_no_show=False)
    a = eng.book("A", C.ONLINE, "D1", now=0)
    eng.tick(50)
    assert eng.token(a.id).state is S.BOOKED


def test_late_patient_after_a_no_show_books_a_new_token(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2)])
    a = eng.book("A", C.ONLINE, "D1", now=0)
    eng.tick(15)
    with unchanged(eng, InvalidTransition, a.id):
        eng.check_in(a.id, now=20)
    b = eng.book("A", C.ONLINE, "D1", now=20)
    assert b.id != a.id and b.state is S.BOOKED


# ---------------------------------------------------------------------------------------------- duplicates, idempotency


def test_rebook_after_cancel_works_but_a_duplicate_active_booking_does_not(make_clinic: Make) -> None:
    eng = make_clinic({"D1": [(0, 60, 1)], "D2": [(0, 60, 1)]})
    a = eng.book("P", C.ONLINE, "D1", now=0)
    with unchanged(eng, DuplicateBooking, "P"):
        eng.book("P", C.WALK_IN, "D1", now=1)
    w = eng.book("Q", C.ONLINE, "D1", now=1)  # waitlisted: still an active token
    assert w.state is S.WAITLISTED
    with unchanged(eng, DuplicateBooking, "Q"):
        eng.book("Q", C.ONLINE, "D1", now=1)
    assert eng.book("P", C.ONLINE, "D2", now=1).doctor == "D2", "one active token per doctor, not per day"
    eng.cancel(a.id, now=2)
    again = eng.book("P", C.ONLINE, "D1", now=3)
    assert again.id != a.id and again.state in (S.BOOKED, S.WAITLISTED)


def test_repeated_request_id_returns_the_original_token(engine: Engine) -> None:
    a = engine.book("P", C.ONLINE, "D1", now=0, request_id="r1")
    before, n = engine.snapshot(), len(engine.events)
    again = engine.book("P", C.ONLINE, "D1", now=0, request_id="r1")
    assert again.id == a.id
    assert engine.snapshot() == before and len(engine.events) == n


@pytest.mark.parametrize(
    ("patient", "category", "slot"),
    [("P", C.WALK_IN, None), ("Q", C.ONLINE, None), ("P", C.ONLINE, 1)],
    ids=["category", "patient", "slot"],
)
def test_request_id_with_other_details_is_a_conflict(
    engine: Engine, patient: str, category: Category, slot: int | None
) -> None:
    engine.book("P", C.ONLINE, "D1", now=0, request_id="r1")
    with unchanged(engine, IdempotencyConflict, "r1"):
        engine.book(patient, category, "D1", now=1, slot=slot, request_id="r1")


# ---------------------------------------------------------------------------------------------- on_full


def test_on_full_next_slot_takes_the_earliest_later_slot_with_a_seat(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 1), (60, 120, 1), (120, 180, 1)], on_full="next_slot")
    eng.book("A", C.ONLINE, "D1", now=0, slot=0)
    eng.book("B", C.ONLINE, "D1", now=0, slot=1)
    c = eng.book("C", C.ONLINE, "D1", now=0, slot=0)
    assert c.state is S.BOOKED and c.slot == 2 and c.requested_slot == 0


def test_on_full_next_slot_rejects_when_the_day_is_full(make_engine: Make) -> None:
    eng = make_engine(ONE_HOUR_SLOTS, on_full="next_slot")
    eng.book("A", C.ONLINE, "D1", now=0)
    eng.book("B", C.ONLINE, "D1", now=0)
    with unchanged(eng, BookingRejected, "C", audit=True) as info:
        eng.book("C", C.ONLINE, "D1", now=1)
    err = info.value
    assert isinstance(err, BookingRejected) and err.next_slot is None and err.doctor == "D1"
    last = eng.events[-1]
    assert isinstance(last, Rejected) and last.patient == "C" and last.next_slot is None


def test_on_full_reject_names_the_next_slot_with_room(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 1), (60, 120, 1), (120, 180, 1)], on_full="reject")
    eng.book("A", C.ONLINE, "D1", now=0, slot=0)
    eng.book("B", C.ONLINE, "D1", now=0, slot=1)
    n_tokens = len(issued_tokens(eng.events))
    with unchanged(eng, BookingRejected, "C", audit=True) as info:
        eng.book("C", C.ONLINE, "D1", now=1, slot=0)
    err = info.value
    assert isinstance(err, BookingRejected)
    assert (err.doctor, err.slot, err.next_slot) == ("D1", 0, 2)
    last = eng.events[-1]
    assert isinstance(last, Rejected)
    assert (last.now, last.patient, last.category, last.doctor, last.slot, last.next_slot) == (
        1,
        "C",
        C.ONLINE,
        "D1",
        0,
        2,
    )
    assert len(issued_tokens(eng.events)) == n_tokens
    replayed = Engine.replay(eng.events)
    assert replayed.snapshot() == eng.snapshot(), "replay skips Rejected"


def test_on_full_reject_of_a_full_day(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 1)], on_full="reject")
    eng.book("A", C.ONLINE, "D1", now=0)
    with unchanged(eng, BookingRejected, "B", audit=True) as info:
        eng.book("B", C.ONLINE, "D1", now=0)
    assert isinstance(info.value, BookingRejected) and info.value.next_slot is None


# ---------------------------------------------------------------------------------------------- doctor=None


def test_booking_without_doctor_picks_earliest_estimated_call(make_clinic: Make) -> None:
    eng = make_clinic({"A": [(30, 90, 2)], "B": [(0, 60, 2)]})
    assert eng.book("P", C.ONLINE, None, now=0).doctor == "B"


def test_booking_without_doctor_counts_a_busy_doctor(make_clinic: Make) -> None:
    eng = make_clinic({"A": [(0, 60, 4)], "B": [(0, 60, 4)]})
    x = eng.book("X", C.ONLINE, "A", now=0)
    eng.check_in(x.id, now=0)
    eng.call_next("A", now=0)
    assert eng.book("P", C.ONLINE, None, now=1).doctor == "B"


def test_booking_without_doctor_ties_to_lowest_id(make_clinic: Make) -> None:
    eng = make_clinic({"B": [(0, 60, 2)], "A": [(0, 60, 2)]})
    assert eng.book("P", C.ONLINE, None, now=0).doctor == "A"


def test_booking_without_doctor_when_all_full_takes_the_shortest_waitlist(make_clinic: Make) -> None:
    eng = make_clinic({"A": [(0, 60, 1)], "B": [(0, 60, 1)]})
    for p, d in [("P1", "A"), ("P2", "B"), ("P3", "A"), ("P4", "A"), ("P5", "B")]:
        eng.book(p, C.ONLINE, d, now=0)
    assert (len(eng.waitlist("A")), len(eng.waitlist("B"))) == (2, 1)
    t = eng.book("Q", C.ONLINE, None, now=0)
    assert t.doctor == "B" and t.state is S.WAITLISTED


# ---------------------------------------------------------------------------------------------- delays, time


def test_delay_shifts_slots_not_started_and_extends_the_running_one(engine: Engine) -> None:
    b = engine.book("B", C.ONLINE, "D1", now=0, slot=1)
    assert engine.estimated_call(b.id) == 60
    engine.delay("D1", 10, now=30)
    assert [(s.start, s.end) for s in engine.slots("D1")] == [(0, 70), (70, 130), (130, 190)]
    assert engine.estimated_call(b.id) == 70
    engine.delay("D1", 5, now=40)
    assert [(s.start, s.end) for s in engine.slots("D1")] == [(0, 75), (75, 135), (135, 195)]
    assert engine.estimated_call(b.id) == 75


def test_delay_before_opening_shifts_every_slot(make_engine: Make) -> None:
    eng = make_engine([(10, 70, 2), (70, 130, 2)])
    eng.delay("D1", 20, now=0)
    assert [(s.start, s.end) for s in eng.slots("D1")] == [(30, 90), (90, 150)]


def test_negative_delay_is_invalid(engine: Engine) -> None:
    with unchanged(engine, InvalidRequest, "-5"):
        engine.delay("D1", -5, now=0)


def test_now_going_backwards_is_an_error(engine: Engine) -> None:
    engine.book("A", C.ONLINE, "D1", now=10)
    with unchanged(engine, TimeWentBackwards, r"(?i)earlier|backwards"):
        engine.book("B", C.ONLINE, "D1", now=5)
    with unchanged(engine, TimeWentBackwards, r"(?i)earlier|backwards"):
        engine.tick(9.99)
    with unchanged(engine, TimeWentBackwards, r"(?i)earlier|backwards"):
        engine.emergency("E", "D1", now=0)


def test_a_failed_call_does_not_move_the_clock(engine: Engine) -> None:
    engine.book("A", C.ONLINE, "D1", now=10)
    with unchanged(engine, UnknownToken, "nope"):
        engine.cancel("nope", now=20)
    assert engine.book("B", C.ONLINE, "D1", now=15).issued_at == 15


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_now_is_invalid(engine: Engine, bad: float) -> None:
    with unchanged(engine, InvalidRequest, r"(?i)now"):
        engine.tick(bad)
    with unchanged(engine, InvalidRequest, r"(?i)now"):
        engine.book("A", C.ONLINE, "D1", now=bad)


# ---------------------------------------------------------------------------------------------- end of day


def test_close_day_completes_the_one_being_seen_and_leaves_everyone_else_unserved(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 3)])
    x = eng.book("X", C.ONLINE, "D1", now=0)
    eng.cancel(x.id, now=0)
    a, b, c = (eng.book(p, C.ONLINE, "D1", now=0) for p in "ABC")
    w = eng.book("W", C.ONLINE, "D1", now=0)
    assert w.state is S.WAITLISTED
    eng.check_in(a.id, now=1)
    eng.check_in(b.id, now=2)
    assert eng.call_next("D1", now=3) is not None
    eng.close_day(10)
    got = {t.id: eng.token(t.id) for t in (a, b, c, w, x)}
    assert got[a.id].state is S.COMPLETED and got[a.id].ended_at == 10
    for t in (b, c, w):
        assert got[t.id].state is S.UNSERVED and got[t.id].ended_at == 10
    assert got[x.id].state is S.CANCELLED and got[x.id].ended_at == 0
    assert DayClosed(10) in eng.events
    check_closed(eng)


def test_close_day_frees_every_seat(make_engine: Make) -> None:
    """Only booked, checked-in, called or completed tokens hold a seat; unserved ones do not."""
    eng = make_engine([(0, 60, 3)])
    a = eng.book("A", C.ONLINE, "D1", now=0)
    eng.book("B", C.ONLINE, "D1", now=0)
    eng.emergency("E", "D1", now=0)
    eng.check_in(a.id, now=1)
    eng.close_day(10)
    s0 = eng.slots("D1")[0]
    assert (s0.regular, s0.emergencies) == (0, 0)


def test_a_closed_day_is_freed_by_reference_counting(make_engine: Make) -> None:
    """At the close no queue, waitlist, early check-in or displacement heap keeps a token (each holds its doctor,
    which would hold it back): dropping the engine frees it all, and the cyclic collector finds nothing."""
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        eng = make_engine([(0, 60, 2), (60, 120, 2)])
        a = eng.book("A", C.ONLINE, "D1", now=0)
        eng.book("B", C.ONLINE, "D1", now=0)
        assert eng.book("W", C.ONLINE, "D1", now=0, slot=0).state is S.WAITLISTED  # a waitlist entry
        eng.check_in(eng.book("P", C.ONLINE, "D1", now=0, slot=1).id, now=1)  # checked in before its slot opens
        eng.emergency("E", "D1", now=2)  # the booked tokens become displaceable
        eng.check_in(a.id, now=3)  # a callable token
        eng.close_day(10)
        gone = weakref.ref(eng)
        del eng
        assert gone() is None
        assert gc.collect() == 0
    finally:
        if collecting:
            gc.enable()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda e, t: e.book("N", C.ONLINE, "D1", now=40), id="book"),
        pytest.param(lambda e, t: e.emergency("N", "D1", now=40), id="emergency"),
        pytest.param(lambda e, t: e.check_in(t, now=40), id="check_in"),
        pytest.param(lambda e, t: e.call_next("D1", now=40), id="call_next"),
        pytest.param(lambda e, t: e.complete(t, now=40), id="complete"),
        pytest.param(lambda e, t: e.cancel(t, now=40), id="cancel"),
        pytest.param(lambda e, t: e.no_show(t, now=40), id="no_show"),
        pytest.param(lambda e, t: e.leave(t, now=40), id="leave"),
        pytest.param(lambda e, t: e.delay("D1", 5, now=40), id="delay"),
        pytest.param(lambda e, t: e.tick(40), id="tick"),
        pytest.param(lambda e, t: e.close_day(40), id="close_day"),
        pytest.param(lambda e, t: e.add_doctor("D2", [(0, 60, 1)], now=40), id="add_doctor"),
    ],
)
def test_every_call_after_close_day_is_an_error(engine: Engine, call: Callable[[Engine, str], object]) -> None:
    a = engine.book("A", C.ONLINE, "D1", now=0)
    engine.close_day(30)
    with unchanged(engine, DayClosedError, r"(?i)closed"):
        call(engine, a.id)


# ---------------------------------------------------------------------------------------------- reading the state


def test_next_due_returns_slot_start_then_no_show_deadline(make_engine: Make) -> None:
    eng = make_engine([(10, 60, 2), (60, 120, 2)], aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0)
    eng.check_in(a.id, now=0)
    assert eng.next_due() == 10
    eng.tick(10)
    eng.book("B", C.ONLINE, "D1", now=10)  # deadline 25
    assert eng.next_due() == 25
    eng.tick(25)
    assert eng.token(a.id).state is S.CHECKED_IN
    due = eng.next_due()
    assert due is None or due > 25


def test_next_due_returns_the_wait_aging_threshold(make_engine: Make) -> None:
    eng = make_engine([(0, 120, 5)], aging="wait", aging_threshold=30)
    eng.tick(5)
    w = eng.book("W", C.WALK_IN, "D1", now=5)
    eng.check_in(w.id, now=5)
    assert eng.next_due() == 35
    eng.tick(35)
    assert eng.token(w.id).effective_rank == 1


def test_next_due_is_none_when_nothing_is_pending(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 2)], aging="none")
    a = eng.book("A", C.ONLINE, "D1", now=0)
    eng.check_in(a.id, now=0)
    eng.tick(1)
    assert eng.next_due() is None


def test_estimated_call_time(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 4)], aging="none")  # mean before any completion: 60 / 4 = 15
    toks = [eng.book(p, C.ONLINE, "D1", now=0) for p in "ABC"]
    for t in toks:
        eng.check_in(t.id, now=0)
    a, b, c = (t.id for t in toks)
    assert [eng.estimated_call(i) for i in (a, b, c)] == [0, 15, 30]
    assert eng.call_next("D1", now=0) is not None
    assert [eng.estimated_call(i) for i in (b, c)] == [15, 30]  # busy counts as one ahead
    eng.complete(a, now=8)  # the mean is now 8
    assert eng.estimated_call(a) in (None, 0), "completed: none, or the time it was called"
    assert [eng.estimated_call(i) for i in (b, c)] == [8, 16]
    assert eng.token(c).estimated_call == 16


def test_estimated_call_of_a_waitlisted_token_is_none(make_engine: Make) -> None:
    eng = make_engine([(0, 60, 1)])
    eng.book("A", C.ONLINE, "D1", now=0)
    w = eng.book("W", C.ONLINE, "D1", now=0)
    assert eng.estimated_call(w.id) is None


def test_log_opens_with_the_policy_and_replay_rebuilds_the_engine(make_engine: Make) -> None:
    policy = Policy(aging="wait", aging_threshold=20, overflow_cap=0)
    eng = Engine(policy)
    assert eng.policy == policy
    assert eng.events[0] == EngineStarted(policy)
    eng.add_doctor("D1", [(0, 60, 2), (60, 120, 1)], now=0)
    a = eng.book("A", C.WALK_IN, "D1", now=0)
    eng.book("B", C.ONLINE, "D1", now=0)
    eng.book("W", C.ONLINE, "D1", now=0, slot=0)
    eng.check_in(a.id, now=1)
    eng.emergency("E", "D1", now=2)
    eng.delay("D1", 5, now=3)
    eng.tick(40)
    replayed = Engine.replay(eng.events)
    assert replayed.snapshot() == eng.snapshot()
    assert replayed.policy == policy
    x, y = eng.book("X", C.ONLINE, "D1", now=41), replayed.book("X", C.ONLINE, "D1", now=41)
    assert x == y
    assert eng.call_next("D1", now=42) == replayed.call_next("D1", now=42)
    assert replayed.snapshot() == eng.snapshot()


def test_queries_never_change_later_behaviour() -> None:
    """Reading the state (here ``next_due()``, as a simulation does before every tick) changes nothing later.

    Found by the stateful test: a delay, then no-shows due in one tick; an engine that was asked ``next_due()``
    between calls logged the no-shows in another order than a fresh (or replayed) engine fed the same calls.
    """
    pp = C.PAID_PRIORITY

    def build() -> Engine:
        eng = Engine(Policy(aging="none", overflow_cap=0, max_displacements=0, no_show_grace=0.0))
        eng.add_doctor("D1", [(0.0, 30.0, 1), (30.0, 60.0, 1)], now=0.0)
        eng.add_doctor("D2", [(0.0, 30.0, 1), (30.0, 60.0, 1), (60.0, 90.0, 1)], now=0.0)
        eng.add_doctor("D3", [(0.0, 60.0, 1), (60.0, 90.0, 1)], now=0.0)
        return eng

    def day(eng: Engine, query: bool) -> None:
        calls: list[Callable[[], object]] = [
            lambda: eng.book("P1", pp, "D1", now=0.0),
            lambda: eng.check_in(eng.events[-1].token, now=0.0),  # type: ignore[union-attr]
            lambda: eng.book("P1", pp, "D3", now=10.0, slot=1),
            lambda: eng.tick(25.0),
            lambda: eng.call_next("D1", now=25.0),
            lambda: eng.book("P1", pp, "D2", now=35.0),
            lambda: eng.book("P2", pp, "D1", now=40.0),
            lambda: eng.tick(40.0),
            lambda: eng.complete(eng.busy_with("D1") or "", now=40.0),
            lambda: eng.delay("D3", 5.0, now=40.0),
            lambda: eng.book("P1", pp, "D1", now=45.0),
            lambda: eng.book("P1", pp, "D2", now=60.0),
            lambda: eng.tick(65.0),
        ]
        for call in calls:
            if query:
                eng.next_due()
            call()

    quiet, asked = build(), build()
    day(quiet, query=False)
    day(asked, query=True)
    assert asked.events == quiet.events
    assert asked.snapshot() == quiet.snapshot()
