"""The lean SimPy model (issue 10): the clock skip changes nothing, the collector is restored, wake-ups are few."""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any

import pandas as pd
import pytest

from opdsim.engine import Category, Engine, Policy
from opdsim.engine.events import Completed
from opdsim.scenarios import open_access
from opdsim.sim import model
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate


class _NeverSkip(model._Clock):
    def skip_to(self, t: float) -> bool:
        return False


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_skipping_the_clock_gives_identical_logs_and_frames(
    standard_day: Scenario, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean = simulate(standard_day, seed=seed, replication=seed)
    monkeypatch.setattr(model, "_Clock", _NeverSkip)
    plain = simulate(standard_day, seed=seed, replication=seed)
    assert lean.events == plain.events
    pd.testing.assert_frame_equal(lean.patients, plain.patients, check_exact=True)
    pd.testing.assert_frame_equal(lean.summary, plain.summary, check_exact=True)


def test_an_open_access_run_skips_most_consultation_timeouts_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one doctor at rho 0.8: a consultation ends before the next arrival about half the time (1 / (1 + 0.8)),
    # and then the doctor moves the clock itself. Two doctors: the other's consultation is often due first.
    skips = {"script": 0, "doctor": 0}
    steps = {"lean": 0, "plain": 0}
    counting = ["lean"]  # which run the steps are counted for
    rates = {Category.WALK_IN: 30.0, Category.ONLINE: 12.0, Category.EMERGENCY: 6.0}

    class Counting(model._Clock):
        def skip_to(self, t: float) -> bool:
            moved = super().skip_to(t)
            caller = sys._getframe(1).f_code.co_name
            skips[caller] += moved
            return moved

        def step(self) -> None:
            steps[counting[0]] += 1
            super().step()

    for doctors in (1, 2):
        spec = open_access(doctors, rates, doctors * 1.0, 4_000.0, 0.0, Policy())
        counting[0] = "lean"
        monkeypatch.setattr(model, "_Clock", Counting)
        lean = simulate(spec, seed=doctors)
        counting[0] = "plain"
        monkeypatch.setattr(model, "_Clock", type("Plain", (Counting,), {"skip_to": lambda self, t: False}))
        plain = simulate(spec, seed=doctors)
        assert lean.events == plain.events
        for a, b in ((lean.patients, plain.patients), (lean.timeline, plain.timeline)):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        if doctors == 1:
            consultations = int(lean.patients["completed"].notna().sum())
            assert 0.4 * consultations < skips["doctor"] < 0.7 * consultations, (skips, consultations)
            assert steps["lean"] + skips["doctor"] + skips["script"] == steps["plain"], (steps, skips)
    assert skips["script"] > 0


def test_the_doctors_own_call_and_completion_skip_their_wake_up_and_change_nothing(
    standard_day: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wake_after_own skips the look at the log when the doctor's own Called or Completed is all that is new,
    # and looks (a full wake) whenever anything else was logged since the last look; either way nothing is left
    # unread. Then the days are played again with a full wake after every call and completion.
    used = {"skipped": 0, "looked": 0}
    original, wake = model._Day.wake_after_own, model._Day.wake
    looked: list[bool] = []

    def spy_wake(self: Any) -> None:
        looked.append(True)
        wake(self)

    def counting(self: Any) -> None:
        new = self.eng.event_count - self.seen
        looked.clear()
        original(self)
        assert bool(looked) == (new != 1), (new, looked)
        assert self.seen == self.eng.event_count
        used["looked" if looked else "skipped"] += 1

    monkeypatch.setattr(model._Day, "wake", spy_wake)
    for changes in (
        {},
        {"policy.aging": "wait", "doctors.count": 5},
        {"demand.emergency.rate_per_hour": 8.0, "policy.auto_no_show": True},
    ):
        spec = standard_day.replace(changes)
        monkeypatch.setattr(model._Day, "wake_after_own", counting)
        lean = [simulate(spec, seed=4, replication=r) for r in range(4)]
        monkeypatch.setattr(model._Day, "wake_after_own", wake)
        full = [simulate(spec, seed=4, replication=r) for r in range(4)]
        for a, b in zip(lean, full, strict=True):
            assert a.events == b.events, changes
            pd.testing.assert_frame_equal(a.patients, b.patients, check_exact=True)
    assert used["skipped"] > used["looked"] > 0, used


def test_the_collector_is_paused_during_a_day_and_restored_after(standard_day: Scenario) -> None:
    assert gc.isenabled()
    seen: list[bool] = []
    original = model._Day.run

    def spy(self: Any) -> Any:
        seen.append(gc.isenabled())
        return original(self)

    model._Day.run = spy  # type: ignore[method-assign]
    try:
        simulate(standard_day, seed=1)
    finally:
        model._Day.run = original  # type: ignore[method-assign]
    assert seen == [False] and gc.isenabled()


def test_the_collector_is_restored_when_the_day_fails(standard_day: Scenario) -> None:
    def boom(self: Any) -> Any:
        raise RuntimeError("boom")

    original = model._Day.run
    model._Day.run = boom  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="boom"):
            simulate(standard_day, seed=1)
    finally:
        model._Day.run = original  # type: ignore[method-assign]
    assert gc.isenabled()
    gc.disable()
    try:  # and a caller who had it off keeps it off
        simulate(standard_day, seed=1)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_only_doctors_whose_queue_changed_are_woken(standard_day: Scenario) -> None:
    # a call_next that finds nobody after a wake-up is wasted; the old model woke every idle doctor on each
    # cancel, departure and tick
    big = standard_day.replace({"doctors.count": 30})

    calls = {"n": 0}
    original = Engine.call_next

    def counting(self: Engine, doctor: str, now: float) -> Any:
        calls["n"] += 1
        return original(self, doctor, now)

    Engine.call_next = counting  # type: ignore[method-assign]
    try:
        result = simulate(big, seed=1)
    finally:
        Engine.call_next = original  # type: ignore[method-assign]
    completed = int((result.patients["state"] == "completed").sum())
    # a doctor calls once after each consultation, and once after each start, break or wake that finds its
    # queue empty; the old model's wake-all made it 3,557 calls for 1,544 completions (seed 1), this one 2,162
    assert calls["n"] <= 1.5 * completed, (calls["n"], completed)


def test_a_played_day_is_freed_without_the_cyclic_collector(standard_day: Scenario) -> None:
    # the engine holds no methods bound to itself, and the model lets go of it when the day closes: once the caller
    # drops the engine, reference counting alone frees it with its log (the collector paused throughout)
    from opdsim.sim.streams import Streams

    plan = standard_day.plan_day(Streams(4, 0)).plan
    collecting = gc.isenabled()
    gc.disable()
    try:
        bare = Engine()
        bare.add_doctor("D1", [(0.0, 60.0, 2)])
        gone_bare = weakref.ref(bare)
        del bare
        played = model.play_day(plan)[0]
        assert len(played.events) > 500
        gone_played = weakref.ref(played)
        del played
        assert gone_bare() is None, "a bare engine is kept alive by a reference cycle"
        assert gone_played() is None, "a played day's engine is kept alive by a reference cycle"
    finally:
        if collecting:
            gc.enable()


def test_a_played_day_leaves_nothing_for_the_cyclic_collector(standard_day: Scenario) -> None:
    # nor do its tokens and doctors (emptied queues at the close), its SimPy environment or its suspended
    # processes and patience timers: a sweep's collector finds no garbage at all from the days it played
    from opdsim.sim.streams import Streams

    plan = standard_day.plan_day(Streams(4, 1)).plan
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        played = model.play_day(plan)
        assert played[0].closed and len(played[0].events) > 500
        del played
        assert gc.collect() == 0
    finally:
        if collecting:
            gc.enable()


def _collections_over_a_played_day(run: Any) -> list[bool]:
    """Run ``run()`` with the collector on; for each collection during it, whether the young objects it scanned
    held a played day (a ``Completed`` event: the engine object itself is older, made before the pause)."""
    seen: list[bool] = []

    def look(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(any(isinstance(o, Completed) for o in gc.get_objects(generation=0)))

    gc.collect()
    gc.callbacks.append(look)
    try:
        run()
    finally:
        gc.callbacks.remove(look)
    return seen


def test_a_day_is_not_scanned_by_the_collector_before_it_is_returned(standard_day: Scenario) -> None:
    # the pause used to end before play_day built its result (and simulate's inside a generator, whose
    # StopIteration allocates): the collector then scanned the whole live day on its way out, 0.27 ms or 3% of a
    # day's play. Now the pause ends last: a caller that drops the day frees it by reference counting alone, one
    # that keeps it pays the scan when it next allocates.
    from opdsim.sim.streams import Streams

    plan = standard_day.plan_day(Streams(4, 2)).plan
    played = _collections_over_a_played_day(lambda: model.play_day(plan))
    simulated = _collections_over_a_played_day(lambda: simulate(standard_day, seed=4, replication=2))
    assert not any(played) and not any(simulated), (played, simulated)


def test_the_count_of_sleeping_doctors_is_exact(standard_day: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    # wake() looks at the new events only when some doctor sleeps; a count that ran high would only cost time, one
    # that ran low would leave a doctor asleep with patients waiting. Checked at every wake of a 30-doctor day.
    from opdsim.sim.streams import Streams

    checked = {"wakes": 0, "sleeping": 0}
    original = model._Day.wake

    def checking(self: Any) -> None:
        asleep = sum(ev is not None for ev in self.idle.values())
        assert self.sleeping == asleep, (self.env.now, self.sleeping, asleep)
        checked["wakes"] += 1
        checked["sleeping"] += asleep > 0
        original(self)

    monkeypatch.setattr(model._Day, "wake", checking)
    model.play_day(standard_day.replace({"doctors.count": 30}).plan_day(Streams(5, 0)).plan)
    assert checked["wakes"] > 1_000 and checked["sleeping"] > 100, checked


def test_an_idle_doctor_has_one_alarm_per_stretch_not_per_doze(
    standard_day: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a doctor who finds the queue empty sleeps until woken or until the stretch ends (its break, its last call);
    # the timeout for that end is set once per stretch, however often the doctor dozes off in it
    from opdsim.sim.streams import Streams

    alarms: list[float] = []
    dozes = {"n": 0}

    class Spy(model._Clock):
        def __init__(self, initial_time: float = 0.0) -> None:
            super().__init__(initial_time)
            event = self.event  # the factory SimPy bound to this environment

            def spy_event() -> Any:
                dozes["n"] += 1  # the model makes an event of its own only for a doctor's or the ticker's sleep
                return event()

            self.event = spy_event  # type: ignore[method-assign]

        def call_at(self, t: float, callback: Any) -> None:
            if callback.__name__ == "ring":
                alarms.append(t)
            super().call_at(t, callback)

    monkeypatch.setattr(model, "_Clock", Spy)
    plan = standard_day.plan_day(Streams(6, 0)).plan
    model.play_day(plan)
    # three doctors, one break each: at most the break's start and the last call, per doctor
    assert 0 < len(alarms) <= 2 * len(plan.doctors), alarms
    assert dozes["n"] > 3 * len(alarms), dozes


def test_the_clock_binds_simpys_event_factories_once() -> None:
    # SimPy binds timeout, event, process, ... to a plain Environment once; a subclass must too, or each
    # env.timeout builds a new bound method
    env = model._Clock(initial_time=5.0)
    assert env.timeout is env.timeout and env.event is env.event and env.process is env.process
    ev = env.timeout(2.5)
    env.run()
    assert (env.now, ev.processed) == (7.5, True)
