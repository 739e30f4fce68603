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

import functools
import hashlib
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

from opdsim.experiments.runner import Backend, Outcome, Task
from opdsim.experiments.spec import AUTO_MAX, AUTO_MIN, SweepError, SweepSpec, value_label
from opdsim.experiments.stats import relative_half_width, summary_table
from opdsim.sim.scenario import Scenario

__all__ = [
    "ReplicationFailed",
    "Results",
    "check_output",
    "code_identity",
    "describe_output",
    "load_results",
    "remove_output",
    "replicate",
    "stale_reason",
    "sweep",
]

AUTO_METRIC = "wait_mean"  # the metric whose precision "auto" controls
AUTO_LOOKAHEAD = 5  # Hoad et al.'s kLimit: the precision must hold for this many further replications

ProgressFn = Callable[[int, int], None]
RoundFn = Callable[[int, float, bool], None]  # "auto": (replications per point so far, worst relative half-width,
#                                             whether the precision is reached)


class ReplicationFailed(RuntimeError):
    """Some replications raised; the others were kept. ``failures`` lists (grid point, seed, replication,
    traceback)."""

    def __init__(self, failures: list[tuple[dict[str, Any], int, int, str]]) -> None:
        self.failures = failures
        lines = [f"{len(failures)} replication(s) could not be run; the rest of the study was kept:"]
        for point, seed, rep, tb in failures[:10]:
            last = tb.strip().splitlines()[-1] if tb.strip() else "?"
            where = ", ".join(f"{k} = {value_label(v)}" for k, v in point.items()) or "(base scenario)"
            lines.append(f"  grid point {where}, seed {seed}, replication {rep}: {last}")
        if len(failures) > 10:
            lines.append(f"  ... and {len(failures) - 10} more")
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
    folder: str | None = None  # the results folder it was loaded from or written to, for messages

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


@functools.cache
def _source_hash() -> str:
    """SHA-256 of the package's Python source: changes with any edit, committed or not."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def code_identity() -> dict[str, str | None]:
    """What made a results folder: package version, git revision (None outside a clone) and source hash."""
    return {"opdsim_version": _version(), "code_revision": _code_revision(), "source_hash": _source_hash()}


def _made_by(manifest: Mapping[str, Any]) -> str:
    rev = manifest.get("code_revision")
    src = manifest.get("source_hash")
    parts = [f"opdsim {manifest.get('opdsim_version', '?')}"]
    parts.append(f"revision {rev[:12]}" if isinstance(rev, str) else "an unknown revision")
    if isinstance(src, str):
        parts.append(f"source {src[:12]}")
    return ", ".join(parts)


def _code_changed(manifest: Mapping[str, Any]) -> bool:
    now = code_identity()
    return any(manifest.get(key) != now[key] for key in ("opdsim_version", "source_hash"))


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
        return {path: spec.column_value(path, o.task.point[path]) for path in spec.paths}

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
                **code_identity(),
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
        results = Results(summary, self.spec.paths, patients, self.manifest, str(self.out))
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


# ------------------------------------------------------------------------------------------------ running


def _run(
    spec: SweepSpec,
    tasks: list[Task],
    keep: bool,
    backend: Backend,
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
    outcomes = backend.run(spec.scenario, spec.fingerprint(), tasks, keep)
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
    on_round: RoundFn | None = None,
) -> Results:
    """Run a sweep: every grid point, each with the same replications (common random numbers).

    Parameters
    ----------
    sweep_spec : SweepSpec or path
        The study, or the path of a sweep file.
    workers : int, optional
        Local worker processes (all cores by default; 1 = this process).
    scheduler : str, optional
        Dask scheduler address; the same results as local processes. It is checked and connected to before
        anything is written.
    out : path, optional
        Results folder; grid points are written as they finish. None keeps results in memory only.
    resume : bool
        Complete an interrupted sweep in ``out`` without redoing finished points (refused if the sweep or the
        code changed since the folder was started).
    keep_patients : bool
        Also keep the per-patient frames.
    progress : callable, optional
        Called as ``progress(done, total)`` after each replication (with ``"auto"``, ``total`` is the number
        the current round asks for).
    on_round : callable, optional
        With ``replications = "auto"``: called as ``on_round(n, worst, reached)`` after each round, with the
        replications per point so far and the worst relative half-width of ``wait_mean`` over the points.

    Raises
    ------
    ReplicationFailed
        After the sweep, if any replication could not be run (the rest is kept and written).
    SweepError
        For an output folder that cannot be used, or a scheduler that does not answer.
    """
    spec = sweep_spec if isinstance(sweep_spec, SweepSpec) else SweepSpec.from_toml(sweep_spec)
    if out is not None:
        check_output(spec, out, resume)
        if resume and _complete(Path(out), spec):
            return load_results(out)
    started = time.perf_counter()
    points = spec.points()
    failures: list[tuple[dict[str, Any], int, int, str]] = []
    auto_choice: dict[str, Any] | None = None
    with Backend(workers, scheduler) as backend:  # a scheduler that does not answer fails here: nothing written
        store = _Store(Path(out), spec, resume, keep_patients, backend.name) if out is not None else None
        if spec.replications == "auto":
            reps, auto_choice, outcomes = _auto(spec, points, keep_patients, backend, progress, on_round, failures)
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
                backend,
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


def _read_manifest(out: Path) -> dict[str, Any] | None:
    path = out / "manifest.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SweepError("results", f"{path} cannot be read ({error})", source=str(out)) from None
    if not isinstance(data, dict):
        raise SweepError("results", f"{path} is not a results manifest", source=str(out))
    return data


def check_output(spec: SweepSpec, out: str | os.PathLike[str], resume: bool) -> None:
    """Raise the error a sweep into ``out`` would raise before running anything: ``out`` is a file; it holds
    results and ``resume`` is off; or (resuming) the sweep or the code changed since the folder was started."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise SweepError("--out", f"{root} is a file, not a results folder; choose a folder", source=spec.source)
    manifest = _read_manifest(root)
    if manifest is None:
        return
    if not resume:
        raise SweepError(
            "--out",
            f"{root}/ already holds results of {manifest.get('name')!r}; pass --resume to complete them, "
            "--force to replace them, or choose another folder",
            source=spec.source,
        )
    _complete(root, spec)


