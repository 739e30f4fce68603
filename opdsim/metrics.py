"""Records to frames: what a day of the engine did, per patient, per run and per interval.

Everything here reads the lifecycle records folded from an engine event log (:mod:`opdsim.engine.records`),
joined by patient id to what only the simulation knows (planned arrival, drawn consultation). The same code
serves a simulated day, a replayed log and the booking service's log. Nothing here imports the simulation.
Every ``summary`` column is declared in :mod:`opdsim.registry` (name, unit, direction, definition); the
glossary ``docs/metrics.md`` is generated from it.

Columns and units (all times are clinic minutes since opening [min])
-------------------------------------------------------------------
``patients`` (one row per patient, the patient's last token):
    ``patient`` id (stable across policies), ``category``, ``kind`` (booked, walk_in, emergency), ``booked_at``,
    ``arrival`` (planned arrival at the desk; NaN if never came), ``consultation`` (the drawn length, also for
    patients never seen), ``doctor``, ``slot`` (slot held last, NaN if none), ``token`` (None if refused),
    ``checked_in``, ``callable_at`` (when first callable, NaN if never), ``called`` and ``completed`` (NaN if
    not), ``wait`` (minutes callable in all, summed over every callable interval as the aging clock counts,
    to the call, leaving or the close; NaN for those never present), ``wait_from_arrival`` (arrival to the
    call, leaving or the close), ``overtaken``, ``upgraded`` (bool), ``displaced`` (times), ``rebooked``
    (bool), ``state`` (final token state, or ``rejected``), ``starved`` and ``starved_from_arrival`` (bool:
    that wait over the starvation limit).
``summary`` (one row per run): the columns of :data:`opdsim.registry.REGISTRY`, in its order.
``timeline`` (one row per interval): ``t_start``, ``t_end``, ``queue_length`` (time-average number of
    callable tokens), ``busy_doctors`` (time-average), ``arrivals`` (became callable for the first time in the
    interval), ``calls``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from opdsim.engine import Category, TokenState, TokenView
from opdsim.engine.records import DayRecords, TokenRecord
from opdsim.frames import as_frame
from opdsim.registry import CATEGORIES, REGISTRY

__all__ = [
    "PatientTable",
    "as_frame",
    "callable_intervals",
    "frame_intervals",
    "patient_columns",
    "patient_table",
    "patients_frame",
    "summary_frame",
    "summary_row",
    "time_integral",
    "timeline_columns",
    "timeline_frame",
    "tokens_frame",
]

_NAMES = [c.name for c in Category]
_STATS = ("mean", "median", "p90", "p95", "max")
_NAN = float("nan")

Columns = Mapping[str, Any] | pd.DataFrame  # named columns: a dict of numpy arrays, or a frame


def tokens_frame(views: Iterable[TokenView]) -> pd.DataFrame:
    """Token views as a frame (one row per token; ``category`` and ``state`` as text)."""
    rows = list(views)
    if not rows:
        return pd.DataFrame(columns=list(TokenView._fields))
    columns = dict(zip(TokenView._fields, (list(c) for c in zip(*rows, strict=True)), strict=True))
    columns["category"] = np.asarray(_NAMES, dtype=object)[np.asarray(columns["category"], dtype=np.int64)].tolist()
    columns["state"] = [str(s) for s in columns["state"]]
    return pd.DataFrame(columns)


def _opt(x: float | None) -> float:
    return _NAN if x is None else x


def _consultation(rec: TokenRecord) -> float:
    if rec.called_at is None or rec.ended_at is None:
        return _NAN
    return rec.ended_at - rec.called_at


def _population_from_records(records: DayRecords) -> dict[str, NDArray[Any]]:
    """Patient inputs read from the log alone (a service's day): arrival is the check-in, the consultation the
    call to the completion; patients refused every token are not in it."""
    first: dict[str, TokenRecord] = {}
    for rec in records.tokens.values():
        first.setdefault(rec.patient, rec)
    last = records.by_patient()
    pids = list(first)
    kind = ["emergency" if first[p].category is Category.EMERGENCY else "booked" for p in pids]
    consult = [_consultation(last[p]) for p in pids]
    return {
        "patient": np.array(pids, dtype=object),
        "category": np.array([last[p].category.name for p in pids], dtype=object),
        "kind": np.array(kind, dtype=object),
        "booked_doctor": np.array([last[p].doctor for p in pids], dtype=object),
        "booked_at": np.array([first[p].issued_at for p in pids], dtype=float),
        "arrival": np.array([_opt(last[p].checked_in_at) for p in pids], dtype=float),
        "consultation": np.array(consult, dtype=float),
    }


# the columns patient_columns takes from each patient's last record: (its name, the record's column, dtype)
_RECORD_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("checked_in", "checked_in_at", float),
    ("called", "called_at", float),
    ("ended", "ended_at", float),
    ("callable_time", "callable_time", float),
    ("state", "state", object),
    ("doctor", "doctor", object),
    ("slot", "slot", float),
    ("token", "token", object),
    ("callable_at", "first_callable", float),
    ("overtaken", "bypasses", np.int64),
    ("upgraded", "upgraded", bool),
    ("displaced", "displacements", np.int64),
    ("rebooked", "rebooked", bool),
)


def patient_columns(
    records: DayRecords, population: Columns | None, starvation_limit: float
) -> dict[str, NDArray[Any]]:
    """The ``patients`` columns (numpy arrays, one entry per patient); :func:`patients_frame` makes the frame.

    Parameters
    ----------
    records : DayRecords
        The day's log folded by :func:`opdsim.engine.records.fold`.
    population : Mapping[str, array-like] or None
        What only the simulation knows, one entry per patient: ``patient``, ``category``, ``kind``,
        ``booked_doctor``, ``booked_at``, ``arrival`` [min] and ``consultation`` [min] (``Population.columns()``).
        Joined to the records by patient id. None reads the patients from the records alone.
    starvation_limit : float
        Waits longer than this are starved [min].
    """
    return _patient_columns(records, population, starvation_limit, None)


class PatientTable(NamedTuple):
    """The ``patients`` columns with the callable intervals of each patient's last token (:func:`patient_table`).

    Attributes
    ----------
    columns : dict of str to ndarray
        :func:`patient_columns`.
    starts, ends : ndarray of float
        Each callable interval's start and end [min], patient by patient in row order, a token's intervals in
        their order (what :func:`callable_intervals` gives for the patients' tokens).
    row : ndarray of int
        The row of ``columns`` each interval belongs to.
    """

    columns: dict[str, NDArray[Any]]
    starts: NDArray[np.float64]
    ends: NDArray[np.float64]
    row: NDArray[np.intp]

    def take(self, keep: NDArray[np.bool_]) -> PatientTable:
        """The rows where ``keep`` is true, with their intervals (``keep``: one bool per row)."""
        mine = keep[self.row]
        rows = np.cumsum(keep) - 1  # each kept row's new number
        return PatientTable(
            {k: np.asarray(v)[keep] for k, v in self.columns.items()},
            self.starts[mine],
            self.ends[mine],
            rows[self.row[mine]],
        )


def patient_table(records: DayRecords, population: Columns | None, starvation_limit: float) -> PatientTable:
    """:func:`patient_columns` and the callable intervals of each patient's last token, in one pass over the
    records (the parameters are those of :func:`patient_columns`)."""
    spans: list[float] = []
    columns = _patient_columns(records, population, starvation_limit, spans)
    flat = np.array(spans, dtype=float)
    counts = columns.pop("intervals")
    row = np.repeat(np.arange(len(counts)), counts)
    return PatientTable(columns, flat[0::2], flat[1::2], row)


def _patient_columns(
    records: DayRecords, population: Columns | None, starvation_limit: float, spans: list[float] | None
) -> dict[str, NDArray[Any]]:
    pop = _population_from_records(records) if population is None else population
    # one pass over the patients in the (compiled) records, one list per field (and the intervals, if asked)
    table = records.patient_columns(list(pop["patient"]), list(pop["booked_doctor"]), spans)
    col = {name: np.array(table[field], dtype=t) for name, field, t in _RECORD_FIELDS}
    checked, called, ended, state = col["checked_in"], col["called"], col["ended"], col["state"]
    present = ~np.isnan(checked)
    arrival = np.asarray(pop["arrival"], dtype=float)
    came = np.where(np.isnan(arrival), checked, arrival)
    wait_end = np.where(np.isnan(called), ended, called)  # the call, or leaving (or any end) or the close
    wait = np.where(present, col["callable_time"], _NAN)
    wait_from_arrival = np.where(present, np.clip(wait_end - came, 0.0, None), _NAN)
    out = {
        "patient": np.asarray(pop["patient"], dtype=object),
        "category": np.asarray(pop["category"], dtype=object),
        "kind": np.asarray(pop["kind"], dtype=object),
        "booked_at": np.asarray(pop["booked_at"], dtype=float),
        "arrival": arrival,
        "consultation": np.asarray(pop["consultation"], dtype=float),
        "doctor": col["doctor"],
        "slot": col["slot"],
        "token": col["token"],
        "checked_in": checked,
        "callable_at": col["callable_at"],
        "called": called,
        "completed": np.where(state == "completed", ended, _NAN),
        "wait": wait,
        "wait_from_arrival": wait_from_arrival,
        "overtaken": col["overtaken"],
        "upgraded": col["upgraded"],
        "displaced": col["displaced"],
        "rebooked": col["rebooked"],
        "state": state,
        "starved": wait > starvation_limit,
        "starved_from_arrival": wait_from_arrival > starvation_limit,
    }
    if spans is not None:
        out["intervals"] = np.array(table["intervals"], dtype=np.intp)
    return out


def patients_frame(records: DayRecords, population: Columns | None, starvation_limit: float) -> pd.DataFrame:
    """One row per patient (see :func:`patient_columns` for the parameters and the module docstring for the
    columns)."""
    return as_frame(patient_columns(records, population, starvation_limit))


_QUANTILES = (0.5, 0.9, 0.95)  # the median, p90 and p95, as fractions


def _quantiles(ordered: list[float], qs: tuple[float, ...] = _QUANTILES) -> list[float]:
    """Quantiles of a sorted, non-empty sample, by linear interpolation between order statistics.

    The same definition and the same floating-point operations as ``numpy.percentile`` with its default
    ``method="linear"`` (bit for bit), without its per-call overhead: the summary row takes twelve sets a day.

    Parameters
    ----------
    ordered : list of float
        The sample in ascending order, without NaN [any unit].
    qs : tuple of float
        Quantiles wanted, each in [0, 1].

    Returns
    -------
    list of float
        One value per entry of ``qs``, in the unit of the sample.
    """
    top = len(ordered) - 1
    out = []
    for q in qs:
        h = top * q  # the virtual index: q of the way from the first order statistic to the last
        if h >= top:
            out.append(ordered[top])
            continue
        i = int(h)  # floor, h being >= 0
        lo, hi = ordered[i], ordered[i + 1]
        t = h - i
        # numpy's _lerp: from the nearer end, so that t = 1 gives hi exactly
        out.append(hi - (hi - lo) * (1 - t) if t >= 0.5 else lo + (hi - lo) * t)
    return out


def _wait_stats(
    row: dict[str, float], values: NDArray[np.float64], base: str, suffix: str, has_nan: bool = True
) -> None:
    """The mean, median, p90, p95 and max of ``values`` (in patient order, NaN dropped) into ``row``;
    ``has_nan=False`` says there is no NaN to drop."""
    if has_nan and np.isnan(values).any():
        values = values[~np.isnan(values)]
    n = len(values)
    if not n:
        for k in _STATS:
            row[f"{base}_{k}{suffix}"] = _NAN
        return
    # numpy's mean, bit for bit (its pairwise sum over the patients in order, then one division), without its
    # per-call overhead; it must come before sorting, since the pairwise sum depends on the order
    row[f"{base}_mean{suffix}"] = float(np.add.reduce(values)) / n
    # numpy's sort: the same ascending sequence as sorted() (no NaN is left, and a wait is never -0.0, so no two
    # values compare equal without being equal), in a thirtieth of its time for a day of 50,000 patients
    ordered = np.sort(values).tolist()
    p50, p90, p95 = _quantiles(ordered)
    row[f"{base}_median{suffix}"] = p50
    row[f"{base}_p90{suffix}"] = p90
    row[f"{base}_p95{suffix}"] = p95
    row[f"{base}_max{suffix}"] = ordered[-1]


_CODES = {c: k for k, c in enumerate(CATEGORIES)}  # category name -> its group; any other name is group 5
_OTHER = len(CATEGORIES)
_GROUPS = _OTHER + 1


def summary_row(patients: Columns, records: DayRecords, session: tuple[float, float]) -> dict[str, float]:
    """Run-level metrics as one plain row, keyed and ordered as :data:`opdsim.registry.REGISTRY`.

    Parameters
    ----------
    patients : Mapping[str, array-like]
        :func:`patient_columns` output, or the :func:`patients_frame` frame.
    records : DayRecords
        The day's records (slots for overflow and breaches, refused requests).
    session : (float, float)
        Session start and end [min], for utilisation, overtime and throughput.
    """
    row: dict[str, float] = {}
    wait = np.asarray(patients["wait"], dtype=float)
    wfa = np.asarray(patients["wait_from_arrival"], dtype=float)
    cat = np.asarray(patients["category"], dtype=object)
    starved = np.asarray(patients["starved"], dtype=bool)
    starved_a = np.asarray(patients["starved_from_arrival"], dtype=bool)
    overtaken = np.asarray(patients["overtaken"], dtype=float)
    upgraded = np.asarray(patients["upgraded"], dtype=bool)
    state = np.asarray(patients["state"], dtype=object)
    present = ~np.isnan(wait)
    code = np.array([_CODES.get(c, _OTHER) for c in cat.tolist()], dtype=np.int64)
    # the present patients grouped by category (a stable sort keeps each group in patient order, so each
    # group's sums are numpy's own over that category's patients), and per-group counts and sums
    here = np.flatnonzero(present)
    by_group = here[np.argsort(code[here], kind="stable")]
    n = np.bincount(code[here], minlength=_GROUPS)
    bounds = np.concatenate(([0], np.cumsum(n))).tolist()
    counts = [n.tolist()]
    counts += [np.bincount(code[flags & present], minlength=_GROUPS).tolist() for flags in (starved, starved_a)]
    counts.append(np.bincount(code[upgraded], minlength=_GROUPS).tolist())  # every patient, present or not
    # whole numbers of overtakings: any order of summing them is exact, so this equals numpy's mean
    overtakings = np.bincount(code[here], weights=overtaken[here], minlength=_GROUPS).tolist()
    wait_g, wfa_g = wait[by_group], wfa[by_group]
    gaps = bool(np.isnan(wfa_g).any())  # a present patient's waits from arrival are all known, normally
    scopes = [("", wait[here], wfa[here], [sum(c) for c in counts], sum(overtakings))]
    for g, c in enumerate(CATEGORIES):
        part = slice(bounds[g], bounds[g + 1])
        scopes.append((f"_{c}", wait_g[part], wfa_g[part], [k[g] for k in counts], overtakings[g]))
    for suffix, waits, waits_a, (size, starve, starve_a, upgrades), overtook in scopes:
        row[f"n{suffix}"] = size
        _wait_stats(row, waits, "wait", suffix, has_nan=False)  # NaN marks the patients not present
        _wait_stats(row, waits_a, "wait_from_arrival", suffix, has_nan=gaps)
        row[f"starved{suffix}"] = starve
        row[f"starved_from_arrival{suffix}"] = starve_a
        row[f"overtaken_mean{suffix}"] = overtook / size if size else _NAN
        row[f"upgraded{suffix}"] = upgrades
    row["patients"] = len(wait)
    done = state == "completed"
    row["completed"] = int(done.sum())
    row["rejected"] = len(records.rejected)
    row["left_unseen"] = int((state == "left").sum())
    # counted over tokens: a late patient's no-show token is not their last one
    ended = [r.state for r in records.tokens.values()]
    row["no_shows"] = ended.count(TokenState.NO_SHOW)
    row["cancellations"] = ended.count(TokenState.CANCELLED)
    row["unserved"] = int((state == "unserved").sum())
    row["rebooked"] = int(np.asarray(patients["rebooked"], dtype=bool).sum())
    row["overflow_used"] = sum(s.overflow for table in records.slots.values() for s in table)
    row["cap_breaches"] = sum(s.breaches for table in records.slots.values() for s in table)
    start, end = session
    completed = np.asarray(patients["completed"], dtype=float)
    called = np.asarray(patients["called"], dtype=float)
    doctor = np.asarray(patients["doctor"], dtype=object)
    # the completed patients grouped by doctor, each group in patient order (so each doctor's sum of consultations
    # is numpy's own over that doctor's patients); a doctor not in the records is left out
    finished = np.flatnonzero(done)
    column = {d: k for k, d in enumerate(records.slots)}
    other = len(column)
    who = np.array([column.get(d, other) for d in doctor[finished].tolist()], dtype=np.int64)
    order = finished[np.argsort(who, kind="stable")]
    sizes = np.bincount(who, minlength=other + 1).tolist()
    ends, calls = completed[order], called[order]
    lengths = ends - calls
    ends_l, calls_l = ends.tolist(), calls.tolist()
    consulting = 0.0
    available = 0.0
    overtime = []
    at = 0
    for size in sizes[:other]:
        part = slice(at, at + size)
        at += size
        last = max([start, *ends_l[part]])
        first = min([start, *calls_l[part]])
        overtime.append(max(0.0, last - end))
        consulting += float(np.add.reduce(lengths[part]))
        available += max(end, last) - min(start, first)
    row["utilisation"] = consulting / available if available > 0 else _NAN
    row["overtime_mean"] = float(np.mean(overtime)) if overtime else 0.0
    row["overtime_max"] = float(np.max(overtime)) if overtime else 0.0
    row["throughput"] = row["completed"] / ((end - start) / 60.0)
    return {name: row[name] for name in REGISTRY}


def summary_frame(patients: Columns, records: DayRecords, session: tuple[float, float]) -> pd.DataFrame:
    """The one-row summary frame (see :func:`summary_row`)."""
    return pd.DataFrame([summary_row(patients, records, session)])


def callable_intervals(
    records: DayRecords, tokens: Iterable[str] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Starts and ends of every callable interval of ``tokens`` (default: all) [min], for the timeline."""
    flat = np.array(records.callable_spans(tokens), dtype=float)
    return flat[0::2], flat[1::2]


def frame_intervals(patients: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Callable intervals read from a ``patients`` frame, for a timeline where the day's records are gone [min].

    Each present patient is taken as callable from ``callable_at`` for ``wait`` minutes (their callable time in
    all). That is exact for a token callable in one stretch; for a displaced token the total is right but its gap
    is closed up, so use :func:`callable_intervals` on the records where they exist.
    """
    start = patients["callable_at"].to_numpy(dtype=float)
    wait = patients["wait"].to_numpy(dtype=float)
    keep = ~(np.isnan(start) | np.isnan(wait))
    return start[keep], start[keep] + wait[keep]


def time_integral(
    starts: NDArray[np.float64], ends: NDArray[np.float64], grid: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Integral from -inf to each grid point of the number of open intervals ``[starts_i, ends_i)`` [min].

    O((n + m) log n): the integral at x is the sum over starts below x of (x - start) minus the same over ends.
    """
    out = np.zeros(len(grid))
    for points, sign in ((starts, 1.0), (ends, -1.0)):
        p = np.sort(points[~np.isnan(points)])
        if not len(p):
            continue
        cum = np.concatenate(([0.0], np.cumsum(p)))
        k = np.searchsorted(p, grid, side="left")
        out += sign * (k * grid - cum[k])
    return out


def timeline_frame(
    patients: Columns,
    intervals: tuple[NDArray[np.float64], NDArray[np.float64]],
    start: float,
    end: float,
    interval: float,
) -> pd.DataFrame:
    """Queue length and busy doctors per interval of ``interval`` minutes over [start, end) [min].

    ``patients`` is the ``patients`` frame or its columns (:func:`patient_columns`); ``intervals`` are the
    callable intervals (:func:`callable_intervals`) of the patients' tokens. The frame of
    :func:`timeline_columns`.
    """
    return pd.DataFrame(timeline_columns(patients, intervals, start, end, interval))


def timeline_columns(
    patients: Columns,
    intervals: tuple[NDArray[np.float64], NDArray[np.float64]],
    start: float,
    end: float,
    interval: float,
) -> dict[str, NDArray[Any]]:
    """The columns of :func:`timeline_frame`: ``t_start`` and ``t_end`` [min], the time-averaged
    ``queue_length`` and ``busy_doctors`` [patients, doctors], and the ``arrivals`` and ``calls`` in each interval
    [patients]."""
    grid = np.arange(start, end + interval * 0.5, interval)
    if grid[-1] < end:
        grid = np.append(grid, end)
    grid = grid[grid <= end]
    queue = time_integral(intervals[0], intervals[1], grid)
    first = np.asarray(patients["callable_at"], dtype=float)
    called = np.asarray(patients["called"], dtype=float)
    completed = np.asarray(patients["completed"], dtype=float)
    seen = ~np.isnan(called)
    stop = np.where(np.isnan(completed), end, completed)
    busy = time_integral(called[seen], stop[seen], grid)
    width = np.diff(grid)
    return {
        "t_start": grid[:-1],
        "t_end": grid[1:],
        "queue_length": np.diff(queue) / width,
        "busy_doctors": np.diff(busy) / width,
        "arrivals": np.histogram(first[~np.isnan(first)], bins=grid)[0],
        "calls": np.histogram(called[seen], bins=grid)[0],
    }
