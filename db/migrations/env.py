"""Alembic environment: runs on the connection that `db.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from db.models import Base

# A fixed key so two instances starting at once migrate one after the other.
MIGRATION_LOCK_KEY = 7_310_442_001


def run_migrations(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
            connection.commit()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `agentwire migrate`, which provides the connection")
run_migrations(connection)
