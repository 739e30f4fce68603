"""Recommend a policy: feasibility against constraints, the best on an objective, and how sure we are.

Given a study that sweeps policy paths, an objective (a registry metric with a direction) and constraints
(``metric <= bound`` or ``metric >= bound``):

1. **Feasibility.** Every swept policy is checked against every constraint at every point of the other (hospital)
   grid paths with a one-sided Student t bound. The bounds are Bonferroni-corrected over all the checks, so that
   with probability at least ``1 - alpha_f`` no policy is called feasible or infeasible wrongly. A policy is
   *feasible* when every check passes, *infeasible* when one fails, *undetermined* otherwise.
2. **Selection.** Among the feasible, the objective (averaged over the hospital points, per replication) is
   screened by multiple comparisons with the best under common random numbers (Nelson, Swann, Goldsman and Song
   2001, the paired-t subset screen with a Bonferroni correction): policy i is kept unless some other feasible
   policy j beats it by more than ``t * S_ij / sqrt(n)``, where ``S_ij`` is the standard deviation of the paired
   differences. The kept subset holds the truly best feasible policy with probability at least ``1 - alpha_s``.

``alpha = 1 - confidence`` is split evenly between the two steps when there are constraints (all of it goes to
selection otherwise), so the whole statement holds with probability at least ``confidence``.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from opdsim.experiments.compare import _describe, _labelled, canonical, is_policy_path
from opdsim.experiments.spec import AUTO_MAX, SweepError, SweepSpec
from opdsim.experiments.stats import t_quantile
from opdsim.experiments.study import ProgressFn, Results, load_results
from opdsim.registry import Metric, metric

__all__ = [
    "Constraint",
    "Recommendation",
    "add_replications",
    "decide",
    "recommend",
]

Status = Literal["feasible", "infeasible", "undetermined"]
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` (``op == "<="``) or ``metric >= bound``, on a registry metric's mean."""

    metric: str
    op: Literal["<=", ">="]
    bound: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Read ``"wait_mean_EMERGENCY<=5"`` (``<`` and ``>`` read as ``<=`` and ``>=``).

        Raises
        ------
        SweepError
            For a malformed text or a metric the registry does not declare.
        """
        match = _CONSTRAINT.match(text)
        if match is None:
            raise SweepError("--constraint", f"{text!r} is not of the form METRIC<=NUMBER or METRIC>=NUMBER")
        name, op, number = match.groups()
        try:
            metric(name)
        except KeyError as error:
            raise SweepError("--constraint", str(error)) from None
        return cls(name, "<=" if op.startswith("<") else ">=", float(number))

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def words(self) -> str:
        """The constraint in words with its unit, e.g. ``"emergency wait mean at most 5 min"``."""
        m = metric(self.metric)
        return f"{m.label} {'at most' if self.op == '<=' else 'at least'} {self.bound:g} {m.unit}"


@dataclass(frozen=True)
class Recommendation:
    """The outcome of :func:`recommend`.

    Attributes
    ----------
    objective : str
        The registry metric optimised (its direction says lower or higher is better).
    constraints : tuple of Constraint
    confidence : float
        The promised probability that the feasibility calls and the subset are right.
    policies : DataFrame
        One row per swept policy: ``policy`` (in words), ``status``, ``objective_mean``, ``objective_half_width``
        (the ``confidence`` two-sided interval of the mean), ``in_subset`` (cannot be separated from the best),
        ``best``, ``open`` (undetermined or inseparable in a way that could change the choice),
        ``more_replications`` (about how many replications in all would settle it; NaN when settled).
    checks : DataFrame
        One row per (policy, constraint, hospital point): ``policy``, ``constraint``, ``where``, ``mean``,
        ``lower``, ``upper`` (the corrected one-sided bounds), ``status``, ``slack`` (bound minus the mean,
        positive when satisfied on average), ``more_replications``.
    replications : int
        Replications per policy and point used.
    """

    objective: str
    constraints: tuple[Constraint, ...]
    confidence: float
    policies: pd.DataFrame
    checks: pd.DataFrame
    replications: int
    alpha_feasibility: float = 0.0
    alpha_selection: float = 0.0
    where: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def best(self) -> str | None:
        """The recommended policy (the best feasible one on the objective), or None if none is feasible."""
        rows = self.policies[self.policies["best"]]
        return str(rows["policy"].iloc[0]) if len(rows) else None

    @property
    def subset(self) -> list[str]:
        """Feasible policies that paired comparisons cannot separate from the best (the best included)."""
        return [str(p) for p in self.policies.loc[self.policies["in_subset"], "policy"]]

    @property
    def more_replications(self) -> int | None:
        """About how many replications in all would settle every undetermined or inseparable policy (capped at
        the sweep limit), or None when nothing is left to settle or no number of replications would."""
        values = self.policies["more_replications"].dropna()
        return int(min(AUTO_MAX, values.max())) if len(values) else None

    def paragraph(self) -> str:
        """The recommendation in plain language."""
        return _paragraph(self)


# ------------------------------------------------------------------------------------------------ the statistics


def _needed(t: float, sd: float, gap: float) -> float:
    """Replications at which a ``t * sd / sqrt(n)`` margin shrinks below ``gap`` (NaN if it never does)."""
    if not (np.isfinite(gap) and gap > 0 and np.isfinite(sd)):
        return math.nan
    return float(math.ceil((t * sd / gap) ** 2)) if sd > 0 else math.nan


def decide(
    objective: Mapping[str, np.ndarray],
    checks: Mapping[tuple[str, str], Mapping[str, np.ndarray]],
    constraints: Sequence[Constraint],
    lower_is_better: bool,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """The feasibility screen and the subset selection on arrays (see the module docstring).

    Parameters
    ----------
    objective : mapping
        Policy -> objective values, one per replication; replication r of every policy saw the same patients.
    checks : mapping
        (policy, where) -> {constraint metric: values per replication}.
    constraints : sequence of Constraint
    lower_is_better : bool
        The objective's direction.
    confidence : float
        Promised probability of a correct statement [fraction].

    Returns
    -------
    policies, checks, alpha_feasibility, alpha_selection
        The frames described in :class:`Recommendation`.
    """
    alpha = 1 - confidence
    alpha_f = alpha / 2 if constraints else 0.0
    alpha_s = alpha - alpha_f
    names = list(objective)
    k_checks = len(checks) * len(constraints)
    rows = []
    status: dict[str, Status] = dict.fromkeys(names, "feasible")
    more: dict[str, float] = dict.fromkeys(names, math.nan)
    for (policy, where), values in checks.items():
        for c in constraints:
            x = np.asarray(values[c.metric], dtype=float)
            x = x[np.isfinite(x)]
            n = len(x)
            mean = float(x.mean()) if n else math.nan
            sd = float(x.std(ddof=1)) if n >= 2 else math.inf
            t = t_quantile(1 - alpha_f / k_checks, n - 1) if n >= 2 else math.inf
            half = t * sd / math.sqrt(n) if n >= 2 and sd > 0 else (0.0 if n >= 2 else math.inf)
            lower, upper = mean - half, mean + half
            if c.op == "<=":
                ok, bad = upper <= c.bound, lower > c.bound
            else:
                ok, bad = lower >= c.bound, upper < c.bound
            state: Status = "feasible" if ok else ("infeasible" if bad else "undetermined")
            need = _needed(t, sd, abs(c.bound - mean)) if state == "undetermined" else math.nan
            rows.append(
                {
                    "policy": policy,
                    "constraint": str(c),
                    "metric": c.metric,
                    "where": where,
                    "mean": mean,
                    "lower": lower,
                    "upper": upper,
                    "bound": c.bound,
                    "status": state,
                    "slack": (c.bound - mean) if c.op == "<=" else (mean - c.bound),
                    "more_replications": need,
                }
            )
            if state == "infeasible":
                status[policy] = "infeasible"
            elif state == "undetermined" and status[policy] == "feasible":
                status[policy] = "undetermined"
    check_frame = pd.DataFrame(rows)
    for policy in names:
        # an undetermined policy is settled when one check leaning to "fails" is shown to fail (the fewest
        # replications among those), or else when every undetermined check is shown to pass (the most)
        if status[policy] != "undetermined":
            continue
        open_checks = check_frame[(check_frame["policy"] == policy) & (check_frame["status"] == "undetermined")]
        leaning = open_checks[open_checks["slack"] < 0]["more_replications"]
        more[policy] = float(leaning.min()) if len(leaning) else float(open_checks["more_replications"].max())
    feasible = [p for p in names if status[p] == "feasible"]
    sign = 1.0 if lower_is_better else -1.0
    means = {p: float(np.mean(objective[p])) for p in names}
    n_obj = min(len(objective[p]) for p in names)
    t_two = t_quantile(1 - alpha / 2, n_obj - 1) if n_obj >= 2 else math.inf
    half_width = {p: t_two * float(np.std(objective[p], ddof=1)) / math.sqrt(len(objective[p])) for p in names}
    in_subset: dict[str, bool] = dict.fromkeys(names, False)
    matters: dict[str, bool] = {p: status[p] == "undetermined" for p in names}
    best: str | None = None
    if feasible:
        best = min(feasible, key=lambda p: sign * means[p])
        k = len(feasible)
        t = t_quantile(1 - alpha_s / (k - 1), n_obj - 1) if k > 1 else 0.0
        for i in feasible:
            keep = True
            for j in feasible:
                if i == j:
                    continue
                d = sign * (objective[i][:n_obj] - objective[j][:n_obj])  # > 0: j better than i
                margin = t * float(np.std(d, ddof=1)) / math.sqrt(n_obj)
                if float(d.mean()) > margin:
                    keep = False
                    break
            in_subset[i] = keep
            if keep and i != best:
                d = sign * (objective[i][:n_obj] - objective[best][:n_obj])
                more[i] = _needed(t, float(np.std(d, ddof=1)), float(d.mean()))
        # an undetermined policy that the best beats clearly on the objective cannot change the choice
        for u in names:
            if status[u] != "undetermined":
                continue
            d = sign * (objective[u][:n_obj] - objective[best][:n_obj])
            if float(d.mean()) > t * float(np.std(d, ddof=1)) / math.sqrt(n_obj):
                matters[u] = False
                more[u] = math.nan
    policy_frame = pd.DataFrame(
        {
            "policy": names,
            "status": [status[p] for p in names],
            "objective_mean": [means[p] for p in names],
            "objective_half_width": [half_width[p] for p in names],
            "in_subset": [in_subset[p] for p in names],
            "best": [p == best for p in names],
            "open": [matters[p] or (in_subset[p] and p != best) for p in names],
            "more_replications": [more[p] for p in names],
        }
    )
    return policy_frame, check_frame, alpha_f, alpha_s


# ------------------------------------------------------------------------------------------------ on a study


def _objective_metric(name: str) -> Metric:
    try:
        m = metric(name)
    except KeyError as error:
        raise SweepError("--objective", str(error)) from None
    if m.direction == "neither":
        raise SweepError("--objective", f"{name} has no better direction in the registry; choose another metric")
    return m


def recommend(
    results: Results,
    objective: str,
    constraints: Sequence[Constraint | str] = (),
    confidence: float = 0.95,
    at: Mapping[str, Any] | None = None,
) -> Recommendation:
    """Screen the swept policies of ``results`` for feasibility and pick the best (see the module docstring).

    Parameters
    ----------
    results : Results
        A study sweeping at least one policy path.
    objective : str
        A registry metric with a direction, e.g. ``"wait_p95_WALK_IN"`` [min].
    constraints : sequence of Constraint or str
        E.g. ``"wait_mean_EMERGENCY<=5"``; checked at every hospital grid point.
    confidence : float
        Promised probability of a correct statement [fraction].
    at : mapping, optional
        Restrict to one value of some hospital grid paths, e.g. ``{"demand.emergency.rate_per_hour": 2}``.
    """
    if not 0.5 <= confidence < 1:
        raise SweepError("--confidence", f"{confidence!r} must be at least 0.5 and below 1")
    m = _objective_metric(objective)
    cons = tuple(c if isinstance(c, Constraint) else Constraint.parse(c) for c in constraints)
    policy_paths = [p for p in results.grid if is_policy_path(p)]
    hospital = [p for p in results.grid if not is_policy_path(p)]
    if not policy_paths:
        raise SweepError("grid", "the study sweeps no policy path; there is nothing to choose between")
    summary = _labelled(results.summary, results.grid)
    for c in [m.name, *(c.metric for c in cons)]:
        if c not in summary.columns:
            raise SweepError("metric", f"{c} is not in this study's summary (made by an older version?)")
    where_text = ""
    if at:
        for path, value in at.items():
            if path not in hospital:
                raise SweepError("--at", f"{path} is not a swept hospital path (those are: {', '.join(hospital)})")
            summary = summary[summary[path] == canonical(value)]
            if not len(summary):
                raise SweepError("--at", f"{path} = {value} is not a value of this study")
        where_text = _describe({p: canonical(v) for p, v in at.items()})
    policies = summary.groupby(policy_paths, sort=False)
    objective_values: dict[str, np.ndarray] = {}
    check_values: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    n_reps = int(summary["replication"].nunique())
    for key, rows in policies:
        values = key if isinstance(key, tuple) else (key,)
        name = _describe({p: str(v) for p, v in zip(policy_paths, values, strict=True)})
        # per replication, the objective averaged over the hospital points (every point has every replication)
        per_rep = rows.groupby("replication", sort=True)[m.name].mean()
        objective_values[name] = per_rep.to_numpy(dtype=float)
        for point, frame in rows.groupby(hospital, sort=False) if hospital else [((), rows)]:
            pv = point if isinstance(point, tuple) else (point,)
            where = _describe({p: str(v) for p, v in zip(hospital, pv, strict=True)})
            frame = frame.sort_values("replication")
            check_values[(name, where)] = {c.metric: frame[c.metric].to_numpy(dtype=float) for c in cons}
    table, checks, alpha_f, alpha_s = decide(objective_values, check_values, cons, m.direction == "lower", confidence)
    return Recommendation(m.name, cons, confidence, table, checks, n_reps, alpha_f, alpha_s, where_text)


# ------------------------------------------------------------------------------------------------ in words


def _fmt(x: float, unit: str) -> str:
    text = f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"
    return f"{text} {unit}"


def _paragraph(r: Recommendation) -> str:
    m = metric(r.objective)
    pol = r.policies.set_index("policy")
    better = "lowest" if m.direction == "lower" else "highest"
    pct = f"{r.confidence:.0%}"
    scope = (
        f" at {r.where}" if r.where else " over every swept hospital point (objective averaged, constraints at each)"
    )
    n_pol = len(pol)
    counts = pol["status"].value_counts()
    out = []
    cons_text = "; ".join(c.words() for c in r.constraints) or "no constraints"
    out.append(
        f"Goal: the {better} {m.label} [{m.unit}]{scope}, subject to {cons_text}; {n_pol} policies, "
        f"{r.replications} paired replications each."
    )
    if r.best is None:
        out.append(
            f"No policy is shown feasible at {pct} confidence: {counts.get('infeasible', 0)} infeasible, "
            f"{counts.get('undetermined', 0)} undetermined."
        )
    else:
        b: dict[Any, Any] = r.policies[r.policies["best"]].iloc[0].to_dict()
        others = [p for p in r.subset if p != r.best]
        out.append(
            f"Choose {r.best}: its {m.label} is {_fmt(float(b['objective_mean']), m.unit)} "
            f"(±{_fmt(float(b['objective_half_width']), m.unit)}), the {better} of the "
            f"{counts.get('feasible', 0)} feasible policies."
        )
        if others:
            out.append(
                f"With {pct} confidence the best feasible policy is one of {r.best}, {', '.join(others)}: "
                f"paired comparisons cannot separate {'it' if len(others) == 1 else 'them'} from {r.best}, so "
                f"{'it is' if len(others) == 1 else 'they are'} as good a choice on this evidence."
            )
        else:
            out.append(f"With {pct} confidence no other feasible policy is as good (paired comparisons separate them).")
        out.append(_binding(r, r.best))
    if r.constraints:
        out.append(
            f"Feasibility: {counts.get('feasible', 0)} feasible, {counts.get('infeasible', 0)} infeasible, "
            f"{counts.get('undetermined', 0)} undetermined (one-sided bounds, Bonferroni over "
            f"{len(r.checks)} checks)."
        )
    moot = pol[pol["status"].eq("undetermined") & ~pol["open"]]
    if len(moot) and r.best is not None:
        out.append(
            f"{', '.join(moot.index)} {'is' if len(moot) == 1 else 'are'} undetermined but clearly worse than "
            f"{r.best} on the objective, so settling {'it' if len(moot) == 1 else 'them'} cannot change the choice."
        )
    unsettled = pol[pol["open"]]
    if len(unsettled):
        parts = []
        for name, row in unsettled.iterrows():
            need = row["more_replications"]
            if not np.isfinite(need):
                parts.append(f"{name} never (equal on average)")
            elif need > AUTO_MAX:
                parts.append(f"{name} more than {AUTO_MAX}")
            else:
                parts.append(f"{name} about {max(int(need), r.replications + 1)}")
        out.append(
            "Replications in all that would settle the open cases (estimated from the observed variance and "
            f"gap): {'; '.join(parts)}. --add-replications runs them with the same seeds and decides again."
        )
    out.append(
        f"Statistics: {pct} overall; {r.alpha_feasibility:.1%} error for feasibility, "
        f"{r.alpha_selection:.1%} for selection (multiple comparisons with the best under common random numbers)."
    )
    return " ".join(out)


def _binding(r: Recommendation, best: str) -> str:
    if not len(r.checks):
        return "No constraint limits the choice."
    checks = r.checks
    mine = checks[checks["policy"] == best].copy()
    mine["rel"] = mine["slack"] / mine["bound"].abs().where(mine["bound"] != 0, 1.0)
    tight = mine.sort_values("rel").iloc[0]
    m = metric(str(tight["metric"]))
    text = (
        f"The tightest constraint for it is {m.label} {'<=' if '<=' in str(tight['constraint']) else '>='} "
        f"{tight['bound']:g} {m.unit}: {_fmt(float(tight['mean']), m.unit)} on average at {tight['where']}, "
        f"{_fmt(float(tight['slack']), m.unit)} to spare."
    )
    m_obj = metric(r.objective)
    pol = r.policies.set_index("policy")
    sign = 1 if m_obj.direction == "lower" else -1
    chosen = float(r.policies.loc[r.policies["best"], "objective_mean"].iloc[0])
    ahead = pol[(sign * pol["objective_mean"] < sign * chosen) & (pol["status"] != "feasible")]
    if len(ahead):
        failing = checks[checks["policy"].isin(ahead.index) & (checks["status"] != "feasible")]
        which = failing["constraint"].value_counts()
        binds = str(which.index[0])
        bm = metric(binds.split()[0])
        worst = failing[failing["constraint"] == binds].sort_values("slack").iloc[0]
        text += (
            f" The constraint that binds is {bm.label}: {len(ahead)} policies with a better {m_obj.label} "
            f"({', '.join(ahead.index)}) fail or may fail it, {worst['policy']} by "
            f"{_fmt(-float(worst['slack']), bm.unit)} on average at {worst['where']}."
        )
    return text


# ------------------------------------------------------------------------------------------------ more data


def add_replications(
    path: str | os.PathLike[str],
    total: int,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> Results:
    """Append replications to a results folder until every grid point has ``total`` of them.

    The new replications get the next replication numbers (streams ``(seed, r)`` as in the sweep), so they are
    paired across grid points like the first ones (common random numbers). ``summary.parquet`` (and
    ``patients.parquet`` when kept), ``table.csv`` and the manifest are rewritten atomically.
    """
    from opdsim.experiments.runner import Task, run_tasks
    from opdsim.experiments.study import _frame_with_grid, _write_atomic, _write_json

    root = Path(path)
    results = load_results(root)
    spec = SweepSpec.from_manifest(results.manifest["config"], source=str(root))
    have = int(results.summary["replication"].max()) + 1
    if total <= have:
        return results
    started = time.perf_counter()
    keep = results.patients is not None
    tasks = [Task(i, p, spec.seed, r) for i, p in enumerate(spec.points()) for r in range(have, total)]
    outcomes = []
    for done, outcome in enumerate(run_tasks(spec.scenario, spec.fingerprint(), tasks, keep, workers, None), 1):
        if outcome.error is not None:
            raise SweepError("replications", f"replication {outcome.task.replication} failed: {outcome.error}")
        outcomes.append(outcome)
        if progress is not None:
            progress(done, len(tasks))
    extra = _frame_with_grid(spec, outcomes, "summary")
    summary = pd.concat([results.summary, extra], ignore_index=True)
    point_of = {json.dumps([canonical(p[k]) for k in spec.paths]): i for i, p in enumerate(spec.points())}
    summary["_point"] = [
        point_of[json.dumps([canonical(v) for v in row])] for row in summary[spec.paths].itertuples(index=False)
    ]
    summary = summary.sort_values(["_point", "replication"], kind="stable").drop(columns="_point")
    summary = summary.reset_index(drop=True)
    _write_atomic(root / "summary.parquet", lambda p: summary.to_parquet(p))
    patients = None
    if keep and results.patients is not None:
        patients = pd.concat([results.patients, _frame_with_grid(spec, outcomes, "patients")], ignore_index=True)
        _write_atomic(root / "patients.parquet", lambda p: patients.to_parquet(p))
    new = Results(summary, results.grid, patients, results.manifest)
    _write_atomic(root / "table.csv", lambda p: new.table().to_csv(p, index=False))
    manifest = dict(results.manifest)
    manifest["replications"] = total
    manifest["seeds"] = {"seed": spec.seed, "replications": list(range(total))}
    manifest.setdefault("added_replications", []).append(
        {"from": have, "to": total, "seconds": round(time.perf_counter() - started, 3)}
    )
    manifest["duration_s"] = round(float(manifest.get("duration_s", 0.0)) + time.perf_counter() - started, 3)
    _write_json(root / "manifest.json", manifest)
    return load_results(root)
