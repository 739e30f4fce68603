"""Reusable checks of the engine's invariants, the rules that must hold after any operation.

Everything here reads the engine through its public API only: the query methods, the snapshot and the event log.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from opdsim.engine import Engine
from opdsim.engine.events import Booked, CapBreached, DayClosed, Event, Rejected, Waitlisted
from opdsim.engine.types import TERMINAL_STATES, Category, TokenState, TokenView

__all__ = [
    "SEATED_STATES",
    "breached_slots",
    "check_closed",
    "check_invariants",
    "ids",
    "issued_tokens",
    "unchanged",
]

#: States in which a token holds a seat.
SEATED_STATES = frozenset({TokenState.BOOKED, TokenState.CHECKED_IN, TokenState.CALLED, TokenState.COMPLETED})


def ids(views: Any) -> list[str]:
    """The ids of a sequence of token views, in order."""
    return [v.id for v in views]


def issued_tokens(events: Any) -> list[str]:
    """Every token id ever issued, in issue order (from the Booked and Waitlisted events)."""
    return [e.token for e in events if isinstance(e, Booked | Waitlisted)]


def breached_slots(events: Any) -> set[tuple[str, int]]:
    """The (doctor, slot) pairs named by a CapBreached event."""
    return {(e.doctor, e.slot) for e in events if isinstance(e, CapBreached)}


@contextmanager
def unchanged(
    eng: Engine, exc: type[BaseException], match: str, *, audit: bool = False
) -> Iterator[pytest.ExceptionInfo[BaseException]]:
    """Expect ``exc`` (message matching ``match``) and assert the engine's state did not change.

    The snapshot must be equal before and after; the log must not grow, except by exactly one ``Rejected``
    audit event when ``audit`` is true.
    """
    before = eng.snapshot()
    n_events = len(eng.events)
    with pytest.raises(exc, match=match) as info:
        yield info
    assert eng.snapshot() == before, "a failed call changed the snapshot"
    if audit:
        assert len(eng.events) == n_events + 1, "a rejection must log exactly one audit event"
        assert isinstance(eng.events[-1], Rejected)
    else:
        assert len(eng.events) == n_events, "a failed call appended events"


def check_invariants(eng: Engine) -> None:
    """Assert every invariant of the engine that holds after any operation."""
    events: list[Event] = list(eng.events)
    for ev in events:  # the engine builds its events and views with tuple.__new__, which checks no field count
        assert len(ev) == len(ev._fields), f"{ev!r} has {len(ev)} values for {len(ev._fields)} fields"
    policy = eng.policy
    emergency_rank = policy.rank(Category.EMERGENCY)
    breached = breached_slots(events)
    closed = any(isinstance(e, DayClosed) for e in events)
    token_ids = issued_tokens(events)
    assert len(set(token_ids)) == len(token_ids), "a token id was issued twice"
    views = {tid: eng.token(tid) for tid in token_ids}

    for tid, v in views.items():
        assert len(v) == len(v._fields), f"{v!r} has {len(v)} values for {len(v._fields)} fields"
        assert v.id == tid
        assert isinstance(v.id, str)
        assert isinstance(v.state, TokenState)
        _check_token(v, policy.ceiling, emergency_rank, policy.rank(v.category))

    for doctor in eng.doctors():
        mine = {tid: v for tid, v in views.items() if v.doctor == doctor}
        slots = eng.slots(doctor)
        assert [s.index for s in slots] == list(range(len(slots)))
        for s in slots:
            seated = [v for v in mine.values() if v.slot == s.index and v.state in SEATED_STATES]
            regular = sum(v.category is not Category.EMERGENCY for v in seated)
            emergencies = len(seated) - regular
            if not closed:  # after close_day, see test_close_day_frees_every_seat
                assert (s.regular, s.emergencies) == (regular, emergencies), f"slot view {s} disagrees with tokens"
            assert s.regular <= s.capacity, f"{doctor} slot {s.index}: {s.regular} regular > capacity {s.capacity}"
            if (doctor, s.index) not in breached:
                total = s.regular + s.emergencies
                assert total <= s.capacity + policy.overflow_cap, (
                    f"{doctor} slot {s.index}: {total} seated > capacity {s.capacity} + overflow "
                    f"{policy.overflow_cap} without a CapBreached event"
                )
        for a, b in itertools.pairwise(slots):
            assert a.start < a.end <= b.start, f"{doctor}: slots {a} and {b} out of order after a delay"

        queue = eng.queue(doctor)
        waitlist = eng.waitlist(doctor)
        q_ids, w_ids = ids(queue), ids(waitlist)
        assert len(set(q_ids)) == len(q_ids), "a token is twice in the queue"
        assert len(set(w_ids)) == len(w_ids), "a token is twice in the waitlist"
        assert not set(q_ids) & set(w_ids), "a token is both queued and waitlisted"
        for v in queue:
            assert v.doctor == doctor
            assert v.state is TokenState.CHECKED_IN and v.slot is not None and v.queue_seq is not None
        keys = [(v.effective_rank, v.queue_seq) for v in queue]
        assert keys == sorted(keys), f"{doctor}: queue not in (effective_rank, queue_seq) order: {keys}"
        assert len(set(keys)) == len(keys)
        waitlisted = {tid for tid, v in mine.items() if v.state is TokenState.WAITLISTED}
        assert set(w_ids) == waitlisted, f"{doctor}: waitlist {w_ids} != waitlisted tokens {waitlisted}"
        called = [tid for tid, v in mine.items() if v.state is TokenState.CALLED]
        assert len(called) <= 1, f"{doctor} sees {called} at once"
        assert eng.busy_with(doctor) == (called[0] if called else None)

    seqs = [v.queue_seq for v in views.values() if v.queue_seq is not None]
    assert len(set(seqs)) == len(seqs), "two tokens share a queue_seq"
    nd = eng.next_due()
    assert nd is None or isinstance(nd, int | float)


def _check_token(v: TokenView, ceiling: int, emergency_rank: int, own_rank: int) -> None:
    if v.state in SEATED_STATES:
        assert v.slot is not None, f"{v.id} is {v.state} without a seat"
    if v.state is TokenState.WAITLISTED:
        assert v.slot is None, f"waitlisted {v.id} holds slot {v.slot}"
        assert v.estimated_call is None, f"waitlisted {v.id} has an estimated call time"
    if v.state in (TokenState.CALLED, TokenState.COMPLETED):
        assert v.estimated_call in (None, v.called_at)
    if v.state in (TokenState.CHECKED_IN, TokenState.CALLED, TokenState.COMPLETED):
        assert v.checked_in_at is not None and v.queue_seq is not None
    if v.state in (TokenState.CALLED, TokenState.COMPLETED):
        assert v.called_at is not None
    if v.state in TERMINAL_STATES:
        assert v.ended_at is not None, f"terminal {v.id} has no end time"
        if v.state is not TokenState.COMPLETED:
            assert v.estimated_call is None, f"{v.id} is {v.state} with an estimated call time"
    else:
        assert v.ended_at is None
    if v.category is Category.EMERGENCY:
        assert v.effective_rank == emergency_rank
        assert v.state is not TokenState.WAITLISTED and v.state is not TokenState.BOOKED
        assert v.displacements == 0, "an emergency was displaced"
    else:
        assert ceiling <= v.effective_rank <= own_rank, (
            f"{v.id}: effective rank {v.effective_rank} outside [{ceiling}, {own_rank}]"
        )
    assert v.upgrades >= 0 and v.bypasses >= 0 and v.displacements >= 0


def check_closed(eng: Engine) -> None:
    """After ``close_day``: every token issued is terminal, nobody queued, waitlisted or being seen."""
    for tid in issued_tokens(eng.events):
        assert eng.token(tid).state in TERMINAL_STATES, f"{tid} is {eng.token(tid).state} after close_day"
    for doctor in eng.doctors():
        assert eng.queue(doctor) == []
        assert eng.waitlist(doctor) == []
        assert eng.busy_with(doctor) is None
