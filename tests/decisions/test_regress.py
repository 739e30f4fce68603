"""Regression tests of a policy change: the candidate's policy grid is run, nothing it says is ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from opdsim.experiments import SweepError, load_results
from opdsim.experiments.compare import candidate_spec, regress, regress_exact
from tests.decisions.conftest import STANDARD, run_study, sweep_file
from tests.decisions.test_compare import opdsim

RATE = '"demand.emergency.rate_per_hour" = [4]\n'


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Aging at threshold 5 on the standard day with 4 emergencies an hour (busy enough for aging to matter)."""
    tmp = tmp_path_factory.mktemp("baseline")
    run_study(tmp, "base", '"policy.aging_threshold" = [5]\n' + RATE, reps=20, seed=11)
    return tmp / "base"


def test_a_candidate_sweep_switching_aging_off_is_caught(baseline: Path, tmp_path: Path) -> None:
    # the defect: the candidate's grid was replaced by the baseline's, so aging "off" passed as "no regression"
    cand = sweep_file(tmp_path / "cand.toml", '"policy.aging_threshold" = ["off"]\n' + RATE, reps=20, seed=11)
    spec = candidate_spec(load_results(baseline), cand, str(cand))
    assert dict(spec.grid) == {"policy.aging_threshold": ("off",), "demand.emergency.rate_per_hour": (4,)}
    report = regress(baseline, cand, workers=1)
    assert not report.passed
    worse = set(report.worse["metric"])
    # walk-ins wait longer at the top of the distribution and more of them starve or leave
    assert {"wait_p95_WALK_IN", "wait_max_WALK_IN"} <= worse, worse
    row = report.worse.set_index("metric").loc["wait_p95_WALK_IN"]
    assert row["ci_low"] > 0 and row["mean_b"] > row["mean_a"] + 5
    assert "wait_mean_PAID_PRIORITY" not in worse  # paid patients gain from aging off


def test_the_same_policy_passes_and_is_bit_identical(baseline: Path, tmp_path: Path) -> None:
    same = sweep_file(tmp_path / "same.toml", '"policy.aging_threshold" = [5]\n' + RATE, reps=20, seed=11)
    assert regress(baseline, same, workers=1).passed
    exact = regress_exact(baseline, workers=1)
    assert exact.passed and exact.rows == 20


def test_exact_names_the_first_difference(baseline: Path, tmp_path: Path) -> None:
    cand = sweep_file(tmp_path / "three.toml", '"policy.aging_threshold" = [3]\n' + RATE, reps=20, seed=11)
    exact = regress_exact(baseline, cand, workers=1)
    assert not exact.passed
    assert exact.first_difference is not None
    assert exact.first_difference.startswith(
        "aging_threshold=5, rate_per_hour=4, replication=0: policy.aging_threshold = '5' in the baseline, '3' now"
    )


@pytest.mark.parametrize(
    ("grid", "reps", "seed", "text", "field"),
    [
        ('"policy.aging_threshold" = [5]\n"demand.emergency.rate_per_hour" = [2]\n', 20, 11, "", "grid.demand"),
        ('"policy.aging_threshold" = [5]\n' + RATE, 10, 11, "", "replications"),
        ('"policy.aging_threshold" = [5]\n' + RATE, 20, 12, "", "seed"),
        ('"policy.aging_threshold" = [5]\n' + RATE, 20, 11, "count = 4", "doctors.count"),
    ],
)
def test_a_candidate_changing_the_hospital_is_refused(
    baseline: Path, tmp_path: Path, grid: str, reps: int, seed: int, text: str, field: str
) -> None:
    scenario = STANDARD
    if text:
        scenario = tmp_path / "other.toml"
        scenario.write_text(STANDARD.read_text(encoding="utf-8").replace("count = 3", text), encoding="utf-8")
    cand = sweep_file(tmp_path / "cand.toml", grid, reps=reps, seed=seed, scenario=scenario)
    with pytest.raises(SweepError) as caught:
        candidate_spec(load_results(baseline), cand, str(cand))
    assert caught.value.field.startswith(field), str(caught.value)
    assert "cand.toml" in str(caught.value)


def test_a_scenario_file_sets_the_policy_swept_in_the_baseline(tmp_path: Path) -> None:
    run_study(tmp_path, "b", '"policy.aging_threshold" = [1, 5]\n' + RATE, reps=4, seed=11)
    off = tmp_path / "off.toml"
    off.write_text(STANDARD.read_text(encoding="utf-8").replace("aging_threshold = 5", 'aging_threshold = "off"'))
    spec = candidate_spec(load_results(tmp_path / "b"), off, str(off))
    assert dict(spec.grid) == {"demand.emergency.rate_per_hour": (4,)}
    assert spec.scenario.to_dict()["policy"]["aging"] == "none"  # "off" is shorthand for aging = "none"


def test_cli_regress_exit_codes(baseline: Path, tmp_path: Path) -> None:
    cand = sweep_file(tmp_path / "cand.toml", '"policy.aging_threshold" = ["off"]\n' + RATE, reps=20, seed=11)
    proc = opdsim("regress", "--baseline", str(baseline), str(cand), "--workers", "1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "significantly worse" in proc.stdout and "walk-in wait p95 [min]" in proc.stdout
    same = opdsim("regress", "--baseline", str(baseline), "--exact", "--workers", "1")
    assert same.returncode == 0 and "bit-identical" in same.stdout, same.stdout + same.stderr
