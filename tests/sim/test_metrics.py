"""Metrics read records only: a day's log replayed through Engine.replay gives the same frames; the layers
stay apart (metrics never imports sim, sim never imports metrics)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from opdsim.day import day_metrics, simulate, simulate_summary
from opdsim.engine import Engine
from opdsim.frames import as_frame
from opdsim.metrics import time_integral
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import play


def test_a_replayed_log_gives_the_same_frames(standard_day: Scenario) -> None:
    spec = standard_day.replace(
        **{"demand.emergency.rate_per_hour": 8, "policy.overflow_cap": 0, "doctors.slot_capacity": 20}
    )
    played = play(spec, seed=13)
    replayed = Engine.replay(played.engine.events).events
    assert replayed == played.engine.events
    limit = spec.starvation_limit
    mine = day_metrics(played.engine.events, played.population, played, limit)
    theirs = day_metrics(replayed, played.population, played, limit)
    pd.testing.assert_frame_equal(as_frame(mine.columns), as_frame(theirs.columns), check_exact=True)
    assert mine.row.keys() == theirs.row.keys()
    for key, value in mine.row.items():
        assert value == theirs.row[key] or (np.isnan(value) and np.isnan(theirs.row[key])), key
    # and these are the frames simulate returns for that day
    day = simulate(spec, seed=13)
    pd.testing.assert_frame_equal(
        day.patients.drop(columns=["scenario", "seed", "replication"]), as_frame(mine.columns), check_exact=True
    )
    assert (day.patients["displaced"] > 0).any(), "the busy day displaces somebody"


def test_every_frame_leads_with_its_runs_scenario_seed_and_replication(standard_day: Scenario) -> None:
    # built into each frame at once: the same frame, dtypes included, as inserting them into the rest afterwards
    lead: dict[str, str | int] = {"scenario": standard_day.name, "seed": 5, "replication": 3}
    day = simulate(standard_day, seed=5, replication=3)
    for frame in (day.patients, day.summary, day.timeline):
        assert list(frame.columns[:3]) == list(lead)
        rest = frame.drop(columns=list(lead))
        for name, value in reversed(lead.items()):
            rest.insert(0, name, value)
        pd.testing.assert_frame_equal(frame, rest, check_exact=True)
        assert (frame["scenario"] == standard_day.name).all() and (frame["seed"] == 5).all()
        assert (frame["replication"] == 3).all()
    assert len(day.timeline) > 1 and day.timeline["queue_observed"].notna().all()
    for n in (0, 4):  # an empty frame too: each constant still gets its own dtype
        columns = {"x": np.arange(n, dtype=float), "who": np.array(["a"] * n, dtype=object)}
        built, inserted = as_frame(columns, lead), as_frame(columns)
        for name, value in reversed(lead.items()):
            inserted.insert(0, name, value)
        pd.testing.assert_frame_equal(built, inserted, check_exact=True)


def test_the_summary_alone_is_the_summary_frame(standard_day: Scenario) -> None:
    frame = {str(k): v for k, v in simulate(standard_day, seed=9, replication=4).summary.iloc[0].items()}
    row = simulate_summary(standard_day, seed=9, replication=4)
    assert frame.keys() == row.keys()
    for key, value in frame.items():
        assert value == row[key] or (value != value and row[key] != row[key]), key


def test_utilisation_never_exceeds_one(standard_day: Scenario) -> None:
    # before the fix, consultation minutes over the session alone exceeded 1 on about 4% of standard days; a
    # quieter start (no late start, no break) and a full day make the doctors busy past the session end
    busy = standard_day.replace(**{"demand.walk_in.rate_per_hour": [40, 40, 30, 30]})
    rows = [simulate_summary(busy, seed=3, replication=r) for r in range(12)]
    assert all(0.0 < r["utilisation"] <= 1.0 for r in rows)
    assert any(r["overtime_max"] > 0 for r in rows), "the busy day runs into overtime"


def test_the_simulation_and_the_metrics_do_not_import_each_other() -> None:
    code = (
        "import sys, pkgutil, importlib, opdsim.sim\n"
        "for m in pkgutil.iter_modules(opdsim.sim.__path__): importlib.import_module('opdsim.sim.' + m.name)\n"
        "assert 'opdsim.metrics' not in sys.modules, 'sim imported metrics'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    code = (
        "import sys, opdsim.metrics\n"
        "assert not [m for m in sys.modules if m.startswith('opdsim.sim')], 'metrics imported sim'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_time_integral_counts_open_intervals() -> None:
    starts = np.array([0.0, 1.0, 5.0])
    ends = np.array([2.0, 4.0, 6.0])
    grid = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    # number open: [0,1) 1, [1,2) 2, [2,4) 1, [4,5) 0, [5,6) 1
    assert np.allclose(time_integral(starts, ends, grid), [0.0, 1.0, 3.0, 4.0, 6.0])
