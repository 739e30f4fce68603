"""Recommendation: constructed studies with known means, the rate of correct selection, added replications."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opdsim.experiments import Results, SweepError, SweepSpec, load_results, sweep
from opdsim.experiments.recommend import Constraint, add_replications, decide, recommend
from tests.decisions.conftest import run_study, sweep_file
from tests.decisions.test_compare import opdsim


def study(means: dict[str, tuple[float, float]], n: int = 20, sd: float = 1.0, seed: int = 0) -> Results:
    """A hand-made study: policy -> (mean walk-in p95, mean emergency wait); replication r of every policy
    shares a common day effect (common random numbers) plus its own noise of ``sd / 4``."""
    rng = np.random.default_rng(seed)
    day = rng.normal(0, sd, n)
    rows = []
    for policy, (p95, emergency) in means.items():
        own = rng.normal(0, sd / 4, (2, n))
        rows += [
            {
                "policy.x": policy,
                "replication": r,
                "seed": 0,
                "wait_p95_WALK_IN": p95 + day[r] + own[0, r],
                "wait_mean_EMERGENCY": emergency + 0.1 * day[r] + own[1, r],
            }
            for r in range(n)
        ]
    manifest = {"config": {"grid": {"policy.x": list(means)}, "scenario": {}, "seed": 0}, "replications": n}
    return Results(pd.DataFrame(rows), ["policy.x"], None, manifest)


def test_constructed_study_picks_the_best_feasible_policy() -> None:
    # d has the lowest p95 but breaks the emergency limit by 1 min; a beats b by 2 min, far beyond the noise
    res = study({"a": (10, 3), "b": (12, 3), "c": (20, 2), "d": (8, 6)})
    rec = recommend(res, "wait_p95_WALK_IN", ["wait_mean_EMERGENCY<=5"])
    status = dict(zip(rec.policies["policy"], rec.policies["status"], strict=True))
    assert status == {"x=a": "feasible", "x=b": "feasible", "x=c": "feasible", "x=d": "infeasible"}
    assert rec.best == "x=a"
    assert rec.subset == ["x=a"]
    text = rec.paragraph()
    assert "Choose x=a" in text
    assert "binds is emergency wait mean" in text and "x=d" in text
    assert "95%" in text


def test_policies_too_close_to_separate_are_named_with_the_replications_needed() -> None:
    res = study({"a": (10.0, 3), "b": (10.0, 3), "c": (15, 3)}, n=10)
    rec = recommend(res, "wait_p95_WALK_IN", ["wait_mean_EMERGENCY<=5"])
    assert set(rec.subset) == {"x=a", "x=b"}
    assert "x=c" not in rec.subset
    row = rec.policies.set_index("policy").loc[rec.subset[1] if rec.best == rec.subset[0] else rec.subset[0]]
    assert row["open"] and row["more_replications"] > 10
    assert "as good a choice" in rec.paragraph()


def test_undetermined_feasibility_estimates_the_replications_from_variance_and_gap() -> None:
    n = 10
    x = np.array([4.0, 6.0] * (n // 2))  # mean 5.0 would sit on the bound; shift it to 4.5: sd 1.054
    x = x - 0.5
    objective = {"a": np.arange(n, dtype=float), "b": np.arange(n, dtype=float) + 100}
    checks = {("a", ""): {"wait_mean_EMERGENCY": x}, ("b", ""): {"wait_mean_EMERGENCY": x - 3}}
    c = Constraint.parse("wait_mean_EMERGENCY<=5")
    policies, table, alpha_f, _ = decide(objective, checks, [c], lower_is_better=True, confidence=0.95)
    assert alpha_f == pytest.approx(0.025)
    a = table[table["policy"] == "a"].iloc[0]
    assert a["status"] == "undetermined"
    from scipy import stats

    t = stats.t.ppf(1 - 0.025 / 2, n - 1)  # Bonferroni over the 2 checks
    sd = float(np.std(x, ddof=1))
    assert a["upper"] == pytest.approx(4.5 + t * sd / np.sqrt(n))
    assert a["more_replications"] == np.ceil((t * sd / 0.5) ** 2)
    assert policies.set_index("policy").loc["b", "best"]  # the only feasible one, though its objective is worse


def test_constraint_and_objective_errors_name_the_field() -> None:
    res = study({"a": (10, 3), "b": (12, 3)})
    with pytest.raises(SweepError, match=r"--constraint.*did you mean wait_mean_EMERGENCY"):
        recommend(res, "wait_p95_WALK_IN", ["wait_mean_EMERGENC<=5"])
    with pytest.raises(SweepError, match=r"METRIC<=NUMBER"):
        recommend(res, "wait_p95_WALK_IN", ["wait_mean_EMERGENCY=5"])
    with pytest.raises(SweepError, match=r"--objective.*no better direction"):
        recommend(res, "utilisation")


def correct_selection_rate(designs: int, k: int, n: int, seed: int, confidence: float) -> tuple[float, float]:
    """Share of synthetic normal designs in which no feasibility call is wrong and the subset holds the truly
    best of the policies declared feasible; and the mean share of feasible policies kept in the subset (a
    screen that kept everything would be right every time and useless)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    c = Constraint("wait_mean_EMERGENCY", "<=", 0.0)
    right = 0
    kept = []
    for _ in range(designs):
        mu = np.sort(rng.uniform(0, 1.0, k))  # objective means, policy 0 best; gaps of the order of the noise
        nu = rng.choice([-0.7, -0.3, 0.3], size=k)  # constraint means: feasible below 0, infeasible above
        day = rng.normal(0, 1, n)
        obj = {f"p{i}": mu[i] + day + rng.normal(0, 0.5, n) for i in range(k)}
        checks = {(f"p{i}", ""): {c.metric: nu[i] + rng.normal(0, 0.5, n)} for i in range(k)}
        policies, _, _, _ = decide(obj, checks, [c], lower_is_better=True, confidence=confidence)
        status = policies["status"].to_numpy()
        wrong = ((status == "feasible") & (nu > 0)) | ((status == "infeasible") & (nu < 0))
        declared = np.flatnonzero(status == "feasible")
        if len(declared) > 1:
            kept.append(float(policies["in_subset"].iloc[declared].mean()))
        ok = not wrong.any()
        if ok and len(declared):
            truly_best = declared[np.argmin(mu[declared])]
            ok = bool(policies["in_subset"].iloc[truly_best])
        right += ok
    return right / designs, float(np.mean(kept))


