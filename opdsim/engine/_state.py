"""The engine's internal state: slots, doctors and tokens (mutable records, changed only by the fold).

These classes are private to :mod:`opdsim.engine`; the public reading of them is :class:`TokenView` and
:class:`SlotView`. A rule object (see :mod:`opdsim.engine.rules`) may read, never write, their attributes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final, SupportsFloat

from opdsim.engine._tree import RankTree
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
    Rejected,
    SlotOpened,
    SlotsShifted,
    Upgraded,
    Waitlisted,
)
from opdsim.engine.types import Category, TokenState

__all__ = [
    "BIG",
    "BOOKED",
    "CALLED",
    "CANCELLED",
    "CHECKED_IN",
    "COMPLETED",
    "EMERGENCY",
    "INF",
    "LEFT",
    "NO_SHOW",
    "UNSERVED",
    "WAITLISTED",
    "_Doctor",
    "_Slot",
    "_Token",
    "as_minutes",
    "check_time",
]

BIG: Final = 1 << 40  # bypass threshold of a token that aging will not upgrade (counts still kept)
INF: Final = math.inf
_NAN: Final = math.nan

BOOKED: Final = TokenState.BOOKED
WAITLISTED: Final = TokenState.WAITLISTED
CHECKED_IN: Final = TokenState.CHECKED_IN
CALLED: Final = TokenState.CALLED
COMPLETED: Final = TokenState.COMPLETED
CANCELLED: Final = TokenState.CANCELLED
NO_SHOW: Final = TokenState.NO_SHOW
LEFT: Final = TokenState.LEFT
UNSERVED: Final = TokenState.UNSERVED
EMERGENCY: Final = Category.EMERGENCY

# A slot's displacement list or heap is pruned of stale entries when it reaches this length, and then again at
# twice the entries left (at least this): a slot that never fills (open access) would otherwise keep one entry
# per token of the day, and every push would climb a heap of tens of thousands.
PRUNE_AT: Final = 64

# The event classes as compiled constants, for the two folds' dispatch (fold.py, records.py): compiled, a name
# imported from the interpreted events module is looked up in the module's dict at every use, and each event is
# tested against up to 18 of them.
EV_BOOKED: Final = Booked
EV_CALLED: Final = Called
EV_CANCELLED: Final = Cancelled
EV_CAPBREACHED: Final = CapBreached
EV_CHECKEDIN: Final = CheckedIn
EV_COMPLETED: Final = Completed
EV_DAYCLOSED: Final = DayClosed
EV_DISPLACED: Final = Displaced
EV_DOCTORADDED: Final = DoctorAdded
EV_ENGINESTARTED: Final = EngineStarted
EV_LEFT: Final = Left
EV_NOSHOW: Final = NoShow
EV_PROMOTED: Final = Promoted
EV_REJECTED: Final = Rejected
EV_SLOTOPENED: Final = SlotOpened
EV_SLOTSSHIFTED: Final = SlotsShifted
EV_UPGRADED: Final = Upgraded
EV_WAITLISTED: Final = Waitlisted

_new: Final = tuple.__new__  # builds a named tuple without running its interpreted __new__ (all fields given)


class _Slot:
    __slots__ = (
        "armed",
        "breaches",
        "cap",
        "displaceable",
        "emerg",
        "end",
        "index",
        "pending",
        "prune_at",
        "regular",
        "seated",
        "start",
    )

    def __init__(self, index: int, start: float, end: float, cap: int) -> None:
        self.index = index
        self.start = start
        self.end = end
        self.cap = cap
        self.regular = 0  # seated non-emergency tokens (booked, checked in, called, completed)
        self.emerg = 0  # emergency tokens seated here, completed included
        self.breaches = 0
        self.pending: list[_Token] = []  # checked in before the slot opened
        # The tokens an emergency may displace. Until an emergency first needs a victim here (most slots never
        # see one), only a list of the tokens seated, stale ones included (``seated``); then (``armed``) a heap,
        # smallest displacement key first, of lazy entries (key, issue, seat version, rank at push, token),
        # validated when popped or pruned.
        self.armed = False
        self.seated: list[_Token] = []
        self.displaceable: list[tuple[tuple[int, ...], int, int, int, _Token]] = []
        self.prune_at = PRUNE_AT  # the list's or heap's length at which its stale entries are dropped


class _Doctor:
    __slots__ = (
        "busy",
        "by_pos",
        "consult_n",
        "consult_sum",
        "dirty",
        "id",
        "live",
        "next_open",
        "order",
        "slots",
        "tree_of",
        "trees",
        "wl",
        "wl_count",
    )

    def __init__(self, doctor_id: str, order: int, slots: list[_Slot], ranks: Sequence[int]) -> None:
        self.id = doctor_id
        self.order = order
        self.slots = slots
        self.next_open = 0  # slots [0, next_open) have opened
        self.busy: _Token | None = None
        self.consult_sum = 0.0
        self.consult_n = 0
        self.by_pos: list[_Token] = []  # tokens by check-in position at this doctor
        # tokens with a position that still wait (checked in, not yet called or ended); when none is left the
        # positions start again from 0, which keeps the trees as shallow as the live queue
        self.live = 0
        # one tree per rank in use, best rank first
        self.trees: list[tuple[int, RankTree]] = [(r, RankTree()) for r in ranks]
        self.tree_of: dict[int, RankTree] = dict(self.trees)
        # waitlist: one lazy heap per requested slot; key (0, displaced order) or (1, rank, waitlist order)
        self.wl: list[list[tuple[tuple[int, ...], _Token]]] = [[] for _ in slots]
        self.wl_count = 0
        self.dirty = 0  # the doctor choice's own marks (which of its entries it has not re-read since a change)

    def mean_consult(self, slot: _Slot) -> float:
        if self.consult_n:
            return self.consult_sum / self.consult_n
        return (slot.end - slot.start) / slot.cap


class _Token:
    __slots__ = (
        "bypass_acc",
        "callable_since",
        "called_at",
        "category",
        "checked_in_at",
        "displacements",
        "doctor",
        "ended_at",
        "id",
        "in_tree",
        "issue",
        "issued_at",
        "patient",
        "pos",
        "rank",
        "req_slot",
        "request",
        "seat_ver",
        "seated_at",
        "seq",
        "slot",
        "state",
        "thr",
        "upgrades",
        "wait_acc",
        "wait_ver",
        "wl_key",
    )

    def __init__(
        self,
        token_id: str,
        issue: int,
        patient: str,
        category: Category,
        rank: int,
        doctor: _Doctor,
        req_slot: int,
        now: float,
        request: tuple[Any, ...] | None,
    ) -> None:
        self.id = token_id
        self.issue = issue
        self.patient = patient
        self.category = category
        self.rank = rank
        self.doctor = doctor
        self.req_slot = req_slot
        self.request = request
        self.issued_at = now
        self.state = BOOKED
        self.slot: int | None = None
        self.seated_at: float | None = None
        self.seq: int | None = None
        self.pos = -1
        self.checked_in_at: float | None = None
        self.called_at: float | None = None
        self.ended_at: float | None = None
        self.displacements = 0
        self.upgrades = 0
        self.bypass_acc = 0
        self.thr = BIG
        self.in_tree = False
        self.callable_since: float | None = None
        self.wait_acc = 0.0
        self.wait_ver = 0
        self.seat_ver = 0
        self.wl_key: tuple[int, ...] | None = None


def as_minutes(value: object, any_number: bool = False) -> float:
    """``value`` as a float [min] if it is a finite number of minutes, else NaN.

    A bool is never a number of minutes. Without ``any_number`` only ``int`` and ``float`` (subclasses included)
    are; with it, any real number type too (NumPy's, ``Fraction``, ``Decimal``). ``value`` is typed ``object``:
    a compiled build would otherwise convert a ``bool`` to a float on entry.
    """
    if isinstance(value, float):  # the common case first
        return float(value) if -INF < value < INF else _NAN
    if isinstance(value, bool) or not (isinstance(value, int) or (any_number and isinstance(value, SupportsFloat))):
        return _NAN
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):  # an int too large for a float, a number type that refuses
        return _NAN
    return f if -INF < f < INF else _NAN


def check_time(name: str, value: object, any_number: bool = False) -> float:
    """``value`` as a float [min] (see :func:`as_minutes`), or :class:`InvalidRequest` naming ``name`` when it is
    not a finite number of minutes."""
    f = as_minutes(value, any_number)
    if f != f:  # NaN
        raise InvalidRequest(f"{name}: {value!r} is not a finite number of minutes")
    return f
