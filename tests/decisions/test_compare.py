"""Comparing policies: grid labels of mixed types, what may be compared, verdicts, the 80-column text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opdsim.experiments import SweepError, load_results
from opdsim.experiments.compare import canonical, compare_studies, compare_within
from tests.decisions.conftest import ROOT


def opdsim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "opdsim", *args], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env
    )


def test_canonical_labels_meet_across_types() -> None:
    assert canonical(1) == canonical(1.0) == canonical("1") == canonical(np.int64(1)) == "1"
    assert canonical(0.5) == canonical("0.5") == "0.5"
    assert canonical("off") == "off"
    assert canonical(True) == "true"


def test_a_number_grid_meets_a_text_grid_without_a_traceback(studies: dict[str, Path]) -> None:
    # the defect: A stores aging_threshold as int64 ([1]), B as text (["off"]); merging them raised ValueError
    a, b = load_results(studies["one"]), load_results(studies["off"])
    assert a.summary["policy.aging_threshold"].dtype != b.summary["policy.aging_threshold"].dtype
    result = compare_studies(a, b, ["wait_max_WALK_IN", "wait_mean_PAID_PRIORITY"])
    table = result.table
    assert result.n_comparisons == 4  # 2 metrics x 2 emergency rates
    assert set(table["where"]) == {"rate_per_hour=1", "rate_per_hour=4"}
    assert (table["n"] == 8).all()
    # aging off stops raising walk-ins to paid priority: paid patients wait much less, walk-ins' worst longer
    paid = table[table["metric"] == "wait_mean_PAID_PRIORITY"]
    assert (paid["verdict"] == "better").all()
    assert (paid["ci_high"] < 0).all()
    walk = table[table["metric"] == "wait_max_WALK_IN"]
    assert (walk["diff"] > 0).all()
    # the paired difference is exactly the mean of per-replication differences
    sa, sb = a.summary, b.summary
    ra = sa[sa["demand.emergency.rate_per_hour"] == 4].sort_values("replication")["wait_max_WALK_IN"].to_numpy()
    rb = sb[sb["demand.emergency.rate_per_hour"] == 4].sort_values("replication")["wait_max_WALK_IN"].to_numpy()
    row = walk[walk["where"] == "rate_per_hour=4"].iloc[0]
    assert row["diff"] == pytest.approx(float((rb - ra).mean()))
    assert row["mean_a"] == pytest.approx(float(ra.mean()))


def test_a_different_hospital_is_refused_naming_the_field(studies: dict[str, Path]) -> None:
    with pytest.raises(SweepError, match=r"doctors\.count: 3 in A, 4 in B"):
        compare_studies(load_results(studies["one"]), load_results(studies["doctors4"]))


def test_a_different_seed_or_demand_grid_is_refused(studies: dict[str, Path], tmp_path: Path) -> None:
    from tests.decisions.conftest import run_study

    other_seed = run_study(
        tmp_path, "s", '"policy.aging_threshold" = [1]\n"demand.emergency.rate_per_hour" = [1, 4]\n', seed=4
    )
    with pytest.raises(SweepError, match=r"seed: 3 in A, 4 in B"):
        compare_studies(load_results(studies["one"]), other_seed)
    other_rates = run_study(
        tmp_path, "r", '"policy.aging_threshold" = [1]\n"demand.emergency.rate_per_hour" = [1, 2]\n'
    )
    with pytest.raises(SweepError, match=r"rate_per_hour: swept over \[1, 4\] in A, swept over \[1, 2\] in B"):
        compare_studies(load_results(studies["one"]), other_rates)


def test_within_one_study_each_value_is_paired_with_the_reference(studies: dict[str, Path]) -> None:
    res = load_results(studies["within"])
    result = compare_within(res, "policy.aging_threshold", reference=5, metrics=["wait_mean_PAID_PRIORITY"])
    table = result.table
    assert set(zip(table["a"], table["b"], strict=True)) == {
        ("aging_threshold=5", "aging_threshold=1"),
        ("aging_threshold=5", "aging_threshold=off"),
    }
    assert result.n_comparisons == 4  # 2 other values x 2 rates x 1 metric
    s = res.summary
    at = (s["demand.emergency.rate_per_hour"] == 1) & (s["policy.aging_threshold"].astype(str) == "5")
    ot = (s["demand.emergency.rate_per_hour"] == 1) & (s["policy.aging_threshold"].astype(str) == "off")
    expected = (
        s[ot].sort_values("replication")["wait_mean_PAID_PRIORITY"].to_numpy()
        - s[at].sort_values("replication")["wait_mean_PAID_PRIORITY"].to_numpy()
    ).mean()
    row = table[(table["b"] == "aging_threshold=off") & (table["where"] == "rate_per_hour=1")].iloc[0]
    assert row["diff"] == pytest.approx(expected)
    with pytest.raises(SweepError, match="--reference"):
        compare_within(res, "policy.aging_threshold", reference=7)
    with pytest.raises(SweepError, match="not swept"):
        compare_within(res, "policy.overflow_cap")


def test_verdicts_are_corrected_and_follow_the_direction() -> None:
    from opdsim.experiments import Results

    rng = np.random.default_rng(1)
    rows = []
    for p in ("a", "b"):
        for r in range(20):
            noise = rng.normal(0, 1)
            # b: walk-in p95 clearly lower (better), throughput clearly lower (worse, higher is better),
            # utilisation a little higher (no direction), starved equal
            rows.append(
                {
                    "policy.x": p,
                    "replication": r,
                    "seed": 0,
                    "wait_p95_WALK_IN": 50 + noise - (10 if p == "b" else 0),
                    "throughput": 60 + noise - (5 if p == "b" else 0),
                    "utilisation": 0.8 + 0.01 * noise + (0.05 if p == "b" else 0),
                    "starved": 1.0,
                }
            )
    manifest = {"config": {"grid": {"policy.x": ["a", "b"]}, "scenario": {}, "seed": 0}, "replications": 20}
    res = Results(pd.DataFrame(rows), ["policy.x"], None, manifest)
    table = compare_within(res, "policy.x", metrics=["wait_p95_WALK_IN", "throughput", "utilisation", "starved"]).table
    verdict = dict(zip(table["metric"], table["verdict"], strict=True))
    assert verdict == {
        "wait_p95_WALK_IN": "better",
        "throughput": "worse",
        "utilisation": "higher",
        "starved": "no detectable difference",
    }


def test_a_metric_the_summary_lacks_is_skipped(studies: dict[str, Path]) -> None:
    # wait_from_arrival_* is declared in the registry but older results folders lack it
    res = load_results(studies["within"])
    res.summary = res.summary.drop(columns=[c for c in res.summary.columns if "from_arrival" in c])
    table = compare_within(res, "policy.aging_threshold", metrics=["wait_from_arrival_p95_WALK_IN", "starved"]).table
    assert set(table["metric"]) == {"starved"}


def test_cli_compare_fits_80_columns_and_refuses_with_one_line(studies: dict[str, Path]) -> None:
    proc = opdsim("compare", str(studies["one"]), str(studies["off"]))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "walk-in wait max [min]" in proc.stdout and "paid-priority wait mean [min]" in proc.stdout
    assert "18 paired comparisons" in proc.stdout and "Holm" in proc.stdout
    assert "better" in proc.stdout
    bad = opdsim("compare", str(studies["one"]), str(studies["doctors4"]))
    assert bad.returncode == 2
    err = [line for line in bad.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "doctors.count: 3 in A, 4 in B" in err[0], bad.stderr
    within = opdsim("compare", str(studies["within"]), "--by", "policy.aging_threshold", "--reference", "5")
    assert within.returncode == 0, within.stderr
    assert "A: aging_threshold=5   B: aging_threshold=off" in within.stdout


def test_unpaired_intervals_are_wider_than_paired_ones(studies: dict[str, Path]) -> None:
    # common random numbers: the same days under both policies, so the paired interval is much narrower
    res = load_results(studies["within"])
    paired = compare_within(res, "policy.aging_threshold", 5, ["wait_p95_WALK_IN"]).table
    unpaired = compare_within(res, "policy.aging_threshold", 5, ["wait_p95_WALK_IN"], paired=False).table
    assert paired["diff"].to_numpy() == pytest.approx(unpaired["diff"].to_numpy())
    width_p = (paired["ci_high"] - paired["ci_low"]).to_numpy()
    width_u = (unpaired["ci_high"] - unpaired["ci_low"]).to_numpy()
    # wider at every point, and typically by far (1.2x to 2.8x on this study); if pairing were lost (the paired
    # interval computed on unpaired days) the ratio would be about 1 everywhere
    assert (width_u > width_p).all()
    assert np.median(width_u / width_p) > 1.5
