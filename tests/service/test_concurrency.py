"""Concurrency and durability against a real server: no overbooking under 200 concurrent bookings, and a SIGKILL
in the middle of a booking load loses no acknowledged booking and leaves no half-applied one."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from opdsim.engine import Engine
from opdsim.service.codec import to_jsonable
from opdsim.service.store import Store, database_url
from tests.engine.invariants import check_invariants
from tests.service.conftest import Api, Server, secret, write_keys


async def _book_all(url: str, bodies: list[dict[str, Any]], keys: list[str], limit: int = 200) -> list[Any]:
    gate = asyncio.Semaphore(limit)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=limit)) as client:

        async def one(body: dict[str, Any], key: str) -> Any:
            async with gate:
                headers = {"X-API-Key": secret("desk"), "Idempotency-Key": key}
                try:
                    return await client.post("/book-token", json=body, headers=headers)
                except httpx.HTTPError as exc:
                    return exc

        return await asyncio.gather(*(one(b, k) for b, k in zip(bodies, keys, strict=True)))


def _seat_order(api: Api, day: str) -> tuple[list[str], list[str]]:
    log = api.get(f"/days/{day}/audit", "admin", limit=500).json()["events"]
    seated = [e["data"]["token"] for e in log if e["kind"] == "Booked"]
    waiting = [e["data"]["token"] for e in log if e["kind"] == "Waitlisted"]
    return seated, waiting


def test_200_concurrent_bookings_for_10_seats(api: Api) -> None:
    day = "2030-05-01"
    api.setup_day(day, {"dr_a": [("09:00", "10:00", 10), ("10:00", "11:00", 10)]})
    bodies = [
        {"day": day, "patient": f"c{i:03d}", "category": "WALK_IN", "doctor": "dr_a", "slot": 0} for i in range(200)
    ]
    keys = [uuid.uuid4().hex for _ in bodies]
    answers = asyncio.run(_book_all(str(api.http.base_url).rstrip("/"), bodies, keys))
    assert all(isinstance(r, httpx.Response) and r.status_code == 201 for r in answers), answers[:3]
    tokens = [r.json() for r in answers]
    assert len({t["id"] for t in tokens}) == 200  # never one token twice
    assert sum(t["state"] == "booked" for t in tokens) == 10
    slot = api.get(f"/days/{day}/doctors/dr_a/slots/0", "desk", limit=500).json()
    assert (slot["slot"]["regular"], slot["slot"]["free"], slot["waitlist_total"]) == (10, 0, 190)
    # stable order: the first ten tokens issued hold the seats, the rest wait in issue order
    seated, waiting = _seat_order(api, day)
    assert seated == [f"T{i}" for i in range(1, 11)]
    assert waiting == [f"T{i}" for i in range(11, 201)]
    assert [t["id"] for t in slot["waitlist"]] == waiting
    # each patient got exactly the token the log issued to them
    by_id = {t["id"]: t["patient"] for t in tokens}
    assert sorted(by_id.values()) == sorted(str(b["patient"]) for b in bodies)


def _replayed(db: str, day: str) -> Engine:
    store = Store(database_url(db))
    try:
        with store.read() as conn:
            return Engine.replay(store.events_after(conn, day, 0))
    finally:
        store.dispose()


def test_sigkill_during_a_booking_load_loses_no_acknowledged_booking(tmp_path: Path) -> None:
    day = "2030-05-02"
    srv = Server(str(tmp_path / "opd.sqlite"), write_keys(tmp_path / "keys.toml")).start()
    api = Api(srv.url)
    try:
        api.setup_day(day, {"dr_a": [("09:00", "12:00", 150)], "dr_b": [("09:00", "12:00", 150)]})
        n = 400
        bodies = [{"day": day, "patient": f"k{i:03d}", "category": "WALK_IN"} for i in range(n)]
        keys = [uuid.uuid4().hex for _ in bodies]

        async def load_then_kill() -> list[Any]:
            task = asyncio.ensure_future(_book_all(srv.url, bodies, keys, limit=32))
            while True:  # kill once a good part of the load has been answered
                await asyncio.sleep(0.05)
                with httpx.Client(base_url=srv.url) as c:
                    total = c.get(f"/days/{day}/audit", headers={"X-API-Key": secret("admin")}).json()["total"]
                if total > 3 + 120:
                    break
            srv.kill()
            return list(await task)

        answers = asyncio.run(load_then_kill())
        acked = {b["patient"]: r.json() for b, r in zip(bodies, answers, strict=True)
                 if isinstance(r, httpx.Response) and r.status_code == 201}  # fmt: skip
        failed = [i for i, r in enumerate(answers) if not (isinstance(r, httpx.Response) and r.status_code == 201)]
        assert len(acked) >= 100 and failed, (len(acked), len(failed))

        api.http.close()
        srv.start()
        api = Api(srv.url)
        # every acknowledged booking is there, as acknowledged
        for patient, token in acked.items():
            got = api.get(f"/days/{day}/tokens/{token['id']}", "desk").json()
            assert (got["patient"], got["state"], got["doctor"]) == (patient, token["state"], token["doctor"])
        # the store replays to a valid engine; the server's state is exactly that replay
        eng = _replayed(srv.db, day)
        check_invariants(eng)
        snap = api.get(f"/days/{day}/snapshot", "admin").json()
        assert snap == json.loads(json.dumps(to_jsonable(eng.snapshot())))
        issued = [t["patient"] for t in snap["tokens"].values()]
        assert len(issued) == len(set(issued)) >= len(acked)  # nobody booked twice, no half-applied booking

        # retrying the unanswered requests with their keys books each patient exactly once
        retry = asyncio.run(_book_all(srv.url, [bodies[i] for i in failed], [keys[i] for i in failed], limit=32))
        assert all(isinstance(r, httpx.Response) and r.status_code == 201 for r in retry)
        snap = api.get(f"/days/{day}/snapshot", "admin").json()
        patients = sorted(t["patient"] for t in snap["tokens"].values())
        assert patients == sorted(b["patient"] for b in bodies)

        # a clean restart replays to the same snapshot
        srv.stop()
        srv.start()
        api.http.close()
        api = Api(srv.url)
        assert api.get(f"/days/{day}/snapshot", "admin").json() == snap
    finally:
        api.http.close()
        srv.stop()
