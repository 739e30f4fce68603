"""The OPD token allocation engine.

Pure, deterministic domain logic: no clock (every call takes ``now``, minutes since the clinic day opened), no
I/O, standard library only. The same code runs in the hospital's booking service and in the simulation.

Design
------
Every public operation first validates its arguments (raising a typed :class:`OpdsimError` with the state
untouched), then *decides* what happens and records each change of state as an immutable event. The state is
changed only by applying events (the ``_on_*`` handlers), so :meth:`Engine.replay` rebuilds exactly the same
engine from the log alone.

Serving order
-------------
Among a doctor's callable tokens the next to call has the smallest key ``(effective_rank, queue_seq)``.
``queue_seq`` is a monotonic counter given at check-in, never a clock reading. Callable tokens live in one
:class:`~opdsim.engine._tree.RankTree` per rank, indexed by the doctor's check-in position, which orders them as
``queue_seq`` does; the same trees count bypasses for aging, so no operation scans a queue.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from opdsim.engine._tree import RankTree
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
from opdsim.engine.types import TERMINAL_STATES, Category, SlotView, TokenState, TokenView

__all__ = ["Engine"]

_BIG = 1 << 40  # bypass threshold of a token that aging will not upgrade (counts still kept)
_INF = math.inf

BOOKED = TokenState.BOOKED
WAITLISTED = TokenState.WAITLISTED
CHECKED_IN = TokenState.CHECKED_IN
CALLED = TokenState.CALLED
COMPLETED = TokenState.COMPLETED
CANCELLED = TokenState.CANCELLED
NO_SHOW = TokenState.NO_SHOW
LEFT = TokenState.LEFT
UNSERVED = TokenState.UNSERVED
EMERGENCY = Category.EMERGENCY


class _Slot:
    __slots__ = ("breaches", "cap", "displaceable", "emerg", "end", "index", "pending", "regular", "start")

    def __init__(self, index: int, start: float, end: float, cap: int) -> None:
        self.index = index
        self.start = start
        self.end = end
        self.cap = cap
        self.regular = 0  # seated non-emergency tokens (booked, checked in, called, completed)
        self.emerg = 0  # emergency tokens seated here, completed included
        self.breaches = 0
        self.pending: list[_Token] = []  # checked in before the slot opened
        # max-heap (by effective rank, then issue order) of tokens an emergency may displace; lazy entries
        self.displaceable: list[tuple[int, int, int, _Token]] = []


class _Doctor:
    __slots__ = (
        "busy",
        "by_pos",
        "consult_n",
        "consult_sum",
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
        self.thr = _BIG
        self.in_tree = False
        self.callable_since: float | None = None
        self.wait_acc = 0.0
        self.wait_ver = 0
        self.seat_ver = 0
        self.wl_key: tuple[int, ...] | None = None


def _check_time(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"{name}: {value!r} is not a finite number of minutes")
    return float(value)


class Engine:
    """OPD token allocation engine (see DESIGN.md section 1 for every rule).

    Parameters
    ----------
    policy : Policy, optional
        The allocation rules; ``Policy()`` (the defaults) when omitted.

    Notes
    -----
    All times are minutes since the clinic day opened [min]. A call with ``now`` earlier than the latest ``now``
    of a call that changed the state raises :class:`TimeWentBackwards`.
    """

    def __init__(self, policy: Policy | None = None) -> None:
        if policy is None:
            policy = Policy()
        if not isinstance(policy, Policy):
            raise InvalidRequest(f"policy: {policy!r} is not a Policy")
        self._policy = policy
        self._rank_of = {c: policy.ranks[c] for c in Category}
        self._ranks = sorted(set(self._rank_of.values()))
        self._ceiling = policy.ceiling
        self._bypass_k = int(policy.aging_threshold) if policy.aging == "bypass" else 0
        self._wait_t = float(policy.aging_threshold) if policy.aging == "wait" else 0.0
        self._step = policy.aging_target == "step"
        self._max_disp = policy.max_displacements
        self._grace = float(policy.no_show_grace)
        self._log: list[Event] = [EngineStarted(policy)]
        self._last = -_INF  # latest now of a call that changed the state (none yet: bookings may precede opening)
        self._closed = False
        self._docs: dict[str, _Doctor] = {}
        self._doc_list: list[_Doctor] = []  # sorted by id ("lowest id" tie-breaks)
        self._tokens: dict[str, _Token] = {}
        self._active: dict[tuple[str, str], _Token] = {}  # (patient, doctor) -> active token
        self._requests: dict[str, _Token] = {}
        self._ntok = 0
        self._seq = 0
        self._wl_order = 0
        self._disp_order = 0
        # timers: lazy heaps, validated when popped
        self._opens: list[tuple[float, int, int, str]] = []  # (slot start, doctor order, slot, doctor)
        self._waits: list[tuple[float, int, int, _Token]] = []  # (deadline, issue, wait_ver, token)
        self._noshows: list[tuple[float, int, int, _Token]] = []  # (deadline bound, issue, seat_ver, token)
        self._apply: dict[type, Callable[[Any], None]] = {
            DoctorAdded: self._on_doctor_added,
            Booked: self._on_booked,
            Waitlisted: self._on_waitlisted,
            Promoted: self._on_promoted,
            Displaced: self._on_displaced,
            CapBreached: self._on_cap_breached,
            Upgraded: self._on_upgraded,
            CheckedIn: self._on_checked_in,
            SlotOpened: self._on_slot_opened,
            Called: self._on_called,
            Completed: self._on_completed,
            Cancelled: self._on_cancelled,
            NoShow: self._on_no_show,
            Left: self._on_left,
            SlotsShifted: self._on_slots_shifted,
            DayClosed: self._on_day_closed,
        }

    # ------------------------------------------------------------------ properties and queries

    @property
    def policy(self) -> Policy:
        """The engine's policy."""
        return self._policy

    @property
    def events(self) -> tuple[Event, ...]:
        """The event log, oldest first (a copy)."""
        return tuple(self._log)

    @property
    def event_count(self) -> int:
        """Number of events logged so far (cheap; use with :meth:`events_since`)."""
        return len(self._log)

    def events_since(self, index: int) -> list[Event]:
        """Events from position ``index`` of the log on."""
        return self._log[index:]

    @property
    def now(self) -> float:
        """Latest ``now`` of a call that changed the state [min]."""
        return self._last

    @property
    def closed(self) -> bool:
        """Whether :meth:`close_day` has been called."""
        return self._closed

    def doctors(self) -> list[str]:
        """Doctor ids, in id order."""
        return [d.id for d in self._doc_list]

    def slots(self, doctor: str) -> list[SlotView]:
        """The doctor's slots as they stand now."""
        doc = self._doctor(doctor)
        return [SlotView(s.index, s.start, s.end, s.cap, s.regular, s.emerg, s.breaches) for s in doc.slots]

    def busy_with(self, doctor: str) -> str | None:
        """Id of the token the doctor is seeing, or None when free."""
        tok = self._doctor(doctor).busy
        return None if tok is None else tok.id

    def token(self, token_id: str) -> TokenView:
        """Read-only view of one token."""
        return self._view(self._token(token_id))

    def state(self, token_id: str) -> TokenState:
        """The token's state (cheap: no view is built)."""
        return self._token(token_id).state

    def queue(self, doctor: str) -> list[TokenView]:
        """The doctor's callable tokens in serving order ``(effective_rank, queue_seq)``."""
        doc = self._doctor(doctor)
        toks = sorted((t for t in doc.by_pos if t.in_tree), key=_serving_key)
        return [self._view(t) for t in toks]

    def queue_length(self, doctor: str) -> int:
        """Number of the doctor's callable tokens (cheap: no views are built)."""
        return sum(tree.cnt[1] for _, tree in self._doctor(doctor).trees)

    def waitlist(self, doctor: str) -> list[TokenView]:
        """The doctor's waitlisted tokens in refill order (displaced first, then rank, then arrival on the list)."""
        doc = self._doctor(doctor)
        entries = [(k, t) for heap in doc.wl for k, t in heap if t.state is WAITLISTED and t.wl_key == k]
        entries.sort(key=lambda e: e[0])
        return [self._view(t) for _, t in entries]

    def estimated_call(self, token_id: str) -> float | None:
        """Estimated call time of a token [min].

        The later of the engine's current time and the token's slot start, plus (callable tokens ahead of it in
        serving order, plus one if the doctor is busy) times the doctor's mean consultation length (before the
        first completion: slot length over capacity). None for waitlisted and ended tokens; the call time for
        tokens already called.
        """
        return self._estimate(self._token(token_id))

    def next_due(self) -> float | None:
        """Earliest time at which :meth:`tick` would change something, or None [min].

        That is the next slot start, no-show deadline (when ``auto_no_show``) or wait-aging threshold. A value
        below :attr:`now` means something is already due at the next call.
        """
        if self._closed:
            return None
        best = _INF
        opens = self._opens
        while opens:
            t, _, idx, doc_id = opens[0]
            doc = self._docs[doc_id]
            if idx != doc.next_open:
                heapq.heappop(opens)
                continue
            start = doc.slots[idx].start
            if start > t:
                heapq.heapreplace(opens, (start, doc.order, idx, doc_id))
                continue
            best = t
            break
        waits = self._waits
        while waits:
            t, _, ver, tok = waits[0]
            if not tok.in_tree or tok.wait_ver != ver:
                heapq.heappop(waits)
                continue
            best = min(best, t)
            break
        if self._policy.auto_no_show:
            ns = self._noshows
            while ns:
                t, issue, ver, tok = ns[0]
                if tok.state is not BOOKED or tok.seat_ver != ver:
                    heapq.heappop(ns)
                    continue
                actual = self._deadline(tok)
                if actual > t:
                    heapq.heapreplace(ns, (actual, issue, ver, tok))
                    continue
                best = min(best, t)
                break
        return None if best == _INF else best

    def snapshot(self) -> dict[str, Any]:
        """Plain, comparable structure of everything that decides future behaviour."""
        doctors: dict[str, Any] = {}
        for doc in self._doc_list:
            doctors[doc.id] = {
                "slots": [(s.start, s.end, s.cap, s.regular, s.emerg, s.breaches) for s in doc.slots],
                "next_open": doc.next_open,
                "busy": None if doc.busy is None else doc.busy.id,
                "consult": (doc.consult_sum, doc.consult_n),
            }
        tokens: dict[str, Any] = {}
        for tok in self._tokens.values():
            entry = self._view(tok)._asdict()
            entry.update(
                seated_at=tok.seated_at,
                pos=tok.pos,
                in_tree=tok.in_tree,
                callable_since=tok.callable_since,
                wait_acc=tok.wait_acc,
                thr=tok.thr,
                wl_key=tok.wl_key,
                request=tok.request,
            )
            tokens[tok.id] = entry
        return {
            "policy": self._policy.as_dict(),
            "now": self._last,
            "closed": self._closed,
            "counters": {
                "tokens": self._ntok,
                "queue_seq": self._seq,
                "waitlist": self._wl_order,
                "displaced": self._disp_order,
            },
            "doctors": doctors,
            "waitlists": {d.id: [v.id for v in self.waitlist(d.id)] for d in self._doc_list},
            "tokens": tokens,
        }

    # ------------------------------------------------------------------ setup

    def add_doctor(self, doctor: str, slots: Iterable[Sequence[float]], now: float | None = None) -> None:
        """Add a doctor with consecutive slots.

        Parameters
        ----------
        doctor : str
            Unique doctor id.
        slots : iterable of (start, end, capacity)
            Slot start and end [min] and capacity [patients]; in time order, not overlapping, capacity >= 1.
        now : float, optional
            Clinic time of the call [min]; the engine's current time by default.
        """
        when = self._last if now is None else self._begin(now)
        if self._closed:
            raise DayClosedError(f"add_doctor {doctor!r}: the day is closed")
        if not isinstance(doctor, str) or not doctor:
            raise InvalidRequest(f"doctor: {doctor!r} is not a non-empty string")
        if doctor in self._docs:
            raise InvalidSchedule(f"doctor {doctor!r}: already added")
        parsed: list[tuple[float, float, int]] = []
        for i, item in enumerate(slots):
            try:
                start, end, cap = item
            except (TypeError, ValueError):
                raise InvalidSchedule(f"doctor {doctor!r} slot {i}: {item!r} is not (start, end, capacity)") from None
            for name, value in (("start", start), ("end", end)):
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise InvalidSchedule(f"doctor {doctor!r} slot {i}: {name} {value!r} is not a finite number")
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise InvalidSchedule(f"doctor {doctor!r} slot {i}: capacity {cap!r} must be a whole number >= 1")
            if end <= start:
                raise InvalidSchedule(f"doctor {doctor!r} slot {i}: end {end!r} is not after start {start!r}")
            if parsed and start < parsed[-1][1]:
                raise InvalidSchedule(
                    f"doctor {doctor!r} slot {i}: start {start!r} is before the end {parsed[-1][1]!r} of slot "
                    f"{i - 1} (slots must be in time order and not overlap)"
                )
            parsed.append((float(start), float(end), cap))
        if not parsed:
            raise InvalidSchedule(f"doctor {doctor!r}: no slots")
        self._emit(DoctorAdded(when, doctor, tuple(parsed)))

    # ------------------------------------------------------------------ operations

    def book(
        self,
        patient: str,
        category: Category,
        doctor: str | None = None,
        *,
        now: float,
        slot: int | None = None,
        request_id: str | None = None,
        check_in: bool = False,
    ) -> TokenView:
        """Issue a token for a non-emergency patient.

        Parameters
        ----------
        patient : str
            Patient id.
        category : Category
            Any category but EMERGENCY (emergencies enter through :meth:`emergency`).
        doctor : str, optional
            Doctor id; None lets the engine pick the doctor with the earliest estimated call time (with no free
            seat anywhere, the shortest waitlist; ties to the lowest id).
        now : float
            Clinic time [min].
        slot : int, optional
            Slot index; by default the earliest slot that has not ended and has a free seat.
        request_id : str, optional
            Idempotency key: the same id with the same details returns the original token.
        check_in : bool
            The patient is at the desk (a walk-in): check the new token in at once, in the same call.

        Returns
        -------
        TokenView
            The issued token (booked with a seat, or waitlisted).

        Raises
        ------
        BookingRejected
            No room under ``on_full`` "reject" or "next_slot" (logged as a Rejected audit event).
        """
        now = self._begin(now)
        if not isinstance(category, Category):
            raise InvalidRequest(f"category: {category!r} is not a Category")
        if category is EMERGENCY:
            raise InvalidRequest(f"book {patient!r}: category EMERGENCY must enter through emergency()")
        if not isinstance(patient, str) or not patient:
            raise InvalidRequest(f"patient: {patient!r} is not a non-empty string")
        if slot is not None and (isinstance(slot, bool) or not isinstance(slot, int)):
            raise UnknownSlot(f"slot: {slot!r} is not a slot index")
        details = (patient, category, doctor, slot)
        if request_id is not None:
            prior = self._requests.get(request_id)
            if prior is not None:
                if prior.request != details:
                    raise IdempotencyConflict(
                        f"request {request_id!r}: already used for token {prior.id} with other details"
                    )
                return self._view(prior)
        if doctor is not None:
            doc = self._doctor(doctor)
            if slot is not None:
                self._slot(doc, slot)
            if (patient, doc.id) in self._active:
                held = self._active[(patient, doc.id)]
                raise DuplicateBooking(f"patient {patient!r} already holds active token {held.id} at doctor {doc.id!r}")
            candidates = [doc]
        else:
            candidates = [d for d in self._doc_list if (patient, d.id) not in self._active]
            if slot is not None:
                candidates = [d for d in candidates if 0 <= slot < len(d.slots)]
                if not candidates:
                    raise UnknownSlot(f"slot {slot!r}: no doctor free for patient {patient!r} has such a slot")
            if not candidates:
                raise DuplicateBooking(f"patient {patient!r} already holds an active token at every doctor")
        rank = self._rank_of[category]
        plans = [(d, self._place(d, slot, now)) for d in candidates]
        seated = [(d, p) for d, p in plans if p[0] == "seat"]
        if seated:
            self._advance(now)
            if len(seated) == 1:
                doc, plan = seated[0]
            else:
                doc, plan = min(seated, key=lambda dp: (self._estimate_new(dp[0], dp[1][1], rank, now), dp[0].id))
        else:
            doc, plan = min(plans, key=lambda dp: (dp[0].wl_count, dp[0].id))
            if plan[0] == "reject":
                _, _, next_slot, reason = plan
                self._log.append(Rejected(now, patient, category, doc.id, slot, next_slot, reason))
                where = "none" if next_slot is None else f"slot {next_slot}"
                raise BookingRejected(
                    f"book {patient!r} at doctor {doc.id!r}: {reason}; next slot with room: {where}",
                    doc.id,
                    slot,
                    next_slot,
                )
            self._advance(now)
        token_id = f"T{self._ntok + 1}"
        if plan[0] == "seat":
            self._emit(Booked(now, token_id, patient, category, doc.id, plan[1], plan[2], request_id, doctor, slot))
        else:
            self._emit(Waitlisted(now, token_id, patient, category, doc.id, plan[1], request_id, doctor, slot))
        if check_in:
            self._emit(CheckedIn(now, token_id, self._seq + 1))
        return self._view(self._tokens[token_id])

    def emergency(self, patient: str, doctor: str | None = None, *, now: float) -> TokenView:
        """Seat an emergency at once (never rejected; may exceed capacity by ``overflow_cap``).

        Parameters
        ----------
        patient : str
            Patient id.
        doctor : str, optional
            Doctor id; None picks the doctor at whom the emergency would be called earliest: the later of
            ``now`` and the time the doctor is expected free (now when idle; the call time of the patient being
            seen plus the doctor's mean consultation, never earlier than now), plus the callable emergencies
            ahead times that mean. Ties go to the fewest callable tokens, then the lowest id.
        now : float
            Clinic time [min].

        Returns
        -------
        TokenView
            The emergency token, checked in and callable; or the patient's existing emergency token, or the
            token being seen, at that doctor.
        """
        now = self._begin(now)
        if not isinstance(patient, str) or not patient:
            raise InvalidRequest(f"patient: {patient!r} is not a non-empty string")
        if doctor is not None:
            docs = [self._doctor(doctor)]
        else:
            if not self._doc_list:
                raise UnknownDoctor("emergency: no doctor has been added")
            docs = self._doc_list
        for d in docs:
            held = self._active.get((patient, d.id))
            if held is not None and (held.category is EMERGENCY or held.state is CALLED):
                return self._view(held)
        self._advance(now)
        doc = docs[0] if doctor is not None else min(docs, key=lambda d: self._emergency_key(d, now))
        freed: list[tuple[_Doctor, int]] = []
        held = self._active.get((patient, doc.id))
        if held is not None:
            if held.slot is not None:
                freed.append((doc, held.slot))
            self._emit(Cancelled(now, held.id, "superseded"))
        idx = self._emergency_slot(doc, now)
        token_id = f"T{self._ntok + 1}"
        self._emit(Booked(now, token_id, patient, EMERGENCY, doc.id, idx, idx, None))
        self._emit(CheckedIn(now, token_id, self._seq + 1))
        slot = doc.slots[idx]
        if slot.regular + slot.emerg > slot.cap + self._policy.overflow_cap:
            victim = self._pop_displaceable(slot)
            if victim is None:
                self._emit(CapBreached(now, doc.id, idx, token_id))
            else:
                self._emit(Displaced(now, victim.id, idx, self._free_slot_after(doc, idx, now)))
        self._refill(freed, now)
        return self._view(self._tokens[token_id])

    def check_in(self, token_id: str, now: float) -> None:
        """Record the patient's arrival; gives the token its ``queue_seq``."""
        now = self._begin(now)
        tok = self._token(token_id)
        if tok.checked_in_at is not None or tok.state not in (BOOKED, WAITLISTED):
            raise InvalidTransition(f"check_in: token {tok.id} is {tok.state.value}, already checked in or ended")
        self._advance(now)
        self._emit(CheckedIn(now, tok.id, self._seq + 1))

    def call_next(self, doctor: str, now: float) -> TokenView | None:
        """Call the doctor's next patient: the callable token with the smallest ``(effective_rank, queue_seq)``.

        Returns
        -------
        TokenView or None
            The called token, or None when nobody is callable.
        """
        now = self._begin(now)
        doc = self._doctor(doctor)
        if doc.busy is not None:
            raise InvalidTransition(f"call_next: doctor {doc.id!r} is busy with token {doc.busy.id}")
        self._advance(now)
        for rank, tree in doc.trees:
            if tree.cnt[1]:
                tok = doc.by_pos[tree.first()]
                self._emit(Called(now, tok.id, doc.id))
                if self._bypass_k:
                    self._upgrade_bypassed(doc, rank, now)
                return TokenView(
                    tok.id,
                    tok.patient,
                    tok.category,
                    tok.rank,
                    CALLED,
                    doc.id,
                    tok.slot,
                    tok.req_slot,
                    tok.seq,
                    tok.bypass_acc,
                    tok.displacements,
                    tok.upgrades,
                    tok.issued_at,
                    tok.checked_in_at,
                    now,
                    None,
                    now,
                )
        return None

    def complete(self, token_id: str, now: float) -> None:
        """End the consultation of a called token (updates the doctor's mean consultation length)."""
        now = self._begin(now)
        tok = self._token(token_id)
        if tok.state is not CALLED:
            raise InvalidTransition(f"complete: token {tok.id} is {tok.state.value}, not called")
        self._advance(now)
        self._emit(Completed(now, tok.id))

    def cancel(self, token_id: str, now: float) -> None:
        """Cancel a token not yet called; its seat is refilled from the waitlist at once."""
        now = self._begin(now)
        tok = self._token(token_id)
        if tok.state not in (BOOKED, WAITLISTED, CHECKED_IN):
            raise InvalidTransition(f"cancel: token {tok.id} is {tok.state.value}; only tokens not yet called")
        self._advance(now)
        freed = [] if tok.slot is None else [(tok.doctor, tok.slot)]
        self._emit(Cancelled(now, tok.id, "cancel"))
        self._refill(freed, now)

    def no_show(self, token_id: str, now: float) -> None:
        """Mark a booked token whose patient did not check in by the deadline (slot start or seat time, plus grace)."""
        now = self._begin(now)
        tok = self._token(token_id)
        if tok.state is not BOOKED:
            raise InvalidTransition(f"no_show: token {tok.id} is {tok.state.value}, not booked with a seat")
        deadline = self._deadline(tok)
        if now < deadline:
            raise InvalidTransition(f"no_show: token {tok.id} has until {deadline:g} min to check in (now {now:g} min)")
        self._advance(now)
        freed = [(tok.doctor, tok.slot)] if tok.slot is not None else []
        self._emit(NoShow(now, tok.id))
        self._refill(freed, now)

    def leave(self, token_id: str, now: float) -> None:
        """Record that a checked-in patient went away unseen; frees and refills the seat like a cancel."""
        now = self._begin(now)
        tok = self._token(token_id)
        if tok.checked_in_at is None or tok.state not in (CHECKED_IN, WAITLISTED):
            raise InvalidTransition(
                f"leave: token {tok.id} is {tok.state.value}; only checked-in patients not yet called can leave"
            )
        self._advance(now)
        freed = [] if tok.slot is None else [(tok.doctor, tok.slot)]
        self._emit(Left(now, tok.id))
        self._refill(freed, now)

    def delay(self, doctor: str, minutes: float, now: float) -> None:
        """The doctor runs late: slots not started shift by ``minutes``; the running slot ends later [min]."""
        now = self._begin(now)
        doc = self._doctor(doctor)
        minutes = _check_time("minutes", minutes)
        if minutes < 0:
            raise InvalidRequest(f"delay doctor {doc.id!r}: minutes {minutes:g} is negative")
        if minutes == 0:
            return
        self._advance(now)
        self._emit(SlotsShifted(now, doc.id, minutes))

    def tick(self, now: float) -> None:
        """Let clinic time reach ``now``: open slots, apply wait aging and (with ``auto_no_show``) mark no-shows."""
        now = self._begin(now)
        self._advance(now)
        if not self._policy.auto_no_show:
            return
        ns = self._noshows
        while ns and ns[0][0] <= now:
            # collect every token due by now, then mark them in (deadline, issue) order: the order must not depend
            # on how stale the heap's entries were (a query such as next_due() refreshes them)
            due: list[tuple[float, int, _Token]] = []
            while ns and ns[0][0] <= now:
                _, issue, ver, tok = heapq.heappop(ns)
                if tok.state is not BOOKED or tok.seat_ver != ver:
                    continue
                actual = self._deadline(tok)
                if actual > now:
                    heapq.heappush(ns, (actual, issue, ver, tok))
                else:
                    due.append((actual, issue, tok))
            due.sort(key=lambda d: (d[0], d[1]))
            freed: list[tuple[_Doctor, int]] = []
            for _, _, tok in due:
                assert tok.slot is not None
                freed.append((tok.doctor, tok.slot))
                self._emit(NoShow(now, tok.id))
            # refilled seats may already be past their deadline (grace 0): loop until nothing is due
            self._refill(freed, now)

    def close_day(self, now: float) -> None:
        """End the day: the patient being seen is completed, every other active token becomes unserved."""
        now = self._begin(now)
        self._advance(now)
        self._emit(DayClosed(now))

    # ------------------------------------------------------------------ replay

    @classmethod
    def replay(cls, events: Iterable[Event]) -> Engine:
        """Rebuild an engine from its event log; it behaves identically from then on.

        Raises
        ------
        InvalidRequest
            The log does not start with ``EngineStarted``.
        """
        it = iter(events)
        first = next(it, None)
        if not isinstance(first, EngineStarted):
            raise InvalidRequest(f"replay: the log must start with EngineStarted, not {first!r}")
        eng = cls(first.policy)
        for ev in it:
            eng.apply(ev)
        return eng

    def apply(self, event: Event) -> None:
        """Apply one logged event, as :meth:`replay` does (for stepping through a log, e.g. a live view).

        Events must come from an engine's log, in order, after its ``EngineStarted``; ``Rejected`` audit records
        are logged and change nothing.
        """
        if isinstance(event, EngineStarted):
            raise InvalidRequest("apply: EngineStarted may only open the log")
        if isinstance(event, Rejected):
            self._log.append(event)
            return
        self._emit(event)

    # ------------------------------------------------------------------ decisions (read the state only)

    def _begin(self, now: float) -> float:
        if self._closed:
            raise DayClosedError(f"the day was closed at {self._last:g} min; no further calls")
        try:
            ok = -_INF < now < _INF and now >= self._last  # False for NaN and infinities
        except TypeError:
            ok = False
        if ok and now.__class__ is not bool:
            return float(now)
        if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
            raise InvalidRequest(f"now: {now!r} is not a finite number of minutes")
        raise TimeWentBackwards(f"now {now:g} min is earlier than {self._last:g} min, the last change of state")

    def _doctor(self, doctor: str) -> _Doctor:
        try:
            return self._docs[doctor]
        except (KeyError, TypeError):
            raise UnknownDoctor(f"unknown doctor {doctor!r}") from None

    def _token(self, token_id: str) -> _Token:
        try:
            return self._tokens[token_id]
        except (KeyError, TypeError):
            raise UnknownToken(f"unknown token {token_id!r}") from None

    def _slot(self, doc: _Doctor, index: int) -> _Slot:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(doc.slots):
            raise UnknownSlot(f"doctor {doc.id!r} has no slot {index!r} (slots 0..{len(doc.slots) - 1})")
        return doc.slots[index]

    def _deadline(self, tok: _Token) -> float:
        assert tok.slot is not None and tok.seated_at is not None
        start = tok.doctor.slots[tok.slot].start
        return (start if start > tok.seated_at else tok.seated_at) + self._grace

    def _free_slot_after(self, doc: _Doctor, index: int, now: float) -> int | None:
        for s in doc.slots[index + 1 :]:
            if s.end > now and s.regular + s.emerg < s.cap:
                return s.index
        return None

    def _place(self, doc: _Doctor, slot: int | None, now: float) -> tuple[Any, ...]:
        """Where a booking at ``doc`` would go: ("seat", slot, requested), ("wait", requested) or
        ("reject", requested, next_slot_with_room, reason)."""
        on_full = self._policy.on_full
        slots = doc.slots
        if slot is not None:
            s = slots[slot]
            if s.end <= now:
                nxt = self._free_slot_after(doc, slot, now)
                return ("reject", slot, nxt, f"slot {slot} ended at {s.end:g} min")
            if s.regular + s.emerg < s.cap:
                return ("seat", slot, slot)
            nxt = self._free_slot_after(doc, slot, now)
            if on_full == "waitlist":
                return ("wait", slot)
            if on_full == "next_slot" and nxt is not None:
                return ("seat", nxt, slot)
            return ("reject", slot, nxt, f"slot {slot} is full")
        first: int | None = None
        for s in slots:
            if s.end > now:
                if first is None:
                    first = s.index
                if s.regular + s.emerg < s.cap:
                    return ("seat", s.index, s.index)
        if first is None:
            return ("reject", None, None, "every slot has ended")
        if on_full == "waitlist":
            return ("wait", first)
        return ("reject", first, None, "the day is full")

    def _estimate_new(self, doc: _Doctor, slot: int, rank: int, now: float) -> float:
        s = doc.slots[slot]
        ahead = 0
        for r, tree in doc.trees:
            if r > rank:
                break
            ahead += tree.cnt[1]
        if doc.busy is not None:
            ahead += 1
        return (now if now > s.start else s.start) + ahead * doc.mean_consult(s)

    def _estimate(self, tok: _Token) -> float | None:
        state = tok.state
        if state is CALLED or state is COMPLETED:
            return tok.called_at
        if tok.slot is None or state in TERMINAL_STATES:
            return None
        doc = tok.doctor
        s = doc.slots[tok.slot]
        ahead = 0
        for r, tree in doc.trees:
            if r < tok.rank:
                ahead += tree.cnt[1]
            elif r == tok.rank:
                ahead += tree.count_before(tok.pos) if tok.pos >= 0 else tree.cnt[1]
            else:
                break
        if doc.busy is not None:
            ahead += 1
        return (self._last if self._last > s.start else s.start) + ahead * doc.mean_consult(s)

    def _emergency_key(self, doc: _Doctor, now: float) -> tuple[float, int, str]:
        """The doctor-choice key of an emergency at ``doc``: (estimated call time, callable tokens, id)."""
        mean = doc.mean_consult(doc.slots[self._emergency_slot(doc, now)])
        free = now
        if doc.busy is not None:
            assert doc.busy.called_at is not None
            expected = doc.busy.called_at + mean
            if expected > now:
                free = expected
        ahead = len(doc.tree_of[self._rank_of[EMERGENCY]])
        return (free + ahead * mean, sum(len(t) for _, t in doc.trees), doc.id)

    def _emergency_slot(self, doc: _Doctor, now: float) -> int:
        for s in doc.slots:
            if s.end > now:
                return s.index  # running (start <= now) or, between slots or before opening, the next to start
        return len(doc.slots) - 1

    def _pop_displaceable(self, slot: _Slot) -> _Token | None:
        heap = slot.displaceable
        while heap:
            neg_rank, _, ver, tok = heapq.heappop(heap)
            if (
                tok.seat_ver == ver
                and tok.slot == slot.index
                and tok.rank == -neg_rank
                and (tok.state is BOOKED or tok.state is CHECKED_IN)
                and tok.displacements < self._max_disp
            ):
                return tok
        return None

    def _best_waiting(self, doc: _Doctor, index: int) -> _Token | None:
        best: tuple[tuple[int, ...], _Token] | None = None
        for heap in doc.wl[: index + 1]:
            while heap:
                key, tok = heap[0]
                if tok.state is WAITLISTED and tok.wl_key == key:
                    if best is None or key < best[0]:
                        best = (key, tok)
                    break
                heapq.heappop(heap)
        return None if best is None else best[1]

    def _refill(self, freed: list[tuple[_Doctor, int]], now: float) -> None:
        """Refill freed seats from the waitlist: in slot order, then in the order they were freed."""
        if not freed:
            return
        if len(freed) > 1:
            freed = sorted(freed, key=lambda ds: ds[1])  # stable: keeps the freeing order within a slot
        for doc, index in freed:
            s = doc.slots[index]
            if s.end <= now or s.regular + s.emerg >= s.cap or not doc.wl_count:
                continue
            tok = self._best_waiting(doc, index)
            if tok is not None:
                self._emit(Promoted(now, tok.id, index))

    def _advance(self, now: float) -> None:
        """Bring time-driven state up to ``now``: open started slots, apply due wait-aging upgrades."""
        opens, waits = self._opens, self._waits
        while True:
            t_open = opens[0][0] if opens else _INF
            t_wait = waits[0][0] if waits else _INF
            if t_open > now and t_wait > now:
                return
            if t_open <= t_wait:
                t, order, idx, doc_id = heapq.heappop(opens)
                doc = self._docs[doc_id]
                if idx != doc.next_open:
                    continue
                start = doc.slots[idx].start
                if start > t:  # shifted by a delay since the entry was made
                    heapq.heappush(opens, (start, order, idx, doc_id))
                    continue
                self._emit(SlotOpened(now, doc_id, idx))
            else:
                _, _, ver, tok = heapq.heappop(waits)
                if tok.in_tree and tok.wait_ver == ver:
                    self._emit(Upgraded(now, tok.id, self._target(tok)))

    def _target(self, tok: _Token) -> int:
        if not self._step:
            return self._ceiling
        better = [r for r in self._ranks if self._ceiling <= r < tok.rank]
        return better[-1]

    def _eligible(self, tok: _Token) -> bool:
        return tok.category is not EMERGENCY and tok.rank > self._ceiling and (self._step or tok.upgrades == 0)

    def _upgrade_bypassed(self, doc: _Doctor, called_rank: int, now: float) -> None:
        for rank, tree in doc.trees:
            if rank <= called_rank or not tree.cnt[1]:
                continue
            while True:
                pos = tree.due()
                if pos is None:
                    break
                tok = doc.by_pos[pos]
                self._emit(Upgraded(now, tok.id, self._target(tok)))

    # ------------------------------------------------------------------ state changes (apply events)

    def _emit(self, ev: Any) -> None:
        self._log.append(ev)
        self._last = ev.now
        self._apply[type(ev)](ev)

    def _new_token(self, ev: Booked | Waitlisted, req_slot: int) -> _Token:
        self._ntok += 1
        doc = self._docs[ev.doctor]
        request = None
        if ev.request_id is not None:
            request = (ev.patient, ev.category, ev.asked_doctor, ev.asked_slot)
        rank = self._rank_of[ev.category]
        tok = _Token(ev.token, self._ntok, ev.patient, ev.category, rank, doc, req_slot, ev.now, request)
        if ev.request_id is not None:
            self._requests[ev.request_id] = tok
        self._tokens[ev.token] = tok
        self._active[(ev.patient, ev.doctor)] = tok
        return tok

    def _seat(self, tok: _Token, index: int, now: float) -> None:
        doc = tok.doctor
        s = doc.slots[index]
        tok.slot = index
        tok.seated_at = now
        tok.seat_ver += 1
        if tok.category is EMERGENCY:
            s.emerg += 1
            return
        s.regular += 1
        if tok.displacements < self._max_disp:
            heapq.heappush(s.displaceable, (-tok.rank, -tok.issue, tok.seat_ver, tok))
        if tok.checked_in_at is None:
            tok.state = BOOKED
            heapq.heappush(self._noshows, (self._deadline(tok), tok.issue, tok.seat_ver, tok))
        else:
            tok.state = CHECKED_IN
            if index < doc.next_open:
                self._make_callable(tok, now)
            else:
                s.pending.append(tok)

    def _free_seat(self, tok: _Token, slot: int) -> None:
        s = tok.doctor.slots[slot]
        if tok.category is EMERGENCY:
            s.emerg -= 1
        else:
            s.regular -= 1

    def _unseat(self, tok: _Token, now: float) -> None:
        if tok.in_tree:
            self._remove_callable(tok, now)
        if tok.slot is not None:
            self._free_seat(tok, tok.slot)
            tok.slot = None
            tok.seat_ver += 1

    def _make_callable(self, tok: _Token, since: float) -> None:
        tok.in_tree = True
        tok.callable_since = since
        self._enter_rank(tok)

    def _enter_rank(self, tok: _Token) -> None:
        """Put a callable token into its rank's tree with its next aging threshold (K more bypasses) and, in wait
        mode, schedule its next wait threshold (T more minutes callable, counted from ``callable_since``)."""
        eligible = self._eligible(tok)
        tok.thr = (tok.upgrades + 1) * self._bypass_k if (self._bypass_k and eligible) else _BIG
        tok.doctor.tree_of[tok.rank].insert(tok.pos, tok.thr - tok.bypass_acc)
        if self._wait_t and eligible:
            assert tok.callable_since is not None
            deadline = tok.callable_since + (tok.upgrades + 1) * self._wait_t - tok.wait_acc
            heapq.heappush(self._waits, (deadline, tok.issue, tok.wait_ver, tok))

    def _remove_callable(self, tok: _Token, now: float) -> None:
        value = tok.doctor.tree_of[tok.rank].remove(tok.pos)
        tok.bypass_acc = tok.thr - value
        tok.in_tree = False
        assert tok.callable_since is not None
        tok.wait_acc += now - tok.callable_since
        tok.callable_since = None
        tok.wait_ver += 1

    def _stop_waiting(self, tok: _Token) -> None:
        """A checked-in token stops waiting (called or ended): free its position for renumbering."""
        doc = tok.doctor
        doc.live -= 1
        if not doc.live:
            doc.by_pos.clear()

    def _end(self, tok: _Token, state: TokenState, now: float) -> None:
        if tok.state is WAITLISTED:
            tok.doctor.wl_count -= 1
        if tok.pos >= 0 and tok.state is not CALLED:
            self._stop_waiting(tok)
        tok.state = state
        tok.ended_at = now
        if self._active.get((tok.patient, tok.doctor.id)) is tok:
            del self._active[(tok.patient, tok.doctor.id)]

    def _on_doctor_added(self, ev: DoctorAdded) -> None:
        slots = [_Slot(i, s, e, c) for i, (s, e, c) in enumerate(ev.slots)]
        doc = _Doctor(ev.doctor, len(self._docs), slots, self._ranks)
        self._docs[ev.doctor] = doc
        self._doc_list.append(doc)
        self._doc_list.sort(key=lambda d: d.id)
        heapq.heappush(self._opens, (slots[0].start, doc.order, 0, doc.id))

    def _on_booked(self, ev: Booked) -> None:
        tok = self._new_token(ev, ev.requested_slot)
        self._seat(tok, ev.slot, ev.now)

    def _on_waitlisted(self, ev: Waitlisted) -> None:
        tok = self._new_token(ev, ev.requested_slot)
        tok.state = WAITLISTED
        self._wl_order += 1
        tok.wl_key = (1, tok.rank, self._wl_order)
        heapq.heappush(tok.doctor.wl[ev.requested_slot], (tok.wl_key, tok))
        tok.doctor.wl_count += 1

    def _on_promoted(self, ev: Promoted) -> None:
        tok = self._tokens[ev.token]
        tok.doctor.wl_count -= 1
        tok.wl_key = None
        self._seat(tok, ev.slot, ev.now)

    def _on_displaced(self, ev: Displaced) -> None:
        tok = self._tokens[ev.token]
        self._unseat(tok, ev.now)
        tok.displacements += 1
        if ev.to_slot is not None:
            self._seat(tok, ev.to_slot, ev.now)
            return
        doc = tok.doctor
        tok.state = WAITLISTED
        tok.req_slot = ev.from_slot
        self._disp_order += 1
        tok.wl_key = (0, self._disp_order)
        heapq.heappush(doc.wl[ev.from_slot], (tok.wl_key, tok))
        doc.wl_count += 1

    def _on_cap_breached(self, ev: CapBreached) -> None:
        self._docs[ev.doctor].slots[ev.slot].breaches += 1

    def _on_upgraded(self, ev: Upgraded) -> None:
        tok = self._tokens[ev.token]
        doc = tok.doctor
        was_callable = tok.in_tree
        if was_callable:
            tok.bypass_acc = tok.thr - doc.tree_of[tok.rank].remove(tok.pos)
        tok.rank = ev.rank
        tok.upgrades += 1
        tok.wait_ver += 1
        if tok.slot is not None and tok.displacements < self._max_disp and tok.state in (BOOKED, CHECKED_IN):
            # the entry under the old rank goes stale: _pop_displaceable checks the rank
            heapq.heappush(doc.slots[tok.slot].displaceable, (-tok.rank, -tok.issue, tok.seat_ver, tok))
        if was_callable:  # the callable period goes on: re-enter at the new rank without closing it
            self._enter_rank(tok)

    def _on_checked_in(self, ev: CheckedIn) -> None:
        tok = self._tokens[ev.token]
        self._seq = ev.queue_seq
        tok.seq = ev.queue_seq
        doc = tok.doctor
        tok.pos = len(doc.by_pos)
        doc.by_pos.append(tok)
        doc.live += 1
        tok.checked_in_at = ev.now
        if tok.state is WAITLISTED:
            return
        tok.state = CHECKED_IN
        assert tok.slot is not None
        if tok.category is EMERGENCY or tok.slot < doc.next_open:
            self._make_callable(tok, ev.now)
        else:
            doc.slots[tok.slot].pending.append(tok)

    def _on_slot_opened(self, ev: SlotOpened) -> None:
        doc = self._docs[ev.doctor]
        s = doc.slots[ev.slot]
        doc.next_open = ev.slot + 1
        for tok in s.pending:
            if tok.slot == s.index and tok.state is CHECKED_IN and not tok.in_tree:
                since = max(s.start, tok.checked_in_at or s.start, tok.seated_at or s.start)
                self._make_callable(tok, since)
        s.pending = []
        if doc.next_open < len(doc.slots):
            heapq.heappush(self._opens, (doc.slots[doc.next_open].start, doc.order, doc.next_open, doc.id))

    def _on_called(self, ev: Called) -> None:
        tok = self._tokens[ev.token]
        doc = tok.doctor
        rank = tok.rank
        pos = tok.pos
        self._remove_callable(tok, ev.now)
        self._stop_waiting(tok)
        tok.state = CALLED
        tok.called_at = ev.now
        tok.seat_ver += 1
        doc.busy = tok
        # every callable token of a worse rank checked in earlier (smaller position) was just bypassed
        for r, tree in doc.trees:
            if r > rank and tree.cnt[1]:
                tree.add_prefix(pos, -1)

    def _on_completed(self, ev: Completed) -> None:
        tok = self._tokens[ev.token]
        doc = tok.doctor
        assert tok.called_at is not None
        doc.consult_sum += ev.now - tok.called_at
        doc.consult_n += 1
        doc.busy = None
        self._end(tok, COMPLETED, ev.now)

    def _release(self, tok: _Token, state: TokenState, now: float) -> None:
        held = tok.slot
        self._unseat(tok, now)
        self._end(tok, state, now)
        tok.slot = held  # an ended token's view keeps the slot it held last (its seat is free)

    def _on_cancelled(self, ev: Cancelled) -> None:
        self._release(self._tokens[ev.token], CANCELLED, ev.now)

    def _on_no_show(self, ev: NoShow) -> None:
        self._release(self._tokens[ev.token], NO_SHOW, ev.now)

    def _on_left(self, ev: Left) -> None:
        self._release(self._tokens[ev.token], LEFT, ev.now)

    def _on_slots_shifted(self, ev: SlotsShifted) -> None:
        now, m = ev.now, ev.minutes
        for s in self._docs[ev.doctor].slots:
            if s.start > now:
                s.start += m
                s.end += m
            elif s.end > now:
                s.end += m

    def _on_day_closed(self, ev: DayClosed) -> None:
        now = ev.now
        for tok in self._tokens.values():
            if tok.state is CALLED:
                self._on_completed(Completed(now, tok.id))
            elif tok.state not in TERMINAL_STATES:
                if tok.in_tree:
                    self._remove_callable(tok, now)
                if tok.slot is not None:  # an unserved token holds no seat; its view keeps the slot it had
                    self._free_seat(tok, tok.slot)
                self._end(tok, UNSERVED, now)
        self._closed = True

    # ------------------------------------------------------------------ views

    def _view(self, tok: _Token) -> TokenView:
        bypasses = tok.bypass_acc
        if tok.in_tree:
            bypasses = tok.thr - tok.doctor.tree_of[tok.rank].value(tok.pos)
        return TokenView(
            tok.id,
            tok.patient,
            tok.category,
            tok.rank,
            tok.state,
            tok.doctor.id,
            tok.slot if tok.state is not WAITLISTED else None,
            tok.req_slot,
            tok.seq,
            bypasses,
            tok.displacements,
            tok.upgrades,
            tok.issued_at,
            tok.checked_in_at,
            tok.called_at,
            tok.ended_at,
            self._estimate(tok),
        )


def _serving_key(tok: _Token) -> tuple[int, int]:
    """The serving order: effective rank, then check-in position (equivalently queue_seq)."""
    return (tok.rank, tok.pos)
