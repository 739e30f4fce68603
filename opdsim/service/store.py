"""The durable event store: SQLAlchemy Core over SQLite (embedded default) or PostgreSQL (several instances).

A clinic day is one stream. Appending is conditional on the stream's head: :meth:`Store.append` moves
``days.version`` from the version the writer read to the new one (``UPDATE ... WHERE version = :read``) and
inserts the events under the unique key ``(stream, version)``, so two writers can never both append the same
version. Inside a write transaction the stream is locked first (:meth:`Store.lock_stream`: ``SELECT ... FOR
UPDATE`` on PostgreSQL; on SQLite the transaction itself starts with ``BEGIN IMMEDIATE``, which takes the
database's write lock), so a conflict is the exception, not the rule.

SQLite settings (applied on every connection): WAL journal, ``busy_timeout`` so a writer waits for another
instead of failing, foreign keys on, and ``synchronous=FULL`` by default: with WAL, ``NORMAL`` already survives
the process being killed (a committed transaction is in the WAL, in the OS's cache), but a power cut or an OS
crash may lose the last commits; ``FULL`` makes every commit wait for the WAL to reach the disk, so an
acknowledged booking survives a power cut too. ``NORMAL`` may be chosen (``--sqlite-synchronous normal``) where
that trade is acceptable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler

from opdsim.engine import Event
from opdsim.service import codec
from opdsim.service.tables import days, events, idempotency

__all__ = ["DayRow", "IdempotencyRow", "StaleStream", "Store", "database_url"]

Synchronous = Literal["full", "normal"]
_MIGRATIONS = Path(__file__).with_name("migrations")


class StaleStream(Exception):
    """The stream's head moved since it was read: another writer appended first."""


@dataclass(frozen=True)
class DayRow:
    """A clinic day as stored: its stream id, calendar date, IANA time zone, opening time and head version."""

    stream: str
    date: str
    time_zone: str
    opens_at: str
    version: int


@dataclass(frozen=True)
class IdempotencyRow:
    """A request already answered: its hash and the response it got."""

    request_hash: str
    status: int
    response: str


def database_url(db: str) -> str:
    """SQLAlchemy URL for ``--db``: a URL as given, or a file path for SQLite."""
    if "://" in db:
        if db.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + db.split("://", 1)[1]
        return db
    return f"sqlite:///{Path(db).resolve()}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# The statements of every command, built once: SQLAlchemy then reuses their cache keys and compiled SQL, where a
# statement built per call costs about 50 us of construction and cache-key generation before it reaches the driver.
_HEAD = sa.select(days.c.version).where(days.c.stream == sa.bindparam("stream"))
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_MOVE_HEAD = (
    days.update()
    .where(days.c.stream == sa.bindparam("of_stream"), days.c.version == sa.bindparam("read"))
    .values(version=sa.bindparam("head"))
)
_INSERT_EVENTS = events.insert()
_ANSWERED = sa.select(idempotency.c.request_hash, idempotency.c.status, idempotency.c.response).where(
    idempotency.c.principal == sa.bindparam("principal"), idempotency.c.key == sa.bindparam("key")
)
_REMEMBER = idempotency.insert()


class _Driver:
    """A statement compiled once for one dialect, to run on the driver's own cursor: for the two reads every command
    makes, SQLAlchemy's execution context (events, result wrapping) cost more than the queries themselves."""

    __slots__ = ("names", "sql")

    def __init__(self, statement: sa.sql.ClauseElement, dialect: sa.engine.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ()) if compiled.positional else None

    def params(self, values: dict[str, Any]) -> Any:
        """The parameters in the driver's style: a tuple in order (qmark) or the mapping (pyformat)."""
        return values if self.names is None else tuple(values[n] for n in self.names)


