"""Playing one replication of a day through the engine: the simulation's half of ``simulate``.

This module knows scenarios, random streams and the SimPy model, and nothing of metrics: it returns the engine
(whose event log is the day's record) and what only the simulation knows about each patient (planned arrival,
drawn consultation). :mod:`opdsim.day` folds the log into records and computes the frames; ``simulate``,
``simulate_summary`` and ``SimResult`` live there and are still importable from here.

What the day runner needs from a spec is the :class:`DaySpec` protocol: a name, a starvation limit and a plan
for one replication. :class:`~opdsim.sim.scenario.Scenario` and :class:`~opdsim.sim.open_access.OpenAccess`
both provide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from opdsim.engine import Engine
from opdsim.sim.model import DayPlan, DoctorPlan, play_day
from opdsim.sim.population import draw_open_access, draw_population
from opdsim.sim.streams import Streams

if TYPE_CHECKING:  # the day runner's names, resolved lazily below at run time (sim does not import metrics)
    from opdsim.day import SimResult, simulate, simulate_summary
    from opdsim.sim.open_access import OpenAccess
    from opdsim.sim.scenario import Scenario

__all__ = [
    "DaySpec",
    "PlannedDay",
    "PlayedDay",
    "SimResult",
    "plan_open_access",
    "plan_scenario",
    "play",
    "simulate",
    "simulate_summary",
]

TIMELINE_INTERVAL = 15.0  # minutes per timeline row of a clinic day [min]


@dataclass(frozen=True)
class PlannedDay:
    """One replication's plan, and the windows the metrics use.

    Attributes
    ----------
    plan : DayPlan
        Doctors, patients and the close of day for the model.
    session : (float, float)
        The scheduled session [min] (for open access: warm-up to horizon), for utilisation, overtime and
        throughput.
    close : float
        The close of day [min].
    timeline : (float, float)
        First timeline instant and interval length [min].
    warmup : float or None
        Patients arriving before this time are left out of the frames [min]; None keeps everyone.
    """

    plan: DayPlan
    session: tuple[float, float]
    close: float
    timeline: tuple[float, float]
    warmup: float | None = None


class DaySpec(Protocol):
    """What the day runner needs from a spec: a name, the starvation limit [min] and one replication's plan."""

    @property
    def name(self) -> str: ...

    @property
    def starvation_limit(self) -> float: ...

    def plan_day(self, streams: Streams) -> PlannedDay: ...


def plan_scenario(spec: Scenario, streams: Streams) -> PlannedDay:
    """The plan of one scenario day: drawn patients, late starts and breaks per doctor."""
    docs = spec.doctors
    pop = draw_population(spec, streams)
    late = docs.start_delay.sample(streams["doctor_delay"], docs.count)
    breaks = [b.duration.sample(streams["breaks"], docs.count) for b in docs.breaks]
    slots = [(s, e, docs.slot_capacity) for s, e in docs.slots()]
    plans = [
        DoctorPlan(
            doc,
            slots,
            float(late[i]),
            [(b.at, float(breaks[k][i])) for k, b in enumerate(docs.breaks)],
            docs.session_end + spec.clinic.overtime_limit,
        )
        for i, doc in enumerate(docs.ids)
    ]
    close = spec.clinic.day_length
    plan = DayPlan(spec.policy, plans, pop, docs.session_start, close)
    return PlannedDay(plan, (docs.session_start, docs.session_end), close, (docs.session_start, TIMELINE_INTERVAL))


def plan_open_access(spec: OpenAccess, streams: Streams) -> PlannedDay:
    """The plan of one open-access run: one slot per doctor that never fills."""
    pop = draw_open_access(dict(spec.arrival_rates), spec.service_mean, spec.horizon, streams)
    big = len(pop) + 1
    doctors = [
        DoctorPlan(f"D{i + 1}", [(0.0, spec.horizon + 1.0, big)], 0.0, [], spec.horizon) for i in range(spec.doctors)
    ]
    plan = DayPlan(spec.policy, doctors, pop, 0.0, spec.horizon)
    step = max(1.0, (spec.horizon - spec.warmup) / 100.0)
    return PlannedDay(plan, (spec.warmup, spec.horizon), spec.horizon, (spec.warmup, step), spec.warmup)


@dataclass(frozen=True)
class PlayedDay:
    """A played replication: the engine after the close, the simulation's patient columns and the plan.

    Attributes
    ----------
    engine : Engine
        Closed; ``engine.events`` is the day's record.
    population : dict of str to ndarray
        ``Population.columns()``: planned arrival, drawn consultation and the rest, one entry per patient.
    planned : PlannedDay
        The plan and its windows.
    samples : ndarray, shape (k, 3)
        Observer readings (time [min], callable tokens, busy doctors) at the timeline instants.
    """

    engine: Engine
    population: dict[str, NDArray[Any]]
    planned: PlannedDay
    samples: NDArray[np.float64]


def timeline_grid(start: float, end: float, step: float) -> NDArray[np.float64]:
    """Instants ``start, start + step, ...`` up to and including ``end`` [min]."""
    grid = np.arange(start, end + step * 0.5, step)
    return grid if grid[-1] >= end else np.append(grid, end)


def play(spec: DaySpec, seed: int = 0, replication: int = 0, observe: bool = False) -> PlayedDay:
    """Play one replication through a fresh engine (``observe`` reads the engine's queue at the timeline
    instants)."""
    planned = spec.plan_day(Streams(seed, replication))
    if observe:
        t0, step = planned.timeline
        planned.plan.sample_times = timeline_grid(t0, planned.close, step)[:-1]
    eng, _, _, _, samples = play_day(planned.plan)
    return PlayedDay(eng, planned.plan.population.columns(), planned, samples)


def __getattr__(name: str) -> Any:
    # ``simulate`` composes this module with the metrics, so it lives in opdsim.day (sim does not import
    # metrics); these names stay importable from here for existing callers
    if name in ("SimResult", "simulate", "simulate_summary"):
        import opdsim.day

        return getattr(opdsim.day, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
