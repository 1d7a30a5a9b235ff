"""Registered executors (execution engines) and their declared actions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Executor, utcnow


async def get_executor(session: AsyncSession, name: str) -> Executor | None:
    return await session.get(Executor, name)


async def lock_executor(session: AsyncSession, name: str) -> Executor | None:
    """The row, locked for the rest of the transaction (PostgreSQL; SQLite's write lock)."""
    result = await session.execute(select(Executor).where(Executor.name == name).with_for_update())
    return result.scalar_one_or_none()


async def save_executor(
    session: AsyncSession,
    existing: Executor | None,
    *,
    name: str,
    owner_id: uuid.UUID,
    actions: list[dict[str, Any]],
) -> Executor:
    """Create the executor, or replace the actions of an existing one (a new version)."""
    if existing is None:
        row = Executor(name=name, owner_id=owner_id, actions=actions, version=1)
        session.add(row)
        await session.flush()
        return row
    existing.actions = actions
    existing.version += 1
    existing.updated_at = utcnow()
    await session.flush()
    return existing
