"""Shared test configuration: Hypothesis profiles, the standard-day fixture and untraced studies."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import coverage
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


@pytest.fixture(scope="module")
def untraced() -> Iterator[None]:
    """Run a module's long statistical studies (hundreds of thousands of simulated patients) without coverage's
    line tracer, which doubles their time. They check numbers, not reach: the lines they run are covered by the
    functional tests, and the coverage floor in pyproject.toml still holds over the whole suite."""
    cov = coverage.Coverage.current()
    if cov is None:  # not under coverage (pytest --no-cov, or a plain run)
        yield
        return
    cov.stop()
    try:
        yield
    finally:
        cov.start()
