"""A per-rank index of callable tokens: a bottom-up segment tree over queue positions.

Each leaf is one queue position at one doctor (positions are given in check-in order, so they order tokens as
``queue_seq`` does). An occupied leaf holds ``threshold - bypasses`` for its token: the bypasses still needed
before the token is upgraded. The tree answers, in O(log n):

* the first occupied position (the next token of this rank to call);
* how many occupied positions lie before a position (tokens ahead of it within its rank);
* "every token before position p was bypassed once" (a range add of -1 over the prefix [0, p), skipped when no
  token is in it);
* which tokens have reached their threshold (leaves whose value fell to 0 or below).

The range add uses the non-recursive layout with per-node pending adds (``t[i] = min(children) + d[i]``), so no
push-down is needed and no operation visits more than two root-to-leaf paths.
"""

from __future__ import annotations

from typing import Final

__all__ = ["EMPTY", "RankTree"]

# Value of an unoccupied leaf: far above any threshold (at most 2**40), so never "due". Below 2**62, so that the
# compiled build holds it, and every sum with it, as an unboxed machine integer rather than a Python int object.
EMPTY: Final = 1 << 61
_SMALL: Final = 64  # positions of a new tree, and of one reset after its queue emptied


def _arrays(n: int) -> tuple[list[int], list[int], list[int]]:
    """Empty ``val``, ``pend`` and ``cnt`` arrays of a tree of ``n`` positions (``n`` a power of two)."""
    return [EMPTY] * (2 * n), [0] * n, [0] * (2 * n)


