"""Shared fixtures of the simulation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from opdsim.sim.scenario import Scenario

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="session")
def standard_day() -> Scenario:
    return Scenario.from_toml(EXPERIMENTS / "standard_day.toml")
