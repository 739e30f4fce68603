"""A day played through HTTP ends in the same event log as the same day played in process: the service and the
simulation really run one engine.

The engine calls of a day (the scripted demo morning, and a simulated standard day) are recorded by an engine
subclass that notes each call before running it (for the simulation, the model's own engine). The same calls are
then sent to a real server, each with the key
of the role that would make it (the patient's app for ONLINE bookings, the desk, triage, each doctor's screen),
and the service's audit log, decoded, must equal the log of a fresh in-process engine fed the same calls. Times
cross the wire as wall-clock instants (microseconds), so both sides get the instants the wire carries: the scripted
day's whole minutes cross exactly (its log equals the engine's own), the simulation's float minutes are rounded to
the microsecond, and an occasional call then meets a refusal, identically on both sides.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from opdsim.engine import Category, Engine, Event, OpdsimError, Policy
from opdsim.engine.events import Called
from opdsim.scripted_day import DOCTORS, SLOTS, scripted_steps
from opdsim.service.auth import hash_key
from opdsim.service.codec import decode_dict
from opdsim.service.ledger import Day
from opdsim.service.store import DayRow
from tests.service.conftest import Api, Server

MUTATING = ("book", "emergency", "check_in", "call_next", "complete", "cancel", "no_show", "leave", "delay", "tick",
            "close_day")  # fmt: skip
DAY = "2030-06-03"
ROW = DayRow(DAY, DAY, "UTC", "09:00:00", 0)
EDGE = Day(ROW, Engine(), 0)  # the service's own wall-clock conversion


def wire(minutes: float) -> float:
    """The engine time the service sees for clinic minute ``minutes`` after a round trip through wall clock."""
    return EDGE.minutes(EDGE.wall(minutes))  # type: ignore[arg-type]


def stamp(minutes: float) -> str:
    return EDGE.wall(minutes).isoformat()  # type: ignore[union-attr]


class Recording(Engine):
    """A real engine that also keeps the list of calls that were made to it."""

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]

    def __init__(self, policy: Policy | None = None) -> None:
        super().__init__(policy)
        self.calls = []


def _recorder(name: str) -> Any:
    original = getattr(Engine, name)

    def call(self: Recording, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((name, args, kwargs))
        return original(self, *args, **kwargs)

    return call


for _name in MUTATING:
    setattr(Recording, _name, _recorder(_name))


def _args(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The recorded call's arguments by name."""
    params = {
        "book": ("patient", "category", "doctor"),
        "emergency": ("patient", "doctor"),
        "check_in": ("token", "now"),
        "call_next": ("doctor", "now"),
        "complete": ("token", "now"),
        "cancel": ("token", "now"),
        "no_show": ("token", "now"),
        "leave": ("token", "now"),
        "delay": ("doctor", "minutes", "now"),
        "tick": ("now",),
        "close_day": ("now",),
    }[name]
    out = dict(zip(params, args, strict=False))
    out.update(kwargs)
    return out


def play_in_process(policy: Policy, doctors: dict[str, list[Any]], calls: list[Any]) -> Engine:
    eng = Engine(policy)
    for doc, slots in doctors.items():
        eng.add_doctor(doc, [(wire(s), wire(e), c) for s, e, c in slots])
    for name, args, kwargs in calls:
        a = _args(name, args, kwargs)
        a["now"] = wire(a["now"])
        method = getattr(eng, name)
        try:
            if name in ("book", "emergency"):
                method(**a)
            else:
                method(*[a[k] for k in ("token", "doctor", "minutes") if k in a], a["now"])
        except OpdsimError:  # the same refusal is expected over HTTP
            pass
    return eng


def principals(calls: list[Any], doctors: list[str]) -> dict[str, dict[str, str]]:
    keys = {"admin": {"role": "admin"}, "desk": {"role": "desk"}, "triage": {"role": "triage"}}
    for d in doctors:
        keys[f"doc-{d}"] = {"role": "doctor", "doctor": d}
    for name, args, kwargs in calls:
        if name == "book" and _args(name, args, kwargs)["category"] is Category.ONLINE:
            patient = _args(name, args, kwargs)["patient"]
            keys[f"pat-{patient}"] = {"role": "patient", "patient": patient}
    return keys


