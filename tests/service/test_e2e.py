"""End to end over HTTP against a real server: every endpoint, every error code, wall-clock conversion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import Api, Server, at, write_keys

DAY = "2030-01-10"


def test_health_ready_docs(api: Api) -> None:
    assert api.get("/health", None).json() == {"status": "ok"}
    ready = api.get("/ready", None).json()
    assert ready["status"] == "ready" and ready["database"] == "sqlite"
    assert "swagger" in api.get("/docs", None).text.lower()
    spec = api.get("/openapi.json", None).json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, (method, path)
            for code in ok:
                assert "schema" in op["responses"][code]["content"]["application/json"], (method, path, code)
            if path not in ("/health", "/ready", "/docs", "/openapi.json"):
                assert "401" in op["responses"] and "403" in op["responses"], (method, path)


def test_a_day_through_every_endpoint(api: Api) -> None:
    setup = api.setup_day(
        DAY, {"dr_a": [("09:00", "10:00", 2), ("10:00", "11:00", 2)], "dr_b": [("09:00", "10:00", 1)]}
    )
    assert setup["opens_at"] == f"{DAY}T09:00:00+05:30"
    assert setup["doctors"][0]["slots"][1]["start"] == f"{DAY}T10:00:00+05:30"
    again = api.post(
        "/days", "admin", {"date": DAY, "time_zone": "UTC", "opens_at": "08:00", "doctors": setup_doctors()}
    )
    assert again.status_code == 409 and again.json()["code"] == "day_exists"

    # a patient books for themselves, with wall-clock times both ways
    body = {"day": DAY, "patient": "p1", "category": "ONLINE", "doctor": "dr_a", "slot": 0, "at": at(DAY, -60)}
    first = api.post("/book-token", "pat-1", body, key="book-p1")
    assert first.status_code == 201, first.text
    t1 = first.json()
    assert (t1["id"], t1["state"], t1["slot"]) == ("T1", "booked", 0)
    assert t1["issued_at"] == f"{DAY}T08:00:00+05:30"
    assert t1["estimated_call"] == f"{DAY}T09:00:00+05:30"  # slot start: nobody ahead
    total = api.get(f"/days/{DAY}/audit", "admin").json()["total"]

    # the same key and body: the original answer, nothing changed; the same key, another body: 422
    retry = api.post("/book-token", "pat-1", body, key="book-p1")
    assert retry.status_code == 201 and retry.json() == t1
    assert api.get(f"/days/{DAY}/audit", "admin").json()["total"] == total
    other = api.post("/book-token", "pat-1", {**body, "category": "FOLLOW_UP"}, key="book-p1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"

    # the desk fills slot 0; the next booking is waitlisted (policy on_full = waitlist)
    t2 = book(api, "p2", "WALK_IN", -50)
    t3 = book(api, "p3", "WALK_IN", -40)
    assert (t2["state"], t3["state"]) == ("booked", "waitlisted")
    s0 = api.get(f"/days/{DAY}/doctors/dr_a/slots/0", "desk").json()
    assert (s0["slot"]["regular"], s0["slot"]["free"], s0["waitlist_total"]) == (2, 0, 1)
    assert [t["id"] for t in s0["waitlist"]] == [t3["id"]]
    dup = api.post("/book-token", "desk", {"day": DAY, "patient": "p2", "category": "WALK_IN", "doctor": "dr_a"})
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate_booking"

    # check in, queue with estimated call times, call, complete
    assert cmd(api, "desk", "T1/check-in", 1).json()["queue_seq"] == 1
    assert cmd(api, "desk", "T2/check-in", 2).json()["queue_seq"] == 2
    q = api.get(f"/days/{DAY}/doctors/dr_a/queue", "doc-a").json()
    assert [t["id"] for t in q["tokens"]] == ["T1", "T2"]
    # mean consultation before any completion: slot length / capacity = 30 min; T2 has one ahead
    assert [t["estimated_call"] for t in q["tokens"]] == [f"{DAY}T09:02:00+05:30", f"{DAY}T09:32:00+05:30"]
    called = api.post(f"/days/{DAY}/doctors/dr_a/call-next", "doc-a", {"at": at(DAY, 5)}).json()
    assert called["token"]["id"] == "T1" and called["token"]["called_at"] == f"{DAY}T09:05:00+05:30"
    busy = api.post(f"/days/{DAY}/doctors/dr_a/call-next", "doc-a", {"at": at(DAY, 6)})
    assert busy.status_code == 409 and busy.json()["code"] == "invalid_transition"
    mine = api.post(f"/days/{DAY}/tokens/T1/complete", "doc-b", {"at": at(DAY, 14)})
    assert mine.status_code == 403 and mine.json()["code"] == "not_yours"
    assert cmd(api, "doc-a", "T1/complete", 15).json()["state"] == "completed"
    board = api.get(f"/days/{DAY}/board", "display").json()
    assert board["doctors"][0] == {
        "doctor": "dr_a",
        "now_serving": None,
        "next": [{"token": "T2", "estimated_call": f"{DAY}T09:15:00+05:30"}],
    }

    # cancel frees the seat, the waitlisted token takes it; a double cancel is 409
    assert cmd(api, "desk", "T2/cancel", 16).json()["state"] == "cancelled"
    assert api.get(f"/days/{DAY}/tokens/T3", "desk").json()["state"] == "booked"
    again_cancel = cmd(api, "desk", "T2/cancel", 17)
    assert again_cancel.status_code == 409 and again_cancel.json()["code"] == "invalid_transition"

    # no-show: before the deadline (seat at 09:16 + 15 min grace) 409, after it done
    early = cmd(api, "desk", "T3/no-show", 30)
    assert early.status_code == 409 and early.json()["code"] == "invalid_transition"
    assert cmd(api, "desk", "T3/no-show", 32).json()["state"] == "no_show"

    # triage inserts an emergency; a walk-in checks in at the desk and leaves unseen
    em = api.post(f"/days/{DAY}/emergencies", "triage", {"patient": "p9", "doctor": "dr_b", "at": at(DAY, 33)})
    assert em.status_code == 201 and (em.json()["category"], em.json()["state"]) == ("EMERGENCY", "checked_in")
    walk = api.post(
        "/book-token",
        "desk",
        {"day": DAY, "patient": "p5", "category": "WALK_IN", "doctor": "dr_a", "check_in": True, "at": at(DAY, 34)},
    ).json()
    assert walk["state"] == "checked_in"
    assert cmd(api, "desk", f"{walk['id']}/leave", 35).json()["state"] == "left"

    # a doctor's delay moves their slots not started
    late = api.post(f"/days/{DAY}/doctors/dr_a/delay", "doc-a", {"minutes": 10, "at": at(DAY, 40)})
    assert late.status_code == 200
    assert late.json()["doctors"][0]["slots"][1]["start"] == f"{DAY}T10:10:00+05:30"
    other_doc = api.post(f"/days/{DAY}/doctors/dr_a/delay", "doc-b", {"minutes": 5, "at": at(DAY, 41)})
    assert other_doc.status_code == 403

    # a patient reads their own token only
    assert api.get(f"/days/{DAY}/tokens/T1", "pat-1").json()["state"] == "completed"
    assert api.get(f"/days/{DAY}/tokens/T1", "pat-2").status_code == 403
    cancel_other = api.post(f"/days/{DAY}/tokens/{walk['id']}/cancel", "pat-1", {"at": at(DAY, 42)})
    assert cancel_other.status_code == 403

    # time never goes backwards
    back = cmd(api, "desk", "T1/check-in", 0)
    assert back.status_code == 409

    # tick and the audit log, paged
    assert api.post(f"/days/{DAY}/tick", "desk", {"at": at(DAY, 60)}).status_code == 200
    log = api.get(f"/days/{DAY}/audit", "admin", offset=0, limit=3).json()
    assert [e["kind"] for e in log["events"]] == ["EngineStarted", "DoctorAdded", "DoctorAdded"]
    page = api.get(f"/days/{DAY}/audit", "admin", offset=3, limit=2).json()
    assert [e["version"] for e in page["events"]] == [4, 5]
    assert page["events"][0]["kind"] == "Booked" and page["events"][0]["at"] == f"{DAY}T08:00:00+05:30"
    too_big = api.get(f"/days/{DAY}/audit", "admin", limit=501)
    assert too_big.status_code == 422 and too_big.json()["field"] == "query.limit"

    # closing the day ends everything; every later command is 409
    assert api.post(f"/days/{DAY}/close", "admin", {"at": at(DAY, 180)}).status_code == 200
    closed = api.post("/book-token", "desk", {"day": DAY, "patient": "p7", "category": "WALK_IN", "at": at(DAY, 181)})
    assert closed.status_code == 409 and closed.json()["code"] == "day_closed"
    assert api.get(f"/days/{DAY}", "desk").json()["closed"] is True


def setup_doctors() -> list[dict[str, object]]:
    return [{"id": "dr_a", "slots": [{"start": "09:00", "end": "10:00", "capacity": 1}]}]


def book(api: Api, patient: str, category: str, minutes: float, doctor: str = "dr_a", day: str = DAY) -> dict[str, Any]:
    body = {"day": day, "patient": patient, "category": category, "doctor": doctor, "slot": 0, "at": at(day, minutes)}
    r = api.post("/book-token", "desk", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def cmd(api: Api, who: str, what: str, minutes: float, day: str = DAY) -> httpx.Response:
    return api.post(f"/days/{day}/tokens/{what}", who, {"at": at(day, minutes)})


def test_not_found_codes(api: Api) -> None:
    day = "2030-01-11"
    api.setup_day(day, {"dr_a": [("09:00", "10:00", 2)]})
    cases = {
        "/days/2030-02-30": 422,  # not a date
        "/days/2031-01-01": 404,
        f"/days/{day}/doctors/dr_z/queue": 404,
        f"/days/{day}/doctors/dr_a/slots/7": 404,
        f"/days/{day}/tokens/T99": 404,
    }
    for path, status in cases.items():
        r = api.get(path, "admin")
        assert r.status_code == status, (path, r.text)
        assert set(r.json()) >= {"code", "message"}
    assert api.get("/days/2031-01-01", "admin").json()["code"] == "unknown_day"
    assert api.post(f"/days/{day}/tokens/T99/cancel", "desk", {}).json()["code"] == "unknown_token"
    unknown_doc = api.post("/book-token", "desk", {"day": day, "patient": "q", "category": "WALK_IN", "doctor": "x"})
    assert unknown_doc.status_code == 404 and unknown_doc.json()["code"] == "unknown_doctor"


def test_auth_and_input_errors(api: Api) -> None:
    r = api.get("/days/2030-01-11", None)
    assert r.status_code == 401 and r.json()["code"] == "no_key"
    r = api.http.get("/days/2030-01-11", headers={"X-API-Key": "not-a-key"})
    assert r.status_code == 401 and r.json()["code"] == "unknown_key"
    # EMERGENCY through /book-token is outside every role
    em = api.post("/book-token", "desk", {"day": "2030-01-11", "patient": "q", "category": "EMERGENCY"})
    assert em.status_code == 403 and em.json()["code"] == "category_forbidden"
    paid = api.post("/book-token", "pat-1", {"day": "2030-01-11", "patient": "p1", "category": "PAID_PRIORITY"})
    assert paid.status_code == 403
    someone = api.post("/book-token", "pat-1", {"day": "2030-01-11", "patient": "p2", "category": "ONLINE"})
    assert someone.status_code == 403 and someone.json()["code"] == "not_yours"
    # invalid input names the field
    missing = api.post("/book-token", "desk", {"day": "2030-01-11", "category": "WALK_IN"})
    assert missing.status_code == 422 and missing.json()["field"] == "patient"
    long = api.post("/book-token", "desk", {"day": "2030-01-11", "patient": "x" * 65, "category": "WALK_IN"})
    assert long.status_code == 422 and long.json()["field"] == "patient"
    zone = api.post("/days", "admin", {"date": "2030-01-12", "time_zone": "Mars/Olympus", "opens_at": "09:00",
                                        "doctors": setup_doctors()})  # fmt: skip
    assert zone.status_code == 422 and zone.json()["field"] == "time_zone"
    sched = api.post("/days", "admin", {"date": "2030-01-12", "time_zone": "UTC", "opens_at": "09:00", "doctors": [
        {"id": "d", "slots": [{"start": "10:00", "end": "09:00", "capacity": 1}]}]})  # fmt: skip
    assert sched.status_code == 422 and "end" in sched.json()["message"]
    no_key = api.http.post("/book-token", json={}, headers={"X-API-Key": "test-key-desk-0123456789abcdef"})
    assert no_key.status_code == 422 and no_key.json()["field"] == "header.Idempotency-Key"
    huge = api.post("/book-token", "desk", {"day": "2030-01-11", "patient": "q", "category": "WALK_IN",
                                            "pad": "x" * 70_000})  # fmt: skip
    assert huge.status_code == 413 and huge.json()["code"] == "body_too_large"


@pytest.fixture(scope="module")
def reject_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    base = tmp_path_factory.mktemp("reject")
    policy = base / "policy.toml"
    policy.write_text('[policy]\non_full = "reject"\n')
    srv = Server(str(base / "opd.sqlite"), write_keys(base / "keys.toml"), policy=policy).start()
    client = Api(srv.url)
    yield client
    client.http.close()
    srv.stop()


def test_full_slot_under_reject_names_the_next_slot_with_room(reject_server: Api) -> None:
    api = reject_server
    day = "2030-02-01"
    api.setup_day(day, {"dr_a": [("09:00", "10:00", 1), ("10:00", "11:00", 1)]})
    book(api, "p1", "WALK_IN", -30, day=day)
    r = api.post("/book-token", "desk", {"day": day, "patient": "p2", "category": "WALK_IN", "doctor": "dr_a",
                                         "slot": 0, "at": at(day, -20)})  # fmt: skip
    assert r.status_code == 409
    assert r.json()["code"] == "slot_full" and r.json()["next_slot"] == 1
    # the rejection issued no token but is in the audit log
    kinds = [e["kind"] for e in api.get(f"/days/{day}/audit", "admin").json()["events"]]
    assert kinds[-1] == "Rejected" and kinds.count("Booked") == 1


def test_serve_refuses_bad_input_with_one_line(tmp_path: Path, server: Server) -> None:
    import subprocess
    import sys

    keys = write_keys(tmp_path / "keys.toml")
    bad_policy = tmp_path / "policy.toml"
    bad_policy.write_text('[policy]\non_full = "sometimes"\n')
    cases = [
        (["--keys", str(tmp_path / "missing.toml")], "keys file not found"),
        (["--keys", str(keys), "--policy", str(bad_policy)], "policy.on_full"),
        (["--keys", str(keys), "--port", str(server.port)], f"--port: {server.port} is already in use"),
    ]
    for extra, needle in cases:
        args = [sys.executable, "-m", "opdsim", "serve", "--db", str(tmp_path / "x.sqlite"), *extra]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (extra, done.stderr)
        assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr


def test_ctrl_c_stops_the_server_with_status_130(tmp_path: Path) -> None:
    import signal

    srv = Server(str(tmp_path / "opd.sqlite"), write_keys(tmp_path / "keys.toml")).start()
    assert srv.proc is not None and srv.log is not None
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(timeout=30) == 130
    log = srv.log.read_text()
    assert "interrupted" in log and "Traceback" not in log


def test_tick_marks_overdue_no_shows_and_refills_the_seat(api: Api) -> None:
    day = "2030-01-13"
    api.setup_day(day, {"dr_a": [("09:00", "10:00", 1)]})
    first = book(api, "n1", "WALK_IN", -60, day=day)
    second = book(api, "n2", "WALK_IN", -50, day=day)
    assert (first["state"], second["state"]) == ("booked", "waitlisted")
    # the deadline is the slot start plus 15 minutes of grace: a tick at 09:14 is too early, 09:16 is not
    assert api.post(f"/days/{day}/tick", "desk", {"at": at(day, 14)}).status_code == 200
    assert api.get(f"/days/{day}/tokens/{first['id']}", "desk").json()["state"] == "booked"
    assert api.post(f"/days/{day}/tick", "desk", {"at": at(day, 16)}).status_code == 200
    gone = api.get(f"/days/{day}/tokens/{first['id']}", "desk").json()
    assert (gone["state"], gone["ended_at"]) == ("no_show", f"{day}T09:16:00+05:30")
    seated = api.get(f"/days/{day}/tokens/{second['id']}", "desk").json()
    assert (seated["state"], seated["slot"]) == ("booked", 0)
