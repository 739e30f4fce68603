"""The event codec (every event class round-trips) and the store (conditional append, one transaction)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from opdsim.engine import Category, Engine, Policy, events
from opdsim.scripted_day import run_scripted_day
from opdsim.service import codec
from opdsim.service.ledger import ApiError, Day, Ledger
from opdsim.service.store import DayRow, StaleStream, Store, database_url
from opdsim.service.tables import idempotency

EXAMPLES: list[events.Event] = [
    events.EngineStarted(
        Policy(
            aging="wait",
            aging_threshold=12.5,
            on_full="reject",
            ranks={**{c: int(c) for c in Category}, Category.WALK_IN: 7},
        )
    ),
    events.DoctorAdded(float("-inf"), "dr_a", ((0.0, 60.0, 4), (60.0, 120.5, 3))),
    events.Booked(1.5, "T1", "p1", Category.ONLINE, "dr_a", 1, 0, "req-1", None, 0),
    events.Booked(2.0, "T2", "p2", Category.EMERGENCY, "dr_a", 0, 0),
    events.Waitlisted(3.0, "T3", "p3", Category.WALK_IN, "dr_a", 1, None, "dr_a", None),
    events.Promoted(4.0, "T3", 1),
    events.Displaced(5.0, "T1", 0, None),
    events.Displaced(5.0, "T1", 0, 2),
    events.CapBreached(6.0, "dr_a", 0, "T9"),
    events.Upgraded(7.0, "T3", 1),
    events.CheckedIn(8.0, "T3", 4),
    events.SlotOpened(9.0, "dr_a", 1),
    events.Called(10.0, "T3", "dr_a"),
    events.Completed(11.25, "T3"),
    events.Cancelled(12.0, "T1", "superseded"),
    events.NoShow(13.0, "T4"),
    events.Left(14.0, "T5"),
    events.SlotsShifted(15.0, "dr_a", 7.5),
    events.DayClosed(16.0),
    events.Rejected(17.0, "p8", Category.FOLLOW_UP, None, None, 2, "slot full"),
]


def test_every_event_class_round_trips_exactly() -> None:
    assert {type(e).__name__ for e in EXAMPLES} == set(codec.EVENT_CLASSES)
    for ev in EXAMPLES:
        back = codec.decode(codec.encode(ev))
        assert type(back) is type(ev) and back == ev, ev
        # field types survive too (a float 2 must not come back as the int 2, a category as its name)
        for a, b in zip(back, ev, strict=True):
            assert type(a) is type(b), (ev, a, b)
        json.loads(codec.encode(ev))  # strict JSON: no Infinity literals


def test_a_replayed_day_from_decoded_events_behaves_identically() -> None:
    eng = run_scripted_day()
    log = [codec.decode(codec.encode(ev)) for ev in eng.events]
    replayed = Engine.replay(log)
    assert replayed.snapshot() == eng.snapshot()
    assert replayed.events == eng.events


def test_decode_refuses_unknown_kinds_and_bad_fields() -> None:
    with pytest.raises(codec.CodecError, match="kind"):
        codec.decode('{"kind": "Teleported", "now": 1}')
    with pytest.raises(codec.CodecError, match=r"Called\.token"):
        codec.decode('{"kind": "Called", "now": 1, "doctor": "d"}')
    with pytest.raises(codec.CodecError, match=r"Booked\.category"):
        codec.decode(codec.encode(EXAMPLES[2]).replace('"ONLINE"', '"VIP"'))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(database_url(str(tmp_path / "opd.sqlite")))
    s.migrate()
    s.migrate()  # a second start migrates nothing
    return s


def _row(stream: str = "2030-03-01") -> DayRow:
    return DayRow(stream, stream, "Asia/Kolkata", "09:00:00", 0)


def test_sqlite_runs_in_wal_with_synchronous_commits(store: Store, tmp_path: Path) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert store.at_head()
    tables = {r[0] for r in sqlite3.connect(tmp_path / "opd.sqlite").execute("select name from sqlite_master")}
    assert {"days", "events", "idempotency", "alembic_version"} <= tables


def test_append_is_conditional_on_the_head(store: Store) -> None:
    eng = Engine()
    eng.add_doctor("dr_a", [(0, 60, 2)])
    with store.write() as conn:
        store.create_day(conn, _row(), eng.events)
    eng.book("p1", Category.WALK_IN, "dr_a", now=1)
    new = eng.events_since(2)
    with store.write() as conn:
        assert store.append(conn, "2030-03-01", 2, new) == 2 + len(new) == 4  # SlotOpened, Booked
    with pytest.raises(StaleStream), store.write() as conn:  # a writer that read version 2 is too late
        store.append(conn, "2030-03-01", 2, new)
    with store.read() as conn:
        assert store.events_after(conn, "2030-03-01", 0) == list(eng.events)
    # (stream, version) is unique even for a writer that skips the head check
    with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
        store._insert_events(conn, "2030-03-01", 2, new, dt.datetime.now(dt.UTC))


def test_idempotency_key_is_written_with_the_events_or_not_at_all(store: Store) -> None:
    ledger = Ledger(store, Policy())
    assert ledger.setup_day("admin", "k0", "h0", _row(), [("dr_a", [(0.0, 60.0, 1)])])[0] == 201

    def run(day: Day) -> tuple[int, dict[str, object]]:
        view = day.engine.book("p1", Category.WALK_IN, "dr_a", now=1)
        return 201, {"id": view.id}

    assert ledger.command("2030-03-01", "desk", "k1", "h1", run) == (201, {"id": "T1"})
    assert ledger.command("2030-03-01", "desk", "k1", "h1", run) == (201, {"id": "T1"})  # replayed, not re-run
    with pytest.raises(ApiError) as reused:
        ledger.command("2030-03-01", "desk", "k1", "other", run)
    assert reused.value.status == 422

    # a failing transaction stores neither the events nor the key, and the in-memory day is rebuilt
    def boom(day: Day) -> tuple[int, dict[str, object]]:
        day.engine.book("p2", Category.WALK_IN, "dr_a", now=2)
        raise RuntimeError("the process died here")

    with pytest.raises(RuntimeError):
        ledger.command("2030-03-01", "desk", "k2", "h2", boom)
    with store.read() as conn:
        assert store.head(conn, "2030-03-01") == 4
        keys = conn.execute(sa.select(idempotency.c.key)).scalars().all()
    assert sorted(keys) == ["k0", "k1"]
    with ledger.reading("2030-03-01") as day:
        assert (
            day.engine.event_count == 4
            and day.engine.state("T1").value == "booked"
            and [v.id for v in day.engine.queue("dr_a")] == []
        )


def test_a_key_in_flight_is_409(store: Store) -> None:
    ledger = Ledger(store, Policy())
    ledger.setup_day("admin", "k0", "h0", _row(), [("dr_a", [(0.0, 60.0, 1)])])
    inside, release = threading.Event(), threading.Event()

    def slow(day: Day) -> tuple[int, dict[str, object]]:
        inside.set()
        release.wait(10)
        day.engine.book("p1", Category.WALK_IN, "dr_a", now=1)
        return 201, {}

    worker = threading.Thread(target=ledger.command, args=("2030-03-01", "desk", "k1", "h1", slow))
    worker.start()
    assert inside.wait(10)
    with pytest.raises(ApiError) as busy:
        ledger.command("2030-03-01", "desk", "k1", "h1", slow)
    release.set()
    worker.join()
    assert busy.value.status == 409 and busy.value.code == "in_flight"


@pytest.mark.parametrize("path", ["blocking", "async"])
def test_two_ledgers_on_one_file_never_double_book(store: Store, path: str) -> None:
    """Two instances (two ledgers, two connection pools) race on one SQLite file: conflicts are retried. Through
    ``command`` from 16 threads, and through ``command_async``, decided on one event loop and committed by the two
    committers (in a run, two or three batches collide and are decided again through its backoff)."""
    from concurrent.futures import ThreadPoolExecutor

    other = Store(store.url)
    ledgers = [Ledger(store, Policy()), Ledger(other, Policy())]
    ledgers[0].setup_day("admin", "k0", "h0", _row(), [("dr_a", [(0.0, 60.0, 10), (60.0, 120.0, 10)])])

    def run_of(i: int) -> Callable[[Day], tuple[int, dict[str, object]]]:
        def run(day: Day) -> tuple[int, dict[str, object]]:
            view = day.engine.book(f"p{i}", Category.WALK_IN, "dr_a", now=1, slot=0)
            return 201, {"id": view.id, "state": view.state.value}

        return run

    def book(i: int) -> tuple[int, dict[str, object]]:
        return ledgers[i % 2].command("2030-03-01", "desk", f"key{i}", f"h{i}", run_of(i))

    async def book_async(i: int) -> tuple[int, dict[str, object]]:
        return await ledgers[i % 2].command_async("2030-03-01", "desk", f"key{i}", f"h{i}", run_of(i))

    async def everyone() -> list[tuple[int, dict[str, object]]]:
        return list(await asyncio.gather(*(book_async(i) for i in range(120))))

    if path == "blocking":
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(book, range(120)))
    else:
        answers = asyncio.run(everyone())
    assert all(status == 201 for status, _ in answers)
    assert len({body["id"] for _, body in answers}) == 120
    assert sum(body["state"] == "booked" for _, body in answers) == 10
    with store.read() as conn:
        replayed = Engine.replay(store.events_after(conn, "2030-03-01", 0))
    assert replayed.slots("dr_a")[0].regular == 10 and len(replayed.waitlist("dr_a")) == 110
    for ledger in ledgers:
        with ledger.reading("2030-03-01") as day:
            assert day.engine.snapshot() == replayed.snapshot()
    other.dispose()


def test_catching_up_past_a_stale_head_counts_every_event_applied(store: Store) -> None:
    """Under PostgreSQL's read committed each statement sees the latest commits, so the events read after the head
    may run past it; the day's version must count what was applied, or its next append is refused as stale."""
    ours, theirs = Ledger(store, Policy()), Ledger(store, Policy())
    ours.setup_day("admin", "k0", "h0", _row(), [("dr_a", [(0.0, 60.0, 10)])])

    def book(patient: str) -> Callable[[Day], tuple[int, dict[str, object]]]:
        def run(day: Day) -> tuple[int, dict[str, object]]:
            return 201, {"id": day.engine.book(patient, Category.WALK_IN, "dr_a", now=1).id}

        return run

    with ours.reading("2030-03-01") as day:
        stale = day.version  # the head as read before the other instance's two bookings
    theirs.command("2030-03-01", "desk", "t1", "h1", book("p1"))
    theirs.command("2030-03-01", "desk", "t2", "h2", book("p2"))
    with store.read() as conn:
        head = store.head(conn, "2030-03-01")
        assert head is not None and head > stale + 1
        day = ours._catch_up(conn, "2030-03-01")  # after a head read as stale + 1, lagging the events it reads
    assert day.version == head == day.engine.event_count
    assert ours.command("2030-03-01", "desk", "o1", "h3", book("p3"))[0] == 201
    with store.read() as conn:
        replayed = Engine.replay(store.events_after(conn, "2030-03-01", 0))
    assert replayed.slots("dr_a")[0].regular == 3
    with ours.reading("2030-03-01") as day:
        assert day.engine.snapshot() == replayed.snapshot()


