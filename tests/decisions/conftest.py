"""Small studies on the standard day, run in this process (a few seconds each), shared by the decision tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from opdsim.experiments import Results, SweepSpec, sweep

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "experiments" / "standard_day.toml"


def sweep_file(path: Path, grid: str, reps: int = 8, seed: int = 3, scenario: Path = STANDARD) -> Path:
    """Write a sweep file over the standard day (or ``scenario``) with ``grid`` as its [grid] body."""
    path.write_text(f'scenario = "{scenario}"\nreplications = {reps}\nseed = {seed}\n[grid]\n{grid}', encoding="utf-8")
    return path


def run_study(tmp: Path, name: str, grid: str, reps: int = 8, seed: int = 3, scenario: Path = STANDARD) -> Results:
    """Run a sweep into ``tmp/name`` (one process) and return its results."""
    spec = SweepSpec.from_toml(sweep_file(tmp / f"{name}.toml", grid, reps, seed, scenario))
    return sweep(spec, workers=1, out=tmp / name)


@pytest.fixture(scope="session")
def studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Results folders: ``one`` (aging 1), ``off`` (aging "off"), ``doctors4`` (4 doctors, aging 1) and
    ``within`` (aging 1, 5, "off"), all at emergency rates 1 and 4 per hour, 8 replications, seed 3."""
    tmp = tmp_path_factory.mktemp("studies")
    rates = '"demand.emergency.rate_per_hour" = [1, 4]\n'
    four = tmp / "four.toml"
    four.write_text(STANDARD.read_text(encoding="utf-8").replace("count = 3", "count = 4"), encoding="utf-8")
    run_study(tmp, "one", '"policy.aging_threshold" = [1]\n' + rates)
    run_study(tmp, "off", '"policy.aging_threshold" = ["off"]\n' + rates)
    run_study(tmp, "doctors4", '"policy.aging_threshold" = [1]\n' + rates, scenario=four)
    run_study(tmp, "within", '"policy.aging_threshold" = [1, 5, "off"]\n' + rates)
    return {name: tmp / name for name in ("one", "off", "doctors4", "within")}
