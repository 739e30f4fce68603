"""The runner's local worker processes: chunks give identical results, and a replication whose worker keeps
dying is retried a bounded number of times, then reported with its grid point and seed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from opdsim.experiments import ReplicationFailed, SweepSpec, load_results, runner, sweep
from opdsim.experiments.runner import MAX_ATTEMPTS, Outcome, Task, chunk_size
from opdsim.sim.scenario import Scenario
from tests.cli.helpers import STANDARD

DEATHS = "OPDSIM_TEST_DEATHS"  # a file that counts the deaths, across processes


def _spec(reps: int = 4) -> SweepSpec:
    day = Scenario.from_toml(STANDARD)
    return SweepSpec(day, {"policy.aging_threshold": (1, 3, 5)}, reps, seed=21, name="kill")


def test_chunks_are_sized_to_the_workers() -> None:
    assert chunk_size(1000, 2) == runner.CHUNK_MAX  # many tasks: chunks of the largest size
    assert chunk_size(16, 2) == 2  # four chunks per worker
    assert chunk_size(3, 4) == 1


def test_chunked_processes_give_the_serial_results_bit_for_bit() -> None:
    spec = _spec(reps=7)  # 21 tasks in chunks of 3 on 2 workers, 7 on 1 chunk... whichever: same frame
    serial = sweep(spec, workers=1).summary
    pd.testing.assert_frame_equal(sweep(spec, workers=2).summary, serial, check_exact=True)


def _deadly(real: Any, counter: Path) -> Any:
    def execute(config: Mapping[str, Any], key: str, task: Task, keep: bool) -> Outcome:
        if task.point.get("policy.aging_threshold") == 3 and task.replication == 2:
            with counter.open("a") as f:
                f.write("x")
            os._exit(9)  # the worker process dies, as under the out-of-memory killer
        result: Outcome = real(config, key, task, keep)
        return result

    return execute


def test_a_replication_that_kills_its_worker_is_retried_then_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = tmp_path / "deaths"
    # worker processes are forked after this, so they run the deadly execute
    monkeypatch.setattr(runner, "execute", _deadly(runner.execute, counter))
    out = tmp_path / "out"
    with pytest.raises(ReplicationFailed) as info:
        sweep(_spec(), workers=2, out=out)
    message = str(info.value)
    assert "policy.aging_threshold = 3, seed 21, replication 2" in message
    assert "worker process died" in message
    assert len(info.value.failures) == 1  # only the deadly replication; its neighbours were rerun
    assert counter.read_text() == "x" * MAX_ATTEMPTS  # tried exactly MAX_ATTEMPTS times
    finished = sorted(p.name for p in (out / "parts").glob("point-*.summary.parquet"))
    assert finished == ["point-00000.summary.parquet", "point-00002.summary.parquet"]  # the others are written
    monkeypatch.undo()
    resumed = sweep(_spec(), workers=2, out=out, resume=True)  # and --resume completes the study
    pd.testing.assert_frame_equal(resumed.summary, sweep(_spec(), workers=1).summary, check_exact=True)
    assert load_results(out).manifest["state"] == "complete"


def test_an_interrupted_backend_kills_its_workers_instead_of_waiting_for_them() -> None:
    # after Ctrl-C the work in flight is dropped anyway; waiting for the workers to finish it (or for work that
    # never comes) used to keep `opdsim demo` from exiting, now and then, after it had said it was interrupted
    import signal
    import time

    with pytest.raises(KeyboardInterrupt), runner.Backend(2) as backend:
        pool = backend._fresh_pool()
        busy = pool.submit(time.sleep, 60)  # a chunk that would run for a minute
        while not busy.running():
            time.sleep(0.01)
        workers = list(pool._processes.values())
        assert len(workers) == 2
        interrupted = time.monotonic()
        raise KeyboardInterrupt
    # a clean shutdown would wait the minute out
    assert time.monotonic() - interrupted < 20
    # killed, not asked to stop (the pool's own thread may be the one that reaps them, so poll for the code)
    give_up = time.monotonic() + 10
    while any(w.exitcode is None for w in workers) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert [w.exitcode for w in workers] == [-signal.SIGKILL] * 2
