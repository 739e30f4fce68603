"""Choosing a doctor for ``book(doctor=None)`` and ``emergency(doctor=None)`` (tests: tests/engine/test_choice.py).

The rule
--------
* A booking goes to the doctor at which the new token's estimated call time would be earliest (ties to the
  lowest id): the later of ``now`` and the start of the slot it would get (the earliest not ended with a free
  seat), plus (callable tokens of its rank or better, plus one if the doctor is busy) times the doctor's mean
  consultation. With no free seat anywhere, the shortest waitlist, ties to the lowest id.
* An emergency goes to the doctor at whom it would be called earliest: the later of ``now`` and the time the
  doctor is expected free (``now`` when idle; else the call time of the patient being seen plus the mean
  consultation, never earlier than ``now``), plus the callable emergencies ahead times that mean. Ties go to the
  fewest callable tokens, then the lowest id.

:func:`emergency_estimate` and :func:`booking_estimate` state the rule once; :class:`ScanChoice` applies it by
looking at every doctor (the reference), :class:`EarliestCall` (the engine's default) answers the same in
O(log doctors) from lazily invalidated heaps.

The index
---------
Each estimate has the form ``max(now, T) + X`` where ``T`` (the slot start, or the time the doctor is expected
free) and ``X`` (tokens ahead times the mean) do not depend on ``now``. While ``now < T`` the estimate is
``T + X`` and the doctor sits in a "later" heap keyed by it; from ``now >= T`` on it is ``now + X`` and the
doctor sits in a "now" heap keyed by ``X`` (the order of ``now + X`` is the order of ``X``). The answer is the
better of the two heads. A doctor's entries are rebuilt when its state changes (the engine's fold calls
:meth:`touch`) or at the next instant its entries stop being right (``T`` is reached, or the slot they assumed
ends); older entries are skipped when they surface (a version number per doctor).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from opdsim.engine._state import INF, _Doctor

__all__ = [
    "DoctorChoice",
    "EarliestCall",
    "ScanChoice",
    "booking_estimate",
    "emergency_estimate",
    "emergency_slot",
    "first_free_slot",
]

Excluded = Callable[[_Doctor], bool]


class DoctorChoice(Protocol):
    """Where a booking or an emergency without a named doctor goes.

    A choice may keep an index: the engine reports every doctor when added (:meth:`add`) and whenever its
    queue, consultation, seats, waitlist or slot times change (:meth:`touch`). It may read, never write, a
    doctor's attributes (``id``, ``busy``, ``slots``, ``trees``, ``tree_of``, ``wl_count``, ``mean_consult``).
    """

    def add(self, doctor: _Doctor) -> None:
        """A doctor joined."""
        ...

    def touch(self, doctor: _Doctor) -> None:
        """Something the choice may depend on changed at ``doctor``."""
        ...

    def for_emergency(self, now: float) -> _Doctor:
        """The doctor for an emergency at ``now`` [min] (at least one doctor exists)."""
        ...

    def for_booking(self, rank: int, now: float, excluded: Excluded) -> _Doctor | None:
        """The doctor with a free seat for a token of effective ``rank``; None if no doctor not excluded has one."""
        ...

    def for_waitlist(self, now: float, excluded: Excluded) -> _Doctor | None:
        """With no free seat anywhere: the doctor whose waitlist the token joins; None if all are excluded."""
        ...


# ---------------------------------------------------------------------------------------------- the rule


def emergency_slot(doc: _Doctor, now: float) -> int:
    """The slot an emergency is seated in: the running one or, between slots or before opening, the next to
    start; after the last has ended, the last."""
    for s in doc.slots:
        if s.end > now:
            return s.index
    return len(doc.slots) - 1


def emergency_estimate(doc: _Doctor, now: float, emergency_rank: int) -> float:
    """Estimated call time of an emergency seated at ``doc`` at ``now`` [min]."""
    mean = doc.mean_consult(doc.slots[emergency_slot(doc, now)])
    free = now
    if doc.busy is not None:
        assert doc.busy.called_at is not None
        expected = doc.busy.called_at + mean
        if expected > now:
            free = expected
    return free + len(doc.tree_of[emergency_rank]) * mean


def first_free_slot(doc: _Doctor, now: float) -> int | None:
    """The earliest slot of ``doc`` that has not ended and has a free seat, or None."""
    for s in doc.slots:
        if s.end > now and s.regular + s.emerg < s.cap:
            return s.index
    return None


def booking_estimate(doc: _Doctor, slot: int, rank: int, now: float) -> float:
    """Estimated call time of a new token of effective ``rank`` seated in ``slot`` of ``doc`` [min]."""
    s = doc.slots[slot]
    ahead = 0
    for r, tree in doc.trees:
        if r > rank:
            break
        ahead += tree.cnt[1]
    if doc.busy is not None:
        ahead += 1
    return (now if now > s.start else s.start) + ahead * doc.mean_consult(s)


def callable_count(doc: _Doctor) -> int:
    """Number of the doctor's callable tokens."""
    return sum(tree.cnt[1] for _, tree in doc.trees)


