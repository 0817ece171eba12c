"""Alembic environment: runs on the connection :mod:`sovmap.store.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sovmap.store.migrate import load_metadata, open_engine

config = context.config
target_metadata = load_metadata()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or "sovmap.db"
    with open_engine(url).begin() as conn:
        _run(conn)
