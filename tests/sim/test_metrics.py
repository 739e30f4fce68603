"""Metrics read records only: a day's log replayed through Engine.replay gives the same frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opdsim.engine import Engine
from opdsim.engine.events import Booked, Waitlisted
from opdsim.metrics import summary_row, time_integral, tokens_frame
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate


def test_a_replayed_log_gives_the_same_token_records(standard_day: Scenario) -> None:
    day = simulate(standard_day, seed=13)
    replayed = Engine.replay(day.events)
    ids = [e.token for e in day.events if isinstance(e, Booked | Waitlisted)]
    frame = tokens_frame(replayed.token(t) for t in ids)
    assert len(frame) == len(ids) and set(frame["state"]) <= {"completed", "no_show", "cancelled", "left", "unserved"}
    # the patients frame's token records are exactly those of the replayed engine
    mine = day.patients.dropna(subset=["token"]).set_index("token")
    rec = frame.set_index("id").loc[mine.index]
    assert (rec["state"].to_numpy() == mine["state"].to_numpy()).all()
    assert np.array_equal(rec["bypasses"].to_numpy(), mine["overtaken"].to_numpy())
    called = rec["called_at"].astype(float).to_numpy()
    assert np.allclose(called, mine["called"].to_numpy(), equal_nan=True)
    # and the summary computed from the frame is the one simulate returned
    slots = {d: replayed.slots(d) for d in replayed.doctors()}
    row = summary_row(day.patients, slots, (0.0, 240.0), int(day.summary["rejected"].iloc[0]))
    expected = day.summary.iloc[0]
    for key in ("wait_mean", "wait_p95_WALK_IN", "starved", "upgraded", "utilisation", "overflow_used"):
        assert row[key] == expected[key] or (pd.isna(row[key]) and pd.isna(expected[key])), key


def test_time_integral_counts_open_intervals() -> None:
    starts = np.array([0.0, 1.0, 5.0])
    ends = np.array([2.0, 4.0, 6.0])
    grid = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    # number open: [0,1) 1, [1,2) 2, [2,4) 1, [4,5) 0, [5,6) 1
    assert np.allclose(time_integral(starts, ends, grid), [0.0, 1.0, 3.0, 4.0, 6.0])
