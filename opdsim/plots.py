"""Matplotlib figures from metric frames (they only read frames: no simulation here).

Each function takes a results ``table()`` (long format: grid columns, ``metric``, ``mean``, ``ci_low``,
``ci_high``) or a ``timeline`` frame and returns a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["metric_by_grid", "timeline"]


def _order(values: Sequence[object]) -> list[object]:
    """Numbers in numeric order, text (such as "off") last."""

    def key(v: object) -> tuple[int, float, str]:
        try:
            return (0, float(str(v)), "")
        except ValueError:
            return (1, 0.0, str(v))

    return sorted(set(values), key=key)


def metric_by_grid(
    table: pd.DataFrame, metrics: Sequence[str], x: str, series: str | None = None, titles: Sequence[str] | None = None
) -> Figure:
    """One panel per metric: its mean and 95% interval against grid path ``x``, one line per value of
    ``series``.

    Parameters
    ----------
    table : DataFrame
        ``Results.table()`` output.
    metrics : sequence of str
        Metric columns to draw (e.g. ``wait_max_WALK_IN`` [min]).
    x : str
        Grid path on the horizontal axis (text values such as "off" go last).
    series : str, optional
        Grid path drawn as separate lines.
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    xs = _order(table[x].tolist())
    position = {v: i for i, v in enumerate(xs)}
    groups = [(None, table)] if series is None else list(table.groupby(series, sort=True))
    for k, metric in enumerate(metrics):
        ax = axes[0][k]
        for label, frame in groups:
            rows = frame[frame["metric"] == metric].copy()
            rows["_x"] = rows[x].map(position)
            rows = rows.sort_values("_x")
            name = None if series is None else f"{series.rsplit('.', 1)[-1]} = {label!s}"
            ax.plot(rows["_x"], rows["mean"], marker="o", label=name)
            ax.fill_between(rows["_x"], rows["ci_low"], rows["ci_high"], alpha=0.2)
        ax.set_xticks(range(len(xs)), [str(v) for v in xs])
        ax.set_xlabel(x.rsplit(".", 1)[-1])
        ax.set_title(titles[k] if titles else metric)
        ax.grid(alpha=0.3)
    if series is not None:
        axes[0][-1].legend(fontsize="small")
    fig.tight_layout()
    return fig


def timeline(frame: pd.DataFrame) -> Figure:
    """Queue length and busy doctors over the day from a ``timeline`` frame [patients, doctors vs min]."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    mid = (frame["t_start"] + frame["t_end"]) / 2
    ax.step(mid, frame["queue_length"], where="mid", label="waiting (callable)")
    ax.step(mid, frame["busy_doctors"], where="mid", label="busy doctors")
    ax.set_xlabel("minutes since opening")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
