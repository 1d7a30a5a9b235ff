"""Reads behind live feeds: a user's events by global position, task snapshots, retention."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApprovalRequest, Task, TaskEvent, TaskLog, TaskStep
from db.repositories.approvals import names_any_role
from db.repositories.steps import approvals_by_task_ids, logs_by_task_ids, steps_by_task_ids


async def user_events_after(
    session: AsyncSession, user_id: uuid.UUID, *, after: int, limit: int
) -> Sequence[TaskEvent]:
    """A user's stored events with global position > `after`, in commit order."""
    result = await session.execute(
        select(TaskEvent)
        .where(TaskEvent.user_id == user_id, TaskEvent.global_seq > after)
        .order_by(TaskEvent.global_seq)
        .limit(limit)
    )
    return result.scalars().all()


async def approval_events_after(
    session: AsyncSession,
    *,
    kinds: Sequence[str],
    user_id: uuid.UUID | None,
    roles: Sequence[str],
    after: int,
    limit: int,
) -> Sequence[TaskEvent]:
    """Stored events of `kinds` with global position > `after`, in commit order, of the
    tasks `user_id` owns or whose reviewer roles name one of `roles` (the inbox's rule);
    `user_id` None means every task (an admin)."""
    query = (
        select(TaskEvent)
        .join(Task, Task.id == TaskEvent.task_id)
        .where(TaskEvent.type.in_(kinds), TaskEvent.global_seq > after)
    )
    if user_id is not None:
        query = query.where(or_(Task.user_id == user_id, *names_any_role(roles)))
    result = await session.execute(query.order_by(TaskEvent.global_seq).limit(limit))
    return result.scalars().all()


async def latest_global_position(session: AsyncSession) -> int:
    """The newest stored event's global position, whoever's task it is."""
    result = await session.execute(select(func.max(TaskEvent.global_seq)))
    return int(result.scalar_one_or_none() or 0)


async def latest_user_position(session: AsyncSession, user_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.max(TaskEvent.global_seq)).where(TaskEvent.user_id == user_id)
    )
    return int(result.scalar_one_or_none() or 0)


async def first_retained_seq(session: AsyncSession, task_id: uuid.UUID) -> int | None:
    """The oldest seq still stored for the task (None when none is)."""
    result = await session.execute(
        select(func.min(TaskEvent.seq)).where(TaskEvent.task_id == task_id)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


async def task_last_seq(session: AsyncSession, task_id: uuid.UUID) -> int | None:
    result = await session.execute(select(Task.last_seq).where(Task.id == task_id))
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class TaskRows:
    """A task and its child rows, all as of the same `task.last_seq`."""

    task: Task
    steps: list[TaskStep]
    approvals: list[ApprovalRequest]
    logs: list[TaskLog]


async def task_rows_as_of_now(session: AsyncSession, task_id: uuid.UUID) -> TaskRows | None:
    """Read the task and its children consistently.

    Every change to a task's rows happens while its row is locked FOR UPDATE
    (engine/journal.py), so holding it FOR SHARE for this short transaction
    sees all of them at one `last_seq`. SQLite serializes transactions anyway.
    """
    async with session.begin():
        result = await session.execute(
            select(Task)
            .where(Task.id == task_id)
            .with_for_update(read=True)
            .execution_options(populate_existing=True)
        )
        task = result.scalar_one_or_none()
        if task is None:
            return None
        steps = (await steps_by_task_ids(session, [task_id]))[0]
        approvals = (await approvals_by_task_ids(session, [task_id]))[0]
        logs = (await logs_by_task_ids(session, [task_id]))[0]
    return TaskRows(task=task, steps=steps, approvals=approvals, logs=logs)