# ---------------------------------------------------------------------------------------------- reference


class ScanChoice:
    """The rule applied by looking at every doctor: O(doctors) per call; the reference :class:`EarliestCall`
    is tested against, and a model for a hospital's own rule."""

    __slots__ = ("_docs", "_er")

    def __init__(self, ranks: Sequence[int], emergency_rank: int) -> None:
        self._er = emergency_rank
        self._docs: list[_Doctor] = []

    def add(self, doctor: _Doctor) -> None:
        self._docs.append(doctor)
        self._docs.sort(key=lambda d: d.id)

    def touch(self, doctor: _Doctor) -> None:
        pass

    def for_emergency(self, now: float) -> _Doctor:
        return min(self._docs, key=lambda d: (emergency_estimate(d, now, self._er), callable_count(d), d.id))

    def for_booking(self, rank: int, now: float, excluded: Excluded) -> _Doctor | None:
        best: tuple[float, str] | None = None
        chosen = None
        for d in self._docs:
            slot = first_free_slot(d, now)
            if slot is None or excluded(d):
                continue
            key = (booking_estimate(d, slot, rank, now), d.id)
            if best is None or key < best:
                best, chosen = key, d
        return chosen

    def for_waitlist(self, now: float, excluded: Excluded) -> _Doctor | None:
        docs = [d for d in self._docs if not excluded(d)]
        return min(docs, key=lambda d: (d.wl_count, d.id)) if docs else None


# ---------------------------------------------------------------------------------------------- the index

# heap entries: (key..., id, version, doctor); (id, version) is unique within a heap, so a doctor is never compared
_EmEntry = tuple[float, int, str, int, _Doctor]
_BookEntry = tuple[float, str, int, _Doctor]


def _doc(entry: tuple[Any, ...]) -> _Doctor:
    doc: _Doctor = entry[-1]
    return doc


