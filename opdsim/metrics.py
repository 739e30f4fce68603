"""Records to frames: what a day of the engine did, per patient, per run and per interval.

The functions here read *records* only: the engine's final token views (:class:`~opdsim.engine.TokenView`),
its slot tables and, for simulated days, the drawn patient inputs. They work the same on a simulated day and on
a real day's log replayed with :meth:`Engine.replay`.

Columns and units (all times are clinic minutes since opening [min])
-------------------------------------------------------------------
``patients`` (one row per patient):
    ``patient`` id (stable across policies), ``category``, ``kind`` (booked, walk_in, emergency), ``doctor``,
    ``slot`` (index of the slot held last, NaN if none), ``token`` (last token id, None if refused),
    ``booked_at``, ``arrival`` (NaN if never came), ``callable_at`` (the later of check-in and slot start, as
    the aging clock counts; check-in for emergencies), ``called`` and ``completed`` (NaN if not),
    ``wait`` (``callable_at`` to the call, or to leaving or the close for those never called; NaN for those
    never present), ``consultation`` (the drawn length, also for patients never seen), ``overtaken`` (tokens
    with a later queue number called first while this one was callable), ``upgraded`` (bool),
    ``displaced`` (times), ``rebooked`` (bool: late past the grace period and booked again),
    ``state`` (final token state, or ``rejected``), ``starved`` (bool: wait over the starvation limit).
``summary`` (one row per run): for each category C and for all (no suffix): ``n_C`` present patients,
    ``wait_mean_C``, ``wait_median_C``, ``wait_p90_C``, ``wait_p95_C``, ``wait_max_C`` [min], ``starved_C``,
    ``overtaken_mean_C``, ``upgraded_C``; and ``patients``, ``completed``, ``rejected``, ``left_unseen``,
    ``no_shows``, ``cancellations``, ``unserved``, ``rebooked``, ``overflow_used`` (seats used beyond capacity by
    emergencies), ``cap_breaches``, ``utilisation`` (consultation minutes / doctor-session minutes),
    ``overtime_mean`` and ``overtime_max`` (minutes past the session end of each doctor's last completion, >= 0),
    ``throughput`` (completed per hour of session [1/h]).
``timeline`` (one row per interval): ``t_start``, ``t_end``, ``queue_length`` (time-average number of
    patients callable and not yet called), ``busy_doctors`` (time-average), ``arrivals`` (became callable
    in the interval), ``calls``; for simulated days also ``queue_observed`` and ``busy_observed``, the engine's
    own queue length and busy doctors read at ``t_start`` by an observer process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from opdsim.engine import Category, SlotView, TokenView

__all__ = [
    "as_frame",
    "patient_columns",
    "patients_frame",
    "summary_frame",
    "summary_row",
    "time_integral",
    "timeline_frame",
    "tokens_frame",
]

_NAMES = [c.name for c in Category]

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


def _slot_starts(slots: Mapping[str, Sequence[SlotView]]) -> dict[tuple[str, int], float]:
    return {(doc, s.index): s.start for doc, table in slots.items() for s in table}


def patient_columns(
    population: Columns,
    tokens: Mapping[str, TokenView],
    token_of: Mapping[int, str],
    slots: Mapping[str, Sequence[SlotView]],
    starvation_limit: float,
    rebooked: NDArray[np.bool_] | None = None,
) -> dict[str, NDArray[Any]]:
    """The ``patients`` columns (numpy arrays, one entry per patient) from the drawn inputs and the engine's
    final token records; :func:`patients_frame` makes the frame.

    Parameters
    ----------
    population : Mapping[str, array-like]
        The drawn patients' columns (``Population.columns()`` or ``Population.frame()``), in patient-index order:
        ``patient``, ``category``, ``kind``, ``booked_doctor``, ``booked_at``, ``arrival``, ``consultation``.
    tokens : Mapping[str, TokenView]
        Final token records by token id (``engine.token(id)`` after the day closed).
    token_of : Mapping[int, str]
        Patient index -> last token id; patients absent from it never got a token (rejected).
    slots : Mapping[str, Sequence[SlotView]]
        Final slot tables per doctor (slot starts include every delay).
    starvation_limit : float
        Waits longer than this are starved [min].
    rebooked : ndarray of bool, optional
        Patients booked again after their token became a no-show.
    """
    n = len(population["patient"])
    ids = [token_of.get(i) for i in range(n)]
    views = [tokens[t] if t is not None else None for t in ids]
    nan = np.nan
    booked_doctor = list(population["booked_doctor"])
    doctor = np.array([v.doctor if v else d for v, d in zip(views, booked_doctor, strict=True)], dtype=object)
    slot = np.array([nan if v is None or v.slot is None else v.slot for v in views], dtype=float)
    checked = np.array([nan if v is None or v.checked_in_at is None else v.checked_in_at for v in views], dtype=float)
    called = np.array([nan if v is None or v.called_at is None else v.called_at for v in views], dtype=float)
    ended = np.array([nan if v is None or v.ended_at is None else v.ended_at for v in views], dtype=float)
    state = np.array(["rejected" if v is None else str(v.state) for v in views], dtype=object)
    starts = _slot_starts(slots)
    slot_start = np.array(
        [starts.get((d, int(s)), nan) if s == s else nan for d, s in zip(doctor.tolist(), slot.tolist(), strict=True)],
        dtype=float,
    )
    category = np.asarray(population["category"], dtype=object)
    emergency = category == Category.EMERGENCY.name
    callable_at = np.where(emergency | np.isnan(slot_start), checked, np.fmax(checked, slot_start))
    stopped = (state == "unserved") | (state == "left")
    wait_end = np.where(~np.isnan(called), called, np.where(stopped, ended, nan))
    wait = np.clip(wait_end - callable_at, 0.0, None)
    columns: dict[str, NDArray[Any]] = {
        "patient": np.asarray(population["patient"], dtype=object),
        "category": category,
        "kind": np.asarray(population["kind"], dtype=object),
        "booked_at": np.asarray(population["booked_at"], dtype=float),
        "arrival": np.asarray(population["arrival"], dtype=float),
        "consultation": np.asarray(population["consultation"], dtype=float),
        "doctor": doctor,
        "slot": slot,
        "token": np.array(ids, dtype=object),
        "callable_at": callable_at,
        "called": called,
        "completed": np.where(state == "completed", ended, nan),
        "wait": wait,
        "overtaken": np.array([0 if v is None else v.bypasses for v in views], dtype=np.int64),
        "upgraded": np.array([v is not None and v.upgrades > 0 for v in views], dtype=bool),
        "displaced": np.array([0 if v is None else v.displacements for v in views], dtype=np.int64),
        "rebooked": np.zeros(n, dtype=bool) if rebooked is None else rebooked,
        "state": state,
        "starved": wait > starvation_limit,
    }
    return columns


def as_frame(columns: Mapping[str, NDArray[Any]]) -> pd.DataFrame:
    """A frame of equal-length numpy columns; text columns stay plain object columns (converting them to pandas'
    string dtype costs more than building the rest of the frame)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object) if v.dtype == object else v for k, v in columns.items()})


