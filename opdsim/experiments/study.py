"""Replications and sweeps, and the results folder they write.

Results folder (``results/<name>/``)
-----------------------------------
``summary.parquet``
    One row per grid point and replication: each grid path by its dotted name, then ``replication``, ``seed``,
    then the metrics (see :mod:`opdsim.metrics`).
``patients.parquet``
    One row per patient and replication, when asked for.
``table.csv``
    Means with 95% intervals per grid point and metric.
``manifest.json``
    Full resolved configuration, fingerprint, seeds, opdsim version, code revision, start, end, duration,
    backend, and the state of the run.
``parts/``
    One file per finished grid point while the sweep runs (written atomically, so an interrupted sweep resumes
    from them without redoing or duplicating a point); consolidated into the files above at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from opdsim.experiments.runner import Outcome, Task, default_workers, run_tasks
from opdsim.experiments.spec import AUTO_MAX, AUTO_MIN, SweepError, SweepSpec
from opdsim.experiments.stats import relative_half_width, summary_table
from opdsim.sim.scenario import Scenario

__all__ = ["ReplicationFailed", "Results", "check_output", "load_results", "replicate", "sweep"]

AUTO_METRIC = "wait_mean"  # the metric whose precision "auto" controls
AUTO_LOOKAHEAD = 5  # Hoad et al.'s kLimit: the precision must hold for this many further replications

ProgressFn = Callable[[int, int], None]


class ReplicationFailed(RuntimeError):
    """Some replications raised; the others were kept. ``failures`` lists (grid point, seed, replication,
    traceback)."""

    def __init__(self, failures: list[tuple[dict[str, Any], int, int, str]]) -> None:
        self.failures = failures
        lines = [f"{len(failures)} replication(s) failed; the rest of the sweep was kept:"]
        for point, seed, rep, tb in failures[:10]:
            last = tb.strip().splitlines()[-1] if tb.strip() else "?"
            lines.append(f"  grid point {point or '(base)'} seed {seed} replication {rep}: {last}")
        super().__init__("\n".join(lines))


@dataclass
class Results:
    """The frames of a study.

    Attributes
    ----------
    summary : DataFrame
        One row per grid point and replication.
    grid : list of str
        Grid path columns of ``summary``.
    patients : DataFrame or None
        One row per patient and replication, when kept.
    manifest : dict
        The study's manifest (configuration, seeds, versions, timings).
    """

    summary: pd.DataFrame
    grid: list[str]
    patients: pd.DataFrame | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    def table(self, metrics: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
        """Means with ``level`` confidence intervals per grid point and metric (long format)."""
        table = summary_table(self.summary, self.grid, level)
        if metrics is not None:
            table = table[table["metric"].isin(list(metrics))].reset_index(drop=True)
        return table


# ------------------------------------------------------------------------------------------------ helpers


def _code_revision() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, indent=2, default=str) + "\n"
    _write_atomic(path, lambda p: _write_text(p, text))


def _frame_with_grid(spec: SweepSpec, outcomes: list[Outcome], which: str) -> pd.DataFrame:
    """The ``summary`` rows or ``patients`` frames of ``outcomes`` with the grid columns in front, sorted by grid
    point and replication; columns: grid paths, ``replication``, ``seed``, then the rest."""
    ordered = sorted(
        (o for o in outcomes if getattr(o, which) is not None), key=lambda o: (o.task.point_index, o.task.replication)
    )
    if not ordered:
        return pd.DataFrame()

    def lead(o: Outcome) -> dict[str, Any]:
        return {path: spec.column_values(path, o.task.point[path]) for path in spec.paths}

    if which == "summary":
        out = pd.DataFrame([{**lead(o), **(o.summary or {})} for o in ordered])
    else:
        frames = []
        for o in ordered:
            frame = o.patients
            assert frame is not None
            front = pd.DataFrame({k: [v] * len(frame) for k, v in lead(o).items()}, index=frame.index)
            frames.append(pd.concat([front, frame], axis=1))
        out = pd.concat(frames, ignore_index=True)
    out = out.drop(columns=["scenario"], errors="ignore")
    fixed = [*spec.paths, "replication", "seed"]
    return out[fixed + [c for c in out.columns if c not in fixed]]


class _Store:
    """The results folder of one study (see the module docstring)."""

    def __init__(self, out: Path, spec: SweepSpec, resume: bool, keep_patients: bool, backend: str) -> None:
        self.out = out
        self.parts = out / "parts"
        self.spec = spec
        self.keep = keep_patients
        manifest_path = out / "manifest.json"
        fingerprint = spec.fingerprint()
        check_output(spec, out, resume)  # refuses an existing folder without resume, or a changed sweep
        if manifest_path.exists():
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            self.manifest: dict[str, Any] = old
            self.manifest["resumed"] = self.manifest.get("resumed", 0) + 1
        else:
            self.manifest = {
                "name": spec.name,
                "fingerprint": fingerprint,
                "config": spec.to_dict(),
                "opdsim_version": _version(),
                "code_revision": _code_revision(),
                "started": _now(),
                "state": "running",
                "keep_patients": keep_patients,
            }
        self.manifest["backend"] = backend
        self.parts.mkdir(parents=True, exist_ok=True)
        _write_json(manifest_path, self.manifest)

    def done_points(self) -> set[int]:
        return {int(p.name.split("-")[1].split(".")[0]) for p in self.parts.glob("point-*.summary.parquet")}

    def write_point(self, index: int, outcomes: list[Outcome]) -> None:
        summary = _frame_with_grid(self.spec, outcomes, "summary")
        if self.keep:
            patients = _frame_with_grid(self.spec, outcomes, "patients")
            _write_atomic(self.parts / f"point-{index:05d}.patients.parquet", lambda p: patients.to_parquet(p))
        # the summary part is written last: its presence marks the point as finished
        _write_atomic(self.parts / f"point-{index:05d}.summary.parquet", lambda p: summary.to_parquet(p))

    def finish(self, started: float, replications: int, auto_choice: Mapping[str, Any] | None) -> Results:
        points = sorted(self.parts.glob("point-*.summary.parquet"))
        summary = pd.concat([pd.read_parquet(p) for p in points], ignore_index=True)
        _write_atomic(self.out / "summary.parquet", lambda p: summary.to_parquet(p))
        patients = None
        if self.keep:
            patients = pd.concat(
                [pd.read_parquet(p) for p in sorted(self.parts.glob("point-*.patients.parquet"))], ignore_index=True
            )
            _write_atomic(self.out / "patients.parquet", lambda p: patients.to_parquet(p))
        results = Results(summary, self.spec.paths, patients, self.manifest)
        _write_atomic(self.out / "table.csv", lambda p: results.table().to_csv(p, index=False))
        self.manifest.update(
            state="complete",
            ended=_now(),
            duration_s=round(self.manifest.get("duration_s", 0.0) + time.perf_counter() - started, 3),
            replications=replications,
            seeds={"seed": self.spec.seed, "replications": list(range(replications))},
        )
        if auto_choice is not None:
            self.manifest["auto_replications"] = dict(auto_choice)
        _write_json(self.out / "manifest.json", self.manifest)
        shutil.rmtree(self.parts, ignore_errors=True)
        return results


def _version() -> str:
    from opdsim import __version__

    return __version__


def _backend_name(workers: int | None, scheduler: str | None) -> str:
    if scheduler is not None:
        return f"dask:{scheduler}"
    n = default_workers() if workers is None else workers
    return "serial" if n <= 1 else f"processes:{n}"


# ------------------------------------------------------------------------------------------------ running


def _run(
    spec: SweepSpec,
    tasks: list[Task],
    keep: bool,
    workers: int | None,
    scheduler: str | None,
    on_point: Callable[[int, list[Outcome]], None] | None,
    progress: ProgressFn | None,
    failures: list[tuple[dict[str, Any], int, int, str]],
) -> dict[int, list[Outcome]]:
    """Run ``tasks``; call ``on_point`` as each grid point completes; collect failures."""
    per_point: dict[int, list[Outcome]] = {}
    expected: dict[int, int] = {}
    for t in tasks:
        expected[t.point_index] = expected.get(t.point_index, 0) + 1
    failed_points: set[int] = set()
    outcomes = run_tasks(spec.scenario, spec.fingerprint(), tasks, keep, workers, scheduler)
    for done, outcome in enumerate(outcomes, start=1):
        t = outcome.task
        if outcome.error is not None:
            failures.append((dict(t.point), t.seed, t.replication, outcome.error))
            failed_points.add(t.point_index)
        else:
            per_point.setdefault(t.point_index, []).append(outcome)
        if (
            on_point is not None
            and t.point_index not in failed_points
            and len(per_point.get(t.point_index, [])) == expected[t.point_index]
        ):
            on_point(t.point_index, per_point[t.point_index])
        if progress is not None:
            progress(done, len(tasks))
    return per_point


def sweep(
    sweep_spec: SweepSpec | str | os.PathLike[str],
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    keep_patients: bool = False,
    progress: ProgressFn | None = None,
) -> Results:
    """Run a sweep: every grid point, each with the same replications (common random numbers).

    Parameters
    ----------
    sweep_spec : SweepSpec or path
        The study, or the path of a sweep file.
    workers : int, optional
        Local worker processes (all cores by default; 1 = this process).
    scheduler : str, optional
        Dask scheduler address; the same results as local processes.
    out : path, optional
        Results folder; grid points are written as they finish. None keeps results in memory only.
    resume : bool
        Complete an interrupted sweep in ``out`` without redoing finished points (refused if the sweep changed).
    keep_patients : bool
        Also keep the per-patient frames.
    progress : callable, optional
        Called as ``progress(done, total)`` after each replication.

    Raises
    ------
    ReplicationFailed
        After the sweep, if any replication raised (the rest is kept and written).
    """
    spec = sweep_spec if isinstance(sweep_spec, SweepSpec) else SweepSpec.from_toml(sweep_spec)
    if out is not None and resume and _complete(Path(out), spec):
        return load_results(out)
    started = time.perf_counter()
    points = spec.points()
    store = _Store(Path(out), spec, resume, keep_patients, _backend_name(workers, scheduler)) if out else None
    failures: list[tuple[dict[str, Any], int, int, str]] = []
    auto_choice: dict[str, Any] | None = None
    if spec.replications == "auto":
        reps, auto_choice, outcomes = _auto(spec, points, keep_patients, workers, scheduler, progress, failures)
        if store is not None:
            for index, outs in outcomes.items():
                store.write_point(index, outs)
    else:
        reps = int(spec.replications)
        skip = store.done_points() if store is not None else set()
        tasks = [Task(i, p, spec.seed, r) for i, p in enumerate(points) if i not in skip for r in range(reps)]
        outcomes = _run(
            spec,
            tasks,
            keep_patients,
            workers,
            scheduler,
            store.write_point if store is not None else None,
            progress,
            failures,
        )
    if failures:
        raise ReplicationFailed(failures)
    if store is not None:
        return store.finish(started, reps, auto_choice)
    flat = [o for outs in outcomes.values() for o in outs]
    summary = _frame_with_grid(spec, flat, "summary")
    patients = _frame_with_grid(spec, flat, "patients") if keep_patients else None
    manifest = {"name": spec.name, "config": spec.to_dict(), "replications": reps}
    if auto_choice is not None:
        manifest["auto_replications"] = auto_choice
    return Results(summary, spec.paths, patients, manifest)


def check_output(spec: SweepSpec, out: str | os.PathLike[str], resume: bool) -> None:
    """Raise the error a sweep into ``out`` would raise before running anything (an existing folder without
    ``resume``, or a sweep changed since the folder's one started)."""
    path = Path(out) / "manifest.json"
    if not path.exists():
        return
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if not resume:
        raise SweepError(
            "out",
            f"{out} already holds results of {manifest.get('name')!r}; pass --resume to "
            "complete them or choose another folder",
            source=spec.source,
        )
    _complete(Path(out), spec)


def _complete(out: Path, spec: SweepSpec) -> bool:
    """Whether ``out`` already holds the finished results of this very sweep (a changed sweep is refused)."""
    path = out / "manifest.json"
    if not path.exists():
        return False
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("fingerprint") != spec.fingerprint():
        raise SweepError(
            "file",
            f"changed since the sweep in {out} started (fingerprint differs); refusing to resume into it",
            source=spec.source,
        )
    return bool(manifest.get("state") == "complete")


def _auto(
    spec: SweepSpec,
    points: list[dict[str, Any]],
    keep: bool,
    workers: int | None,
    scheduler: str | None,
    progress: ProgressFn | None,
    failures: list[tuple[dict[str, Any], int, int, str]],
) -> tuple[int, dict[str, Any], dict[int, list[Outcome]]]:
    """Hoad, Robinson and Davies (2010): add replications (at every grid point in lockstep, which keeps the
    pairing of common random numbers) until the 95% interval of ``wait_mean`` is within ``precision`` of the
    mean at every point, and stays so for ``AUTO_LOOKAHEAD`` further replications."""
    outcomes: dict[int, list[Outcome]] = {}
    n = 0
    candidate: int | None = None
    while n < AUTO_MAX:
        batch = AUTO_MIN if n == 0 else 1
        tasks = [Task(i, p, spec.seed, r) for i, p in enumerate(points) for r in range(n, n + batch)]
        got = _run(spec, tasks, keep, workers, scheduler, None, progress, failures)
        if failures:
            break
        for i, outs in got.items():
            outcomes.setdefault(i, []).extend(outs)
        n += batch
        widths = [
            relative_half_width([float(o.summary[AUTO_METRIC]) for o in outs if o.summary is not None])
            for outs in outcomes.values()
        ]
        ok = max(widths) <= spec.precision
        if ok and candidate is None:
            candidate = n
        elif not ok:
            candidate = None
        if candidate is not None and n >= candidate + AUTO_LOOKAHEAD:
            break
    worst = max(widths) if outcomes else float("nan")
    choice = {
        "metric": AUTO_METRIC,
        "precision": spec.precision,
        "replications": n,
        "achieved_relative_half_width": float(worst),
        "reached": candidate is not None,
        "method": "Hoad, Robinson and Davies (2010), lockstep over grid points",
    }
    return n, choice, outcomes


def replicate(
    scenario: Scenario,
    replications: int,
    seed: int = 0,
    workers: int | None = None,
    out: str | os.PathLike[str] | None = None,
    keep_patients: bool = False,
    progress: ProgressFn | None = None,
) -> Results:
    """Independent replications of one scenario (replication r uses streams (seed, r))."""
    spec = SweepSpec.single(scenario, replications, seed)
    return sweep(spec, workers=workers, out=out, keep_patients=keep_patients, progress=progress)


def load_results(path: str | os.PathLike[str]) -> Results:
    """Load a results folder written by :func:`sweep` or :func:`replicate`."""
    root = Path(path)
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise SweepError("results", f"{root} is not a results folder (no manifest.json)", source=str(root))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("state") != "complete":
        raise SweepError("results", f"{root} holds an unfinished sweep; complete it with --resume", source=str(root))
    summary = pd.read_parquet(root / "summary.parquet")
    patients_path = root / "patients.parquet"
    patients = pd.read_parquet(patients_path) if patients_path.exists() else None
    grid = list(manifest["config"]["grid"])
    return Results(summary, grid, patients, manifest)
