"""``simulate``: one replication of a day through the engine, as frames.

The composition of the two halves that must not know each other: :mod:`opdsim.sim.simulate` plays the day
(and knows every patient's planned arrival and drawn consultation), :mod:`opdsim.engine.records` folds the
engine's log into lifecycle records, and :mod:`opdsim.metrics` joins the two into frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from opdsim.engine import Event
from opdsim.engine.records import DayRecords, fold
from opdsim.frames import as_frame
from opdsim.metrics import patient_columns, patient_table, summary_row, timeline_columns
from opdsim.sim.collector import collector_paused
from opdsim.sim.simulate import DaySpec, PlayedDay, play

__all__ = ["SimResult", "day_metrics", "simulate", "simulate_summary"]


@dataclass(frozen=True)
class SimResult:
    """Frames of one run (columns documented in :mod:`opdsim.metrics`) and the engine's event log.

    Every frame carries ``scenario``, ``seed`` and ``replication`` columns.
    """

    patients: pd.DataFrame
    summary: pd.DataFrame
    timeline: pd.DataFrame
    events: tuple[Event, ...]


class DayMetrics(NamedTuple):
    """The metrics of one played day: patient columns, the summary row and the records they came from; with
    ``intervals``, the callable intervals (starts, ends [min]) of the patients' last tokens, for the timeline."""

    columns: dict[str, np.ndarray]
    row: dict[str, float]
    records: DayRecords
    intervals: tuple[np.ndarray, np.ndarray] | None = None


def day_metrics(
    events: tuple[Event, ...],
    population: dict[str, np.ndarray],
    played: PlayedDay,
    starvation_limit: float,
    intervals: bool = False,
) -> DayMetrics:
    """The metrics of a day's event log joined with the simulation's patient inputs (``played.population``);
    ``played.planned`` gives the session window and the warm-up. ``intervals`` also collects the callable
    intervals of the patients kept, in the same pass over the records."""
    records = fold(events)
    warmup = played.planned.warmup
    spans = None
    if intervals:
        table = patient_table(records, population, starvation_limit)
        if warmup is not None:
            table = table.take(table.columns["arrival"] >= warmup)
        columns = table.columns
        spans = (table.starts, table.ends)
    else:
        columns = patient_columns(records, population, starvation_limit)
        if warmup is not None:
            keep = columns["arrival"] >= warmup
            columns = {k: np.asarray(v)[keep] for k, v in columns.items()}
    return DayMetrics(columns, summary_row(columns, records, played.planned.session), records, spans)


def simulate(spec: DaySpec, seed: int = 0, replication: int = 0) -> SimResult:
    """Simulate one day (or one open-access run) through the production engine.

    Parameters
    ----------
    spec : DaySpec
        What to run: a :class:`~opdsim.sim.scenario.Scenario` or an :class:`~opdsim.sim.open_access.OpenAccess`.
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
    with collector_paused():
        return _simulate(spec, seed, replication)


def _simulate(spec: DaySpec, seed: int, replication: int) -> SimResult:
    played = play(spec, seed, replication, observe=True)
    events = played.engine.events
    day = day_metrics(events, played.population, played, spec.starvation_limit, intervals=True)
    assert day.intervals is not None
    lead = {"scenario": spec.name, "seed": seed, "replication": replication}  # every frame's first columns
    patients = as_frame(day.columns, lead)
    t0, step = played.planned.timeline
    timeline = timeline_columns(day.columns, day.intervals, t0, played.planned.close, step)
    # the engine's own readings at each interval's start (observer hook), beside the record-based averages
    samples = played.samples[: len(timeline["t_start"])]
    timeline["queue_observed"] = samples[:, 1].astype(int)
    timeline["busy_observed"] = samples[:, 2].astype(int)
    summary = pd.DataFrame([{**lead, **day.row}])
    return SimResult(patients, summary, as_frame(timeline, lead), events)


def simulate_summary(spec: DaySpec, seed: int = 0, replication: int = 0) -> dict[str, Any]:
    """The ``summary`` row of :func:`simulate` alone, as a plain dict, without building the other frames (what
    a sweep needs from each replication). Equal, value for value, to ``simulate(...).summary.iloc[0]``."""
    # the day's engine and records are freed when _summary_row returns, before the collector resumes: its first
    # pass then does not traverse the whole day (15% of a standard day's time when it did)
    with collector_paused():
        row = _summary_row(spec, seed, replication)
    return {"scenario": spec.name, "seed": seed, "replication": replication, **row}


def _summary_row(spec: DaySpec, seed: int, replication: int) -> dict[str, float]:
    played = play(spec, seed, replication, observe=False)
    return day_metrics(played.engine.events, played.population, played, spec.starvation_limit).row