class EarliestCall:
    """The domain rule in O(log doctors) per choice (amortised over the changes reported)."""

    __slots__ = (
        "_book_later",
        "_book_now",
        "_book_ranks",
        "_count",
        "_dirty",
        "_em_later",
        "_em_now",
        "_er",
        "_only",
        "_timers",
        "_ver",
        "_wl",
    )

    def __init__(self, ranks: Sequence[int], emergency_rank: int) -> None:
        self._er = emergency_rank
        self._ver: dict[str, int] = {}
        self._count = 0  # doctors
        self._dirty: list[_Doctor] = []
        self._timers: list[tuple[float, str, int, _Doctor]] = []  # (instant the entries go stale, id, version)
        self._em_now: list[_EmEntry] = []  # key (callable emergencies x mean, callable tokens)
        self._em_later: list[_EmEntry] = []  # key (expected free + emergencies x mean, callable tokens)
        # booking heaps per rank, built on the first booking of that rank
        self._book_ranks: list[int] = []
        self._book_now: dict[int, list[_BookEntry]] = {}  # key (ahead x mean)
        self._book_later: dict[int, list[_BookEntry]] = {}  # key (slot start + ahead x mean)
        self._wl: list[tuple[int, str, int, _Doctor]] = []  # (waitlist length, id, version)
        self._only: _Doctor | None = None  # the one doctor of a one-doctor clinic: no index is needed

    def add(self, doctor: _Doctor) -> None:
        self._ver[doctor.id] = 0
        self._count += 1
        self._only = doctor if self._count == 1 else None
        self.touch(doctor)

    def touch(self, doctor: _Doctor) -> None:
        if not doctor.dirty:
            doctor.dirty = True
            self._dirty.append(doctor)

    def _refresh(self, now: float) -> None:
        timers = self._timers
        ver = self._ver
        while timers and timers[0][0] <= now:
            _, did, v, doc = heapq.heappop(timers)
            if ver[did] == v:
                self.touch(doc)
        if self._dirty:
            if len(self._wl) > 8 * self._count + 64:
                self._compact()
            for doc in self._dirty:
                doc.dirty = False
                self._index(doc, now)
            self._dirty.clear()

    def _compact(self) -> None:
        """Drop stale entries (each heap would otherwise grow with every change)."""
        ver = self._ver

        def fresh(heap: list[Any]) -> list[Any]:
            kept = [e for e in heap if ver[e[-1].id] == e[-2]]
            heapq.heapify(kept)
            return kept

        self._em_now = fresh(self._em_now)
        self._em_later = fresh(self._em_later)
        self._wl = fresh(self._wl)
        self._timers = fresh(self._timers)
        for r in self._book_ranks:
            self._book_now[r] = fresh(self._book_now[r])
            self._book_later[r] = fresh(self._book_later[r])

    def _index(self, doc: _Doctor, now: float) -> None:
        did = doc.id
        v = self._ver[did] + 1
        self._ver[did] = v
        stale = INF  # the next instant at which these entries stop being right
        ntok = 0
        for _, tree in doc.trees:
            ntok += tree.cnt[1]
        # emergency
        slots = doc.slots
        eidx = len(slots) - 1
        for s in slots:
            if s.end > now:
                eidx = s.index
                break
        es = slots[eidx]
        if doc.consult_n:
            mean = doc.consult_sum / doc.consult_n
        else:
            mean = (es.end - es.start) / es.cap
            if es.end > now:
                stale = es.end  # the next slot becomes the emergency slot, with its own mean
        em = len(doc.tree_of[self._er]) * mean
        busy = doc.busy
        if busy is not None:
            assert busy.called_at is not None
            expected = busy.called_at + mean
            if expected > now:
                heapq.heappush(self._em_later, (expected + em, ntok, did, v, doc))
                if expected < stale:
                    stale = expected
            else:
                heapq.heappush(self._em_now, (em, ntok, did, v, doc))
        else:
            heapq.heappush(self._em_now, (em, ntok, did, v, doc))
        # booking
        free = None
        for s in slots:
            if s.end > now and s.regular + s.emerg < s.cap:
                free = s
                break
        if free is not None and self._book_ranks:
            m = doc.consult_sum / doc.consult_n if doc.consult_n else (free.end - free.start) / free.cap
            later = now < free.start
            edge = free.start if later else free.end
            if edge < stale:
                stale = edge
            trees = doc.trees
            for rank in self._book_ranks:
                ahead = 0
                for r, tree in trees:
                    if r > rank:
                        break
                    ahead += tree.cnt[1]
                if busy is not None:
                    ahead += 1
                if later:
                    heapq.heappush(self._book_later[rank], (free.start + ahead * m, did, v, doc))
                else:
                    heapq.heappush(self._book_now[rank], (ahead * m, did, v, doc))
        heapq.heappush(self._wl, (doc.wl_count, did, v, doc))
        if stale < INF:
            heapq.heappush(self._timers, (stale, did, v, doc))

    def _head(self, heap: list[Any], excluded: Excluded | None) -> tuple[Any, ...] | None:
        """The first entry of ``heap`` that is current and not excluded (excluded ones are put back)."""
        ver = self._ver
        aside = []
        found: tuple[Any, ...] | None = None
        while heap:
            e = heap[0]
            doc = e[-1]
            if ver[doc.id] != e[-2]:
                heapq.heappop(heap)
                continue
            if excluded is not None and excluded(doc):
                aside.append(heapq.heappop(heap))
                continue
            found = e
            break
        for e in aside:
            heapq.heappush(heap, e)
        return found

    def for_emergency(self, now: float) -> _Doctor:
        if self._only is not None:
            return self._only
        self._refresh(now)
        a = self._head(self._em_now, None)
        b = self._head(self._em_later, None)
        if a is None:
            assert b is not None
            return _doc(b)
        if b is not None and (b[0], b[1], b[2]) < (now + a[0], a[1], a[2]):
            return _doc(b)
        return _doc(a)

    def for_booking(self, rank: int, now: float, excluded: Excluded) -> _Doctor | None:
        only = self._only
        if only is not None:
            return None if excluded(only) or first_free_slot(only, now) is None else only
        if rank not in self._book_now:
            self._book_ranks.append(rank)
            self._book_now[rank] = []
            self._book_later[rank] = []
            for doc in [e[-1] for e in self._wl if self._ver[e[-1].id] == e[-2]]:
                self.touch(doc)  # rebuild every doctor's entries, now for this rank too
        self._refresh(now)
        a = self._head(self._book_now[rank], excluded)
        b = self._head(self._book_later[rank], excluded)
        if a is None:
            return None if b is None else _doc(b)
        if b is not None and (b[0], b[1]) < (now + a[0], a[1]):
            return _doc(b)
        return _doc(a)

    def for_waitlist(self, now: float, excluded: Excluded) -> _Doctor | None:
        only = self._only
        if only is not None:
            return None if excluded(only) else only
        self._refresh(now)
        e = self._head(self._wl, excluded)
        return None if e is None else _doc(e)
