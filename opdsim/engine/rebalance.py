"""Placement and rebalancing: which doctor and seat a booking gets, who an emergency displaces, refilling.

These read the state and return decisions; the events they lead to are emitted by the caller or, for the
refill, here (a refill is the consequence of a freed seat, decided and applied in the same call).
"""

from __future__ import annotations

import heapq
from typing import Any

from opdsim.engine._state import WAITLISTED, _Doctor, _new, _Slot, _Token
from opdsim.engine.choice import booking_estimate
from opdsim.engine.errors import DuplicateBooking, UnknownSlot
from opdsim.engine.events import Promoted
from opdsim.engine.timers import _Timers

__all__: list[str] = []


class _Rebalance(_Timers):
    def _free_slot_after(self, doc: _Doctor, index: int, now: float) -> int | None:
        for s in doc.slots[index + 1 :]:
            if s.end > now and s.regular + s.emerg < s.cap:
                return s.index
        return None

    def _place(self, doc: _Doctor, slot: int | None, now: float) -> tuple[Any, ...]:
        """Where a booking at ``doc`` would go: ("seat", slot, requested), ("wait", requested) or
        ("reject", requested, next_slot_with_room, reason)."""
        on_full = self._on_full
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

    def _pop_displaceable(self, slot: _Slot) -> _Token | None:
        """The token an emergency past the cap displaces from ``slot`` (the displacement rule's smallest key)."""
        if not slot.armed:
            self._arm_displaceable(slot)
        heap = slot.displaceable
        while heap:
            entry = heapq.heappop(heap)
            if self._displaceable(slot, entry):
                return entry[4]
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
                self._emit(_new(Promoted, (now, tok.id, index)))

    def _choose_for_booking(self, patient: str, rank: int, now: float) -> tuple[_Doctor, tuple[Any, ...]]:
        """The doctor and placement of a booking without a named doctor or slot (O(log doctors))."""
        active = self._active

        def excluded(d: _Doctor) -> bool:
            return (patient, d.id) in active

        doc = self._for_booking(rank, now, excluded)
        if doc is not None:
            count = len(self._log)
            self._advance(now)  # aging due by now may change the ranks ahead
            if len(self._log) != count:
                doc = self._for_booking(rank, now, excluded)
                assert doc is not None
            return doc, self._place(doc, None, now)
        doc = self._choice.for_waitlist(now, excluded)
        if doc is None:
            raise DuplicateBooking(f"patient {patient!r} already holds an active token at every doctor")
        return doc, self._place(doc, None, now)

    def _choose_for_slot(self, patient: str, slot: int, rank: int, now: float) -> tuple[_Doctor, tuple[Any, ...]]:
        """The doctor and placement of a booking for a named slot at any doctor.

        The one choice that looks at every doctor: slot indices mean different times at different doctors, so
        no index is kept for them (the simulation and the service book a named slot with a named doctor).
        """
        candidates = [d for d in self._doc_list if (patient, d.id) not in self._active]
        candidates = [d for d in candidates if 0 <= slot < len(d.slots)]
        if not candidates:
            raise UnknownSlot(f"slot {slot!r}: no doctor free for patient {patient!r} has such a slot")
        plans = [(d, self._place(d, slot, now)) for d in candidates]
        seated = [(d, p) for d, p in plans if p[0] == "seat"]
        if not seated:
            return min(plans, key=lambda dp: (dp[0].wl_count, dp[0].id))
        self._advance(now)
        return min(seated, key=lambda dp: (booking_estimate(dp[0], dp[1][1], rank, now), dp[0].id))