def test_rate_of_correct_selection_meets_the_promise_quick() -> None:
    rate, kept = correct_selection_rate(300, k=5, n=10, seed=20261201, confidence=0.9)
    assert rate >= 0.9
    assert kept < 0.9  # it does screen (keeping every feasible policy would always be "right")


@pytest.mark.slow
@pytest.mark.parametrize(("k", "n", "confidence"), [(3, 5, 0.8), (5, 10, 0.95), (8, 20, 0.95)])
def test_rate_of_correct_selection_meets_the_promise_long(k: int, n: int, confidence: float) -> None:
    rate, kept = correct_selection_rate(4000, k=k, n=n, seed=7 + k, confidence=confidence)
    assert rate >= confidence
    assert kept < 1.0


def test_added_replications_are_those_a_longer_sweep_would_have_run(tmp_path: Path) -> None:
    grid = '"policy.aging_threshold" = [1, "off"]\n"demand.emergency.rate_per_hour" = [4]\n'
    run_study(tmp_path, "short", grid, reps=3, seed=5)
    more = add_replications(tmp_path / "short", 5, workers=1)
    assert more.manifest["replications"] == 5
    assert more.manifest["added_replications"][0]["from"] == 3
    longer = sweep(SweepSpec.from_toml(sweep_file(tmp_path / "long.toml", grid, reps=5, seed=5)), workers=1)
    pd.testing.assert_frame_equal(more.summary, longer.summary)
    again = load_results(tmp_path / "short")
    assert len(again.summary) == 10
    rec = recommend(again, "wait_max_WALK_IN", ["starved<=5"])
    assert rec.replications == 5


def test_cli_recommend_prints_a_choice_in_80_columns(tmp_path: Path) -> None:
    grid = '"policy.aging_threshold" = [1, 5, "off"]\n"demand.emergency.rate_per_hour" = [4]\n'
    run_study(tmp_path, "s", grid, reps=6, seed=5)
    proc = opdsim(
        "recommend", str(tmp_path / "s"), "--objective", "wait_max_WALK_IN", "--constraint", "wait_mean_EMERGENCY<=5"
    )
    assert proc.returncode == 0, proc.stderr
    assert "Choose aging_threshold=" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    bad = opdsim("recommend", str(tmp_path / "s"), "--objective", "wait_max_WALK_IN", "--at", "doctors.count=3")
    assert bad.returncode == 2 and "--at" in bad.stderr and "Traceback" not in bad.stderr
