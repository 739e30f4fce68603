"""Random streams: one ``numpy.random.Generator`` per source, spawned from ``SeedSequence(seed)``.

Each source has a fixed index; its generator is seeded by ``SeedSequence(seed, spawn_key=(replication, index))``.
So a replication's streams depend only on the seed, the replication number and the source, never on the
policy or on how many numbers another source drew: two policies run on the same seed see exactly the same
patients (common random numbers), and adding a source later does not disturb the others.
"""

from __future__ import annotations

import numpy as np

from opdsim.engine.types import Category
from opdsim.sim.fields import whole

__all__ = ["SOURCES", "Streams"]

# Append only: the position of a source is part of every stored result's identity.
SOURCES: tuple[str, ...] = (
    *(f"arrivals.{c.name}" for c in Category),  # counts and times of arrivals (bookings for booked categories)
    *(f"consultation.{c.name}" for c in Category),
    "punctuality",
    "attendance",  # no-show and cancellation draws
    "cancel_lead",
    "patience",
    "doctor_delay",
    "breaks",
    "booking_time",
)
_INDEX = {name: i for i, name in enumerate(SOURCES)}


class Streams:
    """The independent random streams of one replication.

    Parameters
    ----------
    seed : int
        The experiment's seed (>= 0).
    replication : int
        Replication number (>= 0).
    """

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = whole(seed, "seed", minimum=0, strict=True)
        self.replication = whole(replication, "replication", minimum=0, strict=True)
        self._cache: dict[str, np.random.Generator] = {}

    def __getitem__(self, source: str) -> np.random.Generator:
        """The generator of ``source`` (one of :data:`SOURCES`), created on first use."""
        rng = self._cache.get(source)
        if rng is None:
            try:
                index = _INDEX[source]
            except KeyError:
                raise KeyError(f"unknown random source {source!r}") from None
            seq = np.random.SeedSequence(self.seed, spawn_key=(self.replication, index))
            rng = self._cache[source] = np.random.Generator(np.random.PCG64(seq))
        return rng
