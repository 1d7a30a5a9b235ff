"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from db.migrate import alembic_config, upgrade_to_head
from db.models import Base
from tests.support.backends import postgres_url
from tests.support.clients import Api, note, steps
from tests.support.live import create_scratch_database, drop_scratch_database

# Indexes with a sort order are expressions that reflection cannot compare; their
# presence is checked by name instead.
EXPRESSION_INDEXES = {"ix_tasks_queue", "ix_tasks_user_created"}


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _include}
    )
    indexes = {index["name"] for index in inspect(connection).get_indexes("tasks")}
    missing = [("missing index", name) for name in EXPRESSION_INDEXES - indexes]
    return missing + list(compare_metadata(context, Base.metadata))


async def _check(url: str) -> None:
    await upgrade_to_head(url)
    await upgrade_to_head(url)  # a second run changes nothing and does not fail
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


def test_there_is_one_migration_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several Alembic heads: {heads}; chain the newest migration"


async def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")


async def test_migrations_match_the_models_on_postgres() -> None:
    base = postgres_url()
    if base is None:
        pytest.skip("PostgreSQL is not reachable here (in CI it must be, and this fails)")
    scratch = await create_scratch_database(base)
    try:
        await _check(scratch)
    finally:
        await drop_scratch_database(base, scratch)


def _migrate(connection: Connection, direction: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)


async def test_decided_by_moves_to_the_actor_form_and_back(make_server: Any) -> None:
    async with make_server() as server:
        alice = Api(server, server.token("alice-migrated"))
        task = await alice.submit("gated", context=steps(note("a", 1, approval=True)))
        waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
        approval_id = waiting["pendingApproval"]["id"]
        await alice.call(
            "Approve", input={"taskId": task["id"], "approvalId": approval_id, "approved": True}
        )
        await alice.wait_status(task["id"], "COMPLETED")
        url = server.settings.resolved_database_url
    engine = create_async_engine(url)
    query = text("SELECT decided_by FROM approval_requests")
    try:
        forms = []
        for direction, revision in (("downgrade", "0002"), ("upgrade", "head")):
            async with engine.connect() as connection:
                await connection.run_sync(_migrate, direction, revision)
                await connection.commit()
                forms.append((await connection.execute(query)).scalars().all())
    finally:
        await engine.dispose()
    assert forms == [["alice-migrated"], ["user:alice-migrated"]]
