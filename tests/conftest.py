"""Shared test configuration: Hypothesis profiles and the standard-day fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from opdsim.sim.scenario import Scenario

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"

# CI replays the same examples every run (a red build is then reproducible, never a coin toss); local runs keep
# exploring new ones. HYPOTHESIS_PROFILE=ci reproduces CI locally.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


@pytest.fixture(scope="session")
def standard_day() -> Scenario:
    return Scenario.from_toml(EXPERIMENTS / "standard_day.toml")
