"""Command handling: the day's engine kept in memory, caught up from the store, changed in one transaction.

For every mutating request the :class:`Ledger`:

1. refuses a key already in flight in this process (409) and answers a key already answered from the store
   (the same body gets the original response, another body 422);
2. takes the day's lock (the engine is single-threaded), opens a write transaction and locks the stream;
3. catches the in-memory engine up on events other instances appended since it last looked;
4. runs the engine call; a typed engine error becomes the response (an engine error changes no state, except a
   ``Rejected`` audit event, which is stored like any other);
5. appends the new events, conditional on the head it read, and stores the idempotency key with the response, in
   the same transaction, and commits; only then is the response returned.

If the append or the commit fails (another instance won a race, or the database refused), the in-memory engine
holds events the store does not, so it is dropped and rebuilt from the store, and the command is retried from
step 2.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from opdsim.engine.events import EngineStarted
from opdsim.service.store import DayRow, StaleStream, Store

__all__ = ["ApiError", "Clock", "Day", "Ledger", "Outcome", "error_body"]

Clock = Callable[[], dt.datetime]
Outcome = tuple[int, dict[str, Any]]

_RETRIES = 20


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

    def _catch_up(self, conn: Any, stream: str, head: int | None) -> Day:
        """The day's engine brought up to ``head`` (the caller holds the stream's lock)."""
        day = self._days.get(stream)
        if day is None:
            loaded = self._load(conn, stream) if head is not None else None
            if loaded is None:
                raise ApiError(404, "unknown_day", f"unknown day {stream!r}: set it up first (POST /days)")
            self._days[stream] = day = loaded
        elif head is not None and head > day.version:
            for ev in self.store.events_after(conn, stream, day.version):
                day.engine.apply(ev)
            day.version = head
        return day

    @contextmanager
    def reading(self, stream: str) -> Iterator[Day]:
        """The day, caught up with the store, held under its lock while the caller reads it."""
        with self._lock(stream):
            with self.store.read() as conn:
                head = self.store.head(conn, stream)
                if head is None:
                    raise ApiError(404, "unknown_day", f"unknown day {stream!r}: set it up first (POST /days)")
                day = self._catch_up(conn, stream, head)
            yield day

    # ------------------------------------------------------------------ idempotency

    @contextmanager
    def _in_flight(self, principal: str, key: str) -> Iterator[None]:
        token = (principal, key)
        with self._guard:
            if token in self._inflight:
                raise ApiError(409, "in_flight", f"Idempotency-Key {key!r}: a request with this key is in progress")
            self._inflight.add(token)
        try:
            yield
        finally:
            with self._guard:
                self._inflight.discard(token)

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
        :class:`ApiError` to refuse (either becomes the stored response).
        """
        with self._in_flight(principal, key), self._lock(stream):
            with self.store.read() as conn:
                stored = self.store.answered(conn, principal, key)
            if stored is not None:
                return self._replay_answer(key, request_hash, stored)
            for attempt in range(_RETRIES):
                try:
                    with self.store.write() as conn:
                        head = self.store.lock_stream(conn, stream)
                        if head is not None:
                            stored = self.store.answered(conn, principal, key)
                            if stored is not None:  # another instance answered it meanwhile
                                return self._replay_answer(key, request_hash, stored)
                        day = self._catch_up(conn, stream, head)
                        mark = day.engine.event_count
                        try:
                            outcome = run(day)
                        except OpdsimError as exc:
                            outcome = error_body(exc)
                        except ApiError as exc:
                            outcome = exc.status, exc.body()
                        except BaseException:
                            self._days.pop(stream, None)  # an unexpected failure: trust only the store
                            raise
                        new = day.engine.events_since(mark)
                        assert head is not None
                        try:
                            version = self.store.append(conn, stream, head, new)
                            self.store.remember(
                                conn, principal, key, request_hash, outcome[0], json.dumps(outcome[1]), stream
                            )
                        except BaseException:
                            self._days.pop(stream, None)
                            raise
                    day.version = version
                    return outcome
                except (StaleStream, sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
                    # the in-memory engine may hold events the store refused: rebuild it and decide again
                    self._days.pop(stream, None)
                    time.sleep(min(0.001 * 2**attempt, 0.1))
            raise ApiError(503, "contention", f"day {stream!r}: could not append after {_RETRIES} attempts")

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
