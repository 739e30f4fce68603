"""The replaceable rules on their own (aging, displacement victim) and ``apply``'s check of foreign events."""

from __future__ import annotations

import dataclasses

import pytest

from opdsim.engine import Engine, Policy
from opdsim.engine.errors import InvalidRequest
from opdsim.engine.events import Called, CheckedIn, Completed, Displaced, Event, SlotOpened, Upgraded
from opdsim.engine.rules import LowestPriorityLatest, PolicyAging, Rules
from opdsim.engine.types import Category

C = Category


def test_policy_aging_bypass_thresholds_grow_by_k_and_target_the_ceiling() -> None:
    rule = PolicyAging(Policy(aging="bypass", aging_threshold=3))
    assert [rule.bypass_threshold(u) for u in range(3)] == [3, 6, 9]
    assert rule.wait_threshold(0) is None
    assert rule.target(4) == 1 and rule.target(3) == 1  # straight to PAID_PRIORITY


def test_policy_aging_wait_thresholds_and_step_target() -> None:
    rule = PolicyAging(Policy(aging="wait", aging_threshold=20.0, aging_target="step"))
    assert rule.bypass_threshold(0) is None
    assert [rule.wait_threshold(u) for u in range(3)] == [20.0, 40.0, 60.0]
    assert [rule.target(r) for r in (4, 3, 2)] == [3, 2, 1]  # one better rank in use at a time


def test_policy_aging_none_never_upgrades() -> None:
    rule = PolicyAging(Policy(aging="none"))
    assert rule.bypass_threshold(0) is None and rule.wait_threshold(0) is None


def test_default_victim_key_orders_lowest_priority_latest_first() -> None:
    key = LowestPriorityLatest().key
    assert sorted([(4, 1), (4, 7), (2, 9)], key=lambda ri: key(*ri)) == [(4, 7), (4, 1), (2, 9)]


class _EarliestIssuedFirst:
    def key(self, rank: int, issue: int) -> tuple[int, ...]:
        return (issue,)


def test_a_custom_displacement_rule_changes_the_victim() -> None:
    def run(rules: Rules | None) -> str:
        eng = Engine(Policy(overflow_cap=0), rules=rules)
        eng.add_doctor("D1", [(0.0, 60.0, 2), (60.0, 120.0, 2)], now=0.0)
        eng.book("A", C.WALK_IN, "D1", now=0)
        eng.book("B", C.WALK_IN, "D1", now=0)
        eng.emergency("E", "D1", now=1)
        moved = [e for e in eng.events if isinstance(e, Displaced)]
        assert len(moved) == 1
        return eng.token(moved[0].token).patient

    assert run(None) == "B"  # latest issued of the lowest priority
    assert run(Rules(displacement=_EarliestIssuedFirst())) == "A"


class _AfterTwoBypassesToOnline:
    def bypass_threshold(self, upgrades: int) -> int | None:
        return 2 if upgrades == 0 else None

    def wait_threshold(self, upgrades: int) -> float | None:
        return None

    def target(self, rank: int) -> int:
        return 3  # ONLINE's rank


def test_a_custom_aging_rule_is_used_and_replay_needs_it() -> None:
    rules = Rules(aging=_AfterTwoBypassesToOnline())
    eng = Engine(Policy(), rules=rules)
    eng.add_doctor("D1", [(0.0, 120.0, 10)], now=0.0)
    w = eng.book("W", C.WALK_IN, "D1", now=0, check_in=True)
    for i, t in enumerate((1.0, 2.0)):
        eng.book(f"O{i}", C.ONLINE, "D1", now=t, check_in=True)
        called = eng.call_next("D1", t)
        assert called is not None
        eng.complete(called.id, t)
    ups = [e for e in eng.events if isinstance(e, Upgraded)]
    assert [(e.token, e.rank) for e in ups] == [(w.id, 3)]
    assert Engine.replay(eng.events, rules=rules).snapshot() == eng.snapshot()


def test_apply_refuses_events_that_do_not_fit_the_state() -> None:
    eng = Engine()
    eng.add_doctor("D1", [(0.0, 60.0, 2)], now=0.0)
    t = eng.book("A", C.ONLINE, "D1", now=0)
    copy = Engine.replay(eng.events)
    before = copy.snapshot()
    bad: list[tuple[Event, str]] = [
        (Completed(1.0, t.id), r"token T1 is booked"),
        (Called(1.0, t.id, "D1"), r"not callable"),
        (CheckedIn(1.0, t.id, 5), r"queue_seq 5 is not the next one, 1"),
        (CheckedIn(1.0, "T9", 1), r"unknown token 'T9'"),
        (SlotOpened(1.0, "D2", 0), r"unknown doctor 'D2'"),
        (SlotOpened(1.0, "D1", 1), r"not the next to open"),
        (Upgraded(1.0, t.id, 0), r"not an upgrade"),
        (CheckedIn(-5.0, t.id, 1), r"earlier than"),
        (CheckedIn(float("nan"), t.id, 1), r"not a finite number"),
    ]
    for ev, match in bad:
        with pytest.raises(InvalidRequest, match=match):
            copy.apply(ev)
        assert copy.snapshot() == before, ev
    copy.apply(CheckedIn(1.0, t.id, 1))  # a fitting event is applied
    assert copy.token(t.id).state.value == "checked_in"


def test_apply_accepts_the_engines_own_log(make_clinic: object) -> None:
    eng = Engine(dataclasses.replace(Policy(), overflow_cap=0))
    eng.add_doctor("D1", [(0.0, 60.0, 1), (60.0, 120.0, 1)], now=0.0)
    eng.book("A", C.WALK_IN, "D1", now=0, check_in=True)
    eng.emergency("E", None, now=1)
    called = eng.call_next("D1", 2)
    assert called is not None
    eng.complete(called.id, 3)
    eng.close_day(200)
    assert Engine.replay(eng.events).snapshot() == eng.snapshot()
