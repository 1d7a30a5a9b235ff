"""Steps, logs and approval requests of tasks, including batch loads for DataLoaders."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApprovalRequest, Task, TaskLog, TaskStep
from domain.vocabulary import ApprovalStatus, OnTimeout

Row = TypeVar("Row", TaskStep, TaskLog, ApprovalRequest)


def _group(rows: Sequence[Row], task_ids: Sequence[uuid.UUID]) -> list[list[Row]]:
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.task_id].append(row)
    return [grouped.get(task_id, []) for task_id in task_ids]


async def steps_by_task_ids(
    session: AsyncSession, task_ids: Sequence[uuid.UUID]
) -> list[list[TaskStep]]:
    result = await session.execute(
        select(TaskStep).where(TaskStep.task_id.in_(task_ids)).order_by(TaskStep.position)
    )
    return _group(result.scalars().all(), task_ids)


async def logs_by_task_ids(
    session: AsyncSession, task_ids: Sequence[uuid.UUID], *, limit_per_task: int = 500
) -> list[list[TaskLog]]:
    result = await session.execute(
        select(TaskLog).where(TaskLog.task_id.in_(task_ids)).order_by(TaskLog.created_at)
    )
    return [rows[-limit_per_task:] for rows in _group(result.scalars().all(), task_ids)]


async def approvals_by_task_ids(
    session: AsyncSession, task_ids: Sequence[uuid.UUID]
) -> list[list[ApprovalRequest]]:
    result = await session.execute(
        select(ApprovalRequest)
        .where(ApprovalRequest.task_id.in_(task_ids))
        .order_by(ApprovalRequest.created_at)
    )
    return _group(result.scalars().all(), task_ids)


async def steps_of_task(session: AsyncSession, task_id: uuid.UUID) -> list[TaskStep]:
    return (await steps_by_task_ids(session, [task_id]))[0]


async def get_step(session: AsyncSession, step_id: uuid.UUID) -> TaskStep | None:
    return await session.get(TaskStep, step_id)


async def get_approval(session: AsyncSession, approval_id: uuid.UUID) -> ApprovalRequest | None:
    result = await session.execute(
        select(ApprovalRequest)
        .where(ApprovalRequest.id == approval_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def pending_approval_for_step(
    session: AsyncSession, step_id: uuid.UUID
) -> ApprovalRequest | None:
    result = await session.execute(
        select(ApprovalRequest)
        .where(ApprovalRequest.step_id == step_id, ApprovalRequest.status == ApprovalStatus.PENDING)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def due_parked_approvals(
    session: AsyncSession, now: datetime
) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
    """(task id, approval id) of overdue pending requests whose task no worker holds (the
    embedded engine parks such tasks, so nothing else would notice their deadline)."""
    result = await session.execute(
        select(ApprovalRequest.task_id, ApprovalRequest.id)
        .join(Task, Task.id == ApprovalRequest.task_id)
        .where(
            ApprovalRequest.status == ApprovalStatus.PENDING,
            ApprovalRequest.expires_at <= now,
            Task.lease_token.is_(None),
        )
        .order_by(ApprovalRequest.expires_at)
        .limit(200)
    )
    return [(row[0], row[1]) for row in result.all()]


async def granted_approval_exists(session: AsyncSession, step_id: uuid.UUID) -> bool:
    """Whether the step was already approved (so a resumed run must not ask again)."""
    result = await session.execute(
        select(ApprovalRequest.id)
        .where(
            ApprovalRequest.step_id == step_id,
            or_(
                ApprovalRequest.status.in_(ApprovalStatus.GRANTED),
                # An expiry whose policy approves the step grants it too.
                and_(
                    ApprovalRequest.status == ApprovalStatus.EXPIRED,
                    ApprovalRequest.on_timeout == OnTimeout.APPROVE,
                ),
            ),
        )
        .limit(1)
    )
    return result.first() is not None
