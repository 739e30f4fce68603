"""The SimPy model: it runs the standard day, is deterministic, and keeps common random numbers exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opdsim.engine import Category, Engine, Policy
from opdsim.engine.events import SlotOpened, Upgraded
from opdsim.engine.records import fold
from opdsim.scenarios import open_access
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import SimResult, simulate

PATIENT_COLUMNS = {
    "patient",
    "category",
    "doctor",
    "arrival",
    "called",
    "wait",
    "consultation",
    "state",
    "overtaken",
    "upgraded",
    "starved",
}


@pytest.fixture(scope="module")
def day(standard_day: Scenario) -> SimResult:
    return simulate(standard_day, seed=7, replication=0)


def test_standard_day_produces_all_three_frames(day: SimResult, standard_day: Scenario) -> None:
    assert set(day.patients.columns) >= PATIENT_COLUMNS
    assert len(day.summary) == 1
    assert {"t_start", "t_end", "queue_length", "busy_doctors"} <= set(day.timeline.columns)
    # about 300 tokens a day (the scenario's expectation is 294) and a heavily loaded clinic
    assert 230 <= len(day.patients) <= 370
    assert 0.7 <= day.summary["utilisation"].iloc[0] <= 1.0
    assert set(day.patients["doctor"].dropna()) <= set(standard_day.doctors.ids)


def test_every_patient_ends_in_a_terminal_state_and_waits_are_counted(day: SimResult) -> None:
    states = set(day.patients["state"])
    assert states <= {"completed", "no_show", "cancelled", "left", "unserved", "rejected"}
    present = day.patients["arrival"].notna() & day.patients["state"].isin(["completed", "left", "unserved"])
    # everyone who came and was not cancelled has a wait, including those never called
    assert day.patients.loc[present, "wait"].notna().all()
    assert (day.patients["wait"].dropna() >= 0).all()
    # consultations are drawn for everyone, seen or not
    assert day.patients["consultation"].notna().all()


def test_completed_patients_were_called_after_becoming_callable(day: SimResult) -> None:
    done = day.patients[day.patients["state"] == "completed"]
    assert (done["called"] >= done["callable_at"] - 1e-9).all()
    assert np.allclose(done["wait"], done["called"] - done["callable_at"])


def test_unserved_patients_keep_their_wait_so_far() -> None:
    # far more walk-ins than one doctor can see: many are still waiting at the horizon
    spec = open_access(1, {Category.WALK_IN: 120.0}, 1.0, 300.0, 0.0, Policy(aging="none"))
    result = simulate(spec, seed=3)
    unserved = result.patients[result.patients["state"] == "unserved"]
    assert len(unserved) > 50
    assert np.allclose(unserved["wait"], 300.0 - unserved["callable_at"])


def test_same_seed_gives_bit_identical_frames(standard_day: Scenario) -> None:
    a = simulate(standard_day, seed=11, replication=2)
    b = simulate(standard_day, seed=11, replication=2)
    for name in ("patients", "summary", "timeline"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert a.events == b.events


def test_other_seed_or_replication_changes_the_day(standard_day: Scenario) -> None:
    base = simulate(standard_day, seed=11, replication=2).patients
    assert not base["arrival"].equals(simulate(standard_day, seed=12, replication=2).patients["arrival"])
    assert not base["arrival"].equals(simulate(standard_day, seed=11, replication=3).patients["arrival"])


@pytest.mark.parametrize(
    "changes",
    [
        {"policy.aging_threshold": 2},
        {"policy.aging": "wait", "policy.aging_threshold": 30},
        {"policy.aging_threshold": "off"},
        {"policy.on_full": "next_slot", "policy.overflow_cap": 0},
    ],
)
def test_changing_only_the_policy_keeps_every_patients_inputs(
    standard_day: Scenario, changes: dict[str, object]
) -> None:
    base = simulate(standard_day, seed=5).patients.set_index("patient")
    other = simulate(standard_day.replace(**changes), seed=5).patients.set_index("patient")
    assert base.index.equals(other.index)
    for column in ("category", "arrival", "booked_at", "consultation"):
        pd.testing.assert_series_equal(base[column], other[column], check_exact=True)


def test_the_trace_is_the_engines_log_and_replays(day: SimResult) -> None:
    replayed = Engine.replay(day.events)
    assert replayed.closed
    assert len(replayed.events) == len(day.events)
    assert any(isinstance(e, SlotOpened) for e in day.events)


def test_engine_is_ticked_exactly_when_due(standard_day: Scenario) -> None:
    # wait aging: upgrades happen at the exact threshold crossings, so every Upgraded event's time is when the
    # token's callable time (summed over its callable intervals, displaced ones included) reached 25 minutes,
    # never a polling instant
    busy = {"demand.emergency.rate_per_hour": 8, "policy.overflow_cap": 0, "doctors.slot_capacity": 20}
    scenario = standard_day.replace(**{"policy.aging": "wait", "policy.aging_threshold": 25, **busy})
    result = simulate(scenario, seed=1)
    upgrades = [e for e in result.events if isinstance(e, Upgraded)]
    assert upgrades, "a loaded day with a 25-minute threshold upgrades somebody"
    records = fold(result.events).tokens
    for e in upgrades:
        done, crossing = 0.0, None
        for start, end in records[e.token].callable:
            if done + (end - start) >= 25.0 - 1e-9:
                crossing = start + 25.0 - done
                break
            done += end - start
        assert crossing is not None and e.now == pytest.approx(crossing, abs=1e-9)
    assert any(len(records[e.token].callable) > 1 for e in upgrades), "some upgraded token was displaced"


def test_summary_alone_equals_the_summary_frame(standard_day: Scenario) -> None:
    from opdsim.sim.simulate import simulate_summary

    frame = {str(k): v for k, v in simulate(standard_day, seed=9, replication=4).summary.iloc[0].items()}
    row = simulate_summary(standard_day, seed=9, replication=4)
    assert frame.keys() == row.keys()
    for key, value in frame.items():
        assert value == row[key] or (value != value and row[key] != row[key]), key