def patients_frame(
    population: Columns,
    tokens: Mapping[str, TokenView],
    token_of: Mapping[int, str],
    slots: Mapping[str, Sequence[SlotView]],
    starvation_limit: float,
    rebooked: NDArray[np.bool_] | None = None,
) -> pd.DataFrame:
    """One row per patient (see :func:`patient_columns` for the parameters and the module docstring for the
    columns)."""
    return as_frame(patient_columns(population, tokens, token_of, slots, starvation_limit, rebooked))


def _wait_stats(wait: NDArray[np.float64], suffix: str) -> dict[str, float]:
    w = wait[~np.isnan(wait)]
    if not len(w):
        return {f"wait_{k}{suffix}": np.nan for k in ("mean", "median", "p90", "p95", "max")}
    p50, p90, p95 = np.percentile(w, [50, 90, 95])
    return {
        f"wait_mean{suffix}": float(w.mean()),
        f"wait_median{suffix}": float(p50),
        f"wait_p90{suffix}": float(p90),
        f"wait_p95{suffix}": float(p95),
        f"wait_max{suffix}": float(w.max()),
    }


def summary_row(
    patients: Columns,
    slots: Mapping[str, Sequence[SlotView]],
    session: tuple[float, float],
    rejected: int,
    categories: Sequence[str] = tuple(_NAMES),
) -> dict[str, float]:
    """Run-level metrics as one plain row (see the module docstring); :func:`summary_frame` makes the frame.

    Parameters
    ----------
    patients : Mapping[str, array-like]
        :func:`patient_columns` output, or the :func:`patients_frame` frame.
    slots : Mapping[str, Sequence[SlotView]]
        Final slot tables per doctor.
    session : (float, float)
        Session start and end [min], for utilisation, overtime and throughput.
    rejected : int
        Booking requests refused.
    """
    row: dict[str, float] = {}
    wait = np.asarray(patients["wait"], dtype=float)
    cat = np.asarray(patients["category"], dtype=object)
    starved = np.asarray(patients["starved"], dtype=bool)
    overtaken = np.asarray(patients["overtaken"], dtype=float)
    upgraded = np.asarray(patients["upgraded"], dtype=bool)
    state = np.asarray(patients["state"], dtype=object)
    present = ~np.isnan(wait)
    row.update(_wait_stats(wait, ""))
    row["n"] = int(present.sum())
    row["starved"] = int(starved.sum())
    row["overtaken_mean"] = float(overtaken[present].mean()) if present.any() else np.nan
    row["upgraded"] = int(upgraded.sum())
    for c in categories:
        mask = cat == c
        sel = present & mask
        row.update(_wait_stats(wait[mask], f"_{c}"))
        row[f"n_{c}"] = int(sel.sum())
        row[f"starved_{c}"] = int(starved[mask].sum())
        row[f"overtaken_mean_{c}"] = float(overtaken[sel].mean()) if sel.any() else np.nan
        row[f"upgraded_{c}"] = int(upgraded[mask].sum())
    row["patients"] = len(wait)
    done = state == "completed"
    row["completed"] = int(done.sum())
    row["rejected"] = int(rejected)
    row["left_unseen"] = int((state == "left").sum())
    row["no_shows"] = int((state == "no_show").sum())
    row["cancellations"] = int((state == "cancelled").sum())
    row["unserved"] = int((state == "unserved").sum())
    row["rebooked"] = int(np.asarray(patients["rebooked"], dtype=bool).sum())
    row["overflow_used"] = int(
        sum(max(0, s.regular + s.emergencies - s.capacity) for table in slots.values() for s in table)
    )
    row["cap_breaches"] = int(sum(s.breaches for table in slots.values() for s in table))
    start, end = session
    completed = np.asarray(patients["completed"], dtype=float)
    called = np.asarray(patients["called"], dtype=float)
    row["utilisation"] = float(np.nansum(completed[done] - called[done])) / (max(1, len(slots)) * (end - start))
    doctor = np.asarray(patients["doctor"], dtype=object)
    overtime = np.array([max(0.0, float(np.max(completed[done & (doctor == d)], initial=start)) - end) for d in slots])
    row["overtime_mean"] = float(overtime.mean()) if len(overtime) else 0.0
    row["overtime_max"] = float(overtime.max()) if len(overtime) else 0.0
    row["throughput"] = row["completed"] / ((end - start) / 60.0)
    return row


