"""The registry of summary metrics: every run-level figure declared once.

Each entry says what a column of the ``summary`` frame is: its name, a short label in words, its unit, which
direction is better, its grain and a one-sentence definition. Tables, comparisons, regression tests, plots,
reports and the glossary (``docs/metrics.md``) read this registry; nothing selects metrics by a name prefix.

Standard library only, so that the booking service and the documentation build can import it without pandas.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CATEGORIES",
    "REGISTRY",
    "Direction",
    "Metric",
    "UnknownMetricError",
    "glossary_markdown",
    "metric",
    "metrics",
]

Direction = Literal["lower", "higher", "neither"]
Grain = Literal["run", "category"]

#: Category names in serving order (the engine's ``Category`` names; kept here as text so this module stays
#: free of the engine).
CATEGORIES: Final = ("EMERGENCY", "PAID_PRIORITY", "FOLLOW_UP", "ONLINE", "WALK_IN")

_CATEGORY_WORDS: Final = {
    "EMERGENCY": "emergency",
    "PAID_PRIORITY": "paid-priority",
    "FOLLOW_UP": "follow-up",
    "ONLINE": "online",
    "WALK_IN": "walk-in",
}


class UnknownMetricError(KeyError):
    """A metric name that the registry does not declare."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown metric"


@dataclass(frozen=True, slots=True)
class Metric:
    """One summary metric.

    Attributes
    ----------
    name : str
        The ``summary`` column, e.g. ``"wait_p95_WALK_IN"``.
    label : str
        A few words for tables and axes, e.g. ``"walk-in wait p95"``.
    unit : str
        The unit: ``"min"``, ``"patients"``, ``"tokens"``, ``"seats"``, ``"patients/h"`` or ``"fraction"``.
    direction : {"lower", "higher", "neither"}
        Which way is better for the hospital's patients; ``"neither"`` for figures that describe the day.
    grain : {"run", "category"}
        ``"run"`` for a figure of the whole day, ``"category"`` for one category's patients.
    definition : str
        One sentence that says exactly what is counted or measured.
    category : str or None
        The category name for ``grain == "category"``, else None.
    """

    name: str
    label: str
    unit: str
    direction: Direction
    grain: Grain
    definition: str
    category: str | None = None

    @property
    def label_with_unit(self) -> str:
        """The label followed by the unit in brackets, e.g. ``"walk-in wait p95 [min]"``."""
        return f"{self.label} [{self.unit}]"


_STATS: Final = {
    "mean": ("mean", "the mean"),
    "median": ("median", "the median"),
    "p90": ("p90", "the 90th percentile"),
    "p95": ("p95", "the 95th percentile"),
    "max": ("max", "the largest value"),
}

_WAITS: Final = {
    "wait": (
        "wait",
        "minutes from when the patient could first be called (the latest of check-in, seat and slot start) to "
        "the call, summed over every interval in which the token was callable, counted to leaving or to the "
        "close for those never called",
    ),
    "wait_from_arrival": (
        "wait from arrival",
        "minutes from arrival at the desk to the call, counted to leaving or to the close for those never called",
    ),
}


