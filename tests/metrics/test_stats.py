"""Statistics over replications, against values worked out by hand (t quantiles from printed tables; for two
degrees of freedom the t distribution has the closed form sf(t) = (1 - t / sqrt(t^2 + 2)) / 2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from opdsim.experiments.stats import holm, interval, paired_table, relative_half_width, summary_table


def _row(frame: pd.DataFrame, key: object) -> dict[str, Any]:
    """One row of a table indexed by (grid point, metric), as a plain dict."""
    return dict(frame.loc[key].to_dict())  # type: ignore[call-overload]


T_975_4 = 2.7764451052  # Student t, 97.5% quantile, 4 degrees of freedom
T_975_2 = 4.3026527297
T_95_2 = 2.9199855804  # 95% quantile (a 90% interval), 2 degrees of freedom


def test_interval_by_hand() -> None:
    # 1..5: mean 3, sd sqrt(2.5), se sqrt(2.5 / 5) = sqrt(0.5)
    mean, half, n = interval([1.0, 2.0, 3.0, 4.0, 5.0, math.nan, math.inf])
    assert (mean, n) == (3.0, 5)
    assert half == pytest.approx(T_975_4 * math.sqrt(0.5), rel=1e-9)
    mean, half, n = interval([2.0, 4.0, 6.0], level=0.90)  # sd 2, se 2/sqrt(3)
    assert (mean, n) == (4.0, 3) and half == pytest.approx(T_95_2 * 2 / math.sqrt(3), rel=1e-9)
    assert interval([7.0]) == (7.0, math.inf, 1)
    m, h, k = interval([math.nan])
    assert math.isnan(m) and math.isnan(h) and k == 0


def test_relative_half_width_by_hand() -> None:
    assert relative_half_width([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(T_975_4 * math.sqrt(0.5) / 3, rel=1e-9)
    assert relative_half_width([-1.0, -2.0, -3.0, -4.0, -5.0]) == pytest.approx(T_975_4 * math.sqrt(0.5) / 3, rel=1e-9)
    assert relative_half_width([2.0, 2.0, 2.0]) == 0.0  # no spread
    assert relative_half_width([-1.0, 1.0]) == math.inf  # mean 0 with spread
    assert relative_half_width([0.0, 0.0]) == 0.0
    assert relative_half_width([5.0]) == math.inf  # one value: no interval


def test_holm_by_hand() -> None:
    # sorted 0.005 <= 0.05/4, 0.01 <= 0.05/3, then 0.03 > 0.05/2 stops: the two smallest are rejected
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == [True, False, False, True]
    assert holm([0.0125, 0.0166]).tolist() == [True, True]  # 0.0125 <= 0.025, 0.0166 <= 0.05
    assert holm([0.026, 0.05]).tolist() == [False, False]  # the smallest already fails 0.025
    assert holm([0.025, 0.05]).tolist() == [True, True]  # bounds are inclusive
    assert holm([math.nan, 0.001]).tolist() == [False, True]
    assert holm([0.001, 0.2], alpha=0.001).tolist() == [False, False]  # 0.001 > 0.001 / 2
    assert holm([]).tolist() == []


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    a = pd.DataFrame(
        {
            "g": [1, 1, 1, 2, 2, 2],
            "replication": [0, 1, 2, 0, 1, 2],
            "wait_mean": [10.0, 20.0, 30.0, 5.0, 5.0, 5.0],
            "throughput": [1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
            "seed": [7] * 6,
        }
    )
    b = a.copy()
    b["wait_mean"] = [11.0, 22.0, 33.0, 5.0, 5.0, 5.0]  # differences 1, 2, 3 at g = 1; none at g = 2
    return a, b


def test_paired_table_by_hand() -> None:
    a, b = _frames()
    out = paired_table(a, b.iloc[::-1], ["g"]).set_index(["g", "metric"])  # matched on (g, replication)
    assert list(out.index) == [(1, "wait_mean"), (1, "throughput"), (2, "wait_mean"), (2, "throughput")]
    row = _row(out, (1, "wait_mean"))
    # d = 1, 2, 3: mean 2, sd 1, se 1/sqrt(3), t = 2 sqrt(3), 2 degrees of freedom
    t = 2 * math.sqrt(3)
    sf = (1 - t / math.sqrt(t * t + 2)) / 2
    assert (row["mean_a"], row["mean_b"], row["diff"], row["n"]) == (20.0, 22.0, 2.0, 3)
    assert row["p_two_sided"] == pytest.approx(2 * sf, rel=1e-9)
    assert row["p_worse"] == pytest.approx(sf, rel=1e-9)
    half = T_975_2 / math.sqrt(3)
    assert row["ci_low"] == pytest.approx(2 - half, rel=1e-9) and row["ci_high"] == pytest.approx(2 + half, rel=1e-9)
    assert not row["significant"]  # p = 0.074
    same = _row(out, (2, "wait_mean"))
    assert (same["diff"], same["p_two_sided"], same["p_worse"], same["ci_low"], same["ci_high"]) == (0, 1, 1, 0, 0)
    assert not same["significant"]


def test_paired_table_significance_and_improvements() -> None:
    a, b = _frames()
    b["wait_mean"] = [9.0, 18.1, 26.9, 5.0, 5.0, 5.0]  # differences -1, -1.9, -3.1: better, p_worse near 1
    row = _row(paired_table(a, b, ["g"], ["wait_mean"], level=0.90).set_index("g"), 1)
    d = np.array([-1.0, -1.9, -3.1])
    se = d.std(ddof=1) / math.sqrt(3)
    t = d.mean() / se
    sf = (1 - abs(t) / math.sqrt(t * t + 2)) / 2
    assert row["p_two_sided"] == pytest.approx(2 * sf, rel=1e-9)
    assert row["p_worse"] == pytest.approx(1 - sf, rel=1e-9)
    assert row["significant"] == (2 * sf < 0.10)
    assert row["ci_high"] - row["diff"] == pytest.approx(T_95_2 * se, rel=1e-9)


def test_paired_table_with_too_few_pairs() -> None:
    a, b = _frames()
    one = paired_table(a.iloc[[0]], b.iloc[[0]], ["g"], ["wait_mean"]).iloc[0].to_dict()
    assert (one["diff"], one["n"], one["p_two_sided"], one["ci_low"]) == (1.0, 1, 1.0, 1.0)
    none = paired_table(a.iloc[[0]], b.iloc[[3]], ["g"], ["wait_mean"])
    assert none.empty  # no common (g, replication)


def test_summary_table_by_hand() -> None:
    a, _ = _frames()
    out = summary_table(a, ["g"]).set_index(["g", "metric"])
    assert list(out.index) == [(1, "wait_mean"), (1, "throughput"), (2, "wait_mean"), (2, "throughput")]
    row = _row(out, (1, "wait_mean"))  # 10, 20, 30: mean 20, sd 10, se 10/sqrt(3)
    half = T_975_2 * 10 / math.sqrt(3)
    assert (row["mean"], row["n"]) == (20.0, 3)
    assert row["half_width"] == pytest.approx(half, rel=1e-9)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((20 - half, 20 + half), rel=1e-9)
    flat = _row(out, (2, "throughput"))
    assert (flat["mean"], flat["half_width"], flat["ci_low"], flat["ci_high"]) == (2.0, 0.0, 2.0, 2.0)
    whole = summary_table(a, [])
    assert list(whole["metric"]) == ["wait_mean", "throughput"]
    assert _row(whole.set_index("metric"), "wait_mean")["mean"] == pytest.approx(12.5)


def test_pairs_with_a_missing_value_and_two_pairs() -> None:
    a, b = _frames()
    b.loc[1, "wait_mean"] = math.nan  # replication 1 at g = 1 drops out of the pairing
    row = _row(paired_table(a, b, ["g"], ["wait_mean"]).set_index("g"), 1)
    # pairs d = 1 (rep 0), 3 (rep 2): mean 2, sd sqrt(2), se 1, t = 2, one degree of freedom
    assert (row["n"], row["diff"], row["mean_a"], row["mean_b"]) == (2, 2.0, 20.0, 22.0)
    assert row["p_worse"] == pytest.approx(0.5 - math.atan(2.0) / math.pi, rel=1e-9)  # Cauchy: t with 1 df
    assert row["ci_high"] - row["diff"] == pytest.approx(12.7062047362, rel=1e-9)
    b.loc[[0, 1, 2], "wait_mean"] = math.nan
    gone = _row(paired_table(a, b, ["g"], ["wait_mean"]).set_index("g"), 1)
    assert gone["n"] == 0 and math.isnan(gone["diff"]) and math.isnan(gone["p_two_sided"])
    assert math.isnan(gone["mean_a"]) and math.isnan(gone["ci_low"]) and not gone["significant"]


def test_two_pairs_can_be_significant() -> None:
    a = pd.DataFrame({"replication": [0, 1], "wait_mean": [10.0, 20.0]})
    b = pd.DataFrame({"replication": [0, 1], "wait_mean": [20.0, 30.5]})  # d = 10, 10.5: t = 41, 1 df
    row = paired_table(a, b, [], ["wait_mean"]).iloc[0].to_dict()
    assert row["significant"] and row["p_two_sided"] == pytest.approx(1 - 2 * math.atan(41.0) / math.pi, rel=1e-6)


def test_grid_points_keep_their_order_of_appearance_and_missing_values() -> None:
    frame = pd.DataFrame(
        {"g": [2.0, 2.0, math.nan, math.nan, 1.0, 1.0], "replication": [0, 1] * 3, "wait_mean": [1.0, 3.0] * 3}
    )
    out = summary_table(frame, ["g"], level=0.90)
    assert out["g"].tolist()[:1] == [2.0] and math.isnan(out["g"].tolist()[1]) and out["g"].tolist()[2] == 1.0
    # 1, 3: mean 2, sd sqrt(2), se 1: the 90% half-width is t(0.95, 1) = 6.3137515147
    assert out["half_width"].tolist() == pytest.approx([6.3137515147] * 3, rel=1e-9)
    assert relative_half_width([1.0, 3.0], level=0.90) == pytest.approx(6.3137515147 / 2, rel=1e-9)
