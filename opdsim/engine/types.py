"""Value types of the allocation engine: categories, token states and the read-only token view."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import NamedTuple

__all__ = ["ACTIVE_STATES", "TERMINAL_STATES", "Category", "SlotView", "TokenState", "TokenView"]


class Category(IntEnum):
    """Where a token came from. The value is the default rank: lower is served first."""

    EMERGENCY = 0
    PAID_PRIORITY = 1
    FOLLOW_UP = 2
    ONLINE = 3
    WALK_IN = 4


class TokenState(StrEnum):
    """Life cycle of a token. The last five are terminal."""

    BOOKED = "booked"  # holds a seat, patient not yet checked in
    WAITLISTED = "waitlisted"  # no seat yet (the patient may already be checked in)
    CHECKED_IN = "checked_in"  # holds a seat and is present
    CALLED = "called"  # with the doctor now
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    LEFT = "left"
    UNSERVED = "unserved"  # still waiting when the day was closed


TERMINAL_STATES = frozenset(
    {TokenState.COMPLETED, TokenState.CANCELLED, TokenState.NO_SHOW, TokenState.LEFT, TokenState.UNSERVED}
)
ACTIVE_STATES = frozenset(TokenState) - TERMINAL_STATES


class TokenView(NamedTuple):
    """A read-only picture of one token, taken when the view was made.

    Times are minutes since the clinic day opened [min]; ``None`` where the event has not happened.
    """

    id: str
    patient: str
    category: Category
    effective_rank: int  # rank used for serving; starts at the category's rank, lowered by aging
    state: TokenState
    doctor: str
    slot: int | None  # slot index held; for ended tokens the last one held (seat freed); None if never seated
    requested_slot: int  # the slot the booking asked for (or was given first)
    queue_seq: int | None  # given at check-in; first come, first served within a rank
    bypasses: int  # tokens with a later queue_seq called before this one while it was callable
    displacements: int  # times an emergency pushed it out of its slot
    upgrades: int  # aging upgrades applied
    issued_at: float
    checked_in_at: float | None
    called_at: float | None
    ended_at: float | None  # completion, cancellation, no-show, leaving or close of day
    estimated_call: (
        float | None
    )  # see Engine.estimated_call: the call time once called; None if ended unseen or unseated


class SlotView(NamedTuple):
    """A read-only picture of one slot of one doctor.

    ``regular`` counts the seated non-emergency tokens (booked, checked in, called or completed);
    ``emergencies`` the emergency tokens seated there (completed included). Times in minutes [min].
    """

    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: it is the slot's index
    start: float
    end: float
    capacity: int
    regular: int
    emergencies: int
    breaches: int  # CapBreached events recorded for this slot
