"""The patients of one simulated day, drawn before the day is played and independent of the engine's policy.

Drawing every random input up front, each from its own stream, is what makes common random numbers exact: a
policy changes what the engine decides, never who turns up, when, or how long their consultation takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from opdsim.engine.types import Category
from opdsim.frames import as_frame
from opdsim.sim.scenario import BOOKED_CATEGORIES, Scenario
from opdsim.sim.streams import Streams

__all__ = ["KIND_BOOKED", "KIND_EMERGENCY", "KIND_WALK_IN", "Population", "draw_population"]

KIND_BOOKED = 0  # booked ahead into a named doctor and slot
KIND_WALK_IN = 1  # booked at the desk on arrival (doctor chosen by the engine) and checked in at once
KIND_EMERGENCY = 2  # inserted through Engine.emergency on arrival

BOOKING_WINDOW = 1440.0  # advance bookings are made during the 24 h before the session opens [min]


@dataclass(frozen=True)
class Population:
    """Structure of arrays, one entry per patient, in a fixed generation order.

    Attributes
    ----------
    patient : ndarray of str
        Patient id, stable across policies (category code and a running number).
    category : ndarray of int
        ``Category`` value.
    kind : ndarray of int
        ``KIND_BOOKED``, ``KIND_WALK_IN`` or ``KIND_EMERGENCY``.
    doctor : ndarray of object
        Doctor booked with (booked patients), or None (the engine chooses).
    slot : ndarray of int
        Slot booked (booked patients), or -1.
    booked_at : ndarray of float
        Time of the booking [min]; equal to ``arrival`` for walk-ins and emergencies.
    arrival : ndarray of float
        Arrival at the desk [min]; NaN for no-shows and cancellations.
    cancel_at : ndarray of float
        Time of the cancellation [min], NaN if none.
    consultation : ndarray of float
        Drawn consultation length [min], drawn for everyone, seen or not.
    patience : ndarray of float
        Minutes a checked-in patient waits before leaving unseen [min]; inf without patience.
    """

    patient: NDArray[np.str_]
    category: NDArray[np.int64]
    kind: NDArray[np.int64]
    doctor: NDArray[np.object_]
    slot: NDArray[np.int64]
    booked_at: NDArray[np.float64]
    arrival: NDArray[np.float64]
    cancel_at: NDArray[np.float64]
    consultation: NDArray[np.float64]
    patience: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.patient)

    def columns(self) -> dict[str, NDArray[Any]]:
        """The population as named numpy columns (``category`` and ``kind`` as text), without a frame."""
        names = np.array([c.name for c in Category], dtype=object)
        return {
            "patient": self.patient.astype(object),
            "category": names[self.category],
            "kind": np.array(["booked", "walk_in", "emergency"], dtype=object)[self.kind],
            "booked_doctor": self.doctor,
            "booked_slot": self.slot,
            "booked_at": self.booked_at,
            "arrival": self.arrival,
            "cancel_at": self.cancel_at,
            "consultation": self.consultation,
            "patience": self.patience,
        }

    def frame(self) -> pd.DataFrame:
        """The population as a DataFrame (one row per patient; ``category`` as the category name)."""
        return as_frame(self.columns())


def _poisson_times(rng: np.random.Generator, rate_per_min: float, start: float, end: float) -> NDArray[np.float64]:
    """Arrival times of a homogeneous Poisson process on [start, end): a Poisson count, then sorted uniforms."""
    if rate_per_min <= 0 or end <= start:
        return np.empty(0)
    n = rng.poisson(rate_per_min * (end - start))
    return np.sort(rng.uniform(start, end, n))


_ID_CACHE: dict[str, list[str]] = {}  # category prefix -> its first patient ids, formatted once per process
_ID_CACHE_MAX = 20_000  # ids kept per prefix (about 1.3 MB for the five); later ones are formatted each time


def _patient_ids(prefix: str, first: int, count: int) -> list[str]:
    """The ids ``{prefix}{first:05d}`` ... of ``count`` patients (formatting them costs a third of drawing a
    standard day, and every day of a sweep asks for the same ones)."""
    end = first + count
    cache = _ID_CACHE.get(prefix, [])
    if len(cache) < end <= _ID_CACHE_MAX:
        # a new list, never one changed in place: a thread reading the old one (a Dask worker's) is not disturbed
        grown = min(max(end, 2 * len(cache)), _ID_CACHE_MAX)
        cache = _ID_CACHE[prefix] = cache + [f"{prefix}{i:05d}" for i in range(len(cache), grown)]
    if end <= len(cache):
        return cache[first:end]
    return [f"{prefix}{i:05d}" for i in range(first, end)]


def _concat(parts: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    return np.concatenate(parts) if parts else np.empty(0)


def draw_population(scenario: Scenario, streams: Streams) -> Population:
    """Draw every patient of one day of ``scenario`` from ``streams``.

    Every rate is multiplied by ``scale = demand.scale``. Booked categories: a Poisson(``scale * per_slot``)
    count of bookings per doctor and slot, booked at uniform times in the 24 h before the session; each either
    cancels (at slot start minus the drawn lead, not before the booking), never comes, or arrives at slot start
    plus the drawn punctuality. Walk-ins: Poisson per session hour at the hour's rate. Emergencies: Poisson over
    the session. Consultation lengths and patience are drawn for everyone.
    """
    docs = scenario.doctors
    slots = docs.slots()
    slot_starts = np.array([start for start, _ in slots], dtype=float)
    doctor_ids = list(docs.ids)
    scale = scenario.demand.scale  # multiplies every rate; 1.0 leaves every float, so every draw, as it was
    cats: list[int] = []
    kinds: list[int] = []
    doctor: list[str | None] = []
    slot: list[int] = []
    booked_at: list[NDArray[np.float64]] = []
    arrival: list[NDArray[np.float64]] = []
    cancel_at: list[NDArray[np.float64]] = []

    for cat in BOOKED_CATEGORIES:
        demand = scenario.demand.booked.get(cat)
        if demand is None:
            continue
        rng = streams[f"arrivals.{cat.name}"]
        counts = rng.poisson(demand.per_slot * scale, size=(docs.count, len(slots)))
        n = int(counts.sum())
        if n == 0:
            continue
        d_idx, s_idx = np.nonzero(counts)
        reps = counts[d_idx, s_idx]
        d_of = np.repeat(d_idx, reps)
        s_of = np.repeat(s_idx, reps)
        start = slot_starts[s_of]
        when = streams["booking_time"].uniform(docs.session_start - BOOKING_WINDOW, docs.session_start, n)
        late = demand.punctuality.sample(streams["punctuality"], n)
        u = streams["attendance"].uniform(0.0, 1.0, n)
        no_show = u < demand.no_show
        cancels = (~no_show) & (u < demand.no_show + demand.cancel)
        lead = demand.cancel_lead.sample(streams["cancel_lead"], n) if demand.cancel_lead is not None else np.zeros(n)
        cancel_time = np.where(cancels, np.maximum(start - lead, when), np.nan)
        arrive = np.where(no_show | cancels, np.nan, start + late)
        cats.extend([int(cat)] * n)
        kinds.extend([KIND_BOOKED] * n)
        doctor.extend([doctor_ids[i] for i in d_of.tolist()])
        slot.extend(s_of.tolist())
        booked_at.append(when)
        arrival.append(arrive)
        cancel_at.append(cancel_time)

    walk_rng = streams[f"arrivals.{Category.WALK_IN.name}"]
    walk_parts = [
        _poisson_times(
            walk_rng, rate * scale / 60.0, docs.session_start + 60.0 * h, docs.session_start + 60.0 * (h + 1)
        )
        for h, rate in enumerate(scenario.demand.walk_in.rate_per_hour)
    ]
    walk = _concat(walk_parts)
    em_rng = streams[f"arrivals.{Category.EMERGENCY.name}"]
    em_rate = scenario.demand.emergency.rate_per_hour * scale / 60.0
    em = _poisson_times(em_rng, em_rate, docs.session_start, docs.session_end)
    for times, cat, kind in ((walk, Category.WALK_IN, KIND_WALK_IN), (em, Category.EMERGENCY, KIND_EMERGENCY)):
        n = len(times)
        cats.extend([int(cat)] * n)
        kinds.extend([kind] * n)
        doctor.extend([None] * n)
        slot.extend([-1] * n)
        booked_at.append(times)
        arrival.append(times)
        cancel_at.append(np.full(n, np.nan))
    return _finish(scenario, streams, cats, kinds, doctor, slot, booked_at, arrival, cancel_at)


def _finish(
    scenario: Scenario | None,
    streams: Streams,
    cats: list[int],
    kinds: list[int],
    doctor: list[str | None],
    slot: list[int],
    booked_at: list[NDArray[np.float64]],
    arrival: list[NDArray[np.float64]],
    cancel_at: list[NDArray[np.float64]],
    consultation_means: dict[Category, float] | None = None,
) -> Population:
    category = np.asarray(cats, dtype=np.int64)
    n = len(category)
    consult = np.empty(n)
    counters = np.zeros(len(Category), dtype=np.int64)
    ids = np.empty(n, dtype=object)
    for cat in Category:
        mask = category == int(cat)
        k = int(mask.sum())
        if not k:
            continue
        rng = streams[f"consultation.{cat.name}"]
        if consultation_means is not None:
            consult[mask] = rng.exponential(consultation_means[cat], k)
        else:
            assert scenario is not None
            consult[mask] = scenario.consultation[cat].sample(rng, k)
        prefix = cat.name[:2]
        first = int(counters[int(cat)])
        ids[mask] = _patient_ids(prefix, first, k)
        counters[int(cat)] += k
    patience = np.full(n, np.inf)
    if scenario is not None and scenario.patience is not None and n:
        patience = scenario.patience.sample(streams["patience"], n)
    return Population(
        patient=ids.astype(str),
        category=category,
        kind=np.asarray(kinds, dtype=np.int64),
        doctor=np.asarray(doctor, dtype=object),
        slot=np.asarray(slot, dtype=np.int64),
        booked_at=_concat(booked_at),
        arrival=_concat(arrival),
        cancel_at=_concat(cancel_at),
        consultation=consult,
        patience=patience,
    )


def draw_open_access(
    arrival_rates: dict[Category, float], service_mean: float, horizon: float, streams: Streams
) -> Population:
    """Patients of the open-access clinic: Poisson arrivals per category over [0, horizon) [min], exponential
    consultations with mean ``service_mean`` [min]; non-emergencies book and check in on arrival."""
    cats: list[int] = []
    kinds: list[int] = []
    times: list[NDArray[np.float64]] = []
    for cat in Category:
        rate = arrival_rates.get(cat, 0.0)
        t = _poisson_times(streams[f"arrivals.{cat.name}"], rate / 60.0, 0.0, horizon)
        cats.extend([int(cat)] * len(t))
        kinds.extend([KIND_EMERGENCY if cat is Category.EMERGENCY else KIND_WALK_IN] * len(t))
        times.append(t)
    n = len(cats)
    return _finish(
        None,
        streams,
        cats,
        kinds,
        [None] * n,
        [-1] * n,
        times,
        times,
        [np.full(len(t), np.nan) for t in times],
        consultation_means=dict.fromkeys(Category, service_mean),
    )
