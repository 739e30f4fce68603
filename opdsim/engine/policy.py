"""The allocation policy: every rule of the engine that a hospital may tune."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from opdsim.engine.errors import InvalidPolicy
from opdsim.engine.types import Category

__all__ = ["DEFAULT_RANKS", "Policy"]

AgingMode = Literal["bypass", "wait", "none"]
AgingTarget = Literal["paid_priority", "step"]
OnFull = Literal["waitlist", "next_slot", "reject"]

DEFAULT_RANKS: Mapping[Category, int] = MappingProxyType({c: int(c) for c in Category})


def _frozen_ranks(ranks: Mapping[Category, int] | None) -> Mapping[Category, int]:
    return DEFAULT_RANKS if ranks is None else MappingProxyType(dict(ranks))


@dataclass(frozen=True, slots=True)
class Policy:
    """Tunable rules of the allocation engine (immutable; derive variants with ``dataclasses.replace``).

    Parameters
    ----------
    aging : {"bypass", "wait", "none"}
        Starvation rule. ``bypass`` upgrades a token once ``aging_threshold`` tokens with a later queue number
        were called before it while it was callable; ``wait`` once it has been callable for ``aging_threshold``
        minutes in all; ``none`` never upgrades.
    aging_threshold : float
        K bypasses (a whole number >= 1) or T minutes (> 0) [min], by ``aging``.
    aging_target : {"paid_priority", "step"}
        ``paid_priority`` raises the effective rank straight to PAID_PRIORITY's, once; ``step`` raises it to the
        next better rank in use at each further threshold crossing, until PAID_PRIORITY's.
    overflow_cap : int
        Emergencies a slot may hold beyond its capacity before one token is displaced (>= 0).
    max_displacements : int
        Times one token may be displaced by emergencies (>= 0).
    on_full : {"waitlist", "next_slot", "reject"}
        What a booking into a full slot (or a full day) does.
    no_show_grace : float
        Minutes after the later of slot start and seat time before a booked token is a no-show [min].
    auto_no_show : bool
        Whether ``tick`` marks no-shows by itself.
    ranks : Mapping[Category, int]
        Serving rank per category (lower is served first). Every category needs a rank; EMERGENCY must rank
        strictly best and PAID_PRIORITY strictly second best (aging's ceiling).
    """

    aging: AgingMode = "bypass"
    aging_threshold: float = 5
    aging_target: AgingTarget = "paid_priority"
    overflow_cap: int = 2
    max_displacements: int = 1
    on_full: OnFull = "waitlist"
    no_show_grace: float = 15.0
    auto_no_show: bool = True
    ranks: Mapping[Category, int] = field(default_factory=lambda: DEFAULT_RANKS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranks", _frozen_ranks(self.ranks))
        if self.aging not in ("bypass", "wait", "none"):
            raise InvalidPolicy(f"policy.aging: {self.aging!r} is not one of 'bypass', 'wait', 'none'")
        if self.aging_target not in ("paid_priority", "step"):
            raise InvalidPolicy(f"policy.aging_target: {self.aging_target!r} is not one of 'paid_priority', 'step'")
        if self.on_full not in ("waitlist", "next_slot", "reject"):
            raise InvalidPolicy(f"policy.on_full: {self.on_full!r} is not one of 'waitlist', 'next_slot', 'reject'")
        threshold = self.aging_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
            raise InvalidPolicy(f"policy.aging_threshold: {threshold!r} is not a finite number")
        if self.aging == "bypass" and (threshold < 1 or threshold != int(threshold)):
            raise InvalidPolicy(f"policy.aging_threshold: {threshold!r} must be a whole number >= 1 for bypass aging")
        if self.aging == "wait" and threshold <= 0:
            raise InvalidPolicy(f"policy.aging_threshold: {threshold!r} must be > 0 minutes for wait aging")
        for name in ("overflow_cap", "max_displacements"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidPolicy(f"policy.{name}: {value!r} must be a whole number >= 0")
        grace = self.no_show_grace
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not math.isfinite(grace) or grace < 0:
            raise InvalidPolicy(f"policy.no_show_grace: {grace!r} must be a finite number >= 0 minutes")
        if not isinstance(self.auto_no_show, bool):
            raise InvalidPolicy(f"policy.auto_no_show: {self.auto_no_show!r} is not true or false")
        missing = [c.name for c in Category if c not in self.ranks]
        if missing:
            raise InvalidPolicy(f"policy.ranks: no rank for {', '.join(missing)}")
        for cat, rank in self.ranks.items():
            if isinstance(rank, bool) or not isinstance(rank, int):
                raise InvalidPolicy(f"policy.ranks[{cat.name}]: {rank!r} is not a whole number")
        emergency = self.ranks[Category.EMERGENCY]
        paid = self.ranks[Category.PAID_PRIORITY]
        others = [r for c, r in self.ranks.items() if c not in (Category.EMERGENCY, Category.PAID_PRIORITY)]
        if not (emergency < paid and all(paid < r for r in others)):
            raise InvalidPolicy(
                f"policy.ranks: EMERGENCY ({emergency}) must rank strictly before PAID_PRIORITY ({paid}), "
                f"and PAID_PRIORITY strictly before every other category"
            )

    @property
    def ceiling(self) -> int:
        """The best effective rank aging may give: PAID_PRIORITY's rank."""
        return self.ranks[Category.PAID_PRIORITY]

    def rank(self, category: Category) -> int:
        """Serving rank of ``category`` under this policy."""
        return self.ranks[category]

    def as_dict(self) -> dict[str, object]:
        """Plain, comparable form (ranks keyed by category name)."""
        return {
            "aging": self.aging,
            "aging_threshold": self.aging_threshold,
            "aging_target": self.aging_target,
            "overflow_cap": self.overflow_cap,
            "max_displacements": self.max_displacements,
            "on_full": self.on_full,
            "no_show_grace": self.no_show_grace,
            "auto_no_show": self.auto_no_show,
            "ranks": {c.name: r for c, r in sorted(self.ranks.items())},
        }
