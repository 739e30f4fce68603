"""Running replications: in this process, on local worker processes, or on a Dask cluster.

A *task* is one replication at one grid point. It is a pure function of (scenario, grid point, seed,
replication), so every backend gives bit-identical frames; only the order in which tasks finish differs, and the
store sorts by grid point and replication before writing.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import pandas as pd

from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate, simulate_summary

__all__ = ["Outcome", "Task", "default_workers", "run_tasks"]


@dataclass(frozen=True)
class Task:
    """One replication at one grid point."""

    point_index: int
    point: Mapping[str, Any]
    seed: int
    replication: int


@dataclass(frozen=True)
class Outcome:
    """What a task returned: its summary row and (when kept) patients frame, or the error it raised (with the
    traceback text). The summary travels as a plain row: cheaper to send between processes than a frame."""

    task: Task
    summary: dict[str, Any] | None
    patients: pd.DataFrame | None
    error: str | None = None


_SCENARIOS: dict[str, Scenario] = {}  # per worker process: base scenarios by fingerprint, built once


def _base(config: Mapping[str, Any], key: str) -> Scenario:
    scenario = _SCENARIOS.get(key)
    if scenario is None:
        scenario = _SCENARIOS[key] = Scenario.from_dict(config, source="<sweep>")
    return scenario


def execute(config: Mapping[str, Any], key: str, task: Task, keep_patients: bool) -> Outcome:
    """Run one task (in whichever process receives it); errors come back as text, never lost."""
    try:
        base = _base(config, key)
        scenario = base.replace(**task.point) if task.point else base
        if keep_patients:
            result = simulate(scenario, seed=task.seed, replication=task.replication)
            row = {str(k): v for k, v in result.summary.iloc[0].items()}
            return Outcome(task, row, result.patients)
        return Outcome(task, simulate_summary(scenario, seed=task.seed, replication=task.replication), None)
    except Exception:  # a failing replication is reported with its point and seed, not raised
        return Outcome(task, None, None, traceback.format_exc(limit=8))


def default_workers() -> int:
    """All local cores (as many as this process may use)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_tasks(
    scenario: Scenario,
    key: str,
    tasks: Sequence[Task],
    keep_patients: bool,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Iterator[Outcome]:
    """Yield the outcome of every task as it finishes.

    Parameters
    ----------
    workers : int, optional
        Local worker processes; all cores by default; 1 runs in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``); overrides ``workers``.
    """
    config = scenario.to_dict()
    if scheduler is not None:
        yield from _run_dask(config, key, tasks, keep_patients, scheduler)
        return
    n = default_workers() if workers is None else workers
    if n <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield execute(config, key, task, keep_patients)
        return
    yield from _run_processes(config, key, tasks, keep_patients, n)


def _run_processes(
    config: Mapping[str, Any], key: str, tasks: Sequence[Task], keep: bool, workers: int
) -> Iterator[Outcome]:
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        # keep a bounded number of tasks in flight, so that an interrupt leaves little work to cancel
        pending: set[Future[Outcome]] = set()
        queue = iter(tasks)
        limit = 4 * workers
        for task in queue:
            pending.add(pool.submit(execute, config, key, task, keep))
            if len(pending) >= limit:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
            for task in queue:
                pending.add(pool.submit(execute, config, key, task, keep))
                if len(pending) >= limit:
                    break
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    config: Mapping[str, Any], key: str, tasks: Sequence[Task], keep: bool, address: str
) -> Iterator[Outcome]:
    try:
        distributed: Any = importlib.import_module("distributed")  # untyped package: used through Any
    except ImportError as error:  # pragma: no cover - the "distributed" extra is part of make setup
        raise RuntimeError(
            "running on a Dask cluster needs the 'distributed' extra: pip install opdsim[distributed]"
        ) from error
    # as_completed finds the client through the default, so this client is the default while it runs
    client = distributed.Client(address, set_as_default=True)
    try:
        futures = client.map(
            execute, [config] * len(tasks), [key] * len(tasks), list(tasks), [keep] * len(tasks), pure=False
        )
        for fut in distributed.as_completed(futures):
            yield fut.result()
    finally:
        client.close()
