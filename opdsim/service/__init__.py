"""The booking service: the engine as a durable, concurrent, secure HTTP API (``opdsim serve``).

Needs the ``service`` extra (FastAPI, SQLAlchemy, Alembic, psycopg). Layers: :mod:`.codec` (events as JSON),
:mod:`.tables` and :mod:`.store` (the event store, SQLAlchemy Core), :mod:`.ledger` (command handling),
:mod:`.auth` (API keys and roles), :mod:`.api` (the FastAPI app), :mod:`.command` (the ``serve`` command).
It uses the engine and its store only, never the simulation.
"""
