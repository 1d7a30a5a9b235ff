"""Resume positions of graphql-transport-ws subscriptions (see subscriptions/resume.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ResumePosition


@dataclass(frozen=True, slots=True)
class ResumeRow:
    user_id: uuid.UUID
    resume_key: str
    operation_id: str
    target: str
    position: int


async def stored_position(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    resume_key: str,
    operation_id: str,
    target: str,
    newer_than: datetime,
) -> int | None:
    """The position stored for this operation, if it followed `target` and is still fresh."""
    result = await session.execute(
        select(ResumePosition.position).where(
            ResumePosition.user_id == user_id,
            ResumePosition.resume_key == resume_key,
            ResumePosition.operation_id == operation_id,
            ResumePosition.target == target,
            ResumePosition.updated_at > newer_than,
        )
    )
    return result.scalar_one_or_none()


async def save_positions(session: AsyncSession, rows: Sequence[ResumeRow], now: datetime) -> None:
    """Upsert every row in one statement (PostgreSQL and SQLite share ON CONFLICT)."""
    if not rows:
        return
    bind = session.get_bind()
    insert = postgresql_insert if bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(ResumePosition).values(
        [
            {
                "user_id": row.user_id,
                "resume_key": row.resume_key,
                "operation_id": row.operation_id,
                "target": row.target,
                "position": row.position,
                "updated_at": now,
            }
            for row in rows
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "resume_key", "operation_id"],
            set_={
                "target": statement.excluded.target,
                "position": statement.excluded.position,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


async def forget_positions_before(session: AsyncSession, moment: datetime) -> None:
    await session.execute(delete(ResumePosition).where(ResumePosition.updated_at <= moment))


async def forget_position(
    session: AsyncSession, *, user_id: uuid.UUID, resume_key: str, operation_id: str
) -> None:
    await session.execute(
        delete(ResumePosition).where(
            ResumePosition.user_id == user_id,
            ResumePosition.resume_key == resume_key,
            ResumePosition.operation_id == operation_id,
        )
    )