class Store:
    """Event store over a SQLAlchemy engine.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``); see :func:`database_url`.
    synchronous : {"full", "normal"}
        SQLite's ``synchronous`` setting (ignored for PostgreSQL, whose commits are synchronous by default).
    busy_timeout : float
        How long an SQLite writer waits for the write lock [s].
    """

    def __init__(self, url: str, *, synchronous: Synchronous = "full", busy_timeout: float = 30.0) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.engine = sa.create_engine(url, pool_size=8, max_overflow=56, connect_args={"check_same_thread": False})
            sync = {"full": "FULL", "normal": "NORMAL"}[synchronous]
            timeout_ms = int(busy_timeout * 1000)

            @sa.event.listens_for(self.engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # the driver issues no BEGIN of its own; _on_begin does
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout={timeout_ms}")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA synchronous={sync}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            @sa.event.listens_for(self.engine, "begin")
            def _on_begin(conn: Connection) -> None:
                write = conn.get_execution_options().get("opdsim_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        else:
            self.engine = sa.create_engine(url, pool_size=10, max_overflow=40, pool_pre_ping=True)
        dialect = self.engine.dialect
        self._answered = _Driver(_ANSWERED, dialect)
        self._head = _Driver(_HEAD, dialect)

    # ------------------------------------------------------------------ schema

    def _alembic_config(self, connection: Connection) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection"] = connection
        return cfg

    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (safe when several instances start at once)."""
        from alembic import command

        with self.engine.connect() as conn:
            if not self.sqlite:
                # one migrator at a time across instances; released when the transaction ends
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(4711)"))
            else:
                conn = conn.execution_options(opdsim_write=True)
            command.upgrade(self._alembic_config(conn), "head")
            conn.commit()

    def at_head(self) -> bool:
        """Whether the schema is at the latest revision (the readiness check)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
            heads = ScriptDirectory.from_config(self._alembic_config(conn)).get_heads()
        return set(current) == set(heads)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(opdsim_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def lookup(self, principal: str, key: str, stream: str) -> tuple[IdempotencyRow | None, int | None]:
        """What a command reads before it decides: the stored answer to ``key`` from ``principal`` (or None) and the
        head version of ``stream`` (None for an unknown day). Two reads on the driver's cursor, outside a
        transaction on SQLite (each sees the latest commit); the connection's reset on return ends PostgreSQL's."""
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            a = self._answered
            cur.execute(a.sql, a.params({"principal": principal, "key": key}))
            row = cur.fetchone()
            h = self._head
            cur.execute(h.sql, h.params({"stream": stream}))
            version = cur.fetchone()
            cur.close()
        finally:
            conn.close()
        answer = None if row is None else IdempotencyRow(row[0], int(row[1]), row[2])
        return answer, None if version is None else int(version[0])

    # ------------------------------------------------------------------ days and events

    def day(self, conn: Connection, stream: str) -> DayRow | None:
        """The stored day ``stream``, or None."""
        row = conn.execute(sa.select(days).where(days.c.stream == stream)).first()
        if row is None:
            return None
        return DayRow(row.stream, row.date, row.time_zone, row.opens_at, row.version)

    def day_streams(self, conn: Connection) -> list[str]:
        """Every stored day's stream id, in date order."""
        return list(conn.execute(sa.select(days.c.stream).order_by(days.c.date)).scalars())

    def lock_stream(self, conn: Connection, stream: str) -> int | None:
        """Lock the stream for this transaction and return its head version (None for an unknown day)."""
        query = _HEAD if self.sqlite else _HEAD_FOR_UPDATE
        version = conn.execute(query, {"stream": stream}).scalar_one_or_none()
        return None if version is None else int(version)

    def head(self, conn: Connection, stream: str) -> int | None:
        """The stream's head version without locking it."""
        version = conn.execute(_HEAD, {"stream": stream}).scalar_one_or_none()
        return None if version is None else int(version)

    def events_after(self, conn: Connection, stream: str, version: int) -> list[Event]:
        """The stream's events with a version above ``version``, in order."""
        rows = conn.execute(
            sa.select(events.c.data)
            .where(events.c.stream == stream, events.c.version > version)
            .order_by(events.c.version)
        ).scalars()
        return [codec.decode(text) for text in rows]

    def create_day(self, conn: Connection, day: DayRow, log: Sequence[Event]) -> None:
        """Store a new day with its first events (raises ``IntegrityError`` if the day exists)."""
        now = _utcnow()
        conn.execute(
            days.insert().values(
                stream=day.stream,
                date=day.date,
                time_zone=day.time_zone,
                opens_at=day.opens_at,
                version=len(log),
                created_at=now,
            )
        )
        self._insert_events(conn, day.stream, 0, log, now)

    def append(self, conn: Connection, stream: str, read_version: int, new: Sequence[Event]) -> int:
        """Append ``new`` after ``read_version``; raises :class:`StaleStream` if the head moved. Returns the head."""
        if not new:
            return read_version
        head = read_version + len(new)
        moved = conn.execute(_MOVE_HEAD, {"of_stream": stream, "read": read_version, "head": head})
        if moved.rowcount != 1:
            raise StaleStream(stream)
        self._insert_events(conn, stream, read_version, new, _utcnow())
        return head

    def _insert_events(self, conn: Connection, stream: str, after: int, log: Sequence[Event], now: dt.datetime) -> None:
        conn.execute(
            _INSERT_EVENTS,
            [
                {
                    "stream": stream,
                    "version": after + i + 1,
                    "kind": type(ev).__name__,
                    "data": codec.encode(ev),
                    "recorded_at": now,
                }
                for i, ev in enumerate(log)
            ],
        )

    # ------------------------------------------------------------------ idempotency keys

    def answered(self, conn: Connection, principal: str, key: str) -> IdempotencyRow | None:
        """The stored answer to ``key`` from ``principal``, or None."""
        row = conn.execute(_ANSWERED, {"principal": principal, "key": key}).first()
        return None if row is None else IdempotencyRow(row.request_hash, row.status, row.response)

    def remember(
        self,
        conn: Connection,
        principal: str,
        key: str,
        request_hash: str,
        status: int,
        response: str,
        stream: str | None,
    ) -> None:
        """Store the answer to ``key`` (in the caller's transaction, beside the events it produced)."""
        self.remember_all(conn, [(principal, key, request_hash, status, response, stream)])

    def remember_all(self, conn: Connection, answers: Sequence[tuple[str, str, str, int, str, str | None]]) -> None:
        """Store several answers at once: ``(principal, key, request hash, status, response, stream)`` each."""
        now = _utcnow()
        conn.execute(
            _REMEMBER,
            [
                {
                    "principal": principal,
                    "key": key,
                    "request_hash": request_hash,
                    "status": status,
                    "response": response,
                    "stream": stream,
                    "created_at": now,
                }
                for principal, key, request_hash, status, response, stream in answers
            ],
        )
