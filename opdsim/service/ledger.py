"""Command handling: the day's engine kept in memory, caught up from the store, changed in one transaction.

For every mutating request the :class:`Ledger`:

1. refuses a key already in flight in this process (409) and answers a key already answered from the store
   (the same body gets the original response, another body 422);
2. takes the day's lock (the engine is single-threaded);
3. catches the in-memory engine up on events other instances appended since it last looked;
4. runs the engine call; a typed engine error becomes the response (an engine error changes no state, except a
   ``Rejected`` audit event, which is stored like any other);
5. hands the new events and the idempotency key with the response to the committer, which appends them,
   conditional on the stream's head, in one transaction; only after the commit is the response returned.

Group commit: while one transaction is being written to disk, the next commands are decided in memory and queue
up; the committer then writes all of them in one transaction (one fsync for many requests), each command whole or
not at all, in the order they were decided. If the append or the commit fails (another instance appended first, or
the database refused), the in-memory engine holds events the store does not, so it is dropped and rebuilt from the
store, and every command decided on it is retried from step 2 (none was answered). Reads are served from the
in-memory day and may show a command a few milliseconds before its commit is acknowledged.

Waiting: :meth:`Ledger.command` blocks its thread until the commit; :meth:`Ledger.command_async`, which the HTTP
endpoints use, decides on the event loop (SQLite) and awaits the commit, so that no thread is held per request
and the committer wakes the loop once per batch. Measured under 64 concurrent connections, the thread per request
(FastAPI's thread pool for a blocking endpoint) cost more CPU than the engine, the store and the response together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy.exc

from opdsim.engine import (
    BookingRejected,
    DayClosedError,
    DuplicateBooking,
    Engine,
    IdempotencyConflict,
    InvalidTransition,
    OpdsimError,
    Policy,
    TimeWentBackwards,
    UnknownDoctor,
    UnknownSlot,
    UnknownToken,
)
from opdsim.engine.events import EngineStarted, Event
from opdsim.service.store import DayRow, StaleStream, Store

__all__ = ["ApiError", "Clock", "Day", "Ledger", "Outcome", "error_body"]

Clock = Callable[[], dt.datetime]
Outcome = tuple[int, dict[str, Any]]

_RETRIES = 20


def _backoff(attempt: int) -> float:
    """Seconds to wait before deciding a refused command again."""
    return min(0.001 * 2.0**attempt, 0.05)


def _contention(stream: str) -> ApiError:
    return ApiError(503, "contention", f"day {stream!r}: could not append after {_RETRIES} attempts")


def _resolve(waiters: list[asyncio.Future[None]]) -> None:
    """Wake the requests awaiting a batch's commit (on their loop)."""
    for w in waiters:
        if not w.done():
            w.set_result(None)


def _nothing() -> None:
    pass


def _settled(pending: _Pending) -> Outcome | None:
    """A command whose commit ended: its outcome, or None to decide it again (the store refused the batch); the
    store's unexpected error is raised."""
    if pending.error is not None:
        raise pending.error
    return pending.outcome if pending.committed else None


def _releasing(release: Callable[[], None]) -> Callable[[asyncio.Future[None]], None]:
    """A done-callback that releases a key once its command's commit ended."""
    return lambda _: release()


