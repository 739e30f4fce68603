"""Replications and sweeps through the Python API: identical results on every backend, the results store,
intervals, automatic replications and failures that lose nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from opdsim.experiments import ReplicationFailed, SweepError, SweepSpec, load_results, replicate, runner, sweep
from opdsim.sim.scenario import Scenario

GRID = {"policy.aging_threshold": (2, "off"), "demand.emergency.rate_per_hour": (1.0, 4.0)}


@pytest.fixture(scope="module")
def small(standard_day: Scenario) -> SweepSpec:
    return SweepSpec(standard_day, GRID, replications=3, seed=77, name="small")


@pytest.fixture(scope="module")
def serial(small: SweepSpec) -> pd.DataFrame:
    return sweep(small, workers=1).summary


def test_serial_and_parallel_runs_give_bit_identical_summaries(small: SweepSpec, serial: pd.DataFrame) -> None:
    parallel = sweep(small, workers=2).summary
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)


def test_summary_layout_grid_then_replication_then_seed_then_metrics(serial: pd.DataFrame) -> None:
    assert list(serial.columns[:4]) == [
        "policy.aging_threshold",
        "demand.emergency.rate_per_hour",
        "replication",
        "seed",
    ]
    assert len(serial) == 2 * 2 * 3
    # values as written; a column mixing numbers and "off" is text
    assert set(serial["policy.aging_threshold"]) == {"2", "off"}
    assert serial["demand.emergency.rate_per_hour"].dtype.kind == "f"
    assert (serial["seed"] == 77).all()


def test_common_random_numbers_across_grid_points(serial: pd.DataFrame) -> None:
    # aging changes who is served when, never who came: the patient count per replication is the same at both
    # thresholds for a given emergency rate
    pivot = serial.pivot_table(
        index=["demand.emergency.rate_per_hour", "replication"], columns="policy.aging_threshold", values="patients"
    )
    assert (pivot["2"] == pivot["off"]).all()


def test_table_gives_means_with_intervals(small: SweepSpec, serial: pd.DataFrame) -> None:
    results = sweep(small, workers=1)
    table = results.table(["wait_mean"])
    assert len(table) == 4
    row = table.iloc[0]
    group = serial[
        (serial["policy.aging_threshold"] == row["policy.aging_threshold"])
        & (serial["demand.emergency.rate_per_hour"] == row["demand.emergency.rate_per_hour"])
    ]
    assert row["mean"] == pytest.approx(group["wait_mean"].mean())
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert row["n"] == 3


def test_results_folder_round_trips(small: SweepSpec, tmp_path: Path) -> None:
    out = tmp_path / "study"
    written = sweep(small, workers=2, out=out, keep_patients=True)
    loaded = load_results(out)
    pd.testing.assert_frame_equal(written.summary, loaded.summary, check_exact=True)
    assert loaded.patients is not None and written.patients is not None
    pd.testing.assert_frame_equal(written.patients, loaded.patients, check_exact=True)
    manifest = loaded.manifest
    assert manifest["state"] == "complete" and manifest["replications"] == 3
    assert manifest["config"]["grid"]["policy.aging_threshold"] == [2, "off"]
    assert manifest["config"]["scenario"]["name"] == "standard_day"
    for key in ("opdsim_version", "code_revision", "started", "ended", "duration_s", "backend", "seeds"):
        assert key in manifest
    assert (out / "table.csv").exists() and not (out / "parts").exists()


def test_an_existing_folder_is_not_overwritten_without_resume(small: SweepSpec, tmp_path: Path) -> None:
    sweep(small, workers=1, out=tmp_path / "s")
    with pytest.raises(SweepError, match="already holds results"):
        sweep(small, workers=1, out=tmp_path / "s")


def test_resume_refuses_a_changed_sweep(small: SweepSpec, tmp_path: Path) -> None:
    sweep(small, workers=1, out=tmp_path / "s")
    changed = dataclasses.replace(small, seed=78)
    with pytest.raises(SweepError, match="changed since"):
        sweep(changed, workers=1, out=tmp_path / "s", resume=True)


def test_replicate_runs_one_scenario(standard_day: Scenario) -> None:
    results = replicate(standard_day, 3, seed=5, workers=1)
    assert results.grid == [] and len(results.summary) == 3
    assert list(results.summary["replication"]) == [0, 1, 2]
    table = results.table(["wait_mean"])
    assert len(table) == 1 and table["n"].iloc[0] == 3


def test_auto_replications_reach_the_precision_and_record_the_choice(standard_day: Scenario) -> None:
    spec = SweepSpec(standard_day, {"demand.emergency.rate_per_hour": (1.0, 3.0)}, "auto", 9, precision=0.1)
    results = sweep(spec, workers=2)
    choice = results.manifest["auto_replications"]
    n = choice["replications"]
    assert choice["reached"] and choice["achieved_relative_half_width"] <= 0.1
    table = results.table(["wait_mean"])
    assert (table["half_width"] / table["mean"] <= 0.1).all()
    assert (table["n"] == n).all() and n >= 5 + 5  # the minimum plus the look-ahead


def test_a_failing_replication_is_reported_and_the_rest_kept(
    small: SweepSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner.simulate_summary  # type: ignore[attr-defined]

    def fragile(scenario, seed=0, replication=0):  # type: ignore[no-untyped-def]
        if replication == 1 and scenario.demand.emergency.rate_per_hour == 4.0:
            raise RuntimeError("boom in the model")
        return real(scenario, seed, replication)

    monkeypatch.setattr(runner, "simulate_summary", fragile)
    with pytest.raises(ReplicationFailed, match="seed 77, replication 1") as info:
        sweep(small, workers=1, out=tmp_path / "s")
    assert len(info.value.failures) == 2  # one per aging threshold at the rate 4 point
    assert all(point["demand.emergency.rate_per_hour"] == 4.0 for point, *_ in info.value.failures)
    assert "boom in the model" in info.value.failures[0][3]
    # the two healthy grid points were written and a resume (with the model fixed) finishes the rest
    assert len(list((tmp_path / "s" / "parts").glob("point-*.summary.parquet"))) == 2
    monkeypatch.setattr(runner, "simulate_summary", real)
    results = sweep(small, workers=1, out=tmp_path / "s", resume=True)
    assert len(results.summary) == 12


def test_unknown_grid_path_is_named(standard_day: Scenario) -> None:
    with pytest.raises(SweepError, match=r"grid\.policy\.agin_threshold"):
        SweepSpec(standard_day, {"policy.agin_threshold": (1, 2)})