def serve_day(
    tmp: Path, policy: Policy, doctors: dict[str, list[Any]], calls: list[Any], doctor_of: Callable[[str], str]
) -> list[Event]:
    keys = principals(calls, list(doctors))
    (tmp / "keys.toml").write_text(tomli_w.dumps({"keys": [
        {"id": k, **v, "sha256": hash_key(f"secret-{k}")} for k, v in keys.items()]}))  # fmt: skip
    (tmp / "policy.toml").write_text(tomli_w.dumps({"policy": policy.as_dict()}))
    srv = Server(str(tmp / "opd.sqlite"), tmp / "keys.toml", policy=tmp / "policy.toml").start()
    http = Api(srv.url).http
    try:

        def post(path: str, who: str, body: dict[str, Any]) -> None:
            h = {"X-API-Key": f"secret-{who}", "Idempotency-Key": uuid.uuid4().hex}
            r = http.post(path, json=body, headers=h)
            assert r.status_code < 500 and r.status_code not in (401, 403, 422), (path, body, r.text)

        def clock(m: float) -> str:
            return (dt.datetime(2030, 6, 3, 9) + dt.timedelta(minutes=m)).time().isoformat()

        setup = {"date": DAY, "time_zone": "UTC", "opens_at": "09:00", "doctors": [
            {"id": d, "slots": [{"start": clock(s), "end": clock(e), "capacity": c} for s, e, c in slots]}
            for d, slots in doctors.items()]}  # fmt: skip
        post("/days", "admin", setup)
        base = f"/days/{DAY}"
        for name, args, kwargs in calls:
            a = _args(name, args, kwargs)
            at = stamp(a["now"])
            if name == "book":
                cat: Category = a["category"]
                who = f"pat-{a['patient']}" if cat is Category.ONLINE else "desk"
                body = {"day": DAY, "patient": a["patient"], "category": cat.name, "doctor": a.get("doctor"),
                        "slot": a.get("slot"), "check_in": a.get("check_in", False), "at": at}  # fmt: skip
                post("/book-token", who, body)
            elif name == "emergency":
                post(f"{base}/emergencies", "triage", {"patient": a["patient"], "doctor": a.get("doctor"), "at": at})
            elif name in ("call_next", "delay"):
                body = {"at": at} if name == "call_next" else {"at": at, "minutes": a["minutes"]}
                post(f"{base}/doctors/{a['doctor']}/{name.replace('_', '-')}", f"doc-{a['doctor']}", body)
            elif name == "complete":
                post(f"{base}/tokens/{a['token']}/complete", f"doc-{doctor_of(a['token'])}", {"at": at})
            elif name in ("check_in", "cancel", "no_show", "leave"):
                post(f"{base}/tokens/{a['token']}/{name.replace('_', '-')}", "desk", {"at": at})
            elif name == "tick":
                post(f"{base}/tick", "desk", {"at": at})
            else:
                post(f"{base}/close", "admin", {"at": at})
        log: list[Event] = []
        while True:
            page = http.get(f"{base}/audit", params={"offset": len(log), "limit": 500},
                            headers={"X-API-Key": "secret-admin"}).json()  # fmt: skip
            log += [decode_dict({"kind": e["kind"], **e["data"]}) for e in page["events"]]
            if len(log) >= page["total"]:
                return log
    finally:
        http.close()
        srv.stop()


def test_scripted_morning_over_http_logs_what_the_engine_logs(tmp_path: Path) -> None:
    policy = Policy(aging="bypass", aging_threshold=3, overflow_cap=2, on_full="waitlist", no_show_grace=15)
    rec = Recording(policy)
    for doc in DOCTORS:
        Engine.add_doctor(rec, doc, SLOTS)
    for _ in scripted_steps(rec):
        pass
    doctors = {d: SLOTS for d in DOCTORS}
    expected = play_in_process(policy, doctors, rec.calls)
    assert len(rec.calls) > 40 and expected.closed
    served = serve_day(tmp_path, policy, doctors, rec.calls, lambda t: expected.token(t).doctor)
    assert served == list(expected.events)


def test_simulated_standard_day_over_http_logs_what_the_simulation_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standard_day: Any
) -> None:
    import opdsim.sim.model as model
    from opdsim.sim.simulate import simulate

    made: list[Recording] = []

    class Made(Recording):
        def __init__(self, policy: Policy | None = None) -> None:
            super().__init__(policy)
            made.append(self)

    monkeypatch.setattr(model, "Engine", Made)  # the simulation's own engine, recording the calls it gets
    simulate(standard_day, seed=3)
    assert len(made) == 1
    sim = made[0]
    doctors = {d: [(s.start, s.end, s.capacity) for s in sim.slots(d)] for d in sim.doctors()}
    doctors = {d: [(s[0], s[1], s[2]) for s in _initial_slots(sim, d)] for d in doctors}
    expected = play_in_process(sim.policy, doctors, sim.calls)
    assert len(sim.calls) > 500 and expected.closed
    served = serve_day(tmp_path, sim.policy, doctors, sim.calls, lambda t: _doctor_of(expected, t))
    assert served == list(expected.events)
    # the wire's microseconds may move a call across a no-show deadline, after which token ids shift and some of
    # the simulation's later calls name other tokens; most still land: the log is a real day, not refusals
    assert sum(isinstance(e, Called) for e in served) > 0.5 * sum(isinstance(e, Called) for e in sim.events)


def _doctor_of(eng: Engine, token: str) -> str:
    try:
        return eng.token(token).doctor
    except OpdsimError:  # a token the wire's timing never issued: any doctor's key gets the same 404
        return eng.doctors()[0]


def _initial_slots(eng: Engine, doctor: str) -> tuple[tuple[float, float, int], ...]:
    from opdsim.engine.events import DoctorAdded

    return next(e.slots for e in eng.events if isinstance(e, DoctorAdded) and e.doctor == doctor)