class RankTree:
    """Segment tree with range add, min and occupancy count over positions ``0 .. size - 1``."""

    __slots__ = ("cnt", "pend", "size", "val")

    def __init__(self, size: int = _SMALL) -> None:
        n = 1
        while n < size:
            n <<= 1
        self.size = n
        # val: subtree min, without the pending adds of strict ancestors; pend: pending add of each internal node,
        # applied to its whole subtree; cnt: occupied leaves per subtree
        self.val, self.pend, self.cnt = _arrays(n)

    def reset(self) -> None:
        """Make an empty tree small again (every position must be free).

        Positions only grow while a doctor's queue is never empty, and the tree with them; when the queue empties
        they start again from 0. Without this, one long busy period would leave every later operation walking the
        deep tree it needed (512 positions, nine levels, in a 50,000-patient open-access run, where most busy
        periods need fewer than 64).
        """
        assert not self.cnt[1], "reset of a tree that still holds a token"
        if self.size > _SMALL:
            self.size = _SMALL
            self.val, self.pend, self.cnt = _arrays(_SMALL)

    def __len__(self) -> int:
        return self.cnt[1]

    def _grow(self, pos: int) -> None:
        """Double the positions until ``pos`` fits, keeping every value and pending add."""
        while self.size <= pos:
            self._double()

    def _double(self) -> None:
        """Twice the positions: the old tree becomes the new root's left subtree, level by level.

        Old level ``[lo, 2 lo)`` (the root's is ``[1, 2)``) becomes new ``[2 lo, 3 lo)``: each node keeps its
        children, its minimum and its pending add, so every true value stands; the right subtree starts empty.
        Slices copy in C, about 50 times faster than rebuilding node by node (a standard day grows its trees
        nine times).
        """
        n = self.size
        m = 2 * n
        val, pend, cnt = _arrays(m)
        old_val, old_pend, old_cnt = self.val, self.pend, self.cnt
        lo = 1
        while lo < m:
            val[2 * lo : 3 * lo] = old_val[lo : 2 * lo]
            cnt[2 * lo : 3 * lo] = old_cnt[lo : 2 * lo]
            if lo < n:  # internal nodes only: leaves have no pending add
                pend[2 * lo : 3 * lo] = old_pend[lo : 2 * lo]
            lo *= 2
        a, b = val[2], val[3]
        val[1] = a if a < b else b  # the new root's pending add is 0
        cnt[1] = cnt[2]
        self.size, self.val, self.pend, self.cnt = m, val, pend, cnt

    def _pull(self, i: int, d: int) -> None:
        """Recompute the ancestors of node ``i`` after a change below them that changed its occupancy by ``d``.

        The counts change all the way up; the minima only until one comes out as it was, since every minimum
        above it then is as it was too. Stopping there saves most of the path's writes, each of which boxes a
        new integer in the compiled build.
        """
        val, pend, cnt = self.val, self.pend, self.cnt
        i >>= 1
        while i:
            cnt[i] += d
            a, b = val[2 * i], val[2 * i + 1]
            v = (a if a < b else b) + pend[i]
            if val[i] == v:
                i >>= 1
                while i:
                    cnt[i] += d
                    i >>= 1
                return
            val[i] = v
            i >>= 1

    def _above(self, leaf: int) -> int:
        """Sum of the pending adds of the strict ancestors of node ``leaf``."""
        pend = self.pend
        s = 0
        i = leaf >> 1
        while i:
            s += pend[i]
            i >>= 1
        return s

    def insert(self, pos: int, value: int) -> None:
        """Occupy ``pos`` with true value ``value``."""
        if pos >= self.size:
            self._grow(pos)
        leaf = pos + self.size
        self.val[leaf] = value - self._above(leaf)
        self.cnt[leaf] = 1
        self._pull(leaf, 1)

    def remove(self, pos: int) -> int:
        """Free ``pos`` and return the true value it held."""
        leaf = pos + self.size
        value = self.val[leaf] + self._above(leaf)
        self.val[leaf] = EMPTY
        self.cnt[leaf] = 0
        self._pull(leaf, -1)
        return value

    def value(self, pos: int) -> int:
        """True value at occupied position ``pos``."""
        leaf = pos + self.size
        return self.val[leaf] + self._above(leaf)

    def first(self) -> int:
        """Smallest occupied position (the tree must not be empty)."""
        cnt = self.cnt
        i = 1
        n = self.size
        while i < n:
            i <<= 1
            if not cnt[i]:
                i += 1
        return i - n

    def count_before(self, pos: int) -> int:
        """Occupied positions strictly below ``pos``."""
        cnt = self.cnt
        n = self.size
        if pos >= n:
            return cnt[1]
        lo, hi = n, pos + n
        s = 0
        while lo < hi:
            if lo & 1:
                s += cnt[lo]
                lo += 1
            if hi & 1:
                hi -= 1
                s += cnt[hi]
            lo >>= 1
            hi >>= 1
        return s

    def add_prefix(self, pos: int, delta: int) -> None:
        """Add ``delta`` to every occupied position strictly below ``pos``.

        Free positions hold no value (:meth:`insert` sets the true value whatever was added before), so with no
        occupied position below ``pos`` nothing is done: two thirds of the calls of a standard day, each of
        which would otherwise rewrite two root-to-leaf paths.
        """
        n = self.size
        if pos > n:
            pos = n
        if pos <= 0 or not self.cnt[1] or self.first() >= pos:
            return
        val, pend = self.val, self.pend
        lo, hi = n, pos + n
        last = hi - 1
        while lo < hi:
            if lo & 1:
                val[lo] += delta
                if lo < n:
                    pend[lo] += delta
                lo += 1
            if hi & 1:
                hi -= 1
                val[hi] += delta
                if hi < n:
                    pend[hi] += delta
            lo >>= 1
            hi >>= 1
        # recompute the mins on the two boundary paths (occupancy is unchanged by an add); they join below the root
        a, b = n >> 1, last >> 1
        while a:
            x, y = val[2 * a], val[2 * a + 1]
            val[a] = (x if x < y else y) + pend[a]
            if b != a:
                x, y = val[2 * b], val[2 * b + 1]
                val[b] = (x if x < y else y) + pend[b]
            a >>= 1
            b >>= 1

    def due(self) -> int | None:
        """An occupied position whose true value is <= 0 (the leftmost), or None."""
        val, pend = self.val, self.pend
        if val[1] > 0:
            return None
        n = self.size
        i = 1
        acc = 0
        while i < n:
            acc += pend[i]
            i <<= 1
            if val[i] + acc > 0:
                i += 1
        return i - n