def test_an_async_command_cancelled_while_it_commits_keeps_its_key_until_the_commit(store: Store) -> None:
    """A client that goes away mid-commit must not free its key early: a retry would decide the command twice."""
    ledger = Ledger(store, Policy())
    ledger.setup_day("admin", "k0", "h0", _row(), [("dr_a", [(0.0, 60.0, 10)])])
    gate = threading.Event()
    commit = ledger._committer._commit

    def held(batch: list[Any]) -> None:
        gate.wait(10)
        commit(batch)

    ledger._committer._commit = held

    def run(day: Day) -> tuple[int, dict[str, object]]:
        return 201, {"id": day.engine.book("p1", Category.WALK_IN, "dr_a", now=1).id}

    async def scenario() -> tuple[int, dict[str, object]]:
        first = asyncio.create_task(ledger.command_async("2030-03-01", "desk", "k1", "h1", run))
        await asyncio.sleep(0.05)  # decided, and waiting for the held commit
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        with pytest.raises(ApiError) as busy:
            await ledger.command_async("2030-03-01", "desk", "k1", "h1", run)
        assert busy.value.status == 409 and busy.value.code == "in_flight"
        gate.set()
        for _ in range(200):  # the commit ends and frees the key
            await asyncio.sleep(0.01)
            if ("desk", "k1") not in ledger._inflight:
                break
        return await ledger.command_async("2030-03-01", "desk", "k1", "h1", run)

    assert asyncio.run(scenario()) == (201, {"id": "T1"})  # the first answer, replayed: booked once
    with store.read() as conn:
        replayed = Engine.replay(store.events_after(conn, "2030-03-01", 0))
    assert replayed.slots("dr_a")[0].regular == 1
