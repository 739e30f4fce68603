"""Alembic environment: runs on the connection the service hands over (``config.attributes["connection"]``)."""

from __future__ import annotations

from alembic import context

from opdsim.service.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: build an engine from the URL in the config
    import sqlalchemy as sa

    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite:///opd.sqlite")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