class ApiError(Exception):
    """An error answered as JSON ``{"code", "message"}`` with an HTTP status (and optional extra fields)."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"code": self.code, "message": self.message, **self.extra}


def error_body(exc: OpdsimError) -> Outcome:
    """HTTP status and JSON body for a typed engine error."""
    message = str(exc)
    if isinstance(exc, BookingRejected):
        return 409, {"code": "slot_full", "message": message, "next_slot": exc.next_slot}
    table: list[tuple[type[OpdsimError], int, str]] = [
        (UnknownDoctor, 404, "unknown_doctor"),
        (UnknownSlot, 404, "unknown_slot"),
        (UnknownToken, 404, "unknown_token"),
        (InvalidTransition, 409, "invalid_transition"),
        (DuplicateBooking, 409, "duplicate_booking"),
        (DayClosedError, 409, "day_closed"),
        (TimeWentBackwards, 409, "time_went_backwards"),
        (IdempotencyConflict, 422, "idempotency_conflict"),
    ]
    for cls, status, code in table:
        if isinstance(exc, cls):
            return status, {"code": code, "message": message}
    return 422, {"code": "invalid_input", "message": message}


@dataclass
class Day:
    """One clinic day in memory: its stored row, its engine and the stream version the engine reflects."""

    row: DayRow
    engine: Engine
    version: int

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.row.time_zone)
        date = dt.date.fromisoformat(self.row.date)
        opens = dt.time.fromisoformat(self.row.opens_at)
        self.opening = dt.datetime.combine(date, opens, tzinfo=self.zone).astimezone(dt.UTC)

    def minutes(self, when: dt.datetime) -> float:
        """Engine time of a wall-clock instant: minutes since the day opened [min] (naive = hospital time)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.zone)
        return (when.astimezone(dt.UTC) - self.opening).total_seconds() / 60.0

    def wall(self, minutes: float | None) -> dt.datetime | None:
        """Wall-clock instant, in the hospital's time zone, of engine time ``minutes`` (None stays None)."""
        if minutes is None or minutes != minutes or abs(minutes) == float("inf"):
            return None
        return (self.opening + dt.timedelta(minutes=minutes)).astimezone(self.zone)

    def now(self, at: dt.datetime | None, clock: Clock) -> float:
        """Engine time of a command: ``at`` if the request gave one, else the clock (never before the engine's)."""
        if at is not None:
            return self.minutes(at)
        return max(self.minutes(clock()), self.engine.now)


@dataclass(eq=False)
class _Pending:
    """A command decided in memory, waiting for its batch to commit."""

    stream: str
    epoch: int  # the in-memory day it was decided on (a dropped day's commands are retried, never committed)
    base: int  # the stream version its events follow
    events: list[Any]
    answer: tuple[str, str, str, int, str]  # principal, key, request hash, status, response body
    outcome: Outcome
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None  # an async request's wake-up
    done: threading.Event = field(default_factory=threading.Event)
    committed: bool = False
    error: BaseException | None = None


class _Committer:
    """One thread that commits whatever commands are waiting, together (group commit: one fsync for many)."""

    def __init__(self, commit: Callable[[list[_Pending]], None]) -> None:
        self._commit = commit
        self._queue: list[_Pending] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, pending: _Pending) -> None:
        with self._ready:
            self._queue.append(pending)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="opdsim-committer", daemon=True)
                self._thread.start()
            self._ready.notify()

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                batch, self._queue = self._queue, []
            self._commit(batch)


