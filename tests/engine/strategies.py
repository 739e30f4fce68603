"""Hypothesis strategies for the engine's property-based tests: policies, schedules, clinics and time steps."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from opdsim.engine import Policy
from opdsim.engine.types import Category

__all__ = [
    "DOCTORS",
    "PATIENTS",
    "REQUEST_IDS",
    "categories",
    "clinics",
    "policies",
    "schedules",
    "time_steps",
]

#: A small pool, so that random calls hit duplicates, supersessions and idempotent repeats.
PATIENTS = tuple(f"P{i}" for i in range(1, 11))
DOCTORS = ("D1", "D2", "D3")
REQUEST_IDS = ("r1", "r2", "r3")

Schedule = list[tuple[float, float, int]]

#: Non-negative clock steps [min]; exact values hit the default grace (15) and the wait thresholds.
time_steps = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0])


def policies(aging: str, target: str) -> st.SearchStrategy[Policy]:
    """Policies with the given aging mode and target, every other field drawn."""
    threshold: st.SearchStrategy[Any]
    if aging == "bypass":
        threshold = st.integers(1, 3)
    elif aging == "wait":
        threshold = st.sampled_from([5.0, 10.0, 30.0])
    else:
        threshold = st.just(5)
    return st.builds(
        Policy,
        aging=st.just(aging),
        aging_threshold=threshold,
        aging_target=st.just(target),
        overflow_cap=st.integers(0, 2),
        max_displacements=st.integers(0, 2),
        on_full=st.sampled_from(["waitlist", "next_slot", "reject"]),
        no_show_grace=st.sampled_from([0.0, 5.0, 15.0]),
        auto_no_show=st.booleans(),
    )


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """One doctor's slots: 1 to 3 consecutive slots, sometimes with a break, capacity 1 to 3."""
    t = draw(st.sampled_from([0.0, 10.0, 30.0]))
    out: Schedule = []
    for _ in range(draw(st.integers(1, 3))):
        length = draw(st.sampled_from([30.0, 60.0]))
        out.append((t, t + length, draw(st.integers(1, 3))))
        t += length + draw(st.sampled_from([0.0, 0.0, 15.0]))
    return out


@st.composite
def clinics(draw: st.DrawFn) -> dict[str, Schedule]:
    """One to three doctors with their schedules, in a random order of addition."""
    names = draw(st.permutations(DOCTORS))[: draw(st.integers(1, len(DOCTORS)))]
    return {name: draw(schedules()) for name in names}


def categories(*, with_emergency: bool = True) -> st.SearchStrategy[Category]:
    """Booking categories; EMERGENCY (an invalid booking) only when asked for."""
    cats = list(Category) if with_emergency else [c for c in Category if c is not Category.EMERGENCY]
    return st.sampled_from(cats)
