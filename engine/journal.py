"""One task's changes and the events that report them, committed together.

Every state change of a task, whether the engine or a resolver makes it, goes
through `task_transaction`: it locks the task row, lets the caller change rows
and `emit` events (each taking the next `seq` in the same transaction), commits,
and only then hands the events to the bus.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import claim_write_lock
from db.models import Task, TaskEvent, TaskLog, utcnow
from db.repositories.events import append_event
from db.repositories.tasks import lock_task
from domain.vocabulary import EventPriority, EventType, LogLevel, TaskStatus
from subscriptions.bus import EventBus
from subscriptions.envelope import Event, new_event_id, now_ms

# What counts as a task moving again after a decision (engine/stalls.py).
PROGRESS_TYPES = frozenset(
    {
        EventType.STEP_START,
        EventType.STEP_PROGRESS,
        EventType.STEP_COMPLETE,
        EventType.STATUS_CHANGE,
        EventType.COMPLETED,
        EventType.CANCELLED,
        EventType.ERROR,
    }
)


class TaskMissingError(LookupError):
    """The task does not exist (or was deleted) when a transaction opened it."""


class TaskTransaction:
    """The open transaction on one locked task."""

    def __init__(self, session: AsyncSession, task: Task) -> None:
        self.session = session
        self.task = task
        self._emitted: list[tuple[TaskEvent, Event]] = []
        # Run once the change is committed (metrics of what really happened).
        self.after_commit: list[Callable[[], None]] = []

    @property
    def events(self) -> list[Event]:
        """The emitted events; after the commit each carries its global `cursor`."""
        return [
            event if row.global_seq is None else replace(event, cursor=row.global_seq)
            for row, event in self._emitted
        ]

    def emit(self, event_type: EventType, **data: Any) -> Event:
        """Append an event to the log; it is published after commit."""
        if event_type in PROGRESS_TYPES:
            # The task moved: a stall watch set by a decision or an input is satisfied.
            self.task.resume_due_at = None
            self.task.stalled_since = None
        payload = {"taskId": str(self.task.id), **data}
        priority = EventPriority.of(event_type)
        event_id = new_event_id()
        timestamp = now_ms()
        row = append_event(
            self.session,
            self.task,
            event_id=event_id,
            type=event_type.value,
            priority=priority.value,
            data=payload,
        )
        # Replays must show the same timestamp as the live delivery did.
        row.created_at = datetime.fromtimestamp(timestamp / 1000, UTC)
        event = Event(
            task_id=str(self.task.id),
            user_id=str(self.task.user_id),
            type=event_type,
            data=payload,
            seq=row.seq,
            id=event_id,
            timestamp=timestamp,
            priority=priority,
        )
        self._emitted.append((row, event))
        return event

    def set_status(self, status: TaskStatus, *, message: str | None = None) -> None:
        """Change the task status and emit `status_change` when it really changes."""
        previous = self.task.status
        if previous == status:
            return
        self.task.status = status
        self.task.version += 1
        now = utcnow()
        if status == TaskStatus.RUNNING and self.task.started_at is None:
            self.task.started_at = now
        if status in TaskStatus.ENDED:
            self.task.finished_at = now
        self.emit(EventType.STATUS_CHANGE, status=status, previousStatus=previous, message=message)

    def log(
        self,
        message: str,
        *,
        level: LogLevel = LogLevel.INFO,
        step_id: uuid.UUID | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.session.add(
            TaskLog(task_id=self.task.id, step_id=step_id, level=level, message=message, data=data)
        )


@asynccontextmanager
async def task_transaction(
    sessions: async_sessionmaker[AsyncSession], bus: EventBus, task_id: uuid.UUID
) -> AsyncIterator[TaskTransaction]:
    """Lock `task_id`, yield the transaction, commit, then publish its events."""
    async with sessions() as session:
        async with session.begin():
            await claim_write_lock(session)
            task = await lock_task(session, task_id)
            if task is None:
                raise TaskMissingError(str(task_id))
            transaction = TaskTransaction(session, task)
            yield transaction
        for hook in transaction.after_commit:
            hook()
        if transaction.events:
            await bus.publish(transaction.events)
