"""The decisions of the hot operations, after the public boundary (:mod:`opdsim.engine.engine`) checked ``now``
and the argument types: booking, emergencies, check-in, calling and completing.

These are compiled in the mypyc build; identifiers that come straight from the caller (a doctor or token id)
are typed ``object`` and looked up by :meth:`_doctor` / :meth:`_token`, which raise the engine's own errors for
any value.
"""

from __future__ import annotations

from opdsim.engine._state import BOOKED, CALLED, EMERGENCY, WAITLISTED, _Doctor, mypyc_attr
from opdsim.engine.choice import emergency_slot
from opdsim.engine.errors import (
    BookingRejected,
    DuplicateBooking,
    IdempotencyConflict,
    InvalidTransition,
    UnknownDoctor,
)
from opdsim.engine.events import (
    Booked,
    Called,
    Cancelled,
    CapBreached,
    CheckedIn,
    Completed,
    Displaced,
    Rejected,
    Waitlisted,
)
from opdsim.engine.types import Category, TokenView
from opdsim.engine.views import _Views

__all__: list[str] = []


@mypyc_attr(allow_interpreted_subclasses=True)
class _Decide(_Views):
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
            self._emit(Booked(now, token_id, patient, category, doc.id, plan[1], plan[2], request_id, asked, slot))
        else:
            self._emit(Waitlisted(now, token_id, patient, category, doc.id, plan[1], request_id, asked, slot))
        if check_in:
            self._emit(CheckedIn(now, token_id, self._seq + 1))
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
            doc = self._choice.for_emergency(now)
        freed: list[tuple[_Doctor, int]] = []
        held = self._active.get((patient, doc.id))
        if held is not None:
            if held.slot is not None:
                freed.append((doc, held.slot))
            self._emit(Cancelled(now, held.id, "superseded"))
        idx = emergency_slot(doc, now)
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

    def _check_in_at(self, token_id: object, now: float) -> None:
        tok = self._token(token_id)
        if tok.checked_in_at is not None or tok.state not in (BOOKED, WAITLISTED):
            raise InvalidTransition(f"check_in: token {tok.id} is {tok.state.value}, already checked in or ended")
        self._advance(now)
        self._emit(CheckedIn(now, tok.id, self._seq + 1))

    def _call_next_at(self, doctor: object, now: float) -> TokenView | None:
        doc = self._doctor(doctor)
        if doc.busy is not None:
            raise InvalidTransition(f"call_next: doctor {doc.id!r} is busy with token {doc.busy.id}")
        self._advance(now)
        for rank, tree in doc.trees:
            if tree.cnt[1]:
                tok = doc.by_pos[tree.first()]
                self._emit(Called(now, tok.id, doc.id))
                if self._bypass_on:
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

    def _complete_at(self, token_id: object, now: float) -> None:
        tok = self._token(token_id)
        if tok.state is not CALLED:
            raise InvalidTransition(f"complete: token {tok.id} is {tok.state.value}, not called")
        self._advance(now)
        self._emit(Completed(now, tok.id))
