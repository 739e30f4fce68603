"""``simulate``: one replication of a scenario (or the open-access clinic) through the engine, as frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from opdsim.engine import Engine, Event
from opdsim.metrics import as_frame, patient_columns, summary_row, timeline_frame
from opdsim.sim.model import DayPlan, DoctorPlan, play_day
from opdsim.sim.open_access import OpenAccess
from opdsim.sim.population import draw_open_access, draw_population
from opdsim.sim.scenario import Scenario
from opdsim.sim.streams import Streams

__all__ = ["SimResult", "simulate", "simulate_summary"]

TIMELINE_INTERVAL = 15.0  # minutes per timeline row of a clinic day [min]


@dataclass(frozen=True)
class SimResult:
    """Frames of one run (columns documented in :mod:`opdsim.metrics`) and the engine's event log.

    Every frame carries ``scenario``, ``seed`` and ``replication`` columns.
    """

    patients: pd.DataFrame
    summary: pd.DataFrame
    timeline: pd.DataFrame
    events: tuple[Event, ...]


def _grid(start: float, end: float, step: float) -> np.ndarray:
    grid = np.arange(start, end + step * 0.5, step)
    return grid if grid[-1] >= end else np.append(grid, end)


def _plan(spec: Scenario | OpenAccess, streams: Streams) -> tuple[DayPlan, float, float, float]:
    if isinstance(spec, OpenAccess):
        pop = draw_open_access(dict(spec.arrival_rates), spec.service_mean, spec.horizon, streams)
        big = len(pop) + 1  # one slot that never fills
        doctors = [
            DoctorPlan(f"D{i + 1}", [(0.0, spec.horizon + 1.0, big)], 0.0, [], spec.horizon)
            for i in range(spec.doctors)
        ]
        return DayPlan(spec.policy, doctors, pop, 0.0, spec.horizon), 0.0, spec.horizon, spec.horizon
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
    plan = DayPlan(spec.policy, plans, pop, docs.session_start, spec.clinic.day_length)
    return plan, docs.session_start, docs.session_end, spec.clinic.day_length


class _Day(NamedTuple):
    """One played day: patient columns, summary row, the engine, observer readings and the timeline grid."""

    columns: dict[str, np.ndarray]
    row: dict[str, float]
    engine: Engine
    samples: np.ndarray
    grid: tuple[float, float, float]  # start, end, step [min]


def _play(spec: Scenario | OpenAccess, seed: int, replication: int, observe: bool) -> _Day:
    """Play one day through a fresh engine."""
    streams = Streams(seed, replication)
    plan, start, end, close = _plan(spec, streams)
    if isinstance(spec, OpenAccess):
        t0, step = spec.warmup, max(1.0, (close - spec.warmup) / 100.0)
    else:
        t0, step = start, TIMELINE_INTERVAL
    if observe:
        plan.sample_times = _grid(t0, close, step)[:-1]
    eng, token_of, rebooked, rejected, samples = play_day(plan)
    slots = {d: eng.slots(d) for d in eng.doctors()}
    tokens = {t: eng.token(t) for t in token_of.values()}
    limit = spec.starvation_limit if isinstance(spec, OpenAccess) else spec.clinic.starvation_limit
    columns = patient_columns(plan.population.columns(), tokens, token_of, slots, limit, rebooked)
    if isinstance(spec, OpenAccess):
        keep = columns["arrival"] >= spec.warmup
        columns = {k: np.asarray(v)[keep] for k, v in columns.items()}
        session = (spec.warmup, close)
    else:
        session = (start, end)
    row = summary_row(columns, slots, session, int(rejected.sum()))
    return _Day(columns, row, eng, samples, (t0, close, step))


def simulate(spec: Scenario | OpenAccess, seed: int = 0, replication: int = 0) -> SimResult:
    """Simulate one day (or one open-access run) through the production engine.

    Parameters
    ----------
    spec : Scenario or OpenAccess
        What to run.
    seed : int
        Experiment seed; with ``replication`` it fixes every random stream.
    replication : int
        Replication number.

    Returns
    -------
    SimResult
        ``patients``, ``summary`` and ``timeline`` frames and the engine's event log. The same arguments give
        bit-identical frames; changing only the policy leaves every patient's arrival, category and drawn
        consultation unchanged (common random numbers).
    """
    day = _play(spec, seed, replication, observe=True)
    patients = as_frame(day.columns)
    t0, close, step = day.grid
    timeline = timeline_frame(patients, t0, close, step)
    # the engine's own readings at each interval's start (observer hook), beside the patient-based averages
    samples = day.samples
    timeline["queue_observed"] = samples[: len(timeline), 1].astype(int)
    timeline["busy_observed"] = samples[: len(timeline), 2].astype(int)
    summary = pd.DataFrame([day.row])
    for frame in (patients, summary, timeline):
        frame.insert(0, "replication", replication)
        frame.insert(0, "seed", seed)
        frame.insert(0, "scenario", spec.name)
    return SimResult(patients, summary, timeline, day.engine.events)


def simulate_summary(spec: Scenario | OpenAccess, seed: int = 0, replication: int = 0) -> dict[str, Any]:
    """The ``summary`` row of :func:`simulate` alone, as a plain dict, without building the other frames (what
    a sweep needs from each replication). Equal, value for value, to ``simulate(...).summary.iloc[0]``."""
    day = _play(spec, seed, replication, observe=False)
    return {"scenario": spec.name, "seed": seed, "replication": replication, **day.row}
