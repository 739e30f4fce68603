"""Matplotlib figures for decisions, drawn from metric frames only (no simulation here).

Every figure takes frames of a study (its ``summary``, its ``patients`` when kept, or a ``timeline`` frame) and
returns a :class:`matplotlib.figure.Figure`. Conventions shared by all of them:

* every axis names its quantity and its unit (metric labels and units come from :mod:`opdsim.registry`);
* the five patient categories keep the same colour in every figure (:data:`CATEGORY_COLOURS`), from the
  Okabe-Ito palette, which stays distinguishable with the common colour-vision deficiencies;
* lines that may overlap differ in marker and line style as well as in colour;
* counts, and the bands around them, are never drawn below zero.

:func:`save_all` writes the standard set of figures of a study as PNG and SVG. The module leaves the choice of
backend to its caller (a notebook draws inline); the ``plot`` and ``report`` commands select Agg, which needs no
display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from opdsim.experiments.compare import canonical, is_policy_path
from opdsim.experiments.stats import interval
from opdsim.registry import CATEGORIES, metric

__all__ = [
    "CATEGORY_COLOURS",
    "SERIES_STYLES",
    "TRADEOFF_METRICS",
    "frontier",
    "metric_by_grid",
    "path_label",
    "per_doctor",
    "save_all",
    "starvation_heatmap",
    "timeline",
    "tradeoff",
    "utilisation_overtime",
    "wait_distributions",
]

#: Okabe-Ito colours, one per category, the same in every figure.
CATEGORY_COLOURS: Mapping[str, str] = {
    "EMERGENCY": "#D55E00",  # vermillion
    "PAID_PRIORITY": "#CC79A7",  # reddish purple
    "FOLLOW_UP": "#0072B2",  # blue
    "ONLINE": "#009E73",  # bluish green
    "WALK_IN": "#E69F00",  # orange
}
#: (colour, marker, line style) for the lines of a series (values of the other grid parameter), in order.
SERIES_STYLES: Sequence[tuple[str, str, str]] = (
    ("#56B4E9", "o", "-"),  # sky blue
    ("#0072B2", "s", "--"),  # blue
    ("#009E73", "^", "-."),  # bluish green
    ("#000000", "D", ":"),  # black
    ("#E69F00", "v", "-"),
    ("#CC79A7", "P", "--"),
    ("#D55E00", "X", "-."),
)
#: The trade-off the aging threshold moves: walk-ins' worst waits against the priority patients' waits.
TRADEOFF_METRICS = ("wait_p95_WALK_IN", "wait_max_WALK_IN", "wait_mean_EMERGENCY", "wait_mean_PAID_PRIORITY")

#: Words and units of the scenario paths a study usually sweeps (others fall back to their last name).
_PATHS: Mapping[str, tuple[str, str]] = {
    "policy.aging_threshold": ("aging threshold", "bypasses"),
    "policy.overflow_cap": ("overflow cap", "seats"),
    "policy.max_displacements": ("max displacements", "tokens"),
    "policy.no_show_grace": ("no-show grace", "min"),
    "demand.emergency.rate_per_hour": ("emergency rate", "patients/h"),
    "demand.scale": ("demand scale", "fraction"),
    "doctors.count": ("doctors", "doctors"),
    "doctors.slot_capacity": ("slot capacity", "seats"),
}
_COUNT_UNITS = {"patients", "requests", "seats", "tokens"}


def path_label(path: str, with_unit: bool = True) -> str:
    """A grid path in words, e.g. ``"aging threshold [bypasses]"``."""
    words, unit = _PATHS.get(path, (path.rsplit(".", 1)[-1].replace("_", " "), ""))
    return f"{words} [{unit}]" if with_unit and unit else words


def _value_words(path: str, value: Any) -> str:
    words, unit = _PATHS.get(path, (path.rsplit(".", 1)[-1].replace("_", " "), ""))
    label = canonical(value)
    if label == "off":
        return f"{words} off"
    return f"{words} {label} {unit}".strip() if unit not in ("", "fraction") else f"{words} {label}"


def _order(values: Sequence[Any]) -> list[str]:
    """Distinct labels, numbers in numeric order, text (such as "off") last."""

    def key(v: str) -> tuple[int, float, str]:
        try:
            return (0, float(v), "")
        except ValueError:
            return (1, 0.0, v)

    return sorted({canonical(v) for v in values}, key=key)


def _labelled(summary: pd.DataFrame, paths: Sequence[str]) -> pd.DataFrame:
    out = summary.copy()
    for p in paths:
        out[p] = [canonical(v) for v in out[p]]
    return out


def _is_count(name: str) -> bool:
    return metric(name).unit in _COUNT_UNITS


def _style(i: int) -> tuple[str, str, str]:
    return SERIES_STYLES[i % len(SERIES_STYLES)]


def _series(frame: pd.DataFrame, series: str | None) -> list[tuple[str | None, pd.DataFrame]]:
    if series is None:
        return [(None, frame)]
    return [(v, frame[frame[series] == v]) for v in _order(frame[series].tolist())]


# ------------------------------------------------------------------------------------------------ trade-off


def tradeoff(
    summary: pd.DataFrame,
    x: str,
    series: str | None = None,
    reference: Any = None,
    metrics: Sequence[str] = TRADEOFF_METRICS,
    level: float = 0.95,
) -> Figure:
    """Trade-off curves over the swept policy path ``x``, one line per value of ``series``.

    Top row: the mean of each metric. Bottom row: the paired difference from the ``reference`` value of ``x``
    (replication r against replication r at the same ``series`` value: the same patients) with its ``level``
    band. Marginal bands would overlap where pairing shows a clear difference.

    Parameters
    ----------
    summary : DataFrame
        A study's summary (grid columns, ``replication``, metrics).
    x : str
        The swept policy path on the horizontal axis; text values such as "off" go last.
    series : str, optional
        Another grid path, one line per value (labelled in words).
    reference : optional
        The value of ``x`` the differences are taken from (default: the first in order).
    metrics : sequence of str
        Registry metrics (those the summary lacks are left out).
    """
    paths = [p for p in (x, series) if p is not None]
    frame = _labelled(summary, paths)
    names = [m for m in metrics if m in frame.columns]
    xs = _order(frame[x].tolist())
    ref = xs[0] if reference is None else canonical(reference)
    if ref not in xs:
        raise ValueError(f"reference {reference!r} is not a value of {x} (its values: {', '.join(xs)})")
    pos = {v: i for i, v in enumerate(xs)}
    fig, axes = plt.subplots(2, len(names), figsize=(3.6 * len(names), 6.2), squeeze=False, sharex=True)
    groups = _series(frame, series)
    for k, name in enumerate(names):
        m = metric(name)
        top: Axes = axes[0][k]
        bottom: Axes = axes[1][k]
        for i, (value, rows) in enumerate(groups):
            colour, marker, line = _style(i)
            label = None if series is None else _value_words(series, value)
            means, diffs, lows, highs = [], [], [], []
            base = rows[rows[x] == ref].set_index("replication")[name]
            for v in xs:
                here = rows[rows[x] == v].set_index("replication")[name]
                means.append(float(here.mean()))
                d = (here - base).dropna().to_numpy(dtype=float)
                mean_d, half, _ = interval(d, level)
                half = 0.0 if not np.isfinite(half) else half
                diffs.append(mean_d)
                lows.append(mean_d - half)
                highs.append(mean_d + half)
            xpos = [pos[v] for v in xs]
            top.plot(xpos, means, color=colour, marker=marker, linestyle=line, label=label)
            bottom.plot(xpos, diffs, color=colour, marker=marker, linestyle=line, label=label)
            bottom.fill_between(xpos, lows, highs, color=colour, alpha=0.18, linewidth=0)
        if _is_count(name):
            top.set_ylim(bottom=0)
        bottom.axhline(0, color="#555555", linewidth=0.8)
        top.set_title(m.label)
        top.set_ylabel(f"mean {m.label_with_unit}")
        bottom.set_ylabel(f"difference from {ref} [{m.unit}]")
        bottom.set_xticks(range(len(xs)), xs)
        bottom.set_xlabel(path_label(x))
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    if series is not None:
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False)
    fig.suptitle(f"Trade-off over the {path_label(x, False)}; bottom: paired {level:.0%} bands vs {ref}")
    fig.tight_layout(rect=(0, 0.06 if series is not None else 0, 1, 1))
    return fig


def metric_by_grid(
    table: pd.DataFrame, metrics: Sequence[str], x: str, series: str | None = None, titles: Sequence[str] | None = None
) -> Figure:
    """One panel per metric: its mean and 95% interval (from ``Results.table()``) against grid path ``x``, one
    line per value of ``series``."""
    paths = [p for p in (x, series) if p is not None]
    table = _labelled(table, paths)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    xs = _order(table[x].tolist())
    position = {v: i for i, v in enumerate(xs)}
    for k, name in enumerate(metrics):
        ax = axes[0][k]
        for i, (label, frame) in enumerate(_series(table, series)):
            colour, marker, line = _style(i)
            rows = frame[frame["metric"] == name].copy()
            rows["_x"] = rows[x].map(position)
            rows = rows.sort_values("_x")
            low = rows["ci_low"].clip(lower=0) if _is_count(name) else rows["ci_low"]
            words = None if series is None else _value_words(series, label)
            ax.plot(rows["_x"], rows["mean"], color=colour, marker=marker, linestyle=line, label=words)
            ax.fill_between(rows["_x"], low, rows["ci_high"], color=colour, alpha=0.18, linewidth=0)
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlabel(path_label(x))
        ax.set_ylabel(metric(name).label_with_unit)
        ax.set_title(titles[k] if titles else metric(name).label)
        ax.grid(alpha=0.3)
    if series is not None:
        axes[0][-1].legend(fontsize="small")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ distributions


def wait_distributions(
    patients: pd.DataFrame,
    by: str,
    values: Sequence[Any] | None = None,
    where: Mapping[str, Any] | None = None,
) -> Figure:
    """The distribution of waits per category (empirical CDF over every replication) for chosen values of the
    policy path ``by``; one panel per value, the categories in their fixed colours.

    Parameters
    ----------
    patients : DataFrame
        A study's kept patient frame (grid columns, ``category``, ``wait``).
    by : str
        The swept policy path whose values get a panel each.
    values : sequence, optional
        The values to draw (default: all, numbers first).
    where : mapping, optional
        Fix the other grid paths, e.g. ``{"demand.emergency.rate_per_hour": 2}``.
    """
    frame = patients[patients["wait"].notna()]
    frame = _labelled(frame, [by, *(where or {})])
    for path, v in (where or {}).items():
        frame = frame[frame[path] == canonical(v)]
    chosen = _order(frame[by].tolist()) if values is None else [canonical(v) for v in values]
    fig, axes = plt.subplots(1, len(chosen), figsize=(3.4 * len(chosen), 3.4), squeeze=False, sharey=True)
    for k, v in enumerate(chosen):
        ax: Axes = axes[0][k]
        rows = frame[frame[by] == v]
        for j, cat in enumerate(CATEGORIES):
            w = np.sort(rows.loc[rows["category"] == cat, "wait"].to_numpy(dtype=float))
            if not len(w):
                continue
            share = np.arange(1, len(w) + 1) / len(w)
            ax.step(
                w,
                share,
                where="post",
                color=CATEGORY_COLOURS[cat],
                linestyle=SERIES_STYLES[j][2],
                label=metric(f"n_{cat}").label.replace(" patients present", ""),
            )
        ax.set_title(_value_words(by, v))
        ax.set_xlabel("wait [min]")
        ax.set_xlim(left=0)
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("share waited at most x [fraction]")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    at = ", ".join(_value_words(p, v) for p, v in (where or {}).items())
    fig.suptitle("Waits by category" + (f" at {at}" if at else ""))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def starvation_heatmap(summary: pd.DataFrame, x: str, y: str, name: str = "starved") -> Figure:
    """The mean of a count metric (starved patients per day by default) over two swept paths."""
    frame = _labelled(summary, [x, y])
    xs, ys = _order(frame[x].tolist()), _order(frame[y].tolist())
    means = frame.groupby([y, x])[name].mean()
    grid = np.array([[float(means.get((yv, xv), np.nan)) for xv in xs] for yv in ys])
    fig, ax = plt.subplots(figsize=(1.0 * len(xs) + 2.6, 0.7 * len(ys) + 1.8))
    image = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto", vmin=0)
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            bright = value > 0.6 * np.nanmax(grid) if np.nanmax(grid) > 0 else False
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="black" if bright else "white")
    ax.set_xticks(range(len(xs)), xs)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(path_label(x))
    ax.set_ylabel(path_label(y))
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(f"mean {metric(name).label_with_unit} per day")
    ax.set_title(f"{metric(name).label.capitalize()} per day")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ a day


def timeline(
    frame: pd.DataFrame,
    slot_length: float | None = None,
    session: tuple[float, float] | None = None,
    title: str = "Queue and doctors over the day (dotted: slot boundaries)",
) -> Figure:
    """Queue length and busy doctors over the day from a ``timeline`` frame, with slot boundaries.

    Parameters
    ----------
    frame : DataFrame
        ``t_start``, ``t_end`` [min], ``queue_length`` [patients], ``busy_doctors`` [doctors] (time averages).
    slot_length : float, optional
        Minutes per slot; dotted lines at each slot boundary within ``session``.
    session : (float, float), optional
        Session start and end [min]; shaded outside.
    """
    fig, ax = plt.subplots(figsize=(8, 3.6))
    edges = np.append(frame["t_start"].to_numpy(dtype=float), float(frame["t_end"].iloc[-1]))
    queue = np.append(frame["queue_length"].to_numpy(dtype=float), np.nan)
    busy = np.append(frame["busy_doctors"].to_numpy(dtype=float), np.nan)
    ax.step(
        edges,
        np.clip(queue, 0, None),
        where="post",
        color=CATEGORY_COLOURS["WALK_IN"],
        linestyle="-",
        label="waiting and callable [patients]",
    )
    ax2 = ax.twinx()
    ax2.step(
        edges, np.clip(busy, 0, None), where="post", color="#0072B2", linestyle="--", label="busy doctors [doctors]"
    )
    if session is not None:
        start, end = session
        ax.axvspan(edges[0], start, color="#bbbbbb", alpha=0.3, linewidth=0)
        ax.axvspan(end, edges[-1], color="#bbbbbb", alpha=0.3, linewidth=0, label="outside the session")
        if slot_length:
            for t in np.arange(start, end + 1e-9, slot_length):
                ax.axvline(t, color="#555555", linestyle=":", linewidth=0.9)
    ax.set_xlabel("time since opening [min]")
    ax.set_ylabel("waiting and callable [patients]")
    ax2.set_ylabel("busy doctors [doctors]")
    ax.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    fig.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower center", ncol=3, fontsize="small", frameon=False)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def utilisation_overtime(summary: pd.DataFrame, x: str, series: str | None = None, level: float = 0.95) -> Figure:
    """Utilisation and overtime (mean over doctors, and the longest) against ``x``, with ``level`` intervals."""
    frame = _labelled(summary, [p for p in (x, series) if p is not None])
    xs = _order(frame[x].tolist())
    names = [n for n in ("utilisation", "overtime_mean", "overtime_max") if n in frame.columns]
    fig, axes = plt.subplots(1, len(names), figsize=(3.8 * len(names), 3.6), squeeze=False)
    for k, name in enumerate(names):
        ax: Axes = axes[0][k]
        m = metric(name)
        for i, (value, rows) in enumerate(_series(frame, series)):
            colour, marker, line = _style(i)
            stats = [interval(rows.loc[rows[x] == v, name].to_numpy(dtype=float), level) for v in xs]
            mean = np.array([s[0] for s in stats])
            half = np.array([s[1] if np.isfinite(s[1]) else 0.0 for s in stats])
            low = np.clip(mean - half, 0, None)  # minutes past the end and fractions are never negative
            ax.plot(
                range(len(xs)),
                mean,
                color=colour,
                marker=marker,
                linestyle=line,
                label=None if series is None else _value_words(series, value),
            )
            ax.fill_between(range(len(xs)), low, mean + half, color=colour, alpha=0.18, linewidth=0)
        ax.set_ylim(bottom=0)
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlabel(path_label(x))
        ax.set_ylabel(m.label_with_unit)
        ax.set_title(m.label)
        ax.grid(alpha=0.3)
    if series is not None:
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False)
    fig.tight_layout(rect=(0, 0.08 if series is not None else 0, 1, 1))
    return fig


def per_doctor(
    patients: pd.DataFrame,
    by: str,
    session: tuple[float, float],
    values: Sequence[Any] | None = None,
    where: Mapping[str, Any] | None = None,
    level: float = 0.95,
) -> Figure:
    """Each doctor's load and overtime for chosen values of the policy path ``by``, from kept patient frames:
    consultation minutes per session minute [fraction] and minutes past the session end of the doctor's last
    consultation [min] (0 when none), mean over replications with ``level`` intervals clipped at zero."""
    frame = _labelled(patients, [by, *(where or {})])
    for path, v in (where or {}).items():
        frame = frame[frame[path] == canonical(v)]
    frame = frame[frame["called"].notna() & frame["doctor"].notna()]
    chosen = _order(frame[by].tolist()) if values is None else [canonical(v) for v in values]
    start, end = session
    doctors = sorted(frame["doctor"].unique())
    busy = (frame["completed"].fillna(frame["called"]) - frame["called"]).rename("busy")
    per_day = frame.assign(busy=busy).groupby([by, "replication", "doctor"])
    load = per_day["busy"].sum() / (end - start)
    overtime = (per_day["completed"].max() - end).clip(lower=0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    width = 0.8 / max(1, len(chosen))
    for k, (ax, series, label) in enumerate(
        [
            (axes[0], load, "consulting per session minute [fraction]"),
            (axes[1], overtime, "overtime past the session end [min]"),
        ]
    ):
        for i, v in enumerate(chosen):
            colour, _, _ = _style(i)
            stats = [interval(series.xs((v, d), level=(0, 2)).to_numpy(dtype=float), level) for d in doctors]
            mean = np.array([s[0] for s in stats])
            half = np.array([s[1] if np.isfinite(s[1]) else 0.0 for s in stats])
            low = np.minimum(half, mean)  # the lower error bar stops at zero
            xpos = np.arange(len(doctors)) + (i - (len(chosen) - 1) / 2) * width
            hatch = ["", "//", "..", "xx"][i % 4]
            ax.bar(
                xpos,
                mean,
                width,
                yerr=[low, half],
                capsize=3,
                color=colour,
                hatch=hatch,
                edgecolor="white",
                label=_value_words(by, v) if k == 0 else None,
            )
        ax.set_xticks(range(len(doctors)), doctors)
        ax.set_xlabel("doctor")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, axis="y")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    at = ", ".join(_value_words(p, v) for p, v in (where or {}).items())
    fig.suptitle("Per doctor" + (f" at {at}" if at else "") + f" ({level:.0%} intervals)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


# ------------------------------------------------------------------------------------------------ frontier


def _dominated(points: np.ndarray) -> np.ndarray:
    """For (n, 2) points where lower is better on both axes: which are dominated by another point."""
    out = np.zeros(len(points), dtype=bool)
    for i, p in enumerate(points):
        others = np.delete(points, i, axis=0)
        out[i] = bool(np.any(np.all(others <= p, axis=1) & np.any(others < p, axis=1)))
    return out


def frontier(
    summary: pd.DataFrame,
    x: str,
    series: str | None = None,
    priority: str = "wait_mean_PAID_PRIORITY",
    worst: str = "wait_max_WALK_IN",
) -> Figure:
    """Priority patients' waits against walk-ins' worst waits, one point per value of the policy path ``x``
    (labelled), one marker and colour per value of ``series``. Within each series, policies beaten on both
    axes by another are faded: the others form the frontier an administrator chooses along."""
    frame = _labelled(summary, [p for p in (x, series) if p is not None])
    xs = _order(frame[x].tolist())
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for i, (value, rows) in enumerate(_series(frame, series)):
        colour, marker, line = _style(i)
        means = rows.groupby(x)[[priority, worst]].mean().reindex(xs).dropna()
        pts = means.to_numpy(dtype=float)
        faded = _dominated(pts)
        front = means[~faded].sort_values(priority)
        ax.plot(
            front[priority],
            front[worst],
            color=colour,
            linestyle=line,
            linewidth=1,
            label=None if series is None else _value_words(series, value),
        )
        for (label, row), dom in zip(means.iterrows(), faded, strict=True):
            ax.scatter(
                row[priority],
                row[worst],
                color=colour,
                marker=marker,
                s=42,
                alpha=0.25 if dom else 1.0,
                edgecolors="none",
            )
            ax.annotate(
                str(label),
                (row[priority], row[worst]),
                textcoords="offset points",
                xytext=(4, 3),
                fontsize=7,
                alpha=0.4 if dom else 1.0,
            )
    ax.set_xlabel(metric(priority).label_with_unit)
    ax.set_ylabel(metric(worst).label_with_unit)
    ax.set_title(f"Frontier over the {path_label(x, False)} (faded: dominated)", fontsize=10)
    ax.grid(alpha=0.3)
    if series is not None:
        ax.legend(fontsize="small", loc="upper right")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ a study


def _paths(grid: Sequence[str]) -> tuple[str, str | None]:
    policy = [p for p in grid if is_policy_path(p)]
    if not policy:
        raise ValueError("the study sweeps no policy path; the decision figures need one")
    x = policy[0]
    others = [p for p in grid if p != x]
    return x, (others[0] if others else None)


def figures(
    summary: pd.DataFrame,
    grid: Sequence[str],
    patients: pd.DataFrame | None = None,
    manifest: Mapping[str, Any] | None = None,
    reference: Any = None,
) -> tuple[dict[str, Figure], list[str]]:
    """The standard figures of a study, by file stem, and notes on those that could not be drawn."""
    from opdsim.metrics import frame_intervals, timeline_frame

    x, series = _paths(grid)
    figs: dict[str, Figure] = {"tradeoff": tradeoff(summary, x, series, reference)}
    notes = []
    figs["frontier"] = frontier(summary, x, series)
    figs["utilisation_overtime"] = utilisation_overtime(summary, x, series)
    if series is not None and "starved" in summary.columns:
        figs["starvation_heatmap"] = starvation_heatmap(summary, x, series)
    else:
        notes.append("starvation heatmap skipped: the study sweeps only one path")
    if patients is not None and len(patients):
        where = {}
        if series is not None:
            levels = _order(patients[series].tolist())
            where = {series: levels[len(levels) // 2]}
        xs = _order(patients[x].tolist())
        chosen = list(dict.fromkeys([xs[0], xs[len(xs) // 2], xs[-1]]))
        figs["wait_distributions"] = wait_distributions(patients, x, chosen, where)
        doctors = (manifest or {}).get("config", {}).get("scenario", {}).get("doctors", {})
        start, end = float(doctors.get("session_start", 0)), float(doctors.get("session_end", 240))
        figs["per_doctor"] = per_doctor(patients, x, (start, end), chosen, where)
        day = _labelled(patients, [x, *where])
        day = day[(day[x] == xs[0]) & (day["replication"] == day["replication"].min())]
        for path, v in where.items():
            day = day[day[path] == v]
        close = float((manifest or {}).get("config", {}).get("scenario", {}).get("clinic", {}).get("day_length", end))
        frame = timeline_frame(day, frame_intervals(day), start, close, 10.0)
        at = ", ".join(_value_words(p, v) for p, v in {x: xs[0], **where}.items())
        title = f"One day (replication {int(day['replication'].min())}) at {at}; dotted: slot boundaries"
        figs["timeline"] = timeline(frame, doctors.get("slot_length"), (start, end), title)
    else:
        notes.append("wait distributions and timeline skipped: the study kept no patient frames (--keep-patients)")
    return figs, notes


def save_all(
    summary: pd.DataFrame,
    grid: Sequence[str],
    out: str | os.PathLike[str],
    patients: pd.DataFrame | None = None,
    manifest: Mapping[str, Any] | None = None,
    reference: Any = None,
) -> tuple[list[Path], list[str]]:
    """Write the standard figures (see :func:`figures`) to ``out`` as PNG and SVG; returns the files and the
    notes on figures skipped."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    figs, notes = figures(summary, grid, patients, manifest, reference)
    written = []
    for stem, fig in figs.items():
        for ext in ("png", "svg"):
            path = root / f"{stem}.{ext}"
            fig.savefig(path, dpi=110 if ext == "png" else None)
            written.append(path)
        plt.close(fig)
    return written, notes