def summary_frame(
    patients: Columns,
    slots: Mapping[str, Sequence[SlotView]],
    session: tuple[float, float],
    rejected: int,
    categories: Sequence[str] = tuple(_NAMES),
) -> pd.DataFrame:
    """The one-row summary frame (see :func:`summary_row`)."""
    return pd.DataFrame([summary_row(patients, slots, session, rejected, categories)])


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


def timeline_frame(patients: pd.DataFrame, start: float, end: float, interval: float) -> pd.DataFrame:
    """Queue length and busy doctors per interval of ``interval`` minutes over [start, end) [min]."""
    grid = np.arange(start, end + interval * 0.5, interval)
    if grid[-1] < end:
        grid = np.append(grid, end)
    grid = grid[grid <= end]
    callable_at = patients["callable_at"].to_numpy(dtype=float)
    called = patients["called"].to_numpy(dtype=float)
    wait = patients["wait"].to_numpy(dtype=float)
    leave = callable_at + wait  # the call, leaving or the close
    ok = ~np.isnan(wait)
    queue = time_integral(callable_at[ok], leave[ok], grid)
    completed = patients["completed"].to_numpy(dtype=float)
    seen = ~np.isnan(called)
    stop = np.where(np.isnan(completed), end, completed)
    busy = time_integral(called[seen], stop[seen], grid)
    width = np.diff(grid)
    return pd.DataFrame(
        {
            "t_start": grid[:-1],
            "t_end": grid[1:],
            "queue_length": np.diff(queue) / width,
            "busy_doctors": np.diff(busy) / width,
            "arrivals": np.histogram(callable_at[ok], bins=grid)[0],
            "calls": np.histogram(called[seen], bins=grid)[0],
        }
    )
