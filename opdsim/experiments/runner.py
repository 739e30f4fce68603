"""Running replications: in this process, on local worker processes, or on a Dask cluster.

A *task* is one replication at one grid point. It is a pure function of (scenario, grid point, seed,
replication), so every backend gives bit-identical frames; only the order in which tasks finish differs, and the
store sorts by grid point and replication before writing. Tasks travel in *chunks* of a few replications, so that
a cheap replication does not pay a round trip to its worker process on its own.

Local worker processes

- ignore Ctrl-C (the parent handles it: it cancels what has not started and says what was kept);
- end when their parent dies (a watchdog thread checks the parent's process id every second), so a killed
  ``opdsim run`` leaves nothing computing;
- may die themselves (the out-of-memory killer): the replications they held are run again on fresh workers,
  one at a time, up to :data:`MAX_ATTEMPTS` times in all; a replication that still cannot run comes back as an
  :class:`Outcome` with an error, naming its grid point and seed, and the rest of the study goes on.
"""

from __future__ import annotations

import gc
import importlib
import math
import os
import re
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pandas as pd

from opdsim.sim.errors import ScenarioError
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate, simulate_summary

__all__ = ["MAX_ATTEMPTS", "Backend", "Outcome", "Task", "default_workers", "run_tasks"]

MAX_ATTEMPTS = 3  # a replication whose worker process died is tried this many times in all, then reported
CHUNK_MAX = 8  # replications per chunk at most: small enough that progress and Ctrl-C stay responsive
CONNECT_TIMEOUT = 5.0  # [s] to wait for a Dask scheduler to answer
WATCHDOG_PERIOD = 1.0  # [s] between two checks of a worker that its parent is alive

# tcp://host:port, tls://host:port, with a host name, an IPv4 address or a bracketed IPv6 address
_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})")


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


def execute_chunk(config: Mapping[str, Any], key: str, tasks: Sequence[Task], keep_patients: bool) -> list[Outcome]:
    """Run several tasks in one call (one round trip to a worker)."""
    return [execute(config, key, task, keep_patients) for task in tasks]


def default_workers() -> int:
    """All local cores (as many as this process may use)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def chunk_size(tasks: int, workers: int) -> int:
    """Replications per chunk: about four chunks per worker, at most :data:`CHUNK_MAX`."""
    return max(1, min(CHUNK_MAX, math.ceil(tasks / (4 * max(1, workers)))))


# ------------------------------------------------------------------------------------------------ workers


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(WATCHDOG_PERIOD)
        if os.getppid() != parent:  # re-parented: the process that started this worker is gone
            os._exit(1)


def _worker_init(parent: int) -> None:
    """Set up a local worker process: Ctrl-C is the parent's to handle, and the worker ends with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent:
        os._exit(1)
    # The forked worker shares its parent's heap (pandas, SciPy, the scenario: several hundred thousand objects).
    # Frozen, the cyclic collector never walks them again: no full collection rescans them between days, and the
    # collector's writes no longer copy the shared pages into the worker's private memory.
    gc.freeze()
    threading.Thread(target=_watch_parent, args=(parent,), name="opdsim-watchdog", daemon=True).start()


def _lost(task: Task, attempts: int) -> Outcome:
    return Outcome(
        task,
        None,
        None,
        f"WorkerDied: its worker process died {attempts} times (killed, for example by the out-of-memory killer)",
    )


# ------------------------------------------------------------------------------------------------ backends


def check_scheduler(address: str) -> None:
    """Refuse a malformed Dask scheduler address before anything is started.

    Raises
    ------
    ScenarioError
        Naming ``--scheduler`` and the address.
    """
    match = _ADDRESS.fullmatch(address)
    if match is None or not 0 < int(match.group(3)) < 65536:
        raise ScenarioError(
            "--scheduler", f"{address!r} is not a Dask scheduler address like tcp://127.0.0.1:8786 (port 1-65535)"
        )


