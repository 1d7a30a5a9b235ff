"""Picks pending tasks by priority then age, within the global and per-user limits."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import claim_write_lock
from db.models import Task, utcnow
from db.repositories.tasks import (
    lock_pending_candidates,
    lock_scheduler,
    pending_in_queue_order,
    running_counts,
)
from domain.vocabulary import EventType, TaskStatus
from engine.journal import TaskTransaction
from subscriptions.envelope import Event

CANDIDATE_WINDOW = 200


@dataclass(frozen=True, slots=True)
class Limits:
    max_running: int
    max_running_per_user: int


def choose(
    candidates: list[Task], *, running: int, per_user: dict[uuid.UUID, int], limits: Limits
) -> list[Task]:
    """The tasks to start now, in queue order, respecting both limits."""
    chosen: list[Task] = []
    per_user = dict(per_user)
    for task in candidates:
        if running + len(chosen) >= limits.max_running:
            break
        if per_user.get(task.user_id, 0) >= limits.max_running_per_user:
            continue
        per_user[task.user_id] = per_user.get(task.user_id, 0) + 1
        chosen.append(task)
    return chosen


async def claim_tasks(
    sessions: async_sessionmaker[AsyncSession],
    *,
    limits: Limits,
    owner: str,
    lease_seconds: float,
    executors: Collection[str],
) -> tuple[list[uuid.UUID], list[Event]]:
    """Move the next eligible tasks of `executors` to `running` under a lease owned by
    `owner`; tasks of other executors wait for their own engines."""
    async with sessions() as session:
        async with session.begin():
            await claim_write_lock(session)
            await lock_scheduler(session)
            running, per_user = await running_counts(session)
            if running >= limits.max_running:
                return [], []
            candidates = list(
                await lock_pending_candidates(session, limit=CANDIDATE_WINDOW, executors=executors)
            )
            chosen = choose(candidates, running=running, per_user=per_user, limits=limits)
            expires_at = utcnow() + timedelta(seconds=lease_seconds)
            transactions: list[TaskTransaction] = []
            for task in chosen:
                task.lease_owner = owner
                task.lease_expires_at = expires_at
                task.attempts += 1
                tx = TaskTransaction(session, task)
                tx.set_status(TaskStatus.RUNNING, message="started")
                transactions.append(tx)
        # Read after the commit, when each event carries its global cursor.
        events: list[Event] = [event for tx in transactions for event in tx.events]
        return [task.id for task in chosen], events


@dataclass(frozen=True, slots=True)
class QueueEntry:
    task_id: uuid.UUID
    user_id: uuid.UUID
    position: int


async def queue_snapshot(
    sessions: async_sessionmaker[AsyncSession], *, limit: int = CANDIDATE_WINDOW
) -> list[QueueEntry]:
    async with sessions() as session:
        pending = await pending_in_queue_order(session, limit=limit)
    return [
        QueueEntry(task_id=task.id, user_id=task.user_id, position=index + 1)
        for index, task in enumerate(pending)
    ]


def estimated_wait_seconds(position: int, *, average_run_seconds: float, slots: int) -> float:
    """position * the moving average run time / slots, rounded to a tenth of a second."""
    return round(position * average_run_seconds / max(slots, 1), 1)


def queue_update_event(entry: QueueEntry, *, estimated_wait: float) -> Event:
    return Event(
        task_id=str(entry.task_id),
        user_id=str(entry.user_id),
        type=EventType.QUEUE_UPDATE,
        data={
            "taskId": str(entry.task_id),
            "queuePosition": entry.position,
            "estimatedWaitTime": estimated_wait,
        },
    )
