"""Statistics over replications: confidence intervals, paired comparisons, Holm's correction and the choice of
the number of replications.

All intervals are Student t intervals over independent replications. Comparisons of two policies are paired by
(grid point, replication): under common random numbers replication r of both sides saw the same patients, so the
paired difference removes most of the day-to-day noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from opdsim.registry import REGISTRY, Direction, metric

__all__ = [
    "direction",
    "higher_is_better",
    "holm",
    "interval",
    "lower_is_better",
    "metric_columns",
    "paired_table",
    "relative_half_width",
    "summary_table",
    "t_quantile",
    "t_tail",
]


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t distribution with ``df`` degrees of freedom.

    ``scipy.special.stdtrit`` computes the same number as ``scipy.stats.t.ppf`` without importing
    ``scipy.stats``, whose import alone costs a command line about half a second.
    """
    return float(special.stdtrit(df, q))


def t_tail(t: float, df: float) -> float:
    """Upper tail probability ``P(T > t)`` of Student's t with ``df`` degrees of freedom (``stats.t.sf``)."""
    return float(special.stdtr(df, -t))


def interval(x: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of the Student t interval at ``level``, and the count of finite values."""
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    n = len(a)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(a.mean())
    if n == 1:
        return mean, math.inf, 1
    se = float(a.std(ddof=1) / math.sqrt(n))
    return mean, t_quantile(0.5 + level / 2, n - 1) * se, n


def relative_half_width(x: Sequence[float] | np.ndarray, level: float = 0.95) -> float:
    """Half-width of the interval divided by the absolute mean (inf when the mean is 0)."""
    mean, half, _ = interval(x, level)
    if not math.isfinite(half) or mean == 0:
        return math.inf if half else 0.0
    return half / abs(mean)


def metric_columns(summary: pd.DataFrame, grid: Sequence[str] = ()) -> list[str]:
    """The summary frame's metric columns: those the registry declares, in its order (never the grid, seed or
    replication columns, which it does not declare)."""
    present = set(summary.columns) - set(grid)
    return [name for name in REGISTRY if name in present]


def _by_point(frame: pd.DataFrame, grid: Sequence[str]) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """The rows of each grid point, with the point as {path: value}, in order of first appearance."""
    if not grid:
        yield {}, frame
        return
    for key, rows in frame.groupby(list(grid), sort=False, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        yield dict(zip(grid, values, strict=True)), rows


def summary_table(summary: pd.DataFrame, grid: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """Means with ``level`` intervals per grid point and metric (long format).

    Columns: the grid paths, ``metric``, ``mean``, ``ci_low``, ``ci_high``, ``half_width``, ``n``.
    """
    metrics = metric_columns(summary, grid)
    rows = []
    for point, frame in _by_point(summary, grid):
        for m in metrics:
            mean, half, n = interval(frame[m].to_numpy(dtype=float), level)
            rows.append(
                {
                    **point,
                    "metric": m,
                    "mean": mean,
                    "ci_low": mean - half,
                    "ci_high": mean + half,
                    "half_width": half,
                    "n": n,
                }
            )
    return pd.DataFrame(rows)


def paired_table(
    a: pd.DataFrame, b: pd.DataFrame, grid: Sequence[str], metrics: Sequence[str] | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Paired differences ``b - a`` per grid point and metric, matched on (grid point, replication).

    Columns: the grid paths, ``metric``, ``mean_a``, ``mean_b``, ``diff``, ``ci_low``, ``ci_high``, ``n``,
    ``p_two_sided``, ``p_worse`` (one-sided p-value that b is larger, i.e. worse for a lower-is-better metric),
    ``significant`` (the interval excludes 0).
    """
    keys = [*grid, "replication"]
    if metrics is None:
        metrics = [m for m in metric_columns(a, grid) if m in b.columns]
    joined = a[keys + list(metrics)].merge(b[keys + list(metrics)], on=keys, suffixes=("_a", "_b"))
    rows = []
    for point, frame in _by_point(joined, grid):
        for m in metrics:
            xa = frame[f"{m}_a"].to_numpy(dtype=float)
            xb = frame[f"{m}_b"].to_numpy(dtype=float)
            ok = np.isfinite(xa) & np.isfinite(xb)
            d = xb[ok] - xa[ok]
            n = len(d)
            mean_d = float(d.mean()) if n else math.nan
            if n >= 2 and d.std(ddof=1) > 0:
                se = float(d.std(ddof=1) / math.sqrt(n))
                tval = mean_d / se
                p_two = 2 * t_tail(abs(tval), n - 1)
                p_worse = t_tail(tval, n - 1)
                half = t_quantile(0.5 + level / 2, n - 1) * se
            else:  # identical pairs (or too few): no evidence of any difference
                p_two, p_worse, half = (1.0, 1.0, 0.0) if n else (math.nan, math.nan, math.nan)
            rows.append(
                {
                    **point,
                    "metric": m,
                    "mean_a": float(xa[ok].mean()) if n else math.nan,
                    "mean_b": float(xb[ok].mean()) if n else math.nan,
                    "diff": mean_d,
                    "ci_low": mean_d - half,
                    "ci_high": mean_d + half,
                    "n": n,
                    "p_two_sided": p_two,
                    "p_worse": p_worse,
                    "significant": bool(n >= 2 and p_two < 1 - level),
                }
            )
    return pd.DataFrame(rows)


def holm(p_values: Sequence[float] | np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise error ``alpha``."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    reject = np.zeros(m, dtype=bool)
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        if not np.isfinite(p[i]) or p[i] > alpha / (m - rank):
            break
        reject[i] = True
    return reject


def direction(name: str) -> Direction:
    """Which way is better for the metric ``name`` (the registry's ``direction``).

    Raises
    ------
    opdsim.registry.UnknownMetricError
        For a name the registry does not declare.
    """
    return metric(name).direction


def lower_is_better(columns: Sequence[str]) -> list[str]:
    """The metrics among ``columns`` the registry declares lower-is-better (what a regression test guards: an
    increase is a worsening); other columns are left out."""
    return [c for c in columns if c in REGISTRY and REGISTRY[c].direction == "lower"]


def higher_is_better(columns: Sequence[str]) -> list[str]:
    """The metrics among ``columns`` the registry declares higher-is-better (a decrease is a worsening)."""
    return [c for c in columns if c in REGISTRY and REGISTRY[c].direction == "higher"]
