"""The service's tables (SQLAlchemy Core), shared by the store and the Alembic migration that creates them.

- ``days``: one row per clinic day (stream): its calendar date, time zone, opening time and ``version``, the
  number of events appended so far (the stream's head; an append is conditional on it).
- ``events``: the append-only log, one row per engine event, keyed ``(stream, version)`` (unique: two writers
  can never both append version *n*).
- ``idempotency``: one row per ``(principal, key)`` with the request's hash and the response it got, written in
  the same transaction as the events that request produced.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["days", "events", "idempotency", "metadata"]

metadata = sa.MetaData()

days = sa.Table(
    "days",
    metadata,
    sa.Column("stream", sa.String(32), primary_key=True),
    sa.Column("date", sa.String(10), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("opens_at", sa.String(8), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("stream", sa.String(32), sa.ForeignKey("days.stream"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("principal", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("stream", sa.String(32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
