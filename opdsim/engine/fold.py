"""Applying events: the engine's state changes here and only here (a pure fold that replay reuses).

Every handler ``_on_<kind>`` takes one event of :mod:`opdsim.engine.events` and changes the state as that event
says, without deciding anything and without validating: the deciding side (:mod:`opdsim.engine.engine`) only
emits events it has checked, and :meth:`_Fold.check_event` vets an event from outside (a stored log) before
it is applied. The handlers report every doctor whose choice-relevant state changed to the doctor choice
(:meth:`DoctorChoice.touch`), so that the choice's index stays current without scanning.
"""

from __future__ import annotations

import heapq
from typing import Any, Final

from opdsim.engine._state import (
    BIG,
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
    EV_LEFT,
    EV_NOSHOW,
    EV_PROMOTED,
    EV_SLOTOPENED,
    EV_SLOTSSHIFTED,
    EV_UPGRADED,
    EV_WAITLISTED,
    INF,
    LEFT,
    NO_SHOW,
    PRUNE_AT,
    UNSERVED,
    WAITLISTED,
    _Doctor,
    _Slot,
    _Token,
)
from opdsim.engine.choice import DoctorChoice, EarliestCall, Excluded
from opdsim.engine.defaults import LowestPriorityLatest, PolicyAging
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
from opdsim.engine.policy import Policy
from opdsim.engine.rules import AgingRule, DisplacementRule, Rules
from opdsim.engine.types import TERMINAL_STATES, Category, TokenState

__all__: list[str] = []


