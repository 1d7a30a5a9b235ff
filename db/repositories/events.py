"""The durable event log: gap-free per-task `seq`, written with the change it reports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import event_log  # noqa: F401  (registers the global position stamping)
from db.models import Task, TaskEvent


def append_event(
    session: AsyncSession,
    task: Task,
    *,
    event_id: str,
    type: str,
    priority: str,
    data: dict[str, Any],
) -> TaskEvent:
    """Add the next event of `task`; the caller holds the task row lock."""
    task.last_seq += 1
    row = TaskEvent(
        task_id=task.id,
        seq=task.last_seq,
        user_id=task.user_id,
        id=event_id,
        type=type,
        priority=priority,
        data=data,
    )
    session.add(row)
    return row


async def events_after(
    session: AsyncSession, task_id: uuid.UUID, *, after: int, limit: int
) -> Sequence[TaskEvent]:
    result = await session.execute(
        select(TaskEvent)
        # A row gets its global position just after commit (db/event_log.py); until
        # then it is not served, so every event a reader sees carries its cursor.
        .where(
            TaskEvent.task_id == task_id,
            TaskEvent.seq > after,
            TaskEvent.global_seq.is_not(None),
        )
        .order_by(TaskEvent.seq)
        .limit(limit)
    )
    return result.scalars().all()
