"""The exact backtest: the committed baseline (tests/baselines/standard/) is reproduced bit for bit.

The statistical ``regress`` asks whether a metric got significantly worse; this asks whether anything changed
at all. It reruns the baseline's own sweep file at its seed with the current code and compares every value of
the summary, exactly. After an intended change of results, regenerate the baseline with ``make baseline`` and
review the diff of ``tests/baselines/standard/table.csv`` in the commit.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from opdsim.experiments.spec import SweepSpec
from opdsim.experiments.study import load_results, sweep
from opdsim.registry import REGISTRY

BASELINES = Path(__file__).resolve().parents[1] / "baselines"
HOW = "an intended change of results? regenerate with `make baseline` and review the diff"


def test_the_baseline_is_reproduced_bit_for_bit() -> None:
    base = load_results(BASELINES / "standard")
    spec = SweepSpec.from_toml(BASELINES / "regression_sweep.toml")
    # the same study: scenario, grid, seed and replications as when the baseline was made
    assert base.manifest["fingerprint"] == spec.fingerprint(), f"the sweep or its scenario changed; {HOW}"
    assert base.manifest["seeds"]["seed"] == spec.seed
    now = sweep(spec, workers=1)
    keys = [*base.grid, "replication"]
    old = base.summary.sort_values(keys, kind="stable").reset_index(drop=True)
    new = now.summary.sort_values(keys, kind="stable").reset_index(drop=True)
    assert list(new.columns) == list(old.columns), f"the summary's columns changed; {HOW}"
    assert [c for c in new.columns if c in REGISTRY] == list(REGISTRY)
    assert len(new) == len(old) == int(base.manifest["replications"]) * len(spec.points())
    for column in old.columns:  # one column at a time, so the failure names what changed
        pd.testing.assert_series_equal(new[column], old[column], check_exact=True, obj=f"{column} ({HOW})")
