"""Bypass aging: after a call, upgrade the tokens of worse ranks that reached their threshold.

The rule (when, and to which rank) is an :class:`~opdsim.engine.rules.AgingRule`; the counting lives in the
per-rank trees (:mod:`opdsim.engine._tree`): a call subtracts one from every earlier token of a worse rank, and
the tokens whose remaining count fell to zero are due. Wait aging is driven by the timers
(:mod:`opdsim.engine.timers`).
"""

from __future__ import annotations

from opdsim.engine._state import _Doctor, _new
from opdsim.engine.events import Upgraded
from opdsim.engine.rebalance import _Rebalance

__all__: list[str] = []


class _Aging(_Rebalance):
    def _upgrade_bypassed(self, doc: _Doctor, called_rank: int, now: float) -> None:
        for rank, tree in doc.trees:
            if rank <= called_rank or not tree.cnt[1]:
                continue
            while True:
                pos = tree.due()
                if pos is None:
                    break
                tok = doc.by_pos[pos]
                self._emit(_new(Upgraded, (now, tok.id, self._target(tok.rank))))
