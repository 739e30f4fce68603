"""Lifecycle records: any engine event log folded into one record per token and one per slot.

The fold reads events only (the simulation's ``engine.events``, a replayed log, or the booking service's), never
an engine, and follows the engine's own rules (DESIGN section 1) for when a token is *callable*: checked in,
seated, its slot opened (emergencies at once). Each callable interval starts at the latest of check-in, seat
time and slot start (the slot's start after every delay) and ends at the call, a displacement, a cancellation,
leaving, a no-show or the close of day; an upgrade does not interrupt it. The intervals are what the engine's
wait-aging clock sums, so :attr:`TokenRecord.callable_time` is the token's wait as the policy sees it.

Bypasses are counted as the engine counts them: when a doctor calls a token of effective rank ``r`` and queue
number ``q``, every token callable at that doctor with a worse effective rank (``> r``) and an earlier queue
number (``< q``) was overtaken once.

Standard library only, like the rest of the engine. Times are clinic minutes since opening [min].
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

from opdsim.engine._state import (
    BOOKED,
    CALLED,
    CANCELLED,
    CHECKED_IN,
    COMPLETED,
    EMERGENCY,
    EV_BOOKED,
    EV_CALLED,
    EV_CANCELLED,
    EV_CAPBREACHED,
    EV_CHECKEDIN,
    EV_COMPLETED,
    EV_DAYCLOSED,
    EV_DISPLACED,
    EV_DOCTORADDED,
    EV_ENGINESTARTED,
    EV_LEFT,
    EV_NOSHOW,
    EV_PROMOTED,
    EV_REJECTED,
    EV_SLOTOPENED,
    EV_SLOTSSHIFTED,
    EV_UPGRADED,
    EV_WAITLISTED,
    LEFT,
    NO_SHOW,
    UNSERVED,
    WAITLISTED,
)
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
    Event,
    Left,
    NoShow,
    Promoted,
    Rejected,
    SlotOpened,
    SlotsShifted,
    Upgraded,
    Waitlisted,
)
from opdsim.engine.policy import Policy
from opdsim.engine.types import TERMINAL_STATES, Category, TokenState

__all__ = ["DayRecords", "SlotRecord", "TokenRecord", "fold"]

_NAN: Final = math.nan
_STATE_TEXT: Final = {state: state.value for state in TokenState}  # a state as plain text, for frames


@dataclass(slots=True, init=False)
class TokenRecord:
    """The life of one token, from its issue to its end.

    Attributes
    ----------
    token, patient, doctor : str
        Ids.
    category : Category
        The category booked (never changed by aging).
    issue : int
        Order of issue in the log, from 0.
    issued_at : float
        Time of the ``Booked`` or ``Waitlisted`` event [min].
    requested_slot : int
        The slot the booking asked for (or was given first).
    seats : list of (float, int)
        Every seat taken, as (time [min], slot index): at booking, on promotion from the waitlist, on being
        displaced into a later slot.
    waitlisted : list of float
        Every time the token joined the waitlist: at issue, or displaced with no later seat free [min].
    checked_in_at : float or None
        Arrival at the desk [min] (for emergencies and walk-ins, the issue).
    queue_seq : int or None
        Queue number given at check-in.
    callable : list of (float, float)
        Every interval [start, end) during which the token was callable [min].
    displacements : list of (float, int, int or None)
        (time [min], slot left, slot moved to or None for the head of the waitlist).
    bypasses : int
        Tokens with a later queue number called before this one while it was callable, with a better rank.
    upgrades : list of (float, int)
        (time [min], new effective rank) of every aging upgrade.
    called_at, ended_at : float or None
        The call, and the completion, cancellation, no-show, leaving or close of day [min].
    state : TokenState
        The state reached (terminal after ``DayClosed``).
    end_reason : str or None
        For cancellations, the event's reason ("cancel" or "superseded").
    slot : int or None
        The slot held last (kept after the seat was freed); None if never seated.
    rank : int
        The effective rank reached.
    """

    token: str
    patient: str
    category: Category
    doctor: str
    issue: int
    issued_at: float
    requested_slot: int
    rank: int
    seats: list[tuple[float, int]] = field(default_factory=list)
    waitlisted: list[float] = field(default_factory=list)
    checked_in_at: float | None = None
    queue_seq: int | None = None
    callable: list[tuple[float, float]] = field(default_factory=list)
    displacements: list[tuple[float, int, int | None]] = field(default_factory=list)
    bypasses: int = 0
    upgrades: list[tuple[float, int]] = field(default_factory=list)
    called_at: float | None = None
    ended_at: float | None = None
    state: TokenState = TokenState.BOOKED
    end_reason: str | None = None
    slot: int | None = None
    callable_since: float | None = None  # start of the open callable interval, None when not callable
    seated: bool = False  # holds a seat now

    # Written out rather than generated: the compiled build runs a hand-written __init__ natively, where the
    # dataclass's generated one is interpreted (about 11,000 instructions a record, half the fold of a day).
    def __init__(
        self,
        token: str,
        patient: str,
        category: Category,
        doctor: str,
        issue: int,
        issued_at: float,
        requested_slot: int,
        rank: int,
        *,
        seats: list[tuple[float, int]] | None = None,
        waitlisted: list[float] | None = None,
        checked_in_at: float | None = None,
        queue_seq: int | None = None,
        callable: list[tuple[float, float]] | None = None,
        displacements: list[tuple[float, int, int | None]] | None = None,
        bypasses: int = 0,
        upgrades: list[tuple[float, int]] | None = None,
        called_at: float | None = None,
        ended_at: float | None = None,
        state: TokenState = BOOKED,
        end_reason: str | None = None,
        slot: int | None = None,
        callable_since: float | None = None,
        seated: bool = False,
    ) -> None:
        self.token = token
        self.patient = patient
        self.category = category
        self.doctor = doctor
        self.issue = issue
        self.issued_at = issued_at
        self.requested_slot = requested_slot
        self.rank = rank
        self.seats = [] if seats is None else seats
        self.waitlisted = [] if waitlisted is None else waitlisted
        self.checked_in_at = checked_in_at
        self.queue_seq = queue_seq
        self.callable = [] if callable is None else callable
        self.displacements = [] if displacements is None else displacements
        self.bypasses = bypasses
        self.upgrades = [] if upgrades is None else upgrades
        self.called_at = called_at
        self.ended_at = ended_at
        self.state = state
        self.end_reason = end_reason
        self.slot = slot
        self.callable_since = callable_since
        self.seated = seated

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as a call of the constructor with every field (the compiled class is built by its __init__)."""
        return (_token_record, ({f.name: getattr(self, f.name) for f in fields(self)},))

    @property
    def callable_time(self) -> float:
        """Minutes callable in all, summed over every interval (the open one counts to its start) [min]."""
        total = 0.0
        for start, end in self.callable:
            total += end - start
        return total

    @property
    def first_callable(self) -> float | None:
        """When the token could first be called [min], or None if it never could."""
        if self.callable:
            return self.callable[0][0]
        return self.callable_since

    @property
    def seated_at(self) -> float | None:
        """When the token took its first seat [min], or None."""
        return self.seats[0][0] if self.seats else None