class Backend:
    """Where tasks run, held open for a whole study (one pool or one cluster connection for every round).

    Parameters
    ----------
    workers : int, optional
        Local worker processes; all cores by default; 1 runs in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``); overrides ``workers``. It is checked and
        connected to at once (within :data:`CONNECT_TIMEOUT` seconds), before the caller creates anything.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        self.workers = default_workers() if workers is None else workers
        self.scheduler = scheduler
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None
        self._distributed: Any = None
        if scheduler is not None:
            self._connect(scheduler)

    @property
    def name(self) -> str:
        """``serial``, ``processes:N`` or ``dask:ADDRESS`` (recorded in the manifest)."""
        if self.scheduler is not None:
            return f"dask:{self.scheduler}"
        return "serial" if self.workers <= 1 else f"processes:{self.workers}"

    def _connect(self, address: str) -> None:
        check_scheduler(address)
        try:
            self._distributed = importlib.import_module("distributed")  # untyped package: used through Any
        except ImportError:  # pragma: no cover - the "distributed" extra is part of make setup
            raise ScenarioError(
                "--scheduler",
                "running on a Dask cluster needs the 'distributed' extra: pip install opdsim[distributed]",
            ) from None
        try:
            # the client is the default while it lives: as_completed finds it through the default
            self._client = self._distributed.Client(address, timeout=f"{CONNECT_TIMEOUT}s", set_as_default=True)
        except (OSError, TimeoutError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ScenarioError(
                "--scheduler", f"no Dask scheduler answered at {address} within {CONNECT_TIMEOUT:g} s ({reason})"
            ) from None

    def close(self) -> None:
        """Stop the local workers (what has not started is cancelled) or disconnect from the cluster."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None:
            # interrupted (or failed): the work in flight is dropped anyway, so the workers are killed rather than
            # waited for. Waiting also hung now and then after a Ctrl-C (1 run in 6 of `opdsim demo`): workers
            # left waiting for work that never came kept the process from exiting.
            self._discard_pool()
        self.close()

    def run(self, scenario: Scenario, key: str, tasks: Sequence[Task], keep_patients: bool) -> Iterator[Outcome]:
        """Yield the outcome of every task as it finishes (in any order)."""
        config = scenario.to_dict()
        if self._client is not None:
            yield from self._run_dask(config, key, tasks, keep_patients)
        elif self.workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield execute(config, key, task, keep_patients)
        else:
            yield from self._run_processes(config, key, tasks, keep_patients)

    # ---------------------------------------------------------------- local processes

    def _fresh_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, initializer=_worker_init, initargs=(os.getpid(),)
            )
        return self._pool

    def _discard_pool(self) -> None:
        """Drop a broken pool. Its surviving workers are killed first: a worker killed while it held the call
        queue's lock (an idle worker waiting for work holds it) leaves the others blocked on that lock for good,
        and the pool's own clean-up, which asks them to stop with SIGTERM and then waits, would spin until the
        process exits, and then keep it from exiting."""
        pool = self._pool
        if pool is None:
            return
        # ProcessPoolExecutor has no public list of its processes; without the attribute the kill is skipped
        processes: dict[int, Any] = getattr(pool, "_processes", None) or {}
        for process in list(processes.values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def _run_processes(
        self, config: Mapping[str, Any], key: str, tasks: Sequence[Task], keep: bool
    ) -> Iterator[Outcome]:
        size = chunk_size(len(tasks), self.workers)
        todo: deque[list[Task]] = deque(list(tasks[i : i + size]) for i in range(0, len(tasks), size))
        retry: deque[Task] = deque()  # replications whose worker died: rerun one at a time, so a death is theirs
        attempts: dict[tuple[int, int], int] = {}  # (grid point, replication) -> tries
        pending: dict[Future[list[Outcome]], list[Task]] = {}
        limit = 2 * self.workers  # a bounded number of chunks in flight: an interrupt leaves little to cancel
        while todo or retry or pending:
            pool = self._fresh_pool()
            broken = False
            try:
                if todo:
                    while todo and len(pending) < limit:
                        pending[pool.submit(execute_chunk, config, key, todo[0], keep)] = todo[0]
                        todo.popleft()
                elif retry and not pending:
                    pending[pool.submit(execute_chunk, config, key, [retry[0]], keep)] = [retry[0]]
                    retry.popleft()
            except BrokenProcessPool:  # the pool broke since the last wait: what was in flight tells
                broken = True
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            lost: list[tuple[list[Task], bool]] = []
            for fut in done:
                chunk = pending.pop(fut)
                try:
                    outcomes = fut.result()
                except BrokenProcessPool:
                    lost.append((chunk, len(chunk) == 1 and not pending and not todo))
                    continue
                yield from outcomes
            if lost or broken:
                # the other chunks in flight died with the pool: collect them, then start a fresh pool
                for fut, chunk in pending.items():
                    try:
                        outcomes = fut.result()
                    except BrokenProcessPool:
                        lost.append((chunk, False))
                        continue
                    yield from outcomes
                pending.clear()
                self._discard_pool()
            for chunk, alone in lost:
                for task in chunk:
                    # a death while the task ran alone is its own; a death among others counts once for all
                    which = (task.point_index, task.replication)
                    attempts[which] = attempts.get(which, 0) + 1 if alone else max(1, attempts.get(which, 0))
                    if attempts[which] >= MAX_ATTEMPTS:
                        yield _lost(task, attempts[which])
                    else:
                        retry.append(task)

    # ---------------------------------------------------------------- Dask

    def _run_dask(self, config: Mapping[str, Any], key: str, tasks: Sequence[Task], keep: bool) -> Iterator[Outcome]:
        size = chunk_size(len(tasks), max(1, sum(self._client.nthreads().values())))
        chunks = [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]
        futures = self._client.map(
            execute_chunk, [config] * len(chunks), [key] * len(chunks), chunks, [keep] * len(chunks), pure=False
        )
        by_future = dict(zip(futures, chunks, strict=True))
        for fut in self._distributed.as_completed(futures):
            try:
                outcomes = fut.result()
            except Exception as error:  # the cluster gave up on it (a worker died repeatedly, ...)
                text = f"{type(error).__name__}: {' '.join(str(error).split())}"
                yield from (Outcome(task, None, None, text) for task in by_future[fut])
                continue
            yield from outcomes


def run_tasks(
    scenario: Scenario,
    key: str,
    tasks: Sequence[Task],
    keep_patients: bool,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Iterator[Outcome]:
    """Yield the outcome of every task as it finishes, on a :class:`Backend` opened for this call."""
    with Backend(workers, scheduler) as backend:
        yield from backend.run(scenario, key, tasks, keep_patients)
