"""The engine's default rules (the domain rules of DESIGN section 1), re-exported by :mod:`opdsim.engine.rules`.

They live apart from the protocols so that the compiled build compiles them: the engine asks them about every
callable token and every seat, and an interpreted rule costs a Python call each time.
"""

from __future__ import annotations

from opdsim.engine.policy import Policy

__all__ = ["LowestPriorityLatest", "PolicyAging"]


class PolicyAging:
    """The policy's aging (the domain rules): ``bypass`` K, ``wait`` T or ``none``, to ``paid_priority``
    straight away (once) or by ``step`` to the next better rank in use at each further crossing."""

    __slots__ = ("_bypass", "_ceiling", "_step_to", "_wait")

    def __init__(self, policy: Policy) -> None:
        self._bypass = int(policy.aging_threshold) if policy.aging == "bypass" else 0
        self._wait = float(policy.aging_threshold) if policy.aging == "wait" else 0.0
        self._ceiling = policy.ceiling
        ranks = sorted(set(policy.ranks.values()))
        step = policy.aging_target == "step"
        # rank -> the rank its upgrade gives: the next better rank in use (step) or the ceiling
        self._step_to: dict[int, int] = {}
        for r in ranks:
            better = [b for b in ranks if self._ceiling <= b < r]
            self._step_to[r] = (better[-1] if step else self._ceiling) if better else self._ceiling

    def bypass_threshold(self, upgrades: int) -> int | None:
        return (upgrades + 1) * self._bypass if self._bypass else None

    def wait_threshold(self, upgrades: int) -> float | None:
        return (upgrades + 1) * self._wait if self._wait else None

    def target(self, rank: int) -> int:
        return self._step_to.get(rank, self._ceiling)


class LowestPriorityLatest:
    """The default victim: the largest ``(effective_rank, issue order)``, i.e. lowest priority, latest issued."""

    __slots__ = ()

    def key(self, rank: int, issue: int) -> tuple[int, ...]:
        return (-rank, -issue)
