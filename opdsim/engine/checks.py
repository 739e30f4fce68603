"""Checking an event from outside (a stored or received log) before the fold applies it.

:meth:`Engine.apply` and :meth:`Engine.replay` accept events that did not come from this engine's own
decisions, e.g. a log read back from the booking service's store. The fold trusts what it is given, so this
module checks that an event fits the state it is applied to: a known kind, a finite ``now`` not earlier than the
last change, the doctor, token and slot it names exist, the token is in a state the event may follow, and the
counters it carries (token number, ``queue_seq``) are the next ones. A misfit raises :class:`InvalidRequest`
naming the event, and the state is untouched. It does not re-decide (a well-formed ``Called`` of a token that is
callable but not first in serving order is accepted): the log is the record of what was decided.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from opdsim.engine._state import BOOKED, CALLED, CHECKED_IN, EMERGENCY, WAITLISTED, _Doctor, _Token
from opdsim.engine.errors import InvalidRequest
from opdsim.engine.events import (
    Booked,
    Called,
    Cancelled,
    CapBreached,
    CheckedIn,
    Completed,
    DayClosed,
    Displaced,
    DoctorAdded,
    EngineStarted,
    Left,
    NoShow,
    Promoted,
    SlotOpened,
    SlotsShifted,
    Upgraded,
    Waitlisted,
)
from opdsim.engine.fold import KINDS
from opdsim.engine.types import Category

if TYPE_CHECKING:
    from opdsim.engine.fold import _Fold

__all__ = ["check_event"]

_NOT_CALLED = (BOOKED, WAITLISTED, CHECKED_IN)


def _fail(event: Any, why: str) -> InvalidRequest:
    return InvalidRequest(f"apply {type(event).__name__}: {why}")


def _doctor(eng: _Fold, event: Any, doctor: object) -> _Doctor:
    doc = eng._docs.get(doctor) if isinstance(doctor, str) else None
    if doc is None:
        raise _fail(event, f"unknown doctor {doctor!r}")
    return doc


def _token(eng: _Fold, event: Any, states: tuple[Any, ...] | None = None) -> _Token:
    tok = eng._tokens.get(event.token) if isinstance(event.token, str) else None
    if tok is None:
        raise _fail(event, f"unknown token {event.token!r}")
    if states is not None and tok.state not in states:
        raise _fail(event, f"token {tok.id} is {tok.state.value}")
    return tok


def _slot(event: Any, doc: _Doctor, index: object) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(doc.slots):
        raise _fail(event, f"doctor {doc.id!r} has no slot {index!r}")
    return index


def _new_token(eng: _Fold, event: Booked | Waitlisted) -> _Doctor:
    if event.token != f"T{eng._ntok + 1}":
        raise _fail(event, f"token {event.token!r} is not the next token id T{eng._ntok + 1}")
    if not isinstance(event.category, Category):
        raise _fail(event, f"category {event.category!r} is not a Category")
    if not isinstance(event.patient, str) or not event.patient:
        raise _fail(event, f"patient {event.patient!r} is not a non-empty string")
    doc = _doctor(eng, event, event.doctor)
    if (event.patient, doc.id) in eng._active:
        raise _fail(event, f"patient {event.patient!r} already holds an active token at doctor {doc.id!r}")
    _slot(event, doc, event.requested_slot)
    return doc


def check_event(eng: _Fold, event: Any) -> None:
    """Raise :class:`InvalidRequest` unless ``event`` may be applied to ``eng``'s state now."""
    kind = type(event)
    if kind is EngineStarted:
        raise InvalidRequest("apply: EngineStarted may only open the log")
    if kind not in KINDS:
        raise InvalidRequest(f"apply: {event!r} is not an engine event")
    now = event.now
    if isinstance(now, bool) or not isinstance(now, int | float) or not (math.isfinite(now) or now == eng._last):
        # (an event before any change of state carries the engine's starting time, -inf)
        raise _fail(event, f"now {now!r} is not a finite number of minutes")
    if now < eng._last:
        raise _fail(event, f"now {now:g} min is earlier than {eng._last:g} min, the last change of state")
    if eng._closed:
        raise _fail(event, "the day is closed")
    if kind is DoctorAdded:
        if not isinstance(event.doctor, str) or not event.doctor or event.doctor in eng._docs:
            raise _fail(event, f"doctor {event.doctor!r} is not a new doctor id")
        if not event.slots or any(
            len(s) != 3 or not s[0] < s[1] or isinstance(s[2], bool) or not isinstance(s[2], int) or s[2] < 1
            for s in event.slots
        ):
            raise _fail(event, f"slots {event.slots!r} are not (start, end, capacity) rows")
    elif kind is Booked:
        doc = _new_token(eng, event)
        _slot(event, doc, event.slot)
    elif kind is Waitlisted:
        _new_token(eng, event)
    elif kind is Promoted:
        tok = _token(eng, event, (WAITLISTED,))
        _slot(event, tok.doctor, event.slot)
    elif kind is Displaced:
        tok = _token(eng, event, (BOOKED, CHECKED_IN))
        if tok.category is EMERGENCY or tok.slot != event.from_slot:
            raise _fail(event, f"token {tok.id} is not a non-emergency token seated in slot {event.from_slot!r}")
        if event.to_slot is not None:
            _slot(event, tok.doctor, event.to_slot)
    elif kind is CapBreached:
        _slot(event, _doctor(eng, event, event.doctor), event.slot)
        _token(eng, event)
    elif kind is Upgraded:
        tok = _token(eng, event, _NOT_CALLED)
        if tok.category is EMERGENCY or event.rank not in eng._ranks or not eng._ceiling <= event.rank < tok.rank:
            raise _fail(event, f"rank {event.rank!r} is not an upgrade of token {tok.id} (rank {tok.rank})")
    elif kind is CheckedIn:
        tok = _token(eng, event, (BOOKED, WAITLISTED))
        if tok.checked_in_at is not None:
            raise _fail(event, f"token {tok.id} is already checked in")
        if event.queue_seq != eng._seq + 1:
            raise _fail(event, f"queue_seq {event.queue_seq!r} is not the next one, {eng._seq + 1}")
    elif kind is SlotOpened:
        doc = _doctor(eng, event, event.doctor)
        if event.slot != doc.next_open or event.slot >= len(doc.slots):
            raise _fail(event, f"slot {event.slot!r} of doctor {doc.id!r} is not the next to open")
    elif kind is Called:
        tok = _token(eng, event)
        if not tok.in_tree or tok.doctor.id != event.doctor:
            raise _fail(event, f"token {tok.id} is not callable at doctor {event.doctor!r}")
        if tok.doctor.busy is not None:
            raise _fail(event, f"doctor {event.doctor!r} is busy with token {tok.doctor.busy.id}")
    elif kind is Completed:
        _token(eng, event, (CALLED,))
    elif kind is Cancelled:
        _token(eng, event, _NOT_CALLED)
    elif kind is NoShow:
        _token(eng, event, (BOOKED,))
    elif kind is Left:
        tok = _token(eng, event, (CHECKED_IN, WAITLISTED))
        if tok.checked_in_at is None:
            raise _fail(event, f"token {tok.id} was never checked in")
    elif kind is SlotsShifted:
        _doctor(eng, event, event.doctor)
        m = event.minutes
        if isinstance(m, bool) or not isinstance(m, int | float) or not math.isfinite(m) or m <= 0:
            raise _fail(event, f"minutes {m!r} is not a positive number")
    elif kind is DayClosed:
        pass
