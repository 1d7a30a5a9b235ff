"""Figures for the metrics endpoint: cheap aggregate reads, never a scan of finished history."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Task
from domain.vocabulary import TaskStatus


async def open_task_counts(session: AsyncSession) -> dict[TaskStatus, int]:
    """How many tasks are pending, running and awaiting approval (zero included).

    Only open statuses: they are few and the `(status, priority, created_at)` index finds
    them, while counting every finished task would grow with the history."""
    rows = await session.execute(
        select(Task.status, func.count())
        .where(Task.status.in_(TaskStatus.OPEN))
        .group_by(Task.status)
    )
    counts = dict.fromkeys(TaskStatus.OPEN, 0)
    for status, count in rows.all():
        counts[TaskStatus(status)] = int(count)
    return counts
