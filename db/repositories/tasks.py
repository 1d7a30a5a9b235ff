"""Task queries: lookups, history pages, the queue and claiming."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Task
from domain.vocabulary import TaskStatus

# One scheduler at a time across every instance on PostgreSQL.
SCHEDULER_LOCK_KEY = 7_310_442_002


async def get_task(session: AsyncSession, task_id: uuid.UUID) -> Task | None:
    return await session.get(Task, task_id)


async def lock_task(session: AsyncSession, task_id: uuid.UUID) -> Task | None:
    """The task row, locked for the rest of the transaction (re-read, not cached)."""
    result = await session.execute(
        select(Task)
        .where(Task.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def find_by_idempotency_key(
    session: AsyncSession, user_id: uuid.UUID, key: str
) -> Task | None:
    result = await session.execute(
        select(Task).where(Task.user_id == user_id, Task.idempotency_key == key)
    )
    return result.scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class TaskFilter:
    user_id: uuid.UUID | None
    status: str | None = None
    conversation_id: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


def _filtered(query_filter: TaskFilter):  # type: ignore[no-untyped-def]
    conditions = []
    if query_filter.user_id is not None:
        conditions.append(Task.user_id == query_filter.user_id)
    if query_filter.status is not None:
        conditions.append(Task.status == query_filter.status)
    if query_filter.conversation_id is not None:
        conditions.append(Task.conversation_id == query_filter.conversation_id)
    if query_filter.date_from is not None:
        conditions.append(Task.created_at >= query_filter.date_from)
    if query_filter.date_to is not None:
        conditions.append(Task.created_at <= query_filter.date_to)
    # true() first: an admin's unfiltered listing has no condition; an empty and_() is deprecated.
    return and_(true(), *conditions)


async def list_tasks_page(
    session: AsyncSession,
    query_filter: TaskFilter,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
    offset: int = 0,
) -> Sequence[Task]:
    """Newest first; `before` is a keyset cursor (created_at, id) of the last row seen."""
    query = select(Task).where(_filtered(query_filter))
    if before is not None:
        created_at, task_id = before
        query = query.where(
            or_(
                Task.created_at < created_at, and_(Task.created_at == created_at, Task.id < task_id)
            )
        )
    query = query.order_by(Task.created_at.desc(), Task.id.desc()).offset(offset).limit(limit)
    result = await session.execute(query)
    return result.scalars().all()


async def count_tasks(
    session: AsyncSession, query_filter: TaskFilter, *, at_most: int | None = None
) -> int:
    """How many tasks match; with `at_most`, counting stops after at_most + 1 of them
    (a bounded index scan, however many tasks the user has)."""
    if at_most is None:
        counted = select(func.count()).select_from(Task).where(_filtered(query_filter))
    else:
        matching = select(Task.id).where(_filtered(query_filter)).limit(at_most + 1).subquery()
        counted = select(func.count()).select_from(matching)
    result = await session.execute(counted)
    return int(result.scalar_one())


async def queue_positions(
    session: AsyncSession, task_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Queue positions (1 = next to start) of those of `task_ids` that are pending.

    One window query over the pending tasks, however many ids: a page of pending tasks
    costs one statement, not one count per task.
    """
    if not task_ids:
        return {}
    ranked = (
        select(
            Task.id.label("id"),
            func.row_number()
            .over(order_by=(Task.priority.desc(), Task.created_at, Task.id))
            .label("position"),
        )
        .where(Task.status == TaskStatus.PENDING)
        .subquery()
    )
    result = await session.execute(
        select(ranked.c.id, ranked.c.position).where(ranked.c.id.in_(list(task_ids)))
    )
    return {task_id: int(position) for task_id, position in result.all()}


async def pending_in_queue_order(session: AsyncSession, *, limit: int) -> Sequence[Task]:
    result = await session.execute(
        select(Task)
        .where(Task.status == TaskStatus.PENDING)
        .order_by(Task.priority.desc(), Task.created_at, Task.id)
        .limit(limit)
    )
    return result.scalars().all()


async def lock_scheduler(session: AsyncSession) -> None:
    """Serialize schedulers across instances; SQLite's BEGIN IMMEDIATE already does."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(text(f"SELECT pg_advisory_xact_lock({SCHEDULER_LOCK_KEY})"))


async def running_counts(session: AsyncSession) -> tuple[int, dict[uuid.UUID, int]]:
    result = await session.execute(
        select(Task.user_id, func.count())
        .where(Task.status == TaskStatus.RUNNING)
        .group_by(Task.user_id)
    )
    per_user = {user_id: int(count) for user_id, count in result.all()}
    return sum(per_user.values()), per_user


async def lock_pending_candidates(
    session: AsyncSession, *, limit: int, executors: Collection[str]
) -> Sequence[Task]:
    """Pending tasks of `executors` in queue order, locked; rows another transaction holds
    are skipped."""
    result = await session.execute(
        select(Task)
        .where(Task.status == TaskStatus.PENDING, Task.executor.in_(list(executors)))
        .order_by(Task.priority.desc(), Task.created_at, Task.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return result.scalars().all()


async def lock_undo_candidate(
    session: AsyncSession, *, executors: Collection[str], now: datetime
) -> Task | None:
    """The oldest finished task of `executors` with an undo queued and no live lease on it
    (never claimed, or its undoing worker's lease lapsed), locked; rows another transaction
    holds are skipped."""
    result = await session.execute(
        select(Task)
        .where(
            Task.undo_step_ids.is_not(None),
            Task.executor.in_(list(executors)),
            or_(Task.lease_expires_at.is_(None), Task.lease_expires_at < now),
        )
        .order_by(Task.priority.desc(), Task.created_at, Task.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return result.scalars().first()


async def tasks_with_expired_lease(session: AsyncSession, now: datetime) -> Sequence[uuid.UUID]:
    result = await session.execute(
        select(Task.id).where(
            Task.status.in_(TaskStatus.ACTIVE),
            or_(Task.lease_expires_at.is_(None), Task.lease_expires_at < now),
        )
    )
    return result.scalars().all()


async def renew_lease(
    session: AsyncSession, task_ids: Sequence[uuid.UUID], *, owner: str, expires_at: datetime
) -> None:
    if task_ids:
        await session.execute(
            update(Task)
            .where(Task.id.in_(task_ids), Task.lease_owner == owner)
            .values(lease_expires_at=expires_at)
        )


async def recent_run_seconds(session: AsyncSession, *, sample: int = 50) -> list[float]:
    result = await session.execute(
        select(Task.started_at, Task.finished_at)
        .where(Task.status == TaskStatus.COMPLETED, Task.started_at.is_not(None))
        .order_by(Task.finished_at.desc())
        .limit(sample)
    )
    return [
        (finished - started).total_seconds()
        for started, finished in result.all()
        if started is not None and finished is not None
    ]