class Ledger:
    """The days the service holds, and the one way to change them (see the module docstring).

    Parameters
    ----------
    store : Store
        Where the events live.
    policy : Policy
        The policy of every day set up from now on (a day keeps the policy it was set up with: it is its first
        event).
    clock : callable, optional
        Returns the current time (timezone-aware); ``datetime.now(UTC)`` by default.
    """

    def __init__(self, store: Store, policy: Policy, clock: Clock | None = None) -> None:
        self.store = store
        self.policy = policy
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._days: dict[str, Day] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._inflight: set[tuple[str, str]] = set()
        self._uncommitted: dict[str, int] = {}  # per stream: commands decided in memory, not yet committed
        self._epochs: dict[str, int] = {}  # per stream: bumped whenever the in-memory day is dropped
        self._committer = _Committer(self._commit)

    # ------------------------------------------------------------------ loading

    def _lock(self, stream: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(stream)
            if lock is None:
                lock = self._locks[stream] = threading.Lock()
            return lock

    def _load(self, conn: Any, stream: str) -> Day | None:
        row = self.store.day(conn, stream)
        if row is None:
            return None
        log = self.store.events_after(conn, stream, 0)
        return Day(row, Engine.replay(log), len(log))

    def load_all(self) -> int:
        """Replay every stored day into memory (at startup). Returns the number of days."""
        with self.store.read() as conn:
            streams = self.store.day_streams(conn)
            for stream in streams:
                with self._lock(stream):
                    day = self._load(conn, stream)
                    if day is not None:
                        self._days[stream] = day
        return len(streams)

    def _catch_up(self, conn: Any, stream: str) -> Day:
        """The day loaded from the store, or its engine brought up with the events appended since its version (the
        caller holds the stream's lock)."""
        day = self._days.get(stream)
        if day is None:
            loaded = self._load(conn, stream)
            if loaded is None:
                raise ApiError(404, "unknown_day", f"unknown day {stream!r}: set it up first (POST /days)")
            self._days[stream] = day = loaded
        else:
            new = self.store.events_after(conn, stream, day.version)
            for ev in new:
                day.engine.apply(ev)
            # every event read counts: where the store shows each statement the latest commits (PostgreSQL's read
            # committed), more may have been appended than the head the caller read
            day.version += len(new)
        return day

    def _current(self, stream: str, head: int) -> Day:
        """The day to decide on: caught up with the store (read only when its head is past the day), or, while
        commands wait to commit, ahead of it."""
        with self._guard:
            ahead = self._uncommitted.get(stream, 0) > 0
            day = self._days.get(stream)
        if day is not None and (ahead or head <= day.version):
            return day
        with self.store.read() as conn:
            return self._catch_up(conn, stream)

    @contextmanager
    def reading(self, stream: str) -> Iterator[Day]:
        """The day, caught up with the store, held under its lock while the caller reads it."""
        with self._lock(stream):
            with self.store.read() as conn:
                head = self.store.head(conn, stream)
                if head is None:
                    raise ApiError(404, "unknown_day", f"unknown day {stream!r}: set it up first (POST /days)")
            day = self._current(stream, head)
            yield day

    # ------------------------------------------------------------------ idempotency

    @contextmanager
    def _in_flight(self, principal: str, key: str) -> Iterator[None]:
        release = self._claim(principal, key)
        try:
            yield
        finally:
            release()

    def _claim(self, principal: str, key: str) -> Callable[[], None]:
        """Mark the key in flight (409 if it already is); returns what releases it."""
        token = (principal, key)
        with self._guard:
            if token in self._inflight:
                raise ApiError(409, "in_flight", f"Idempotency-Key {key!r}: a request with this key is in progress")
            self._inflight.add(token)

        def release() -> None:
            with self._guard:
                self._inflight.discard(token)

        return release

    @staticmethod
    def _replay_answer(key: str, request_hash: str, stored: Any) -> Outcome:
        if stored.request_hash != request_hash:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"Idempotency-Key {key!r} was used before with another request body",
            )
        body: dict[str, Any] = json.loads(stored.response)
        return stored.status, body

    # ------------------------------------------------------------------ commands

    def setup_day(self, principal: str, key: str, request_hash: str, row: DayRow, doctors: list[Any]) -> Outcome:
        """Set up a new day: its engine (with the current policy) and doctors, stored as its first events.

        ``doctors`` is a list of ``(doctor id, [(start, end, capacity), ...])`` in engine minutes.
        """
        with self._in_flight(principal, key), self._lock(row.stream):
            with self.store.read() as conn:
                stored = self.store.answered(conn, principal, key)
            if stored is not None:
                return self._replay_answer(key, request_hash, stored)
            engine = Engine(self.policy)
            try:
                for doctor, slots in doctors:
                    engine.add_doctor(doctor, slots)
            except OpdsimError as exc:
                return error_body(exc)
            day = Day(row, engine, engine.event_count)
            body = self.describe(day)
            try:
                with self.store.write() as conn:
                    if self.store.head(conn, row.stream) is not None:
                        raise ApiError(409, "day_exists", f"day {row.stream!r} is already set up")
                    self.store.create_day(conn, row, engine.events)
                    self.store.remember(conn, principal, key, request_hash, 201, json.dumps(body), row.stream)
            except sqlalchemy.exc.IntegrityError:
                with self.store.read() as conn:
                    stored = self.store.answered(conn, principal, key)
                if stored is not None:
                    return self._replay_answer(key, request_hash, stored)
                raise ApiError(409, "day_exists", f"day {row.stream!r} is already set up") from None
            self._days[row.stream] = day
            return 201, body

    def command(
        self,
        stream: str,
        principal: str,
        key: str,
        request_hash: str,
        run: Callable[[Day], Outcome],
    ) -> Outcome:
        """Run ``run(day)`` as one durable command on the day ``stream`` (see the module docstring).

        ``run`` calls the engine and returns the success status and body; it raises a typed engine error or an
        :class:`ApiError` to refuse (either becomes the stored response). Returns once the command's events and
        key are committed (group commit: several commands may share one transaction, each whole or not at all).
        """
        with self._in_flight(principal, key):
            for attempt in range(_RETRIES):
                decided = self._decide(stream, principal, key, request_hash, run, None)
                if not isinstance(decided, _Pending):
                    return decided
                decided.done.wait()
                outcome = _settled(decided)
                if outcome is not None:
                    return outcome
                time.sleep(_backoff(attempt))  # the store refused the batch: decide again
            raise _contention(stream)

    async def command_async(
        self,
        stream: str,
        principal: str,
        key: str,
        request_hash: str,
        run: Callable[[Day], Outcome],
    ) -> Outcome:
        """:meth:`command` for an event loop: on SQLite the request awaits its commit instead of holding a thread.

        The command is decided on the loop itself (the engine call and two reads of a local file take tens of
        microseconds, less than a hop to a worker thread and back), and the committer wakes the loop once per
        batch. A request cancelled while its command commits (the client went away) keeps its key in flight until
        the commit ends. On PostgreSQL, whose reads cross the network, :meth:`command` runs in a worker thread.
        """
        if not self.store.sqlite:
            return await asyncio.to_thread(self.command, stream, principal, key, request_hash, run)
        loop = asyncio.get_running_loop()
        release = self._claim(principal, key)
        try:
            for attempt in range(_RETRIES):
                waiter = loop.create_future()
                decided = self._decide(stream, principal, key, request_hash, run, (loop, waiter))
                if not isinstance(decided, _Pending):
                    return decided
                try:
                    await asyncio.shield(waiter)
                except asyncio.CancelledError:
                    waiter.add_done_callback(_releasing(release))
                    release = _nothing
                    raise
                outcome = _settled(decided)
                if outcome is not None:
                    return outcome
                await asyncio.sleep(_backoff(attempt))
            raise _contention(stream)
        finally:
            release()

    def _decide(
        self,
        stream: str,
        principal: str,
        key: str,
        request_hash: str,
        run: Callable[[Day], Outcome],
        waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None,
    ) -> Outcome | _Pending:
        """Steps 2-5 of the module docstring: the stored answer, or the command decided and handed to the committer."""
        with self._lock(stream):
            stored, head = self.store.lookup(principal, key, stream)
            if stored is not None:
                return self._replay_answer(key, request_hash, stored)
            if head is None:
                raise ApiError(404, "unknown_day", f"unknown day {stream!r}: set it up first (POST /days)")
            day = self._current(stream, head)
            mark = day.engine.event_count
            try:
                outcome = run(day)
            except OpdsimError as exc:
                outcome = error_body(exc)
            except ApiError as exc:
                outcome = exc.status, exc.body()
            except BaseException:
                self._drop(stream)  # an unexpected failure: trust only the store
                raise
            new = day.engine.events_since(mark)
            pending = _Pending(
                stream,
                self._epochs.get(stream, 0),
                day.version,
                list(new),
                (principal, key, request_hash, outcome[0], json.dumps(outcome[1])),
                outcome,
                waiter,
            )
            day.version += len(new)
            with self._guard:
                self._uncommitted[stream] = self._uncommitted.get(stream, 0) + 1
            self._committer.submit(pending)
            return pending

    def _drop(self, stream: str) -> None:
        """Forget the in-memory day: it is rebuilt from the store; commands decided on it are retried."""
        with self._guard:
            self._days.pop(stream, None)
            self._epochs[stream] = self._epochs.get(stream, 0) + 1

    def _commit(self, batch: list[_Pending]) -> None:
        """Commit a batch of decided commands in one transaction (the committer thread calls this)."""
        with self._guard:
            live = [p for p in batch if p.epoch == self._epochs.get(p.stream, 0)]
        stale = [p for p in batch if p not in live]
        error: BaseException | None = None
        committed = False
        if live:
            try:
                # per stream, the batch's commands follow one another (each decided on the head the one before it
                # left): one conditional append of all their events, then one insert of all their answers
                runs: dict[str, tuple[int, list[Event]]] = {}
                for p in live:
                    base, new = runs.setdefault(p.stream, (p.base, []))
                    if base + len(new) != p.base:
                        raise StaleStream(p.stream)  # decided on a head this batch does not lead to: retried
                    new.extend(p.events)
                with self.store.write() as conn:
                    for stream, (base, new) in runs.items():
                        if self.store.lock_stream(conn, stream) != base:
                            raise StaleStream(stream)
                        self.store.append(conn, stream, base, new)
                    self.store.remember_all(conn, [(*p.answer, p.stream) for p in live])
                committed = True
            except (StaleStream, sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
                pass  # another instance appended first, or the database was busy: the commands are retried
            except Exception as exc:  # handed to the waiting requests, which raise it
                error = exc
            if not committed:
                for stream in {p.stream for p in live}:
                    self._drop(stream)
        wake: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for p in batch:
            with self._guard:
                self._uncommitted[p.stream] -= 1
            p.committed = committed and p in live
            p.error = error if p in live else None
            p.done.set()
            if p.waiter is not None:
                wake.setdefault(p.waiter[0], []).append(p.waiter[1])
        for loop, waiters in wake.items():
            with suppress(RuntimeError):  # the loop closed (server shutdown): nobody is waiting
                loop.call_soon_threadsafe(_resolve, waiters)
        del stale

    # ------------------------------------------------------------------ views

    def describe(self, day: Day) -> dict[str, Any]:
        """The day's setup as JSON: date, zone, opening, doctors and their slots in wall-clock time."""
        eng = day.engine
        return {
            "date": day.row.date,
            "time_zone": day.row.time_zone,
            "opens_at": day.wall(0.0).isoformat(),  # type: ignore[union-attr]
            "closed": eng.closed,
            "policy": eng.policy.as_dict(),
            "doctors": [
                {
                    "id": doc,
                    "busy_with": eng.busy_with(doc),
                    "slots": [self.slot_json(day, s) for s in eng.slots(doc)],
                }
                for doc in eng.doctors()
            ],
        }

    @staticmethod
    def slot_json(day: Day, s: Any) -> dict[str, Any]:
        """One slot as JSON (wall-clock start and end)."""
        return {
            "index": s.index,
            "start": day.wall(s.start).isoformat(),  # type: ignore[union-attr]
            "end": day.wall(s.end).isoformat(),  # type: ignore[union-attr]
            "capacity": s.capacity,
            "regular": s.regular,
            "emergencies": s.emergencies,
            "free": max(0, s.capacity - s.regular),
        }


def first_policy(engine: Engine) -> Policy:
    """The policy a day was set up with (its first event)."""
    first = engine.events[0]
    assert isinstance(first, EngineStarted)
    return first.policy
