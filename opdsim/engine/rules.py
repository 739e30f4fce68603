"""The rules a hospital may want to change, each a small object behind a documented protocol.

In the spirit of Ciw's queue disciplines (plain functions of the waiting individuals and the time), the engine
asks three replaceable rules:

* :class:`AgingRule`: when a callable token's effective rank improves, and to which rank;
* :class:`DisplacementRule`: which token an emergency past the cap pushes out of its slot;
* :class:`~opdsim.engine.choice.DoctorChoice` (in :mod:`opdsim.engine.choice`): which doctor a booking or an
  emergency without a named doctor goes to.

The defaults implement the domain rules from the :class:`~opdsim.engine.policy.Policy`; pass others with
``Engine(policy, rules=Rules(...))`` (and the same to :meth:`Engine.replay`, since a rule is code, not data in
the log). Whatever the rule says, the engine keeps its invariants: an emergency is never upgraded or displaced,
and aging never gives a token a better effective rank than PAID_PRIORITY's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from opdsim.engine.policy import Policy

if TYPE_CHECKING:
    from opdsim.engine.choice import DoctorChoice

__all__ = [
    "AgingRule",
    "DisplacementRule",
    "LowestPriorityLatest",
    "PolicyAging",
    "Rules",
]


class AgingRule(Protocol):
    """When a callable token is upgraded, and to which effective rank.

    The engine counts, per callable token, the bypasses (tokens checked in later but called first) and the
    minutes callable, both summed across displacements and promotions, and the upgrades so far. It asks the rule
    for the totals at which the next upgrade is due; the first total reached wins.
    """

    def bypass_threshold(self, upgrades: int) -> int | None:
        """Bypasses in all at which the token's next upgrade (after ``upgrades`` of them) is due; None: never."""
        ...

    def wait_threshold(self, upgrades: int) -> float | None:
        """Minutes callable in all at which the next upgrade is due [min]; None: never."""
        ...

    def target(self, rank: int) -> int:
        """The effective rank an upgrade from ``rank`` gives (the engine never goes above the ceiling)."""
        ...


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


class DisplacementRule(Protocol):
    """Which token an emergency past a slot's cap displaces.

    Among the slot's booked or checked-in, non-emergency tokens not yet called and displaced fewer than
    ``max_displacements`` times, the engine displaces the one with the smallest :meth:`key`.
    """

    def key(self, rank: int, issue: int) -> tuple[int, ...]:
        """Displacement order of a token of effective ``rank`` issued ``issue``-th (smallest goes first)."""
        ...


class LowestPriorityLatest:
    """The default victim: the largest ``(effective_rank, issue order)``, i.e. lowest priority, latest issued."""

    __slots__ = ()

    def key(self, rank: int, issue: int) -> tuple[int, ...]:
        return (-rank, -issue)


@dataclass(frozen=True, slots=True)
class Rules:
    """Replacements for the engine's default rules; a field left None keeps the policy's default.

    ``choice`` is a factory: it receives the engine's doctor-reading helpers and returns a fresh
    :class:`~opdsim.engine.choice.DoctorChoice` (one per engine, since a choice keeps an index of doctors).
    """

    aging: AgingRule | None = None
    displacement: DisplacementRule | None = None
    choice: Callable[[Sequence[int], int], DoctorChoice] | None = None
