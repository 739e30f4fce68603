"""Both engine builds (pure Python and mypyc-compiled) behave identically, down to the typed errors.

``make test`` runs the whole engine suite twice: once as installed (compiled when ``make setup`` could build
it) and once with ``OPDSIM_PURE=1`` (the pure-Python source). The tests below check the public boundary in
whichever build runs them, and compare 20 standard days between the two builds in a subprocess.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opdsim.engine import Engine, Policy, _build
from opdsim.engine.errors import InvalidRequest, InvalidSchedule, UnknownDoctor, UnknownSlot, UnknownToken
from opdsim.engine.events import DoctorAdded
from opdsim.engine.types import Category

C = Category
ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "experiments" / "standard_day.toml"


def _engine() -> Engine:
    eng = Engine(Policy(aging_threshold=5))
    eng.add_doctor("D1", [(0, 60, 2), (60, 120, 2)], now=0)
    return eng


def test_now_true_is_refused_not_read_as_one_minute() -> None:
    eng = _engine()
    tok = eng.book("A", C.ONLINE, "D1", now=0)
    with pytest.raises(InvalidRequest, match=r"now: True is not a finite number"):
        eng.book("B", C.ONLINE, "D1", now=True)
    with pytest.raises(InvalidRequest, match=r"now: True"):
        eng.check_in(tok.id, True)
    with pytest.raises(InvalidRequest, match=r"now: True"):
        eng.tick(True)
    with pytest.raises(InvalidRequest, match=r"minutes: True"):
        eng.delay("D1", True, 0)


def test_a_numpy_slot_index_is_refused_clearly() -> None:
    eng = _engine()
    with pytest.raises(UnknownSlot, match=r"slot: (np\.int64\()?0\)? is not a slot index"):
        eng.book("A", C.ONLINE, "D1", now=0, slot=np.int64(0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [10**400, float("inf"), float("nan"), "5", None, 1j],
    ids=["10**400", "inf", "nan", "str", "None", "complex"],
)
def test_a_time_that_is_no_finite_number_of_minutes_is_refused_by_every_command(value: Any) -> None:
    # 10**400 is an int no float holds: once an OverflowError escaped from delay's minutes
    eng = _engine()
    tok = eng.book("A", C.ONLINE, "D1", now=0)
    before = eng.snapshot()
    calls: list[Callable[[], object]] = [
        lambda: eng.book("B", C.ONLINE, "D1", now=value),
        lambda: eng.emergency("E", now=value),
        lambda: eng.check_in(tok.id, value),
        lambda: eng.call_next("D1", value),
        lambda: eng.complete(tok.id, value),
        lambda: eng.cancel(tok.id, value),
        lambda: eng.no_show(tok.id, value),
        lambda: eng.leave(tok.id, value),
        lambda: eng.delay("D1", 5, value),
        lambda: eng.tick(value),
        lambda: eng.close_day(value),
    ]
    for call in calls:
        with pytest.raises(InvalidRequest, match=r"now: .* is not a finite number of minutes"):
            call()
    with pytest.raises(InvalidRequest, match=r"minutes: .* is not a finite number of minutes"):
        eng.delay("D1", value, 1)
    assert eng.snapshot() == before


def test_numpy_times_are_accepted_as_minutes() -> None:
    eng = _engine()
    tok = eng.book("A", C.ONLINE, "D1", now=np.float64(1.5))
    assert eng.token(tok.id).issued_at == 1.5 and type(eng.now) is float


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda e: e.queue(5), UnknownDoctor, r"unknown doctor 5"),
        (lambda e: e.slots(None), UnknownDoctor, r"unknown doctor None"),
        (lambda e: e.busy_with(["D1"]), UnknownDoctor, r"unknown doctor \['D1'\]"),
        (lambda e: e.call_next(1, 0), UnknownDoctor, r"unknown doctor 1"),
        (lambda e: e.token(7), UnknownToken, r"unknown token 7"),
        (lambda e: e.state(b"T1"), UnknownToken, r"unknown token b'T1'"),
        (lambda e: e.estimated_call(1.0), UnknownToken, r"unknown token 1.0"),
        (lambda e: e.book("A", 3, "D1", now=0), InvalidRequest, r"category: 3 is not a Category"),
        (lambda e: e.book(3, C.ONLINE, "D1", now=0), InvalidRequest, r"patient: 3"),
        (lambda e: e.emergency(None, now=0), InvalidRequest, r"patient: None"),
        (lambda e: e.events_since("0"), InvalidRequest, r"events_since: '0'"),
        (lambda e: e.add_doctor("D2", [(0, 60, 2.0)], now=0), InvalidSchedule, r"capacity 2.0"),
        (lambda e: e.add_doctor("D2", [(0, "60", 2)], now=0), InvalidSchedule, r"end '60'"),
    ],
)
def test_wrongly_typed_arguments_raise_the_engines_own_errors(call: object, error: type, match: str) -> None:
    eng = _engine()
    before = eng.snapshot()
    with pytest.raises(error, match=match):
        call(eng)  # type: ignore[operator]
    assert eng.snapshot() == before


def test_policy_values_and_slot_rows_keep_their_types() -> None:
    eng = _engine()
    added = eng.events[1]
    assert isinstance(added, DoctorAdded)
    assert [tuple(type(v) for v in row) for row in added.slots] == [(float, float, int)] * 2
    assert [type(s.capacity) for s in eng.slots("D1")] == [int, int]
    assert type(eng.policy.aging_threshold) is int and eng.policy.as_dict() == Policy(aging_threshold=5).as_dict()
    snap = eng.snapshot()
    assert type(snap["doctors"]["D1"]["slots"][0][2]) is int and type(snap["counters"]["tokens"]) is int


_DIGEST = """
import hashlib, pickle, sys
from opdsim.engine import _build, event_to_dict
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate
sc = Scenario.from_toml(sys.argv[1])
out = []
for r in range(20):
    res = simulate(sc, seed=11, replication=r)
    out.append(([event_to_dict(e) for e in res.events[1:]], res.patients.to_csv(), res.summary.to_csv()))
print(_build.build(), hashlib.sha256(pickle.dumps(out)).hexdigest())
"""


def _digest(pure: bool) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPDSIM_PURE"}
    if pure:
        env["OPDSIM_PURE"] = "1"
    run = subprocess.run(
        [sys.executable, "-c", _DIGEST, str(STANDARD)], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    build, digest = run.stdout.split()
    return build, digest


def test_both_builds_give_identical_event_logs_and_frames_for_20_standard_days() -> None:
    pure_build, pure = _digest(pure=True)
    assert pure_build == "pure"
    native_build, native = _digest(pure=False)
    if native_build != "compiled":
        pytest.skip("the compiled engine is not built here (no C compiler, OPDSIM_PURE at setup, or stale)")
    assert native == pure


def test_opdsim_pure_selects_the_source_build() -> None:
    run = subprocess.run(
        [sys.executable, "-c", "from opdsim.engine import _build; print(_build.build())"],
        env={**os.environ, "OPDSIM_PURE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "pure"
    assert _build.build() in ("pure", "compiled")


def test_the_build_script_compiles_the_modules_the_finder_knows() -> None:
    spec = importlib.util.spec_from_file_location("build_engine", ROOT / "build_engine.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.MODULES == _build.COMPILED_MODULES
    assert all((ROOT / "opdsim" / "engine" / f"{name}.py").is_file() for name in script.MODULES)
