"""Approval decisions (one row per person) and the approval inbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import ApprovalBatch, ApprovalDecision, ApprovalRequest, Task, TaskStep


async def decisions_by_approval_ids(
    session: AsyncSession, approval_ids: Sequence[uuid.UUID]
) -> list[list[ApprovalDecision]]:
    """Each request's decisions, oldest first, in the order of `approval_ids` (one query)."""
    if not approval_ids:
        return []
    result = await session.execute(
        select(ApprovalDecision)
        .where(ApprovalDecision.approval_id.in_(approval_ids))
        .order_by(ApprovalDecision.decided_at, ApprovalDecision.id)
    )
    grouped: dict[uuid.UUID, list[ApprovalDecision]] = {i: [] for i in approval_ids}
    for row in result.scalars():
        grouped[row.approval_id].append(row)
    return [grouped[i] for i in approval_ids]


async def inbox_page(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    roles: Sequence[str],
    status: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[ApprovalRequest]:
    """Requests newest first that the caller owns (through the task) or whose task names one
    of `roles` as a reviewer role; `user_id` None means every request (an admin)."""
    query = select(ApprovalRequest).join(Task, Task.id == ApprovalRequest.task_id)
    if user_id is not None:
        query = query.where(or_(Task.user_id == user_id, *names_any_role(roles)))
    if status is not None:
        query = query.where(ApprovalRequest.status == status)
    if before is not None:
        created, approval_id = before
        query = query.where(
            or_(
                ApprovalRequest.created_at < created,
                and_(ApprovalRequest.created_at == created, ApprovalRequest.id < approval_id),
            )
        )
    query = query.order_by(ApprovalRequest.created_at.desc(), ApprovalRequest.id.desc())
    return (await session.execute(query.limit(limit))).scalars().all()


def names_any_role(roles: Sequence[str]) -> list[ColumnElement[bool]]:
    """`tasks.reviewer_roles` (a JSON list) holds one of `roles`. Role names are letters,
    digits and `_ . : -` only (engine/approval_policy.py), so a quoted name matches exactly
    one element of the list's JSON text on SQLite and PostgreSQL alike."""
    return [
        cast(Task.reviewer_roles, Text).contains(f'"{role}"', autoescape=True)
        for role in dict.fromkeys(roles)
    ]


async def tasks_by_ids(
    session: AsyncSession, task_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Task]:
    """The tasks an inbox page refers to (one query; DataLoader keys)."""
    if not task_ids:
        return {}
    result = await session.execute(select(Task).where(Task.id.in_(task_ids)))
    return {row.id: row for row in result.scalars()}


async def steps_by_ids(
    session: AsyncSession, step_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, TaskStep]:
    if not step_ids:
        return {}
    result = await session.execute(select(TaskStep).where(TaskStep.id.in_(step_ids)))
    return {row.id: row for row in result.scalars()}


async def claim_batch_key(
    session: AsyncSession, *, user_id: uuid.UUID, key: str, atomic: bool
) -> tuple[ApprovalBatch | None, uuid.UUID]:
    """Take `key` for a new batch: (None, its id); or (the batch that already has it, id)."""
    existing = await find_batch(session, user_id=user_id, key=key)
    if existing is not None:
        return existing, existing.id
    batch = ApprovalBatch(id=uuid.uuid4(), user_id=user_id, idempotency_key=key, atomic=atomic)
    try:
        async with session.begin_nested():
            session.add(batch)
            await session.flush()
    except IntegrityError:
        raced = await find_batch(session, user_id=user_id, key=key)
        assert raced is not None
        return raced, raced.id
    return None, batch.id


async def find_batch(
    session: AsyncSession, *, user_id: uuid.UUID, key: str
) -> ApprovalBatch | None:
    result = await session.execute(
        select(ApprovalBatch)
        .where(ApprovalBatch.user_id == user_id, ApprovalBatch.idempotency_key == key)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()
