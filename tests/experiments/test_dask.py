"""A real Dask distributed LocalCluster on loopback gives the same results as local processes."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from opdsim.experiments import SweepSpec, sweep
from opdsim.sim.scenario import Scenario

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        yield local.scheduler_address


def test_dask_sweep_is_identical_to_the_local_one(standard_day: Scenario, cluster: str) -> None:
    spec = SweepSpec(standard_day, {"policy.aging_threshold": (3, "off")}, replications=3, seed=31, name="dask")
    local = sweep(spec, workers=2).summary
    remote = sweep(spec, scheduler=cluster).summary
    pd.testing.assert_frame_equal(local, remote, check_exact=True)
    assert cluster.startswith("tcp://127.0.0.1:")
