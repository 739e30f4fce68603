"""Fixtures of the engine's tests: engines built from a policy and a schedule in one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from opdsim.engine import Engine, Policy

Schedule = Sequence[tuple[float, float, int]]

#: Three consecutive one-hour slots of two seats each.
THREE_SLOTS: Schedule = ((0.0, 60.0, 2), (60.0, 120.0, 2), (120.0, 180.0, 2))


def build_engine(schedules: dict[str, Schedule], **policy: Any) -> Engine:
    """An engine with ``Policy(**policy)`` and the doctors of ``schedules`` added at time 0, in order."""
    eng = Engine(Policy(**policy))
    for doctor, slots in schedules.items():
        eng.add_doctor(doctor, slots, now=0.0)
    return eng


@pytest.fixture
def make_engine() -> Callable[..., Engine]:
    """Factory: ``make_engine(slots, **policy)`` gives an engine with one doctor ``"D1"``."""

    def make(slots: Schedule = THREE_SLOTS, **policy: Any) -> Engine:
        return build_engine({"D1": slots}, **policy)

    return make


@pytest.fixture
def make_clinic() -> Callable[..., Engine]:
    """Factory: ``make_clinic({"D1": slots, "D2": slots}, **policy)``, doctors added in that order."""
    return build_engine


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    """Default policy, doctor ``"D1"`` with :data:`THREE_SLOTS`."""
    return make_engine()
