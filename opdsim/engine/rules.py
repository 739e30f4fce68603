"""The rules a hospital may want to change, each a small object behind a documented protocol.

In the spirit of Ciw's queue disciplines (plain functions of the waiting individuals and the time), the engine
asks three replaceable rules:

* :class:`AgingRule`: when a callable token's effective rank improves, and to which rank;
* :class:`DisplacementRule`: which token an emergency past the cap pushes out of its slot;
* :class:`~opdsim.engine.choice.DoctorChoice` (in :mod:`opdsim.engine.choice`): which doctor a booking or an
  emergency without a named doctor goes to.

The defaults (:class:`PolicyAging`, :class:`LowestPriorityLatest`, defined in :mod:`opdsim.engine.defaults`,
which the compiled build compiles) implement the domain rules from the :class:`~opdsim.engine.policy.Policy`;
pass others with
``Engine(policy, rules=Rules(...))`` (and the same to :meth:`Engine.replay`, since a rule is code, not data in
the log). Whatever the rule says, the engine keeps its invariants: an emergency is never upgraded or displaced,
and aging never gives a token a better effective rank than PAID_PRIORITY's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from opdsim.engine.defaults import LowestPriorityLatest, PolicyAging

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


class DisplacementRule(Protocol):
    """Which token an emergency past a slot's cap displaces.

    Among the slot's booked or checked-in, non-emergency tokens not yet called and displaced fewer than
    ``max_displacements`` times, the engine displaces the one with the smallest :meth:`key`.
    """

    def key(self, rank: int, issue: int) -> tuple[int, ...]:
        """Displacement order of a token of effective ``rank`` issued ``issue``-th (smallest goes first)."""
        ...


@dataclass(frozen=True, slots=True)
class Rules:
    """Replacements for the engine's default rules; a field left None keeps the policy's default.

    ``choice`` is a factory: it receives the engine's doctor-reading helpers and returns a fresh
    :class:`~opdsim.engine.choice.DoctorChoice` (one per engine, since a choice keeps an index of doctors).
    """

    aging: AgingRule | None = None
    displacement: DisplacementRule | None = None
    choice: Callable[[Sequence[int], int], DoctorChoice] | None = None
