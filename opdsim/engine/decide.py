"""The decisions of every operation, after the public boundary (:mod:`opdsim.engine.engine`) checked the
argument types: booking, emergencies, check-in, calling, completing, cancelling, no-shows, leaving, delays,
ticks and the close of day.

:class:`_Decide` is the engine's whole state and logic, one native class in the compiled build. The public
:class:`~opdsim.engine.engine.Engine` holds one (it is not a subclass): mypyc calls the methods of a native
instance directly, whereas on an instance of an interpreted subclass every call between them would go through
Python's method lookup. Values that come straight from the caller (``now``, a doctor or token id) are typed
``object`` and checked here by :meth:`_begin`, :meth:`_doctor` and :meth:`_token`, which raise the engine's own
errors for any value (a native function typed ``float`` or ``str`` would raise a bare ``TypeError``, or take
``True`` as 1.0).
"""

from __future__ import annotations

from opdsim.engine._state import BOOKED, CALLED, CHECKED_IN, EMERGENCY, WAITLISTED, _Doctor, _new, check_time
from opdsim.engine.choice import emergency_slot
from opdsim.engine.errors import (
    BookingRejected,
    DayClosedError,
    DuplicateBooking,
    IdempotencyConflict,
    InvalidRequest,
    InvalidTransition,
    TimeWentBackwards,
    UnknownDoctor,
    UnknownSlot,
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
    Left,
    NoShow,
    Rejected,
    SlotsShifted,
    Waitlisted,
)
from opdsim.engine.types import Category, TokenView
from opdsim.engine.views import _Views

__all__: list[str] = []


