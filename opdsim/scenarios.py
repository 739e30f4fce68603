"""Ready-made clinics: the open-access steady-state model used for validation."""

from __future__ import annotations

from collections.abc import Mapping

from opdsim.engine import Category, Policy
from opdsim.sim.open_access import OpenAccess

__all__ = ["OpenAccess", "open_access"]


def open_access(
    doctors: int,
    arrival_rates: Mapping[Category, float],
    service_mean: float,
    horizon: float,
    warmup: float = 0.0,
    policy: Policy | None = None,
) -> OpenAccess:
    """Build the steady-state open-access clinic (see :class:`~opdsim.sim.open_access.OpenAccess`).

    Parameters
    ----------
    doctors : int
        Number of doctors (per-doctor queues; the engine assigns each arrival at booking).
    arrival_rates : Mapping[Category, float]
        Patients per hour by category [1/h].
    service_mean : float
        Mean of the exponential consultation length [min].
    horizon : float
        Run length [min].
    warmup : float
        Arrivals before this time are left out of the frames [min].
    policy : Policy, optional
        Engine policy; the engine defaults when omitted.
    """
    return OpenAccess(doctors, arrival_rates, service_mean, horizon, warmup, policy or Policy())
