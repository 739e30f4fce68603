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
ends); older entries are skipped when they surface (a version number per doctor). The booking, emergency and
waitlist entries are three families, each rebuilt only when a choice of its kind is asked for: in a large clinic
most doctors change between two walk-ins, and a walk-in's choice then rebuilds only their booking entries.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from opdsim.engine._state import INF, _Doctor

__all__ = [
    "SCAN_UP_TO",
    "DoctorChoice",
    "EarliestCall",
    "ScanChoice",
    "booking_estimate",
    "emergency_estimate",
    "emergency_slot",
    "expected_free",
    "first_free_slot",
    "tokens_ahead",
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


def expected_free(doc: _Doctor, mean: float, now: float) -> float | None:
    """When the patient being seen is expected to leave (the call plus ``mean`` [min]), if after ``now``; else
    None (the doctor is idle, or overrunning: free now)."""
    busy = doc.busy
    if busy is None:
        return None
    assert busy.called_at is not None
    expected = busy.called_at + mean
    return expected if expected > now else None


def emergency_estimate(doc: _Doctor, now: float, emergency_rank: int) -> float:
    """Estimated call time of an emergency seated at ``doc`` at ``now`` [min]."""
    mean = doc.mean_consult(doc.slots[emergency_slot(doc, now)])
    expected = expected_free(doc, mean, now)
    return (now if expected is None else expected) + len(doc.tree_of[emergency_rank]) * mean


def first_free_slot(doc: _Doctor, now: float) -> int | None:
    """The earliest slot of ``doc`` that has not ended and has a free seat, or None."""
    for s in doc.slots:
        if s.end > now and s.regular + s.emerg < s.cap:
            return s.index
    return None


def tokens_ahead(doc: _Doctor, rank: int) -> int:
    """Who a new token of effective ``rank`` waits for at ``doc``: its callable tokens of that rank or better,
    plus one if the doctor is busy."""
    ahead = 0 if doc.busy is None else 1
    for r, tree in doc.trees:
        if r > rank:
            break
        ahead += tree.cnt[1]
    return ahead


def booking_estimate(doc: _Doctor, slot: int, rank: int, now: float) -> float:
    """Estimated call time of a new token of effective ``rank`` seated in ``slot`` of ``doc`` [min]."""
    s = doc.slots[slot]
    return (now if now > s.start else s.start) + tokens_ahead(doc, rank) * doc.mean_consult(s)


def callable_count(doc: _Doctor) -> int:
    """Number of the doctor's callable tokens."""
    count = 0
    for _, tree in doc.trees:
        count += tree.cnt[1]
    return count


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
_Timer = tuple[float, str, int, _Doctor]  # (instant the entries go stale, id, version, doctor)

# The index keeps three families of entries, each rebuilt only when a choice needs it: a walk-in's booking does
# not pay for the emergency and waitlist entries of every doctor that changed since the last choice.
_BOOK: Final = 1
_EM: Final = 2
_WL: Final = 4
_ALL: Final = 7


def _doc(entry: tuple[Any, ...]) -> _Doctor:
    doc: _Doctor = entry[-1]
    return doc


def _fresh(heap: list[Any], ver: dict[str, int]) -> list[Any]:
    """The heap without its stale entries."""
    kept = [e for e in heap if ver[e[-1].id] == e[-2]]
    heapq.heapify(kept)
    return kept


#: Doctors up to which :class:`EarliestCall` looks at each doctor rather than keep its index: in a small clinic a
#: look at every doctor costs less than rebuilding the entries of the doctors that changed since the last choice
#: (a walk-in's choice at 3 doctors took about 16,000 instructions through the index; ``make bench`` compares).
SCAN_UP_TO: Final = 8


class EarliestCall:
    """The domain rule in O(log doctors) per choice (amortised over the changes reported).

    Parameters
    ----------
    ranks : sequence of int
        The ranks in use.
    emergency_rank : int
        The rank of an emergency.
    scan_up_to : int
        With at most this many doctors, each choice looks at every doctor instead of the index; it makes the
        same choice, bit for bit (the index is built, from every doctor, once the clinic grows past it).
    """

    __slots__ = (
        "_book_later",
        "_book_now",
        "_book_ranks",
        "_count",
        "_dirty_book",
        "_dirty_em",
        "_dirty_wl",
        "_docs",
        "_em_later",
        "_em_now",
        "_er",
        "_only",
        "_pushes",
        "_scan_up_to",
        "_timers_book",
        "_timers_em",
        "_ver_book",
        "_ver_em",
        "_ver_wl",
        "_wl",
    )

    def __init__(self, ranks: Sequence[int], emergency_rank: int, scan_up_to: int = SCAN_UP_TO) -> None:
        self._er = emergency_rank
        self._scan_up_to = scan_up_to  # with at most this many doctors, look at each instead of the index
        self._count = 0  # doctors
        self._docs: list[_Doctor] = []
        # per family: the doctors changed since its entries were built, and each doctor's entry version
        self._dirty_book: list[_Doctor] = []
        self._dirty_em: list[_Doctor] = []
        self._dirty_wl: list[_Doctor] = []
        self._ver_book: dict[str, int] = {}
        self._ver_em: dict[str, int] = {}
        self._ver_wl: dict[str, int] = {}
        self._pushes = [0, 0, 0]  # entries pushed per family (book, em, wl) since its heaps were last compacted
        self._timers_book: list[_Timer] = []
        self._timers_em: list[_Timer] = []
        self._em_now: list[_EmEntry] = []  # key (callable emergencies x mean, callable tokens)
        self._em_later: list[_EmEntry] = []  # key (expected free + emergencies x mean, callable tokens)
        # booking heaps per rank, built on the first booking of that rank
        self._book_ranks: list[int] = []
        self._book_now: dict[int, list[_BookEntry]] = {}  # key (ahead x mean)
        self._book_later: dict[int, list[_BookEntry]] = {}  # key (slot start + ahead x mean)
        self._wl: list[tuple[int, str, int, _Doctor]] = []  # (waitlist length, id, version)
        self._only: _Doctor | None = None  # the one doctor of a one-doctor clinic: no index is needed

    def add(self, doctor: _Doctor) -> None:
        for ver in (self._ver_book, self._ver_em, self._ver_wl):
            ver[doctor.id] = 0
        self._docs.append(doctor)
        self._count += 1
        self._only = doctor if self._count == 1 else None
        doctor.dirty = 0
        self.touch(doctor)

    def touch(self, doctor: _Doctor) -> None:
        d = doctor.dirty
        if d != _ALL:
            if not d & _BOOK:
                self._dirty_book.append(doctor)
            if not d & _EM:
                self._dirty_em.append(doctor)
            if not d & _WL:
                self._dirty_wl.append(doctor)
            doctor.dirty = _ALL

    def _mark(self, doc: _Doctor, family: int, dirty: list[_Doctor]) -> None:
        if not doc.dirty & family:
            doc.dirty |= family
            dirty.append(doc)

    def _expire(self, timers: list[_Timer], ver: dict[str, int], family: int, dirty: list[_Doctor], now: float) -> None:
        """Mark for rebuilding the doctors whose entries of ``family`` have gone stale by ``now``."""
        while timers and timers[0][0] <= now:
            _, did, v, doc = heapq.heappop(timers)
            if ver[did] == v:
                self._mark(doc, family, dirty)

    # -- the booking family

    def _refresh_book(self, now: float) -> None:
        ver = self._ver_book
        dirty = self._dirty_book
        self._expire(self._timers_book, ver, _BOOK, dirty, now)
        if dirty:
            if self._pushes[0] > 8 * self._count + 64:
                for r in self._book_ranks:
                    self._book_now[r] = _fresh(self._book_now[r], ver)
                    self._book_later[r] = _fresh(self._book_later[r], ver)
                self._timers_book = _fresh(self._timers_book, ver)
                self._pushes[0] = 0
            for doc in dirty:
                doc.dirty &= ~_BOOK
                self._index_book(doc, now)
            dirty.clear()

    def _index_book(self, doc: _Doctor, now: float) -> None:
        did = doc.id
        v = self._ver_book[did] + 1
        self._ver_book[did] = v
        index = first_free_slot(doc, now)
        if index is None or not self._book_ranks:
            return
        self._pushes[0] += 1
        free = doc.slots[index]
        m = doc.mean_consult(free)
        later = now < free.start
        # the entries hold until the slot starts (their key changes form) or ends (another slot is the free one)
        heapq.heappush(self._timers_book, (free.start if later else free.end, did, v, doc))
        for rank in self._book_ranks:
            ahead = tokens_ahead(doc, rank)
            if later:
                heapq.heappush(self._book_later[rank], (free.start + ahead * m, did, v, doc))
            else:
                heapq.heappush(self._book_now[rank], (ahead * m, did, v, doc))

    # -- the emergency family

    def _refresh_em(self, now: float) -> None:
        ver = self._ver_em
        dirty = self._dirty_em
        self._expire(self._timers_em, ver, _EM, dirty, now)
        if dirty:
            if self._pushes[1] > 8 * self._count + 64:
                self._em_now = _fresh(self._em_now, ver)
                self._em_later = _fresh(self._em_later, ver)
                self._timers_em = _fresh(self._timers_em, ver)
                self._pushes[1] = 0
            for doc in dirty:
                doc.dirty &= ~_EM
                self._index_em(doc, now)
            dirty.clear()

    def _index_em(self, doc: _Doctor, now: float) -> None:
        did = doc.id
        v = self._ver_em[did] + 1
        self._ver_em[did] = v
        self._pushes[1] += 1
        stale = INF  # the next instant at which this entry stops being right
        ntok = callable_count(doc)
        es = doc.slots[emergency_slot(doc, now)]
        mean = doc.mean_consult(es)
        if not doc.consult_n and es.end > now:
            stale = es.end  # the next slot becomes the emergency slot, with its own mean
        em = len(doc.tree_of[self._er]) * mean
        expected = expected_free(doc, mean, now)
        if expected is None:
            heapq.heappush(self._em_now, (em, ntok, did, v, doc))
        else:
            heapq.heappush(self._em_later, (expected + em, ntok, did, v, doc))
            if expected < stale:
                stale = expected
        if stale < INF:
            heapq.heappush(self._timers_em, (stale, did, v, doc))

    # -- the waitlist family (no entry goes stale with time)

    def _refresh_wl(self) -> None:
        dirty = self._dirty_wl
        if dirty:
            ver = self._ver_wl
            if self._pushes[2] > 8 * self._count + 64:
                self._wl = _fresh(self._wl, ver)
                self._pushes[2] = 0
            self._pushes[2] += len(dirty)
            for doc in dirty:
                doc.dirty &= ~_WL
                did = doc.id
                v = ver[did] + 1
                ver[did] = v
                heapq.heappush(self._wl, (doc.wl_count, did, v, doc))
            dirty.clear()

    def _head(self, heap: list[Any], ver: dict[str, int], excluded: Excluded | None) -> tuple[Any, ...] | None:
        """The first entry of ``heap`` that is current and not excluded (excluded ones are put back)."""
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
        if self._count <= self._scan_up_to:
            return self._scan_emergency(now)
        self._refresh_em(now)
        a = self._head(self._em_now, self._ver_em, None)
        b = self._head(self._em_later, self._ver_em, None)
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
        if self._count <= self._scan_up_to:
            return self._scan_booking(rank, now, excluded)
        if rank not in self._book_now:
            self._book_ranks.append(rank)
            self._book_now[rank] = []
            self._book_later[rank] = []
            for doc in self._docs:  # rebuild every doctor's booking entries, now for this rank too
                self._mark(doc, _BOOK, self._dirty_book)
        self._refresh_book(now)
        a = self._head(self._book_now[rank], self._ver_book, excluded)
        b = self._head(self._book_later[rank], self._ver_book, excluded)
        if a is None:
            return None if b is None else _doc(b)
        if b is not None and (b[0], b[1]) < (now + a[0], a[1]):
            return _doc(b)
        return _doc(a)

    def for_waitlist(self, now: float, excluded: Excluded) -> _Doctor | None:
        only = self._only
        if only is not None:
            return None if excluded(only) else only
        if self._count <= self._scan_up_to:
            return self._scan_waitlist(excluded)
        self._refresh_wl()
        e = self._head(self._wl, self._ver_wl, excluded)
        return None if e is None else _doc(e)

    # -- a small clinic: the same answers from a look at every doctor (the keys and comparisons of the index)

    def _scan_emergency(self, now: float) -> _Doctor:
        er = self._er
        a: _Doctor | None = None  # best of the doctors free now, by (emergencies x mean, callable tokens, id)
        a_key, a_ntok, a_id = INF, 0, ""
        b: _Doctor | None = None  # best of the doctors free later, by (expected free + that, callable, id)
        b_key, b_ntok, b_id = INF, 0, ""
        for doc in self._docs:
            ntok = callable_count(doc)
            mean = doc.mean_consult(doc.slots[emergency_slot(doc, now)])
            em = len(doc.tree_of[er]) * mean
            did = doc.id
            expected = expected_free(doc, mean, now)
            if expected is None:
                if a is None or _before(em, ntok, did, a_key, a_ntok, a_id):
                    a, a_key, a_ntok, a_id = doc, em, ntok, did
            else:
                key = expected + em
                if b is None or _before(key, ntok, did, b_key, b_ntok, b_id):
                    b, b_key, b_ntok, b_id = doc, key, ntok, did
        if a is None:
            assert b is not None
            return b
        if b is not None and _before(b_key, b_ntok, b_id, now + a_key, a_ntok, a_id):
            return b
        return a

    def _scan_booking(self, rank: int, now: float, excluded: Excluded) -> _Doctor | None:
        a: _Doctor | None = None  # best of the doctors whose free slot has started, by (ahead x mean, id)
        a_key, a_id = INF, ""
        b: _Doctor | None = None  # best of those whose free slot starts later, by (start + ahead x mean, id)
        b_key, b_id = INF, ""
        for doc in self._docs:
            index = first_free_slot(doc, now)
            if index is None or excluded(doc):
                continue
            free = doc.slots[index]
            x = tokens_ahead(doc, rank) * doc.mean_consult(free)
            did = doc.id
            if now < free.start:
                key = free.start + x
                if b is None or key < b_key or (key == b_key and did < b_id):
                    b, b_key, b_id = doc, key, did
            else:
                key = x
                if a is None or key < a_key or (key == a_key and did < a_id):
                    a, a_key, a_id = doc, key, did
        if a is None:
            return b
        start = now + a_key
        if b is not None and (b_key < start or (b_key == start and b_id < a_id)):
            return b
        return a

    def _scan_waitlist(self, excluded: Excluded) -> _Doctor | None:
        best: _Doctor | None = None
        for doc in self._docs:
            if best is not None and (
                doc.wl_count > best.wl_count or (doc.wl_count == best.wl_count and doc.id > best.id)
            ):
                continue
            if not excluded(doc):
                best = doc
        return best


def _before(key: float, ntok: int, did: str, key2: float, ntok2: int, did2: str) -> bool:
    """``(key, ntok, did) < (key2, ntok2, did2)``, without building the tuples."""
    if key != key2:
        return key < key2
    if ntok != ntok2:
        return ntok < ntok2
    return did < did2