class _Fold:
    """The engine's state and the handlers that apply events to it."""

    def __init__(self, policy: Policy, rules: Rules | None = None) -> None:
        rules = Rules() if rules is None else rules
        self._policy = policy
        self._rank_of = {c: policy.ranks[c] for c in Category}
        self._ranks = sorted(set(self._rank_of.values()))
        self._ceiling = policy.ceiling
        self._aging: AgingRule = PolicyAging(policy) if rules.aging is None else rules.aging
        self._victim: DisplacementRule = LowestPriorityLatest() if rules.displacement is None else rules.displacement
        make_choice = EarliestCall if rules.choice is None else rules.choice
        self._choice: DoctorChoice = make_choice(self._ranks, self._rank_of[EMERGENCY])
        # The default rules again under their own classes: the compiled build calls a native class's methods
        # directly, and a protocol's through a Python method lookup (about 2,000 calls a standard day).
        self._index = self._choice if isinstance(self._choice, EarliestCall) else None
        self._default_aging = self._aging if isinstance(self._aging, PolicyAging) else None
        self._default_victim = self._victim if isinstance(self._victim, LowestPriorityLatest) else None
        self._rules = rules
        self._bypass_on = self._aging.bypass_threshold(0) is not None
        self._max_disp = policy.max_displacements
        # policy values the hot paths read, held natively (the policy is an interpreted frozen dataclass)
        self._auto_no_show = bool(policy.auto_no_show)
        self._on_full = str(policy.on_full)
        self._overflow_cap = int(policy.overflow_cap)
        self._grace = float(policy.no_show_grace)
        self._log: list[Any] = [EngineStarted(policy)]
        self._last = -INF  # latest now of a call that changed the state (none yet: bookings may precede opening)
        self._closed = False
        self._docs: dict[str, _Doctor] = {}
        self._doc_list: list[_Doctor] = []  # sorted by id ("lowest id" tie-breaks)
        self._tokens: dict[str, _Token] = {}
        self._active: dict[tuple[str, str], _Token] = {}  # (patient, doctor) -> active token
        self._held: dict[str, dict[str, _Token]] = {}  # patient -> doctor -> active token
        self._requests: dict[str, _Token] = {}
        self._ntok = 0
        self._seq = 0
        self._wl_order = 0
        self._disp_order = 0
        # timers: lazy heaps, validated when popped
        self._opens: list[tuple[float, int, int, str]] = []  # (slot start, doctor order, slot, doctor)
        self._waits: list[tuple[float, int, int, _Token]] = []  # (deadline, issue, wait_ver, token)
        self._noshows: list[tuple[float, int, int, _Token]] = []  # (deadline bound, issue, seat_ver, token)

    # ------------------------------------------------------------------ helpers of the fold

    def _emit(self, ev: Any) -> None:
        """Log ``ev`` and apply it: the handler of its class, the most frequent kinds tested first (compiled,
        these are direct native calls, where a table of handlers would call each through Python)."""
        self._log.append(ev)
        self._last = ev[0]  # every event but EngineStarted (never emitted) starts with now
        kind = type(ev)
        if kind is EV_BOOKED:
            self._on_booked(ev)
        elif kind is EV_CHECKEDIN:
            self._on_checked_in(ev)
        elif kind is EV_CALLED:
            self._on_called(ev)
        elif kind is EV_COMPLETED:
            self._on_completed(ev)
        elif kind is EV_NOSHOW:
            self._on_no_show(ev)
        elif kind is EV_UPGRADED:
            self._on_upgraded(ev)
        elif kind is EV_SLOTOPENED:
            self._on_slot_opened(ev)
        elif kind is EV_CANCELLED:
            self._on_cancelled(ev)
        elif kind is EV_LEFT:
            self._on_left(ev)
        elif kind is EV_WAITLISTED:
            self._on_waitlisted(ev)
        elif kind is EV_PROMOTED:
            self._on_promoted(ev)
        elif kind is EV_DISPLACED:
            self._on_displaced(ev)
        elif kind is EV_CAPBREACHED:
            self._on_cap_breached(ev)
        elif kind is EV_SLOTSSHIFTED:
            self._on_slots_shifted(ev)
        elif kind is EV_DOCTORADDED:
            self._on_doctor_added(ev)
        elif kind is EV_DAYCLOSED:
            self._on_day_closed(ev)
        else:  # check_event admits only the kinds of KINDS, and the deciding side emits no other
            raise AssertionError(f"no handler for {ev!r}")

    def _deadline(self, tok: _Token) -> float:
        """No-show deadline of a booked token: the later of its slot's start and its seat time, plus grace."""
        assert tok.slot is not None and tok.seated_at is not None
        start = tok.doctor.slots[tok.slot].start
        return (start if start > tok.seated_at else tok.seated_at) + self._grace

    def _new_token(self, ev: tuple[Any, ...], req_slot: int) -> _Token:
        """The token a ``Booked`` or ``Waitlisted`` event issues, registered under its id, patient and doctor.

        ``ev`` is read by position (both kinds start ``now, token, patient, category, doctor`` and end
        ``request_id, asked_doctor, asked_slot``): compiled, a field of a union of named tuples is otherwise read
        by Python attribute lookup, fourteen of them per booking."""
        now: float = ev[0]
        token: str = ev[1]
        patient: str = ev[2]
        category: Category = ev[3]
        doctor: str = ev[4]
        request_id: str | None = ev[-3]
        self._ntok += 1
        doc = self._docs[doctor]
        request = None
        if request_id is not None:
            request = (patient, category, ev[-2], ev[-1])
        tok = _Token(token, self._ntok, patient, category, self._rank_of[category], doc, req_slot, now, request)
        if request_id is not None:
            self._requests[request_id] = tok
        self._tokens[token] = tok
        self._active[(patient, doctor)] = tok
        held = self._held.get(patient)
        if held is None:
            self._held[patient] = {doctor: tok}
        else:
            held[doctor] = tok
        return tok

    # -- the rules, called directly when they are the defaults

    def _touch(self, doc: _Doctor) -> None:
        index = self._index
        if index is not None:
            index.touch(doc)
        else:
            self._choice.touch(doc)

    def _for_booking(self, rank: int, now: float, excluded: Excluded) -> _Doctor | None:
        index = self._index
        if index is not None:
            return index.for_booking(rank, now, excluded)
        return self._choice.for_booking(rank, now, excluded)

    def _for_emergency(self, now: float) -> _Doctor:
        index = self._index
        return self._choice.for_emergency(now) if index is None else index.for_emergency(now)

    def _victim_key(self, rank: int, issue: int) -> tuple[int, ...]:
        victim = self._default_victim
        return self._victim.key(rank, issue) if victim is None else victim.key(rank, issue)

    def _bypass_threshold(self, upgrades: int) -> int | None:
        aging = self._default_aging
        return self._aging.bypass_threshold(upgrades) if aging is None else aging.bypass_threshold(upgrades)

    def _wait_threshold(self, upgrades: int) -> float | None:
        aging = self._default_aging
        return self._aging.wait_threshold(upgrades) if aging is None else aging.wait_threshold(upgrades)

    def _target(self, rank: int) -> int:
        aging = self._default_aging
        return self._aging.target(rank) if aging is None else aging.target(rank)

    def _push_displaceable(self, s: _Slot, tok: _Token) -> None:
        """Note ``tok``, just seated in ``s`` or upgraded there, as a token an emergency may displace."""
        if not s.armed:
            # no emergency has needed a victim here yet: a list entry costs a tenth of a heap entry, and the
            # heap built from the list when one does (``_arm_displaceable``) holds the same live entries
            seated = s.seated
            if len(seated) >= s.prune_at:
                s.seated = seated = self._may_displace(s)
                s.prune_at = max(PRUNE_AT, 2 * len(seated))
            seated.append(tok)
            return
        heap = s.displaceable
        if len(heap) >= s.prune_at:
            # drop the stale entries (the heap's order is rebuilt, but pops return the same tokens: the live
            # entries' keys are distinct, since each holds its token's issue, and at most one per token is live)
            heap[:] = [entry for entry in heap if self._displaceable(s, entry)]
            heapq.heapify(heap)
            s.prune_at = max(PRUNE_AT, 2 * len(heap))
        key = self._victim_key(tok.rank, tok.issue)
        heapq.heappush(heap, (key, tok.issue, tok.seat_ver, tok.rank, tok))

    def _may_displace(self, s: _Slot) -> list[_Token]:
        """The tokens of ``s.seated`` still seated in ``s`` that an emergency may displace, each once, in the
        order first noted."""
        live: dict[int, _Token] = {}
        for tok in s.seated:
            if (
                tok.slot == s.index
                and (tok.state is BOOKED or tok.state is CHECKED_IN)
                and tok.displacements < self._max_disp
            ):
                live[tok.issue] = tok
        return list(live.values())

    def _arm_displaceable(self, s: _Slot) -> None:
        """Build the displacement heap of ``s`` from its list: one live entry per token that may be displaced,
        under its rank now, as the heap kept from the start would hold after dropping its stale entries."""
        heap = [(self._victim_key(t.rank, t.issue), t.issue, t.seat_ver, t.rank, t) for t in self._may_displace(s)]
        heapq.heapify(heap)
        s.armed = True
        s.seated = []
        s.displaceable = heap
        s.prune_at = max(PRUNE_AT, 2 * len(heap))

    def _displaceable(self, s: _Slot, entry: tuple[tuple[int, ...], int, int, int, _Token]) -> bool:
        """Whether a displacement heap entry of slot ``s`` is live: its token is still seated there as pushed,
        at the rank it had, and may still be displaced."""
        _, _, ver, rank, tok = entry
        return (
            tok.seat_ver == ver
            and tok.slot == s.index
            and tok.rank == rank
            and (tok.state is BOOKED or tok.state is CHECKED_IN)
            and tok.displacements < self._max_disp
        )

    def _seat(self, tok: _Token, index: int, now: float) -> None:
        doc = tok.doctor
        s = doc.slots[index]
        tok.slot = index
        tok.seated_at = now
        tok.seat_ver += 1
        self._touch(doc)
        if tok.category is EMERGENCY:
            s.emerg += 1
            return
        s.regular += 1
        if tok.displacements < self._max_disp:
            self._push_displaceable(s, tok)
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
        self._touch(tok.doctor)
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

    def _eligible(self, tok: _Token) -> bool:
        """Whether aging may still upgrade the token (never an emergency, never above the ceiling)."""
        return tok.category is not EMERGENCY and tok.rank > self._ceiling

    def _enter_rank(self, tok: _Token) -> None:
        """Put a callable token into its rank's tree with its next bypass threshold and, for wait aging,
        schedule its next wait threshold (counted from ``callable_since``)."""
        doc = tok.doctor
        self._touch(doc)
        eligible = self._eligible(tok)
        thr = self._bypass_threshold(tok.upgrades) if eligible else None
        tok.thr = BIG if thr is None else thr
        doc.tree_of[tok.rank].insert(tok.pos, tok.thr - tok.bypass_acc)
        if eligible:
            wait = self._wait_threshold(tok.upgrades)
            if wait is not None:
                assert tok.callable_since is not None
                deadline = tok.callable_since + wait - tok.wait_acc
                heapq.heappush(self._waits, (deadline, tok.issue, tok.wait_ver, tok))

    def _remove_callable(self, tok: _Token, now: float) -> None:
        self._touch(tok.doctor)
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
            for _, tree in doc.trees:  # every tree is empty now; a grown one is made shallow again
                tree.reset()

    def _end(self, tok: _Token, state: TokenState, now: float) -> None:
        if tok.state is WAITLISTED:
            tok.doctor.wl_count -= 1
            self._touch(tok.doctor)
        if tok.pos >= 0 and tok.state is not CALLED:
            self._stop_waiting(tok)
        tok.state = state
        tok.ended_at = now
        doc_id = tok.doctor.id
        if self._active.get((tok.patient, doc_id)) is tok:
            del self._active[(tok.patient, doc_id)]
            held = self._held[tok.patient]
            del held[doc_id]
            if not held:
                del self._held[tok.patient]

    def _release(self, tok: _Token, state: TokenState, now: float) -> None:
        held = tok.slot
        self._unseat(tok, now)
        self._end(tok, state, now)
        tok.slot = held  # an ended token's view keeps the slot it held last (its seat is free)

    # ------------------------------------------------------------------ one handler per event kind

    def _on_doctor_added(self, ev: DoctorAdded) -> None:
        slots = [_Slot(i, s, e, c) for i, (s, e, c) in enumerate(ev.slots)]
        doc = _Doctor(ev.doctor, len(self._docs), slots, self._ranks)
        self._docs[ev.doctor] = doc
        self._doc_list.append(doc)
        self._doc_list.sort(key=lambda d: d.id)
        heapq.heappush(self._opens, (slots[0].start, doc.order, 0, doc.id))
        self._choice.add(doc)

    def _on_booked(self, ev: Booked) -> None:
        now, _, _, _, _, slot, requested, _, _, _ = ev
        tok = self._new_token(ev, requested)
        self._seat(tok, slot, now)

    def _on_waitlisted(self, ev: Waitlisted) -> None:
        tok = self._new_token(ev, ev.requested_slot)
        tok.state = WAITLISTED
        self._wl_order += 1
        tok.wl_key = (1, tok.rank, self._wl_order)
        heapq.heappush(tok.doctor.wl[ev.requested_slot], (tok.wl_key, tok))
        tok.doctor.wl_count += 1
        self._touch(tok.doctor)

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
        _, token, new_rank = ev
        tok = self._tokens[token]
        doc = tok.doctor
        was_callable = tok.in_tree
        if was_callable:
            tok.bypass_acc = tok.thr - doc.tree_of[tok.rank].remove(tok.pos)
        tok.rank = new_rank
        tok.upgrades += 1
        tok.wait_ver += 1
        if tok.slot is not None and tok.displacements < self._max_disp and tok.state in (BOOKED, CHECKED_IN):
            s = doc.slots[tok.slot]
            if s.armed:  # the entry under the old rank goes stale: _pop_displaceable checks the rank
                self._push_displaceable(s, tok)  # (a list entry is keyed when the heap is built, at the rank then)
        if was_callable:  # the callable period goes on: re-enter at the new rank without closing it
            self._enter_rank(tok)

    def _on_checked_in(self, ev: CheckedIn) -> None:
        now, token, seq = ev  # unpacked: compiled, a named tuple's fields are read by Python attribute lookup
        tok = self._tokens[token]
        self._seq = seq
        tok.seq = seq
        doc = tok.doctor
        tok.pos = len(doc.by_pos)
        doc.by_pos.append(tok)
        doc.live += 1
        tok.checked_in_at = now
        if tok.state is WAITLISTED:
            return
        tok.state = CHECKED_IN
        assert tok.slot is not None
        if tok.category is EMERGENCY or tok.slot < doc.next_open:
            self._make_callable(tok, now)
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
        now, token, _ = ev
        tok = self._tokens[token]
        doc = tok.doctor
        rank = tok.rank
        pos = tok.pos
        self._remove_callable(tok, now)
        self._stop_waiting(tok)
        tok.state = CALLED
        tok.called_at = now
        tok.seat_ver += 1
        doc.busy = tok
        # every callable token of a worse rank checked in earlier (smaller position) was just bypassed
        for r, tree in doc.trees:
            if r > rank and tree.cnt[1]:
                tree.add_prefix(pos, -1)

    def _on_completed(self, ev: Completed) -> None:
        now, token = ev
        tok = self._tokens[token]
        doc = tok.doctor
        assert tok.called_at is not None
        doc.consult_sum += now - tok.called_at
        doc.consult_n += 1
        doc.busy = None
        self._touch(doc)
        self._end(tok, COMPLETED, now)

    def _on_cancelled(self, ev: Cancelled) -> None:
        self._release(self._tokens[ev.token], CANCELLED, ev.now)

    def _on_no_show(self, ev: NoShow) -> None:
        self._release(self._tokens[ev.token], NO_SHOW, ev.now)

    def _on_left(self, ev: Left) -> None:
        self._release(self._tokens[ev.token], LEFT, ev.now)

    def _on_slots_shifted(self, ev: SlotsShifted) -> None:
        now, m = ev.now, ev.minutes
        doc = self._docs[ev.doctor]
        self._touch(doc)
        for s in doc.slots:
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
        # Every token has ended: no queue, waitlist or displacement heap has a use any more. Emptied, they no longer
        # hold tokens that hold their doctor, so a closed day is freed by reference counting alone (about 1,500
        # objects of a standard day that the cyclic collector would otherwise have to find).
        for doc in self._doc_list:
            doc.by_pos.clear()
            for heap in doc.wl:
                heap.clear()
            for s in doc.slots:
                s.pending.clear()
                s.seated.clear()
                s.displaceable.clear()
        self._closed = True


#: The event kinds the fold applies (``EngineStarted`` opens a log and is never applied; ``Rejected`` is an audit
#: record that changes nothing).
KINDS: Final = frozenset(
    {
        DoctorAdded,
        Booked,
        Waitlisted,
        Promoted,
        Displaced,
        CapBreached,
        Upgraded,
        CheckedIn,
        SlotOpened,
        Called,
        Completed,
        Cancelled,
        NoShow,
        Left,
        SlotsShifted,
        DayClosed,
    }
)
