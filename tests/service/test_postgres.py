"""Two service processes against one real PostgreSQL server: 200 concurrent bookings across both for a slot of
10 seats seat exactly 10, never issue one token twice, and both instances end with the same state.

The server comes from ``.ci/postgres.sh`` (which ``.ci/run`` calls), through ``OPDSIM_TEST_PG_DSN``; see
docs/service.md. Each test gets a database of its own.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.service.conftest import Api, Server, secret, write_keys

DSN = os.environ.get("OPDSIM_TEST_PG_DSN")
pytestmark = pytest.mark.skipif(
    not DSN,  # unset or empty
    reason='OPDSIM_TEST_PG_DSN is not set: PostgreSQL tests NOT RUN (start one with: eval "$(bash .ci/postgres.sh)")',
)


@pytest.fixture
def pg_database() -> Iterator[str]:
    assert DSN is not None
    name = f"opdsim_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(DSN.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield DSN.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


async def _spread(urls: list[str], bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    clients = [httpx.AsyncClient(base_url=u, timeout=60, limits=httpx.Limits(max_connections=100)) for u in urls]
    try:

        async def one(i: int, body: dict[str, Any]) -> httpx.Response:
            headers = {"X-API-Key": secret("desk"), "Idempotency-Key": uuid.uuid4().hex}
            return await clients[i % len(clients)].post("/book-token", json=body, headers=headers)

        return list(await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies))))
    finally:
        for c in clients:
            await c.aclose()


def test_two_instances_on_postgresql_never_double_book(tmp_path: Path, pg_database: str) -> None:
    keys = write_keys(tmp_path / "keys.toml")
    first = Server(pg_database, keys).start()
    second = Server(pg_database, keys).start()
    apis = [Api(first.url), Api(second.url)]
    try:
        day = "2030-08-01"
        apis[0].setup_day(day, {"dr_a": [("09:00", "10:00", 10), ("10:00", "11:00", 10)]})
        bodies = [
            {"day": day, "patient": f"g{i:03d}", "category": "WALK_IN", "doctor": "dr_a", "slot": 0} for i in range(200)
        ]
        answers = asyncio.run(_spread([first.url, second.url], bodies))
        assert all(r.status_code == 201 for r in answers), [r.text for r in answers if r.status_code != 201][:3]
        tokens = [r.json() for r in answers]
        assert len({t["id"] for t in tokens}) == 200
        assert sum(t["state"] == "booked" for t in tokens) == 10
        # both instances agree, and the log seats the first ten tokens issued, the rest wait in issue order
        views = [api.get(f"/days/{day}/doctors/dr_a/slots/0", "desk", limit=500).json() for api in apis]
        assert views[0] == views[1]
        assert (views[0]["slot"]["regular"], views[0]["waitlist_total"]) == (10, 190)
        log = apis[1].get(f"/days/{day}/audit", "admin", limit=500).json()["events"]
        assert [e["data"]["token"] for e in log if e["kind"] == "Booked"] == [f"T{i}" for i in range(1, 11)]
        assert [e["data"]["token"] for e in log if e["kind"] == "Waitlisted"] == [f"T{i}" for i in range(11, 201)]
        snaps = [api.get(f"/days/{day}/snapshot", "admin").json() for api in apis]
        assert snaps[0] == snaps[1]
        assert sorted(t["patient"] for t in snaps[0]["tokens"].values()) == sorted(str(b["patient"]) for b in bodies)
        assert apis[0].get("/ready", None).json()["database"] == "postgresql"
    finally:
        for api in apis:
            api.http.close()
        first.stop()
        second.stop()
