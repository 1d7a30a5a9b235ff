"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Connection execution option set on transactions that will write (see `write_session`).
WRITE_OPTION = "agentwire_write"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@dataclass(frozen=True, slots=True)
class DatabaseTimeouts:
    """How long PostgreSQL may take before a request gives up (then 503, retry later).

    Without them a database that stops answering while its connections stay open (a
    partition) holds every request and the engine forever.
    """

    # Opening a connection (TCP, TLS, authentication): asyncpg's `timeout`.
    connect: float = 3.0
    # Any one statement, from the client's side: asyncpg's `command_timeout`.
    command: float = 5.0
    # Any one statement, from the server's side (`statement_timeout`), so the server
    # stops work nobody waits for any more.
    statement: float = 5.0
    # Waiting for a pooled connection when all are busy.
    pool: float = 5.0


def dumps_json(value: Any) -> str:
    """JSON columns through orjson (several times faster than the standard library on the
    event write path); what orjson refuses (integers past 64 bits, non-string keys) falls
    back to the standard library, which writes them."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# A run of 19+ digits may be an integer past 64 bits, which orjson would read as a float.
_LONG_NUMBER = re.compile(r"\d{19,}")


def loads_json(text: str | bytes) -> Any:
    """JSON columns through orjson, except text that may hold an integer past 64 bits
    (orjson reads those as floats; the standard library keeps them exact)."""
    raw = text.decode() if isinstance(text, bytes) else text
    if _LONG_NUMBER.search(raw):
        return json.loads(raw)
    return orjson.loads(raw)


def create_engine(
    url: str, *, pool_size: int = 10, timeouts: DatabaseTimeouts | None = None
) -> AsyncEngine:
    """An async engine tuned for the backend behind `url`."""
    if is_sqlite(url):
        return _create_sqlite_engine(url)
    timeouts = timeouts or DatabaseTimeouts()
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeouts.pool,
        connect_args={
            "timeout": timeouts.connect,
            "command_timeout": timeouts.command,
            "server_settings": {"statement_timeout": str(round(timeouts.statement * 1000))},
        },
        # No pre-ping: it is a round trip on every checkout. A connection that died is
        # invalidated on its first error (SQLAlchemy drops the whole pool on a
        # disconnect), and pool_recycle retires idle ones before a server timeout.
        pool_pre_ping=False,
        pool_recycle=1800,
        json_serializer=dumps_json,
        json_deserializer=loads_json,
    )


def _create_sqlite_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30},
        json_serializer=dumps_json,
        json_deserializer=loads_json,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control so every transaction starts as
        # BEGIN IMMEDIATE: SQLite then serializes writers up front instead of
        # failing a reader that later tries to write ("database is locked").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front (BEGIN IMMEDIATE), so they queue on the busy
        # timeout instead of failing when a read would upgrade to a write. Reads stay
        # deferred: in WAL mode they never block a writer, even if one is left open.
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


async def claim_write_lock(session: AsyncSession) -> None:
    """Mark the session's transaction as a writer; call it first, before any statement."""
    await session.connection(execution_options={WRITE_OPTION: True})


@asynccontextmanager
async def write_session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that writes; it commits on success."""
    async with sessions() as session, session.begin():
        await claim_write_lock(session)
        yield session


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
