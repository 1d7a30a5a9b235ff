"""Derived facts about a task: its queue position and wait, progress and current step."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Task, TaskStep
from db.repositories import tasks as task_queries
from db.repositories.steps import steps_of_task
from domain.vocabulary import StepStatus, TaskStatus
from resolvers.context import RequestContext


@dataclass(frozen=True, slots=True)
class QueueInfo:
    position: int | None
    estimated_wait_seconds: float | None


NOT_QUEUED = QueueInfo(position=None, estimated_wait_seconds=None)


async def queue_info_at(
    ctx: RequestContext,
    task_id: uuid.UUID,
    position: int | None,
    *,
    session: AsyncSession | None = None,
) -> QueueInfo:
    """`session`: the one the caller holds, if any (no second checkout while holding it)."""
    if position is None:
        return NOT_QUEUED
    wait = await ctx.engine.estimated_wait_of(task_id, position, session=session)
    return QueueInfo(position=position, estimated_wait_seconds=wait)


async def queue_infos(
    ctx: RequestContext, session: AsyncSession, tasks: Sequence[Task]
) -> list[QueueInfo]:
    """Queue facts of every task in `tasks`, from one query (none when nothing is pending)."""
    pending = [t.id for t in tasks if t.status == TaskStatus.PENDING]
    positions = await task_queries.queue_positions(session, pending) if pending else {}
    return [await queue_info_at(ctx, t.id, positions.get(t.id), session=session) for t in tasks]


async def queue_info(ctx: RequestContext, task: Task) -> QueueInfo:
    if task.status != TaskStatus.PENDING:
        return NOT_QUEUED
    async with ctx.sessions() as session:
        return (await queue_infos(ctx, session, [task]))[0]


def task_progress(task: Task, steps: list[TaskStep]) -> float:
    """Done steps count fully, the running one by its own progress."""
    if not steps:
        return 1.0 if task.status == TaskStatus.COMPLETED else 0.0
    done = sum(1.0 for s in steps if s.status in StepStatus.DONE)
    running = sum(s.progress for s in steps if s.status == StepStatus.RUNNING)
    return round(min((done + running) / len(steps), 1.0), 4)


def current_step(steps: list[TaskStep]) -> TaskStep | None:
    for step in steps:
        if step.status in (StepStatus.RUNNING, StepStatus.AWAITING_APPROVAL):
            return step
    return None


async def steps_for(ctx: RequestContext, task: Task) -> list[TaskStep]:
    async with ctx.sessions() as session:
        return await steps_of_task(session, task.id)