def _complete(out: Path, spec: SweepSpec) -> bool:
    """Whether ``out`` already holds the finished results of this very sweep, made by this very code (a changed
    sweep or code is refused)."""
    manifest = _read_manifest(out)
    if manifest is None:
        return False
    if manifest.get("fingerprint") != spec.fingerprint():
        raise SweepError(
            "file",
            f"changed since the sweep in {out}/ started (fingerprint differs); refusing to resume into it "
            "(--force replaces it)",
            source=spec.source,
        )
    if _code_changed(manifest):
        raise SweepError(
            "--resume",
            f"{out}/ was made by {_made_by(manifest)}, this is {_made_by(code_identity())}; refusing to mix two "
            "code versions in one study (--force replaces it)",
            source=spec.source,
        )
    return bool(manifest.get("state") == "complete")


def stale_reason(spec: SweepSpec, out: str | os.PathLike[str]) -> str | None:
    """Why the results in ``out`` are not those ``spec`` would give with this code (None: they are, or there are
    none)."""
    manifest = _read_manifest(Path(out))
    if manifest is None:
        return None
    if manifest.get("fingerprint") != spec.fingerprint():
        return f"{out}/ holds a different sweep (the sweep or scenario file changed since)"
    if _code_changed(manifest):
        return f"{out}/ was made by {_made_by(manifest)}, the code is now {_made_by(code_identity())}"
    return None


def describe_output(out: str | os.PathLike[str]) -> str | None:
    """What :func:`remove_output` would remove from ``out`` (None when it holds no results)."""
    root = Path(out)
    manifest = _read_manifest(root) if root.is_dir() else None
    if manifest is None:
        return None
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    parts = root / "parts"
    finished = len(list(parts.glob("point-*.summary.parquet"))) if parts.is_dir() else 0
    state = manifest.get("state", "?")
    detail = f"{finished} finished grid point(s) in parts/, " if state != "complete" else ""
    return (
        f"{root}/ holds the {state} study {manifest.get('name')!r} ({detail}made by {_made_by(manifest)}): "
        f"removing {', '.join(entries)}"
    )


def remove_output(out: str | os.PathLike[str]) -> None:
    """Remove a results folder (refused for a folder that holds no ``manifest.json``: not ours to remove)."""
    root = Path(out)
    if not root.exists():
        return
    if not root.is_dir():
        raise SweepError("--out", f"{root} is a file, not a results folder; not removing it", source=str(root))
    if _read_manifest(root) is None:
        if any(root.iterdir()):
            raise SweepError(
                "--out", f"{root}/ is not a results folder (no manifest.json); not removing it", source=str(root)
            )
        return
    shutil.rmtree(root)


def _auto(
    spec: SweepSpec,
    points: list[dict[str, Any]],
    keep: bool,
    backend: Backend,
    progress: ProgressFn | None,
    on_round: RoundFn | None,
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
        got = _run(spec, tasks, keep, backend, None, progress, failures)
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
        if on_round is not None:
            on_round(n, float(max(widths)), candidate is not None)
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
    resume: bool = False,
) -> Results:
    """Independent replications of one scenario (replication r uses streams (seed, r)); ``resume`` as for
    :func:`sweep`."""
    spec = SweepSpec.single(scenario, replications, seed)
    return sweep(spec, workers=workers, out=out, resume=resume, keep_patients=keep_patients, progress=progress)


def load_results(path: str | os.PathLike[str]) -> Results:
    """Load a results folder written by :func:`sweep` or :func:`replicate`."""
    root = Path(path)
    if not root.is_dir():
        raise SweepError("results", f"{root} is not a results folder (no such folder)", source=str(root))
    manifest = _read_manifest(root)
    if manifest is None:
        raise SweepError("results", f"{root}/ is not a results folder (no manifest.json)", source=str(root))
    if manifest.get("state") != "complete":
        raise SweepError("results", f"{root}/ holds an unfinished sweep; complete it with --resume", source=str(root))
    try:
        summary = pd.read_parquet(root / "summary.parquet")
        patients_path = root / "patients.parquet"
        patients = pd.read_parquet(patients_path) if patients_path.exists() else None
        grid = list(manifest["config"]["grid"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SweepError("results", f"{root}/ is damaged ({type(error).__name__}: {error})", source=str(root)) from None
    return Results(summary, grid, patients, manifest, str(root))