def _declare() -> dict[str, Metric]:
    out: dict[str, Metric] = {}

    def add(m: Metric) -> None:
        if m.name in out:
            raise ValueError(f"metric {m.name!r} declared twice")
        out[m.name] = m

    scopes: list[tuple[str, str, str | None, str]] = [("", "", None, "present patients")]
    scopes += [(f"_{c}", f"{_CATEGORY_WORDS[c]} ", c, f"present {_CATEGORY_WORDS[c]} patients") for c in CATEGORIES]
    for suffix, words, cat, whom in scopes:
        grain: Grain = "run" if cat is None else "category"
        add(
            Metric(
                f"n{suffix}",
                f"{words}patients present".strip(),
                "patients",
                "neither",
                grain,
                f"Number of {whom}: patients who came to the desk (or were seated as emergencies).",
                cat,
            )
        )
        for base, (wlabel, wdef) in _WAITS.items():
            for stat, (slabel, sdef) in _STATS.items():
                add(
                    Metric(
                        f"{base}_{stat}{suffix}",
                        f"{words}{wlabel} {slabel}",
                        "min",
                        "lower",
                        grain,
                        f"{sdef.capitalize()} over {whom} of the {wlabel}: {wdef}.",
                        cat,
                    )
                )
        add(
            Metric(
                f"starved{suffix}",
                f"{words}starved".strip(),
                "patients",
                "lower",
                grain,
                f"Number of {whom} whose wait exceeded the scenario's starvation limit.",
                cat,
            )
        )
        add(
            Metric(
                f"starved_from_arrival{suffix}",
                f"{words}starved from arrival".strip(),
                "patients",
                "lower",
                grain,
                f"Number of {whom} whose wait from arrival exceeded the scenario's starvation limit.",
                cat,
            )
        )
        add(
            Metric(
                f"overtaken_mean{suffix}",
                f"{words}times overtaken".strip(),
                "tokens",
                "lower",
                grain,
                f"Mean over {whom} of the number of tokens with a later queue number called first while the "
                "token was callable.",
                cat,
            )
        )
        add(
            Metric(
                f"upgraded{suffix}",
                f"{words}upgraded".strip(),
                "patients",
                "neither",
                grain,
                f"Number of {whom.replace('present ', '')} whose effective rank the aging rule raised at least once.",
                cat,
            )
        )

    day: list[tuple[str, str, str, Direction, str]] = [
        (
            "patients",
            "patients",
            "patients",
            "neither",
            "Number of patients in the day's population, whether or not they came or got a token.",
        ),
        ("completed", "completed", "patients", "higher", "Number of consultations completed."),
        ("rejected", "rejected", "requests", "lower", "Number of booking requests refused under the full-day policy."),
        (
            "left_unseen",
            "left unseen",
            "patients",
            "lower",
            "Number of checked-in patients who went away before being called.",
        ),
        (
            "no_shows",
            "no-shows",
            "patients",
            "neither",
            "Number of booked tokens marked no-show after their check-in deadline.",
        ),
        ("cancellations", "cancellations", "patients", "neither", "Number of tokens cancelled before the call."),
        (
            "unserved",
            "unserved",
            "patients",
            "lower",
            "Number of tokens still waiting, booked or waitlisted when the day closed.",
        ),
        (
            "rebooked",
            "rebooked",
            "patients",
            "neither",
            "Number of late patients whose token became a no-show and who were booked again.",
        ),
        (
            "overflow_used",
            "overflow seats used",
            "seats",
            "neither",
            "The most seats held beyond capacity at once in a slot (only emergencies go past it), summed over "
            "every slot of every doctor.",
        ),
        (
            "cap_breaches",
            "cap breaches",
            "seats",
            "lower",
            "Number of emergencies seated past the overflow cap with nobody left to displace.",
        ),
        (
            "utilisation",
            "utilisation",
            "fraction",
            "neither",
            "Consultation minutes over the doctor minutes available: for each doctor from the session start (or an "
            "earlier first call) to the later of the session end and their last consultation's end, so overtime "
            "is included and the ratio is at most 1.",
        ),
        (
            "overtime_mean",
            "overtime mean",
            "min",
            "lower",
            "Mean over doctors of the minutes past the session end at which their last consultation ended "
            "(0 for none).",
        ),
        (
            "overtime_max",
            "overtime max",
            "min",
            "lower",
            "Largest over doctors of the minutes past the session end at which their last consultation ended.",
        ),
        (
            "throughput",
            "throughput",
            "patients/h",
            "higher",
            "Consultations completed per hour of the scheduled session.",
        ),
    ]
    for name, label, unit, direction, definition in day:
        add(Metric(name, label, unit, direction, "run", definition))
    return out


#: Every summary metric, by name, in the order tables show them.
REGISTRY: Final[Mapping[str, Metric]] = _declare()


def metric(name: str) -> Metric:
    """The declared metric ``name``.

    Raises
    ------
    UnknownMetricError
        If no metric of that name is declared; the message suggests the closest names.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `opdsim metrics` lists them"
        raise UnknownMetricError(f"unknown metric {name!r}{hint}") from None


def metrics(*, direction: Direction | None = None, grain: Grain | None = None) -> Iterator[Metric]:
    """The declared metrics in table order, optionally only those of one direction or grain."""
    for m in REGISTRY.values():
        if (direction is None or m.direction == direction) and (grain is None or m.grain == grain):
            yield m


def glossary_markdown() -> str:
    """The glossary of summary metrics as Markdown (the text of ``docs/metrics.md``)."""
    better = {"lower": "lower", "higher": "higher", "neither": "-"}
    lines = [
        "# Summary metrics",
        "",
        "Generated from `opdsim/registry.py` by `python -m opdsim.registry > docs/metrics.md`;",
        "`tests/test_registry.py` checks that this page matches the registry. One row per column of the `summary`",
        "frame (one simulated day). Two waits: `wait` is the time the patient was callable in all (what the",
        "allocation policy controls and the aging clock counts), `wait_from_arrival` runs from arrival at the",
        "desk (what the patient lives through and what surveys report).",
        "",
        "| name | label | unit | better | definition |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{m.name}` | {m.label} | {m.unit} | {better[m.direction]} | {m.definition} |" for m in REGISTRY.values()
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m opdsim.registry > docs/metrics.md
    print(glossary_markdown(), end="")
