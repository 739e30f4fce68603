"""The steady-state open-access clinic used to validate the model against queueing theory.

Poisson arrivals per category, exponential consultations, one slot per doctor that never fills, no no-shows,
no breaks: with one doctor it is exactly the non-preemptive priority M/M/1 queue. Patients arriving during the
warm-up are left out of the frames; patients still waiting at the horizon are counted with their wait so far.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from opdsim.engine import Category, Policy

if TYPE_CHECKING:
    from opdsim.sim.simulate import PlannedDay
    from opdsim.sim.streams import Streams

__all__ = ["OpenAccess"]


@dataclass(frozen=True)
class OpenAccess:
    """An open-access clinic (see the module docstring).

    Parameters
    ----------
    doctors : int
        Number of doctors, each with a queue of their own (>= 1).
    arrival_rates : Mapping[Category, float]
        Patients per hour by category [1/h]; EMERGENCY ones enter through ``Engine.emergency``.
    service_mean : float
        Mean consultation length, exponential, the same for every category [min].
    horizon : float
        Length of the run [min]; the day closes here.
    warmup : float
        Patients arriving before this time are left out of the frames [min].
    policy : Policy
        The engine policy.
    """

    doctors: int
    arrival_rates: Mapping[Category, float]
    service_mean: float
    horizon: float
    warmup: float = 0.0
    policy: Policy = field(default_factory=Policy)
    name: str = "open_access"
    starvation_limit: float = 120.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrival_rates", MappingProxyType(dict(self.arrival_rates)))
        if isinstance(self.doctors, bool) or not isinstance(self.doctors, int) or self.doctors < 1:
            raise ValueError(f"doctors: {self.doctors!r} must be a whole number >= 1")
        for cat, rate in self.arrival_rates.items():
            if not isinstance(cat, Category):
                raise ValueError(f"arrival_rates: key {cat!r} is not a Category")
            if not (isinstance(rate, int | float) and math.isfinite(rate) and rate >= 0):
                raise ValueError(f"arrival_rates[{cat.name}]: {rate!r} must be a finite number >= 0")
        if not (self.service_mean > 0 and math.isfinite(self.service_mean)):
            raise ValueError(f"service_mean: {self.service_mean!r} must be > 0 minutes")
        if not (self.horizon > 0 and math.isfinite(self.horizon)):
            raise ValueError(f"horizon: {self.horizon!r} must be > 0 minutes")
        if not 0 <= self.warmup < self.horizon:
            raise ValueError(f"warmup: {self.warmup!r} must be >= 0 and below the horizon {self.horizon!r}")

    def plan_day(self, streams: Streams) -> PlannedDay:
        """One run's plan for the day runner (the :class:`~opdsim.sim.simulate.DaySpec` protocol)."""
        from opdsim.sim.simulate import plan_open_access

        return plan_open_access(self, streams)

    @property
    def offered_load(self) -> float:
        """Utilisation per doctor, rho = lambda / (c mu)."""
        lam = sum(self.arrival_rates.values()) / 60.0
        return lam * self.service_mean / self.doctors
