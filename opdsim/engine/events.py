"""The engine's event log: one immutable record per change of state.

Events are ``NamedTuple`` classes: immutable, cheap to build on the hot path and plain to serialise. Every one
but :class:`EngineStarted` carries ``now``, the clinic time of the call that produced it [min].
``Engine.replay`` rebuilds an engine from these records alone; :class:`Rejected` is an audit record that replay
skips.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from opdsim.engine.policy import Policy
from opdsim.engine.types import Category

__all__ = [
    "Booked",
    "Called",
    "Cancelled",
    "CapBreached",
    "CheckedIn",
    "Completed",
    "DayClosed",
    "Displaced",
    "DoctorAdded",
    "EngineStarted",
    "Event",
    "Left",
    "NoShow",
    "Promoted",
    "Rejected",
    "SlotOpened",
    "SlotsShifted",
    "Upgraded",
    "Waitlisted",
    "event_to_dict",
]


class EngineStarted(NamedTuple):
    """A new engine began with ``policy``."""

    policy: Policy


class DoctorAdded(NamedTuple):
    """A doctor joined with slots ``((start, end, capacity), ...)`` [min, min, patients]."""

    now: float
    doctor: str
    slots: tuple[tuple[float, float, int], ...]


class Booked(NamedTuple):
    """A token was issued with a seat in ``slot`` (emergencies included)."""

    now: float
    token: str
    patient: str
    category: Category
    doctor: str
    slot: int
    requested_slot: int
    request_id: str | None = None
    asked_doctor: str | None = None  # the request as made (idempotency compares it): doctor or None
    asked_slot: int | None = None  # and slot or None


class Waitlisted(NamedTuple):
    """A token was issued without a seat; it accepts seats freed from ``requested_slot`` on."""

    now: float
    token: str
    patient: str
    category: Category
    doctor: str
    requested_slot: int
    request_id: str | None = None
    asked_doctor: str | None = None
    asked_slot: int | None = None


class Promoted(NamedTuple):
    """A waitlisted token took a freed seat in ``slot``."""

    now: float
    token: str
    slot: int


class Displaced(NamedTuple):
    """An emergency pushed ``token`` out of ``from_slot``, to ``to_slot`` or (None) to the head of the waitlist."""

    now: float
    token: str
    from_slot: int
    to_slot: int | None


class CapBreached(NamedTuple):
    """An emergency was seated past the overflow cap because nobody could be displaced."""

    now: float
    doctor: str
    slot: int
    token: str


class Upgraded(NamedTuple):
    """Aging gave ``token`` the better effective rank ``rank``."""

    now: float
    token: str
    rank: int


class CheckedIn(NamedTuple):
    """The patient arrived; ``queue_seq`` orders them within a rank."""

    now: float
    token: str
    queue_seq: int


class SlotOpened(NamedTuple):
    """Clinic time passed the start of ``slot``: its checked-in tokens became callable."""

    now: float
    doctor: str
    slot: int


class Called(NamedTuple):
    """The doctor called ``token``."""

    now: float
    token: str
    doctor: str


class Completed(NamedTuple):
    """The consultation of ``token`` ended."""

    now: float
    token: str


class Cancelled(NamedTuple):
    """``token`` was cancelled (``reason`` is "cancel" or "superseded" by an emergency)."""

    now: float
    token: str
    reason: str


class NoShow(NamedTuple):
    """``token`` was not checked in by its deadline."""

    now: float
    token: str


class Left(NamedTuple):
    """The checked-in patient of ``token`` went away unseen."""

    now: float
    token: str


class SlotsShifted(NamedTuple):
    """``doctor`` runs ``minutes`` late: slots not started shift, the running one ends later [min]."""

    now: float
    doctor: str
    minutes: float


class DayClosed(NamedTuple):
    """The clinic day ended; every active token reached a terminal state."""

    now: float


class Rejected(NamedTuple):
    """Audit only: a booking was refused for lack of room. Changes no state; replay skips it."""

    now: float
    patient: str
    category: Category
    doctor: str | None
    slot: int | None
    next_slot: int | None
    reason: str


Event = (
    EngineStarted
    | DoctorAdded
    | Booked
    | Waitlisted
    | Promoted
    | Displaced
    | CapBreached
    | Upgraded
    | CheckedIn
    | SlotOpened
    | Called
    | Completed
    | Cancelled
    | NoShow
    | Left
    | SlotsShifted
    | DayClosed
    | Rejected
)


def event_to_dict(event: Event) -> dict[str, Any]:
    """Plain JSON-ready form of ``event``: its fields plus ``"kind"``, the class name."""
    out: dict[str, Any] = {"kind": type(event).__name__}
    for name, value in zip(event._fields, event, strict=True):
        if isinstance(value, Policy):
            out[name] = value.as_dict()
        elif isinstance(value, Category):
            out[name] = value.name
        else:
            out[name] = value
    return out
