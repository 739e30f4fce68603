"""Time-driven changes: slot openings, wait-aging thresholds and no-show deadlines (lazy heaps).

The engine never reads a clock; these timers are only compared with the ``now`` of each call. Entries are
validated when they surface (a slot shifted by a delay, a token that moved or ended), so no operation scans.
"""

from __future__ import annotations

import heapq

from opdsim.engine._state import BOOKED, INF, _new, _Token
from opdsim.engine.events import SlotOpened, Upgraded
from opdsim.engine.fold import _Fold

__all__: list[str] = []


class _Timers(_Fold):
    def next_due(self) -> float | None:
        """Earliest time at which :meth:`tick` would change something, or None [min].

        That is the next slot start, no-show deadline (when ``auto_no_show``) or wait-aging threshold. A value
        below :attr:`now` means something is already due at the next call.
        """
        if self._closed:
            return None
        best = INF
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
            if t < best:
                best = t
            break
        if self._auto_no_show:
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
                if t < best:
                    best = t
                break
        return None if best == INF else best

    def _advance(self, now: float) -> None:
        """Bring time-driven state up to ``now``: open started slots, apply due wait-aging upgrades."""
        opens, waits = self._opens, self._waits
        while True:
            t_open = opens[0][0] if opens else INF
            t_wait = waits[0][0] if waits else INF
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
                self._emit(_new(SlotOpened, (now, doc_id, idx)))
            else:
                _, _, ver, tok = heapq.heappop(waits)
                if tok.in_tree and tok.wait_ver == ver:
                    self._emit(_new(Upgraded, (now, tok.id, self._target(tok.rank))))

    def _due_no_shows(self, now: float) -> list[_Token]:
        """Booked tokens whose no-show deadline has passed by ``now``, in (deadline, issue) order.

        The order must not depend on how stale the heap's entries were (a query such as :meth:`next_due`
        refreshes them), hence the collection and sort.
        """
        ns = self._noshows
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
        return [tok for _, _, tok in due]