def _token_record(values: dict[str, Any]) -> TokenRecord:
    return TokenRecord(**values)


@dataclass(slots=True)
class SlotRecord:
    """One slot of one doctor: times after every delay, capacity, and what emergencies did to it.

    Attributes
    ----------
    index : int
        Slot index at its doctor.
    start, end : float
        Start and end after every ``SlotsShifted`` [min].
    capacity : int
        Seats booked into the slot at most (emergencies aside).
    seated : int
        Seats held now (non-emergency and emergency tokens booked, checked in, called or completed).
    peak : int
        The most seats held at once, after any displacement the seating caused.
    breaches : int
        ``CapBreached`` events for this slot.
    opened : bool
        Whether the slot has opened.
    """

    index: int
    start: float
    end: float
    capacity: int
    seated: int = 0
    peak: int = 0
    breaches: int = 0
    opened: bool = False

    @property
    def overflow(self) -> int:
        """Seats held beyond capacity at the peak (only emergencies can push a slot past it)."""
        return max(0, self.peak - self.capacity)


@dataclass(slots=True)
class DayRecords:
    """What a log says about a day: token records in issue order, slots per doctor, refused requests.

    Attributes
    ----------
    policy : Policy or None
        From ``EngineStarted`` (None for a log fragment without it).
    tokens : dict of str to TokenRecord
        By token id, in issue order.
    slots : dict of str to list of SlotRecord
        By doctor id, in the order the doctors were added.
    rejected : list of Rejected
        The audit records of refused bookings.
    closed_at : float or None
        Time of ``DayClosed`` [min].
    """

    policy: Policy | None = None
    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    slots: dict[str, list[SlotRecord]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    closed_at: float | None = None

    def by_patient(self) -> dict[str, TokenRecord]:
        """Each patient's last token (a late patient booked again after a no-show holds two)."""
        return {rec.patient: rec for rec in self.tokens.values()}

    def rebooked(self) -> set[str]:
        """Patients who asked again after one of their tokens became a no-show: booked again at that doctor, or
        refused when they asked."""
        noshow: dict[str, float] = {}  # patient -> time of their first no-show
        out: set[str] = set()
        for rec in self.tokens.values():
            if rec.patient in noshow and rec.issued_at >= noshow[rec.patient]:
                out.add(rec.patient)
            if rec.state is NO_SHOW and rec.ended_at is not None:
                noshow.setdefault(rec.patient, rec.ended_at)
        out.update(r.patient for r in self.rejected if r.patient in noshow and r.now >= noshow[r.patient])
        return out

    def callable_spans(self, tokens: Iterable[str] | None = None) -> list[float]:
        """The callable intervals of ``tokens`` (default: every token, in issue order), flat: the start and the
        end [min] of each interval in turn, a token's intervals in their order.

        One compiled pass: a 50,000-patient open-access run spent 8% of its time collecting these pairs in Python.
        An id with no record raises ``KeyError``.
        """
        recs = self.tokens
        out: list[float] = []
        for rec in recs.values() if tokens is None else [recs[t] for t in tokens]:
            for start, end in rec.callable:
                out.append(start)
                out.append(end)
        return out

    def patient_columns(
        self, patients: Sequence[str], doctors: Sequence[str | None], spans: list[float] | None = None
    ) -> dict[str, list[Any]]:
        """Each patient's last token as columns, one entry per patient in the order given.

        Parameters
        ----------
        patients : sequence of str
            Patient ids; a patient with no token here (refused every request, or not in this log) gets NaN
            times, state ``"rejected"``, no token and zero counts.
        doctors : sequence of str or None
            One per patient: the doctor reported for a patient with no token (the one asked for, if any).
        spans : list of float, optional
            If given, the callable intervals of each patient's last token are appended to it in the same pass,
            flat and in patient order, as :meth:`callable_spans` gives them for those tokens [min]; the columns
            then include ``intervals``, the number of intervals of each patient.

        Returns
        -------
        dict of str to list
            ``checked_in_at``, ``called_at``, ``ended_at``, ``first_callable`` [min] and ``slot`` as floats
            (NaN for none); ``callable_time`` [min]; ``state`` as text; ``doctor``; ``token`` (None if
            none); ``bypasses`` and ``displacements`` as counts; ``upgraded`` and ``rebooked`` as bools; with
            ``spans``, ``intervals`` as counts.
        """
        last = self.by_patient()
        rebooked = self.rebooked()
        nan = _NAN
        checked: list[float] = []
        called: list[float] = []
        ended: list[float] = []
        waited: list[float] = []
        states: list[str] = []
        doctor_of: list[str | None] = []
        slots: list[float] = []
        tokens: list[str | None] = []
        first: list[float] = []
        bypasses: list[int] = []
        upgraded: list[bool] = []
        displaced: list[int] = []
        again: list[bool] = []
        intervals: list[int] = []
        for p, d in zip(patients, doctors, strict=True):
            again.append(p in rebooked)
            r = last.get(p)
            if spans is not None:
                if r is None:
                    intervals.append(0)
                else:
                    intervals.append(len(r.callable))
                    for start, end in r.callable:
                        spans.append(start)
                        spans.append(end)
            if r is None:
                checked.append(nan)
                called.append(nan)
                ended.append(nan)
                waited.append(nan)
                states.append("rejected")
                doctor_of.append(d)
                slots.append(nan)
                tokens.append(None)
                first.append(nan)
                bypasses.append(0)
                upgraded.append(False)
                displaced.append(0)
                continue
            t = r.checked_in_at
            checked.append(nan if t is None else t)
            t = r.called_at
            called.append(nan if t is None else t)
            t = r.ended_at
            ended.append(nan if t is None else t)
            waited.append(r.callable_time)
            states.append(_STATE_TEXT[r.state])
            doctor_of.append(r.doctor)
            s = r.slot
            slots.append(nan if s is None else float(s))
            tokens.append(r.token)
            t = r.first_callable
            first.append(nan if t is None else t)
            bypasses.append(r.bypasses)
            upgraded.append(len(r.upgrades) > 0)
            displaced.append(len(r.displacements))
        columns: dict[str, list[Any]] = {
            "checked_in_at": checked,
            "called_at": called,
            "ended_at": ended,
            "callable_time": waited,
            "state": states,
            "doctor": doctor_of,
            "slot": slots,
            "token": tokens,
            "first_callable": first,
            "bypasses": bypasses,
            "upgraded": upgraded,
            "displacements": displaced,
            "rebooked": again,
        }
        if spans is not None:
            columns["intervals"] = intervals
        return columns


class _Fold:
    """Applies events to a :class:`DayRecords`, keeping the little state the engine's callable rule needs."""

    def __init__(self) -> None:
        self.day = DayRecords()
        self.pending: dict[tuple[str, int], list[TokenRecord]] = {}  # checked in, seated, slot not yet open
        self.queue: dict[str, dict[str, TokenRecord]] = {}  # callable tokens per doctor
        # a slot just given a seat: its peak is taken at the next event that changes seats unless it displaces
        # one of its tokens (an emergency seated past the overflow cap is checked in, then pushes a token out)
        self.unsettled: SlotRecord | None = None
        self.ranks: dict[Category, int] = {c: int(c) for c in Category}  # the policy's, from EngineStarted

    # -- helpers

    def _slot(self, rec: TokenRecord, index: int) -> SlotRecord:
        return self.day.slots[rec.doctor][index]

    def _open(self, rec: TokenRecord, since: float) -> None:
        rec.callable_since = since
        self.queue[rec.doctor][rec.token] = rec

    def _close(self, rec: TokenRecord, now: float) -> None:
        if rec.callable_since is not None:
            rec.callable.append((rec.callable_since, now))
            rec.callable_since = None
            del self.queue[rec.doctor][rec.token]

    def _seat(self, rec: TokenRecord, index: int, now: float) -> None:
        s = self.day.slots[rec.doctor][index]
        rec.slot = index
        rec.seated = True
        rec.seats.append((now, index))
        s.seated += 1
        self.settle()
        self.unsettled = s
        if rec.category is EMERGENCY:
            return  # callable once checked in, whatever the slot
        if rec.checked_in_at is None:
            rec.state = BOOKED
            return
        rec.state = CHECKED_IN
        if s.opened:
            self._open(rec, now)
        else:
            self.pending.setdefault((rec.doctor, index), []).append(rec)

    def settle(self) -> None:
        """Take the peak of the slot last given a seat."""
        s = self.unsettled
        if s is not None:
            self.unsettled = None
            if s.seated > s.peak:
                s.peak = s.seated

    def _unseat(self, rec: TokenRecord, now: float) -> None:
        self._close(rec, now)
        if rec.seated and rec.slot is not None:
            self._slot(rec, rec.slot).seated -= 1
            rec.seated = False

    def _end(self, rec: TokenRecord, state: TokenState, now: float) -> None:
        self._unseat(rec, now)
        rec.state = state
        rec.ended_at = now

    def _new(
        self, now: float, token: str, patient: str, category: Category, doctor: str, requested: int
    ) -> TokenRecord:
        tokens = self.day.tokens
        rec = TokenRecord(token, patient, category, doctor, len(tokens), now, requested, self.ranks[category])
        tokens[token] = rec
        return rec

    def apply(self, ev: Any) -> None:
        """Apply one event: the handler of its class (the most frequent kinds tested first; the fold runs once
        per event of every simulated day, compiled in the engine's native build)."""
        kind = type(ev)
        if self.unsettled is not None and kind is not EV_DISPLACED and kind is not EV_CHECKEDIN:
            self.settle()  # the seat just given is settled, unless this event still belongs to it (``unsettled``)
        if kind is EV_BOOKED:
            self._booked(ev)
        elif kind is EV_CHECKEDIN:
            self._check_in(ev)
        elif kind is EV_CALLED:
            self._called(ev)
        elif kind is EV_COMPLETED:
            self._completed(ev)
        elif kind is EV_NOSHOW:
            self._no_show(ev)
        elif kind is EV_UPGRADED:
            self._upgraded(ev)
        elif kind is EV_SLOTOPENED:
            self._slot_opened(ev)
        elif kind is EV_CANCELLED:
            self._cancelled(ev)
        elif kind is EV_LEFT:
            self._left(ev)
        elif kind is EV_WAITLISTED:
            self._waitlisted(ev)
        elif kind is EV_PROMOTED:
            self._promoted(ev)
        elif kind is EV_DISPLACED:
            self._displaced(ev)
        elif kind is EV_CAPBREACHED:
            self._cap_breached(ev)
        elif kind is EV_SLOTSSHIFTED:
            self._slots_shifted(ev)
        elif kind is EV_DOCTORADDED:
            self._doctor_added(ev)
        elif kind is EV_ENGINESTARTED:
            self._engine_started(ev)
        elif kind is EV_DAYCLOSED:
            self._closed(ev)
        elif kind is EV_REJECTED:
            self._rejected(ev)
        else:  # a new event kind must be taught to the fold
            raise InvalidRequest(f"records: unknown event {ev!r}")

    # -- events: one handler per event class. The frequent ones unpack their event: compiled, a named tuple's
    # fields are otherwise read by Python attribute lookup

    def _engine_started(self, ev: EngineStarted) -> None:
        self.day.policy = ev.policy
        self.ranks = dict(ev.policy.ranks)

    def _doctor_added(self, ev: DoctorAdded) -> None:
        self.day.slots[ev.doctor] = [SlotRecord(i, float(s), float(e), int(c)) for i, (s, e, c) in enumerate(ev.slots)]
        self.queue[ev.doctor] = {}

    def _booked(self, ev: Booked) -> None:
        now, token, patient, category, doctor, slot, requested, _, _, _ = ev
        self._seat(self._new(now, token, patient, category, doctor, requested), slot, now)

    def _waitlisted(self, ev: Waitlisted) -> None:
        rec = self._new(ev.now, ev.token, ev.patient, ev.category, ev.doctor, ev.requested_slot)
        rec.state = WAITLISTED
        rec.waitlisted.append(ev.now)

    def _promoted(self, ev: Promoted) -> None:
        self._seat(self.day.tokens[ev.token], ev.slot, ev.now)

    def _displaced(self, ev: Displaced) -> None:
        rec = self.day.tokens[ev.token]
        self._unseat(rec, ev.now)
        rec.displacements.append((ev.now, ev.from_slot, ev.to_slot))
        if ev.to_slot is not None:
            self._seat(rec, ev.to_slot, ev.now)
        else:
            rec.state = WAITLISTED
            rec.waitlisted.append(ev.now)

    def _cap_breached(self, ev: CapBreached) -> None:
        self.day.slots[ev.doctor][ev.slot].breaches += 1

    def _upgraded(self, ev: Upgraded) -> None:
        now, token, rank = ev
        rec = self.day.tokens[token]
        rec.rank = rank
        rec.upgrades.append((now, rank))

    def _completed(self, ev: Completed) -> None:
        now, token = ev
        rec = self.day.tokens[token]
        rec.state = COMPLETED
        rec.ended_at = now

    def _cancelled(self, ev: Cancelled) -> None:
        rec = self.day.tokens[ev.token]
        self._end(rec, CANCELLED, ev.now)
        rec.end_reason = ev.reason

    def _no_show(self, ev: NoShow) -> None:
        now, token = ev
        self._end(self.day.tokens[token], NO_SHOW, now)

    def _left(self, ev: Left) -> None:
        self._end(self.day.tokens[ev.token], LEFT, ev.now)

    def _slots_shifted(self, ev: SlotsShifted) -> None:
        for s in self.day.slots[ev.doctor]:
            if s.start > ev.now:
                s.start += ev.minutes
                s.end += ev.minutes
            elif s.end > ev.now:
                s.end += ev.minutes

    def _closed(self, ev: DayClosed) -> None:
        self._day_closed(ev.now)

    def _rejected(self, ev: Rejected) -> None:
        self.day.rejected.append(ev)

    def _check_in(self, ev: CheckedIn) -> None:
        now, token, seq = ev
        rec = self.day.tokens[token]
        rec.checked_in_at = now
        rec.queue_seq = seq
        if rec.state is WAITLISTED:
            return  # present, but callable only once seated
        rec.state = CHECKED_IN
        assert rec.slot is not None
        if rec.category is EMERGENCY or self._slot(rec, rec.slot).opened:
            self._open(rec, now)
        else:
            self.pending.setdefault((rec.doctor, rec.slot), []).append(rec)

    def _slot_opened(self, ev: SlotOpened) -> None:
        s = self.day.slots[ev.doctor][ev.slot]
        s.opened = True
        for rec in self.pending.pop((ev.doctor, ev.slot), []):
            if rec.slot == ev.slot and rec.state is CHECKED_IN and rec.callable_since is None:
                # the engine's "latest of check-in, seat time and slot start" is the slot start here: every
                # engine call opens the slots started by its ``now`` before changing anything, so a token waiting
                # for a slot to open was seated and checked in before the slot's start
                self._open(rec, s.start)

    def _called(self, ev: Called) -> None:
        now, token, doctor = ev
        rec = self.day.tokens[token]
        self._close(rec, now)
        rec.state = CALLED
        rec.called_at = now
        seq = rec.queue_seq
        assert seq is not None  # only checked-in tokens are callable
        rank = rec.rank
        for other in self.queue[doctor].values():  # all callable, so all checked in with a queue number
            if other.rank > rank:
                other_seq = other.queue_seq
                if other_seq is not None and other_seq < seq:
                    other.bypasses += 1

    def _day_closed(self, now: float) -> None:
        self.day.closed_at = now
        for rec in self.day.tokens.values():
            if rec.state is CALLED:
                rec.state = COMPLETED
                rec.ended_at = now
            elif rec.state not in TERMINAL_STATES:
                self._end(rec, UNSERVED, now)


def fold(events: Iterable[Event]) -> DayRecords:
    """Fold an engine event log into lifecycle records.

    Parameters
    ----------
    events : iterable of Event
        A log in the order the engine wrote it (``engine.events``), normally from ``EngineStarted``; a log
        without it ranks categories by their default ranks.

    Returns
    -------
    DayRecords
        One :class:`TokenRecord` per token issued, the slots per doctor, the refused requests. For a day not yet
        closed, a token callable now has ``callable_since`` set and its open interval is not in ``callable``.
    """
    f = _Fold()
    items: Iterable[Any] = events  # compiled, an item typed Event would be type-checked on the way in
    for ev in items:
        f.apply(ev)  # which names a stray item in the engine's own error
    f.settle()
    return f.day
