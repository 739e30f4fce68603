"""Paired comparisons of policies, and the statistical regression test of a policy or code change.

Two policies may be compared only on the same hospital (doctors, sessions, demand, consultation times,
patience, clinic), seed and replications: replication r of each then saw the same patients (common random
numbers) and the difference of the pair removes most of the day-to-day noise. Two ways to compare:

* :func:`compare_within`: within one study, every value of a swept policy path against a reference value, at
  every point of the other grid paths; pairs are (the other grid keys, replication).
* :func:`compare_studies`: two studies that differ only in ``[policy]`` (grids may differ in policy paths);
  anything else is refused with the differing fields named.

Grid values are compared by canonical labels (``1``, ``1.0`` and ``"1"`` are the same label, ``"off"`` is
text), so a column of numbers meets a column of text without a type clash. Verdicts come from the metric
registry's direction and are corrected for the number of comparisons (Holm).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opdsim.experiments.spec import SweepError, SweepSpec
from opdsim.experiments.stats import holm, paired_table, t_quantile, t_tail
from opdsim.experiments.study import ProgressFn, Results, load_results, sweep
from opdsim.registry import REGISTRY, metric
from opdsim.sim.scenario import Scenario

__all__ = [
    "HEADLINE",
    "Comparison",
    "ExactReport",
    "RegressionReport",
    "canonical",
    "compare_results",
    "compare_studies",
    "compare_within",
    "hospital_differences",
    "is_policy_path",
    "regress",
    "regress_exact",
    "summary_metrics",
]

#: The metrics a comparison shows unless asked for others (registry names; absent columns are skipped).
HEADLINE = (
    "wait_mean",
    "wait_p95_WALK_IN",
    "wait_max_WALK_IN",
    "wait_mean_EMERGENCY",
    "wait_mean_PAID_PRIORITY",
    "starved",
    "left_unseen",
    "overtime_mean",
    "utilisation",
)

_NOT_HOSPITAL = {"name", "description"}  # words about a scenario, not the hospital


# ------------------------------------------------------------------------------------------------ labels


def canonical(value: Any) -> str:
    """The label of a grid value: numbers in their shortest form (``1``, ``1.0`` and ``"1"`` give ``"1"``;
    ``0.5`` gives ``"0.5"``), booleans as ``true``/``false``, other text unchanged (``"off"``)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    number: float | None = None
    if isinstance(value, float | np.floating):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
    if number is None:
        return str(value)
    if math.isfinite(number) and number == int(number) and abs(number) < 2**53:
        return str(int(number))
    return repr(number)


def is_policy_path(path: str) -> bool:
    """Whether a dotted scenario path lies in the ``[policy]`` section."""
    return path == "policy" or path.startswith("policy.")