class _Decide(_Views):
    def _begin(self, now: object) -> float:
        """``now`` as a float [min], or the engine's error: the day is closed, ``now`` is not a finite number, or
        it is earlier than the last change of state."""
        if self._closed:
            raise DayClosedError(f"the day was closed at {self._last:g} min; no further calls")
        value = check_time("now", now, any_number=True)  # NumPy's numbers too: a simulation's clock may be one
        if value < self._last:
            raise TimeWentBackwards(f"now {value:g} min is earlier than {self._last:g} min, the last change of state")
        return value

    # -- entry points: the public boundary hands each call over as it came, and the checks run compiled

    def _book(
        self,
        patient: object,
        category: object,
        doctor: object,
        now: object,
        slot: object,
        request_id: object,
        check_in: object,
    ) -> TokenView:
        t = self._begin(now)
        if not isinstance(category, Category):
            raise InvalidRequest(f"category: {category!r} is not a Category")
        if category is EMERGENCY:
            raise InvalidRequest(f"book {patient!r}: category EMERGENCY must enter through emergency()")
        if not isinstance(patient, str) or not patient:
            raise InvalidRequest(f"patient: {patient!r} is not a non-empty string")
        index: int | None = None
        if slot is not None:
            if isinstance(slot, bool) or not isinstance(slot, int):
                raise UnknownSlot(f"slot: {slot!r} is not a slot index")
            index = slot
        key: str | None = None
        if request_id is not None:
            if not isinstance(request_id, str):
                raise InvalidRequest(f"request_id: {request_id!r} is not a string")
            key = request_id
        return self._book_at(patient, category, doctor, t, index, key, bool(check_in))

    def _emergency(self, patient: object, doctor: object, now: object) -> TokenView:
        t = self._begin(now)
        if not isinstance(patient, str) or not patient:
            raise InvalidRequest(f"patient: {patient!r} is not a non-empty string")
        return self._emergency_at(patient, doctor, t)

    def _check_in(self, token_id: object, now: object) -> None:
        self._check_in_at(token_id, self._begin(now))

    def _call_next(self, doctor: object, now: object) -> TokenView | None:
        return self._call_next_at(doctor, self._begin(now))

    def _complete(self, token_id: object, now: object) -> None:
        self._complete_at(token_id, self._begin(now))

    def _cancel(self, token_id: object, now: object) -> None:
        self._cancel_at(token_id, self._begin(now))

    def _no_show(self, token_id: object, now: object) -> None:
        self._no_show_at(token_id, self._begin(now))

    def _leave(self, token_id: object, now: object) -> None:
        self._leave_at(token_id, self._begin(now))

    def _delay(self, doctor: object, minutes: object, now: object) -> None:
        t = self._begin(now)
        doc = self._doctor(doctor)
        self._delay_at(doc, check_time("minutes", minutes), t)

    def _tick(self, now: object) -> None:
        self._tick_at(self._begin(now))

    def _close(self, now: object) -> None:
        self._close_at(self._begin(now))

    # -- the decisions, on checked arguments

    def _book_at(
        self,
        patient: str,
        category: Category,
        doctor: object,
        now: float,
        slot: int | None,
        request_id: str | None,
        check_in: bool,
    ) -> TokenView:
        details = (patient, category, doctor, slot)
        if request_id is not None:
            prior = self._requests.get(request_id)
            if prior is not None:
                if prior.request != details:
                    raise IdempotencyConflict(
                        f"request {request_id!r}: already used for token {prior.id} with other details"
                    )
                return self._view(prior)
        rank = self._rank_of[category]
        if doctor is not None:
            doc = self._doctor(doctor)
            if slot is not None:
                self._slot(doc, slot)
            if (patient, doc.id) in self._active:
                held = self._active[(patient, doc.id)]
                raise DuplicateBooking(f"patient {patient!r} already holds active token {held.id} at doctor {doc.id!r}")
            plan = self._place(doc, slot, now)
        elif slot is None:
            doc, plan = self._choose_for_booking(patient, rank, now)
        else:
            doc, plan = self._choose_for_slot(patient, slot, rank, now)
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
        asked = None if doctor is None else doc.id  # the doctor as asked (a valid id by now)
        if plan[0] == "seat":
            self._emit(
                _new(Booked, (now, token_id, patient, category, doc.id, plan[1], plan[2], request_id, asked, slot))
            )
        else:
            self._emit(_new(Waitlisted, (now, token_id, patient, category, doc.id, plan[1], request_id, asked, slot)))
        if check_in:
            self._emit(_new(CheckedIn, (now, token_id, self._seq + 1)))
        return self._view(self._tokens[token_id])

    def _emergency_at(self, patient: str, doctor: object, now: float) -> TokenView:
        if doctor is not None:
            doc = self._doctor(doctor)
            held = self._active.get((patient, doc.id))
            if held is not None and (held.category is EMERGENCY or held.state is CALLED):
                return self._view(held)
        else:
            if not self._doc_list:
                raise UnknownDoctor("emergency: no doctor has been added")
            tokens = self._held.get(patient)
            if tokens:  # the patient's own tokens, in doctor id order: an emergency or a consultation comes back
                for _, held in sorted(tokens.items()):
                    if held.category is EMERGENCY or held.state is CALLED:
                        return self._view(held)
        self._advance(now)
        if doctor is None:
            doc = self._for_emergency(now)
        freed: list[tuple[_Doctor, int]] = []
        held = self._active.get((patient, doc.id))
        if held is not None:
            if held.slot is not None:
                freed.append((doc, held.slot))
            self._emit(Cancelled(now, held.id, "superseded"))
        idx = emergency_slot(doc, now)
        token_id = f"T{self._ntok + 1}"
        self._emit(_new(Booked, (now, token_id, patient, EMERGENCY, doc.id, idx, idx, None, None, None)))
        self._emit(_new(CheckedIn, (now, token_id, self._seq + 1)))
        slot = doc.slots[idx]
        if slot.regular + slot.emerg > slot.cap + self._overflow_cap:
            victim = self._pop_displaceable(slot)
            if victim is None:
                self._emit(CapBreached(now, doc.id, idx, token_id))
            else:
                self._emit(Displaced(now, victim.id, idx, self._free_slot_after(doc, idx, now)))
        self._refill(freed, now)
        return self._view(self._tokens[token_id])

    def _check_in_at(self, token_id: object, now: float) -> None:
        tok = self._token(token_id)
        if tok.checked_in_at is not None or tok.state not in (BOOKED, WAITLISTED):
            raise InvalidTransition(f"check_in: token {tok.id} is {tok.state.value}, already checked in or ended")
        self._advance(now)
        self._emit(_new(CheckedIn, (now, tok.id, self._seq + 1)))

    def _call_next_at(self, doctor: object, now: float) -> TokenView | None:
        doc = self._doctor(doctor)
        if doc.busy is not None:
            raise InvalidTransition(f"call_next: doctor {doc.id!r} is busy with token {doc.busy.id}")
        self._advance(now)
        for rank, tree in doc.trees:
            if tree.cnt[1]:
                tok = doc.by_pos[tree.first()]
                self._emit(_new(Called, (now, tok.id, doc.id)))
                if self._bypass_on:
                    self._upgrade_bypassed(doc, rank, now)
                return self._view(tok)  # called: the view's estimate is the call time
        return None

    def _complete_at(self, token_id: object, now: float) -> None:
        tok = self._token(token_id)
        if tok.state is not CALLED:
            raise InvalidTransition(f"complete: token {tok.id} is {tok.state.value}, not called")
        self._advance(now)
        self._emit(_new(Completed, (now, tok.id)))

    def _cancel_at(self, token_id: object, now: float) -> None:
        tok = self._token(token_id)
        if tok.state not in (BOOKED, WAITLISTED, CHECKED_IN):
            raise InvalidTransition(f"cancel: token {tok.id} is {tok.state.value}; only tokens not yet called")
        self._advance(now)
        freed = [] if tok.slot is None else [(tok.doctor, tok.slot)]
        self._emit(Cancelled(now, tok.id, "cancel"))
        self._refill(freed, now)

    def _no_show_at(self, token_id: object, now: float) -> None:
        tok = self._token(token_id)
        if tok.state is not BOOKED:
            raise InvalidTransition(f"no_show: token {tok.id} is {tok.state.value}, not booked with a seat")
        deadline = self._deadline(tok)
        if now < deadline:
            raise InvalidTransition(f"no_show: token {tok.id} has until {deadline:g} min to check in (now {now:g} min)")
        self._advance(now)
        freed = [(tok.doctor, tok.slot)] if tok.slot is not None else []
        self._emit(_new(NoShow, (now, tok.id)))
        self._refill(freed, now)

    def _leave_at(self, token_id: object, now: float) -> None:
        tok = self._token(token_id)
        if tok.checked_in_at is None or tok.state not in (CHECKED_IN, WAITLISTED):
            raise InvalidTransition(
                f"leave: token {tok.id} is {tok.state.value}; only checked-in patients not yet called can leave"
            )
        self._advance(now)
        freed = [] if tok.slot is None else [(tok.doctor, tok.slot)]
        self._emit(Left(now, tok.id))
        self._refill(freed, now)

    def _delay_at(self, doc: _Doctor, minutes: float, now: float) -> None:
        if minutes < 0:
            raise InvalidRequest(f"delay doctor {doc.id!r}: minutes {minutes:g} is negative")
        if minutes == 0:
            return
        self._advance(now)
        self._emit(SlotsShifted(now, doc.id, minutes))

    def _tick_at(self, now: float) -> None:
        self._advance(now)
        if not self._auto_no_show:
            return
        while True:
            due = self._due_no_shows(now)
            if not due:
                return
            freed: list[tuple[_Doctor, int]] = []
            for tok in due:
                assert tok.slot is not None
                freed.append((tok.doctor, tok.slot))
                self._emit(_new(NoShow, (now, tok.id)))
            # refilled seats may already be past their deadline (grace 0): loop until nothing is due
            self._refill(freed, now)

    def _close_at(self, now: float) -> None:
        self._advance(now)
        self._emit(DayClosed(now))
