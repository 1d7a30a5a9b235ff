"""The stall alarm: a task that was approved (or answered with input) but does not move.

A decision that lets a task go on, or input sent to it, arms a watch on the task
(`resume_due_at`). Any progress (a step starting or moving, a status change) clears it
(engine/journal.py). The scheduler flags the tasks whose watch ran out: `stalled_since` is
set and a CRITICAL `stalled` event names what the task waits for, so an operator or the
owner sees that a worker never picked the task up, or that no run slot came free.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from db.models import Task, utcnow
from domain.vocabulary import EventType, TaskStatus
from engine.journal import TaskMissingError, TaskTransaction

if TYPE_CHECKING:
    from engine.core import Engine


def expect_progress(tx: TaskTransaction, *, seconds: float) -> None:
    """After a decision or input that lets the task go on: expect it to move within
    `seconds`. Call it after the transaction's own status change (which clears a watch)."""
    if tx.task.status in (TaskStatus.PENDING, TaskStatus.RUNNING):
        tx.task.resume_due_at = utcnow() + timedelta(seconds=seconds)
        tx.task.stalled_since = None


async def flag_stalls(engine: Engine, *, now: datetime | None = None) -> int:
    """Flag every task whose watch ran out; returns how many were flagged."""
    moment = now or utcnow()
    async with engine.sessions() as session:
        due = (
            await session.execute(
                select(Task.id)
                .where(Task.resume_due_at <= moment, Task.stalled_since.is_(None))
                .limit(100)
            )
        ).scalars()
        task_ids = list(due)
    flagged = 0
    for task_id in task_ids:
        with contextlib.suppress(TaskMissingError):
            flagged += await _flag(engine, task_id, moment)
    return flagged


async def _flag(engine: Engine, task_id: uuid.UUID, moment: datetime) -> int:
    async with engine.transaction(task_id) as tx:
        task = tx.task
        if task.resume_due_at is None or task.resume_due_at > moment or task.stalled_since:
            return 0
        if task.status in TaskStatus.FINISHED:
            task.resume_due_at = None
            return 0
        task.stalled_since = moment
        waiting_for = _waiting_for(engine, task)
        tx.emit(
            EventType.STALLED,
            status=task.status,
            stalledSince=moment.isoformat(),
            waitingFor=waiting_for,
            message=f"no progress since it was allowed to go on: waiting for {waiting_for}",
        )
        return 1


def _waiting_for(engine: Engine, task: Task) -> str:
    if task.status == TaskStatus.PENDING:
        if task.executor in engine.executors:
            return f"a free run slot (at most {engine.limits.max_running} tasks run at once)"
        return f"a worker of executor {task.executor!r} to claim it"
    if task.lease_token is not None:
        return f"its worker ({task.lease_owner or 'unknown'}) to report progress"
    return "its runner to report progress"