def _short(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _describe(point: Mapping[str, str]) -> str:
    return ", ".join(f"{_short(k)}={v}" for k, v in point.items()) or "(base)"


def summary_metrics(summary: pd.DataFrame, names: Iterable[str] | None = None) -> list[str]:
    """Registry metrics present in ``summary``, in registry order (or in the order of ``names``).

    Names must be declared in the registry (an unknown name raises :class:`~opdsim.registry.UnknownMetricError`);
    declared metrics that this summary lacks (e.g. columns added by a later version) are skipped.
    """
    if names is None:
        return [m for m in REGISTRY if m in summary.columns]
    return [metric(n).name for n in names if n in summary.columns]


def _labelled(summary: pd.DataFrame, paths: Sequence[str]) -> pd.DataFrame:
    """A copy of ``summary`` whose grid columns hold canonical labels (text)."""
    out = summary.copy()
    for p in paths:
        out[p] = [canonical(v) for v in out[p]]
    return out


# ------------------------------------------------------------------------------------------------ what a study is


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def _config(results: Results) -> Mapping[str, Any]:
    config = results.manifest.get("config")
    if not isinstance(config, Mapping) or "scenario" not in config:
        raise SweepError("manifest", "has no recorded configuration; cannot tell what was simulated")
    return config


def _hospital(config: Mapping[str, Any], replications: Any) -> dict[str, Any]:
    """Everything but the policy that decides what a study simulated: the base scenario's non-policy fields
    (those its grid does not override), the non-policy grid paths with their labels, seed and replications."""
    grid = {p: v for p, v in config["grid"].items() if not is_policy_path(p)}
    flat = {
        k: v
        for k, v in _flatten(config["scenario"]).items()
        if k not in _NOT_HOSPITAL and not is_policy_path(k) and not any(k == g or k.startswith(g + ".") for g in grid)
    }
    flat.update({p: [canonical(x) for x in values] for p, values in grid.items()})
    flat["seed"] = config["seed"]
    flat["replications"] = replications
    return flat


def _show(value: Any, swept: bool) -> str:
    if swept and isinstance(value, list):
        return "swept over [" + ", ".join(map(str, value)) + "]"
    return str(value)


def hospital_differences(a: Results, b: Results, names: tuple[str, str] = ("A", "B")) -> list[tuple[str, Any, Any]]:
    """The fields (other than ``[policy]``) in which two studies differ, as (field, value in a, value in b).

    Compared: the base scenario's hospital (doctors, sessions, demand, consultation, patience, clinic) where the
    grid does not override it, the non-policy grid paths and their values, the seed and the replications.
    """
    ca, cb = _config(a), _config(b)
    ha = _hospital(ca, a.manifest.get("replications", ca.get("replications")))
    hb = _hospital(cb, b.manifest.get("replications", cb.get("replications")))
    diffs = []
    for key in [*ha, *[k for k in hb if k not in ha]]:
        va, vb = ha.get(key, "(not set)"), hb.get(key, "(not set)")
        if va != vb:
            diffs.append((key, va, vb))
    return diffs


def _folders(a: Results, b: Results) -> str:
    """`` (A = folder, B = folder)`` when the studies were loaded from folders, else nothing."""
    if a.folder is None and b.folder is None:
        return ""
    return f" (A = {a.folder or 'in memory'}, B = {b.folder or 'in memory'})"


def _refuse(diffs: list[tuple[str, Any, Any]], a: Results, b: Results, names: tuple[str, str]) -> None:
    if not diffs:
        return
    ga, gb = set(_config(a)["grid"]), set(_config(b)["grid"])
    shown = [f"{k}: {_show(va, k in ga)} in {names[0]}, {_show(vb, k in gb)} in {names[1]}" for k, va, vb in diffs]
    more = f" (and {len(shown) - 3} more)" if len(shown) > 3 else ""
    raise SweepError(
        "hospital",
        f"the studies differ outside [policy], so their policies cannot be compared{_folders(a, b)}: "
        + "; ".join(shown[:3])
        + more,
    )


# ------------------------------------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class Comparison:
    """Paired differences ``b - a`` with intervals and verdicts.

    Attributes
    ----------
    table : DataFrame
        One row per comparison: ``a`` and ``b`` (the two policies, in words), ``where`` (the other grid keys),
        ``metric``, ``label`` (label with unit), ``direction``, ``mean_a``, ``mean_b``, ``diff``, ``ci_low``,
        ``ci_high`` (the ``level`` interval of the paired difference), ``n`` (pairs), ``p_two_sided``,
        ``p_larger`` (one-sided p-value that B is larger), ``p_holm`` (Holm-adjusted two-sided), ``verdict``
        ("better", "worse", "higher", "lower" or "no detectable
        difference"; "better"/"worse" from the registry's direction, "higher"/"lower" for metrics without one).
    level : float
        Confidence level of each interval; the verdicts hold at family-wise error ``1 - level``.
    names : tuple of str
        How A and B are called in the text.
    paired : bool
        False for the unpaired (Welch) version, shown only to demonstrate what pairing buys.
    """

    table: pd.DataFrame
    level: float = 0.95
    names: tuple[str, str] = ("A", "B")
    paired: bool = True

    @property
    def n_comparisons(self) -> int:
        """How many paired comparisons were made (metrics x pairs of policies x points)."""
        return len(self.table)

    @property
    def decided(self) -> pd.DataFrame:
        """The comparisons with a detectable difference after the correction."""
        return self.table[self.table["verdict"] != "no detectable difference"].reset_index(drop=True)

    def render(self, width: int = 80) -> str:
        """The comparison as plain text at most ``width`` characters wide."""
        return _render(self, width)


def _verdicts(table: pd.DataFrame, level: float) -> pd.DataFrame:
    alpha = 1 - level
    p = table["p_two_sided"].to_numpy(dtype=float)
    rejected = holm(np.where(np.isfinite(p), p, 1.0), alpha)
    table["p_holm"] = _holm_adjusted(p)
    verdicts = []
    for rej, diff, direction in zip(rejected, table["diff"], table["direction"], strict=True):
        if not rej or not np.isfinite(diff) or diff == 0:
            verdicts.append("no detectable difference")
        elif direction == "neither":
            verdicts.append("higher" if diff > 0 else "lower")
        else:
            good = (diff < 0) == (direction == "lower")
            verdicts.append("better" if good else "worse")
    table["verdict"] = verdicts
    return table


def _holm_adjusted(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (monotone, at most 1); NaN stays NaN."""
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _unpaired_table(
    a: pd.DataFrame, b: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str], level: float
) -> pd.DataFrame:
    """Like ``paired_table`` but ignoring the pairing: Welch's interval of the difference of two means, as if
    the two policies had seen independent patients (to show what common random numbers buy)."""
    rows = []
    groups_b: dict[Any, pd.DataFrame] = dict(iter(b.groupby(list(keys), sort=False))) if keys else {(): b}
    for key, fa in a.groupby(list(keys), sort=False) if keys else [((), a)]:
        fb = groups_b.get(key)
        if fb is None:
            continue
        point = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        for m in metrics:
            xa = fa[m].to_numpy(dtype=float)
            xb = fb[m].to_numpy(dtype=float)
            xa, xb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
            va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
            diff = float(xb.mean() - xa.mean())
            se = math.sqrt(va + vb)
            if se > 0:
                df = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
                half = t_quantile(0.5 + level / 2, df) * se
                p_two = 2 * t_tail(abs(diff) / se, df)
                p_larger = t_tail(diff / se, df)
            else:
                half, p_two, p_larger = 0.0, 1.0, 1.0
            rows.append(
                {
                    **point,
                    "metric": m,
                    "mean_a": float(xa.mean()),
                    "mean_b": float(xb.mean()),
                    "diff": diff,
                    "ci_low": diff - half,
                    "ci_high": diff + half,
                    "n": min(len(xa), len(xb)),
                    "p_two_sided": p_two,
                    "p_worse": p_larger,
                    "significant": bool(p_two < 1 - level),
                }
            )
    return pd.DataFrame(rows)


def _pairs(
    a: pd.DataFrame,
    b: pd.DataFrame,
    keys: Sequence[str],
    metrics: Sequence[str],
    level: float,
    paired: bool = True,
) -> pd.DataFrame:
    """``paired_table`` (or the unpaired version) on label columns, with ``where`` in words."""
    table = (paired_table if paired else _unpaired_table)(a, b, list(keys), metrics, level)
    if not len(table):
        return table
    table["where"] = [_describe({k: str(row[k]) for k in keys}) for _, row in table.iterrows()]
    return table.drop(columns=list(keys))


def _finish(parts: list[pd.DataFrame], level: float, names: tuple[str, str], paired: bool = True) -> Comparison:
    parts = [p for p in parts if len(p)]
    if not parts:
        raise SweepError("compare", "no pairs to compare: the studies share no (grid point, replication)")
    table = pd.concat(parts, ignore_index=True)
    table["label"] = [metric(m).label_with_unit for m in table["metric"]]
    table["direction"] = [metric(m).direction for m in table["metric"]]
    table = _verdicts(table, level)
    cols = ["a", "b", "where", "metric", "label", "direction", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "n"]
    table = table.rename(columns={"p_worse": "p_larger"})
    return Comparison(table[[*cols, "p_two_sided", "p_larger", "p_holm", "verdict"]], level, names, paired)


def compare_within(
    results: Results,
    by: str,
    reference: Any = None,
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
    paired: bool = True,
) -> Comparison:
    """Every value of the swept path ``by`` against ``reference``, at every point of the other grid paths.

    Parameters
    ----------
    results : Results
        One study.
    by : str
        A swept grid path, e.g. ``"policy.aging_threshold"``.
    reference : optional
        The value compared against (matched by label: ``5`` and ``"5"`` are the same); the first swept value
        when omitted.
    metrics : sequence of str, optional
        Registry metric names (default :data:`HEADLINE`); those the summary lacks are skipped.
    level : float
        Confidence level of the intervals [fraction].
    paired : bool
        False ignores the pairing (Welch intervals, as if the policies had seen different patients): only to
        show how much wider intervals are without common random numbers.
    """
    if by not in results.grid:
        swept = ", ".join(results.grid) or "nothing"
        raise SweepError("--by", f"{by!r} is not swept in this study (it sweeps {swept})")
    values = [canonical(v) for v in _config(results)["grid"][by]]
    summary = _labelled(results.summary, results.grid)
    ref = values[0] if reference is None else canonical(reference)
    if ref not in values:
        raise SweepError("--reference", f"{reference!r} is not a value of {by} (its values: {', '.join(values)})")
    if len(values) < 2:
        raise SweepError("--by", f"{by} has only one value ({values[0]}) in this study; nothing to compare it with")
    names = summary_metrics(summary, HEADLINE if metrics is None else metrics)
    others = [p for p in results.grid if p != by]
    base = summary[summary[by] == ref].drop(columns=[by])
    parts = []
    for v in values:
        if v == ref:
            continue
        part = _pairs(base, summary[summary[by] == v].drop(columns=[by]), others, names, level, paired)
        part["a"], part["b"] = f"{_short(by)}={ref}", f"{_short(by)}={v}"
        parts.append(part)
    return _finish(parts, level, (f"{_short(by)}={ref}", "other values"), paired)


def _policy_groups(summary: pd.DataFrame, paths: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    if not paths:
        return [("", summary)]
    groups = summary.groupby(list(paths), sort=False)
    out = []
    for key, group in groups:
        values = key if isinstance(key, tuple) else (key,)
        out.append((_describe({p: str(v) for p, v in zip(paths, values, strict=True)}), group))
    return out


def compare_studies(
    a: Results,
    b: Results,
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
    names: tuple[str, str] = ("A", "B"),
) -> Comparison:
    """Paired differences ``b - a`` of two studies that differ only in ``[policy]``.

    Pairs are (non-policy grid point, policy paths both sweep over the same values, replication). A policy path
    that only one study sweeps, or that the two sweep over different values, is a policy of its own: every
    policy of A meets every policy of B.

    Raises
    ------
    SweepError
        If the studies differ outside ``[policy]`` (the fields are named) or share no pairs.
    """
    _refuse(hospital_differences(a, b, names), a, b, names)
    ga, gb = _config(a)["grid"], _config(b)["grid"]
    hospital = [p for p in a.grid if not is_policy_path(p)]
    labels = {p: [canonical(v) for v in vs] for p, vs in ga.items()}
    labels_b = {p: [canonical(v) for v in vs] for p, vs in gb.items()}
    matched = [p for p in a.grid if is_policy_path(p) and p in b.grid and labels[p] == labels_b[p]]
    own_a = [p for p in a.grid if is_policy_path(p) and p not in matched]
    own_b = [p for p in b.grid if is_policy_path(p) and p not in matched]
    sa, sb = _labelled(a.summary, a.grid), _labelled(b.summary, b.grid)
    chosen = summary_metrics(sa, HEADLINE if metrics is None else metrics)
    chosen = [m for m in chosen if m in sb.columns]
    parts = []
    for wa, fa in _policy_groups(sa, own_a):
        for wb, fb in _policy_groups(sb, own_b):
            part = _pairs(fa.drop(columns=own_a), fb.drop(columns=own_b), [*hospital, *matched], chosen, level)
            part["a"] = f"{wa} ({names[0]})" if wa else names[0]
            part["b"] = f"{wb} ({names[1]})" if wb else names[1]
            parts.append(part)
    return _finish(parts, level, names)


def compare_results(a: Results, b: Results, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """The table of :func:`compare_studies` (kept for callers of the earlier name)."""
    return compare_studies(a, b, metrics).table


# ------------------------------------------------------------------------------------------------ text


def _num(x: float) -> str:
    """Three significant figures or so, in at most 6 characters for values below 10^5."""
    if not np.isfinite(x):
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _signed(x: float) -> str:
    return "-" if not np.isfinite(x) else ("+" if x >= 0 else "") + _num(x)


_VERDICT_WORDS = {"no detectable difference": "none detected"}


def _render(c: Comparison, width: int) -> str:
    label_w = max(18, width - 50)
    header = f"{'metric [unit]':<{label_w}} {'A':>6} {'B':>6}  {'B - A [95% interval]':<20} verdict"
    lines: list[str] = []
    for (a, b, where), rows in c.table.groupby(["a", "b", "where"], sort=False):
        n = int(rows["n"].max())
        count = f"{n} pairs" if c.paired else f"{n} days each, unpaired"
        lines += ["", _clip(f"A: {a}   B: {b}", width), _clip(f"at {where}, {count}", width), header]
        for r in rows.to_dict("records"):
            label = str(r["label"])
            if len(label) > label_w:
                label = label[: label_w - 1] + "…"
            diff = f"{_signed(r['diff'])} [{_signed(r['ci_low'])}, {_signed(r['ci_high'])}]"
            verdict = _VERDICT_WORDS.get(str(r["verdict"]), str(r["verdict"]))
            row = f"{label:<{label_w}} {_num(r['mean_a']):>6} {_num(r['mean_b']):>6}  {diff:<20} {verdict}"
            lines.append(_clip(row, width))
    decided = len(c.decided)
    foot = [
        "",
        f"{c.n_comparisons} {'paired' if c.paired else 'UNPAIRED (Welch)'} comparisons; {decided} with a "
        "detectable difference. Intervals are",
        f"{c.level:.0%} for each comparison; verdicts are Holm-corrected over all {c.n_comparisons}",
        f"(family-wise error {1 - c.level:.0%}). 'none detected' = no detectable difference;",
        "better/worse follow each metric's direction in the registry.",
    ]
    return "\n".join(lines[1:] + [_clip(f, width) for f in foot])


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ------------------------------------------------------------------------------------------------ regression


@dataclass(frozen=True)
class RegressionReport:
    """Outcome of :func:`regress`.

    Attributes
    ----------
    tests : DataFrame
        Every one-sided test (pair of policies x point x guarded metric): the columns of
        :class:`Comparison`'s table plus ``p_worse`` and ``worse`` (its Holm decision).
    alpha : float
        Family-wise error rate.
    changes : tuple of str
        The grid the rerun swept, in words (for the report).
    """

    tests: pd.DataFrame
    alpha: float
    changes: tuple[str, ...] = ()

    @property
    def worse(self) -> pd.DataFrame:
        """The metrics that got significantly worse (after Holm's correction)."""
        return self.tests[self.tests["worse"]].reset_index(drop=True)

    @property
    def passed(self) -> bool:
        """True when nothing got significantly worse."""
        return not bool(self.tests["worse"].any())


def _read_candidate(path: Path) -> tuple[Scenario, dict[str, tuple[Any, ...]], dict[str, Any]]:
    """A candidate file: (its scenario, its grid, its other sweep settings) for a sweep file; a scenario file
    has an empty grid and no settings."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError("file", "no such file", source=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise SweepError("file", f"malformed TOML: {error}", source=str(path)) from None
    except UnicodeDecodeError as error:
        raise SweepError("file", f"is not UTF-8 text (byte {error.start})", source=str(path)) from None
    except OSError as error:
        raise SweepError("file", f"cannot be read ({error.strerror})", source=str(path)) from None
    if "grid" in data or isinstance(data.get("scenario"), str):
        spec = SweepSpec.from_toml(path)
        settings: dict[str, Any] = {k: data[k] for k in ("seed", "replications", "precision") if k in data}
        return spec.scenario, dict(spec.grid), settings
    return Scenario.from_toml(path), {}, {}


def candidate_spec(base: Results, candidate: str | os.PathLike[str] | None, source: str) -> SweepSpec:
    """The study a regression test runs: the baseline's hospital (its non-policy grid points, seed and
    replications) under the candidate's policy.

    The candidate's ``[policy]`` replaces the baseline's; policy paths the candidate sweeps are swept; a policy
    path swept in the baseline but not in the candidate takes the candidate's value. A candidate that sets
    anything else differently (a hospital field, a non-policy grid path, the seed or the replications) is
    refused with the field named: nothing it says is ignored.
    """
    config = _config(base)
    spec = SweepSpec.from_manifest(config, source=source)
    reps = int(base.manifest.get("replications", spec.replications))  # added replications count too
    hospital_grid = {p: v for p, v in spec.grid.items() if not is_policy_path(p)}
    if candidate is None:
        return SweepSpec(spec.scenario, spec.grid, reps, spec.seed, spec.precision, spec.name, source)
    path = Path(candidate)
    scenario, grid, settings = _read_candidate(path)
    src = str(path)
    recorded = {"seed": spec.seed, "replications": base.manifest.get("replications", reps), "precision": spec.precision}
    for key, value in settings.items():
        if value != recorded[key] and not (key == "replications" and value == spec.replications):
            raise SweepError(
                key,
                f"{value!r} in the candidate, {recorded[key]!r} in the baseline; a regression test reruns the "
                "baseline's seed and replications",
                source=src,
            )
    theirs = _flatten(scenario.to_dict())
    ours = _flatten(spec.scenario.to_dict())
    for key in [*ours, *[k for k in theirs if k not in ours]]:
        if key in _NOT_HOSPITAL or is_policy_path(key):
            continue
        if theirs.get(key, "(not set)") != ours.get(key, "(not set)"):
            raise SweepError(
                key,
                f"{theirs.get(key, '(not set)')} in the candidate, {ours.get(key, '(not set)')} in the baseline; "
                "a regression test changes [policy] only",
                source=src,
            )
    for p, values in grid.items():
        if is_policy_path(p):
            continue
        mine = hospital_grid.get(p)
        if mine is None or [canonical(v) for v in mine] != [canonical(v) for v in values]:
            was = "not swept" if mine is None else "[" + ", ".join(canonical(v) for v in mine) + "]"
            raise SweepError(
                f"grid.{p}",
                f"[{', '.join(canonical(v) for v in values)}] in the candidate, {was} in the baseline; "
                "a regression test changes [policy] only",
                source=src,
            )
    policy_grid = {p: v for p, v in grid.items() if is_policy_path(p)}
    # the baseline's order of paths (its policy paths where the candidate sweeps them too), then the candidate's
    new_grid = {p: policy_grid.get(p, v) for p, v in spec.grid.items() if not is_policy_path(p) or p in policy_grid}
    new_grid.update({p: v for p, v in policy_grid.items() if p not in new_grid})
    merged = spec.scenario.to_dict()
    merged["policy"] = scenario.to_dict()["policy"]
    merged["name"] = scenario.name
    new_scenario = Scenario.from_dict(merged, source=src)
    return SweepSpec(new_scenario, new_grid, reps, spec.seed, spec.precision, spec.name, src)


def regress(
    baseline: str | os.PathLike[str],
    candidate: str | os.PathLike[str] | None = None,
    alpha: float = 0.05,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: ProgressFn | None = None,
) -> RegressionReport:
    """Rerun the baseline's hospital under the candidate's policy (or the baseline as it was, with the current
    code, when no candidate is given) and test every metric with a direction, at every point and pair of
    policies, with a one-sided paired t-test for "worse", Holm-corrected over all the tests at ``alpha``.

    Parameters
    ----------
    baseline : path
        A results folder.
    candidate : path, optional
        A scenario or sweep file whose ``[policy]`` (and policy grid paths) replace the baseline's; see
        :func:`candidate_spec` for what is refused.
    alpha : float
        Family-wise error rate [fraction].
    """
    base = load_results(baseline)
    spec = candidate_spec(base, candidate, str(candidate or baseline))
    new = sweep(spec, workers=workers, scheduler=scheduler, progress=progress)
    new.manifest["replications"] = base.manifest.get("replications")
    guarded = [
        m.name
        for m in REGISTRY.values()
        if m.direction != "neither" and m.name in base.summary.columns and m.name in new.summary.columns
    ]
    table = compare_studies(base, new, guarded, 1 - alpha, ("baseline", "candidate")).table
    # one-sided p-value of "worse": the candidate larger for lower-is-better metrics, smaller for the others
    larger = table["p_larger"].to_numpy(dtype=float)
    flat = (table["ci_high"] == table["ci_low"]).to_numpy()  # identical pairs: no evidence either way
    smaller = np.where(flat, 1.0, 1.0 - larger)
    p_worse = np.where(table["direction"].to_numpy() == "lower", larger, smaller)
    table["p_worse"] = np.where(np.isfinite(p_worse), p_worse, 1.0)
    table["worse"] = holm(table["p_worse"].to_numpy(), alpha)
    changes = tuple(f"{p} = [{', '.join(canonical(v) for v in vs)}]" for p, vs in spec.grid.items())
    return RegressionReport(table, alpha, changes)


@dataclass(frozen=True)
class ExactReport:
    """Outcome of :func:`regress_exact`: ``first_difference`` is None when the summaries are bit-identical."""

    rows: int
    first_difference: str | None

    @property
    def passed(self) -> bool:
        """True when every value of every row is bit-identical."""
        return self.first_difference is None


def regress_exact(
    baseline: str | os.PathLike[str],
    candidate: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: ProgressFn | None = None,
) -> ExactReport:
    """Rerun the baseline (under the candidate's policy when given) and require a bit-identical summary: for
    refactors that must not change any result. Reports the first differing value (row order, then column)."""
    base = load_results(baseline)
    spec = candidate_spec(base, candidate, str(candidate or baseline))
    new = sweep(spec, workers=workers, scheduler=scheduler, progress=progress).summary
    old = base.summary
    keys = [*base.grid, "replication"]
    lo, ln = _labelled(old, base.grid), _labelled(new, spec.paths)
    if set(old.columns) != set(new.columns):
        gone = [c for c in old.columns if c not in new.columns]
        added = [c for c in new.columns if c not in old.columns]
        return ExactReport(len(old), f"columns differ: missing {gone or 'none'}, new {added or 'none'}")
    if len(lo) != len(ln):
        return ExactReport(len(old), f"{len(old)} rows in the baseline, {len(new)} now")
    ln = ln[list(old.columns)]
    for i in range(len(lo)):
        for col in old.columns:
            a: Any = lo[col].iat[i]
            b: Any = ln[col].iat[i]
            same = bool(a == b) or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
            if not same:
                where = _describe({k: str(lo[k].iat[i]) for k in keys})
                return ExactReport(len(old), f"{where}: {col} = {a!r} in the baseline, {b!r} now")
    return ExactReport(len(old), None)
