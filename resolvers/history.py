"""Task history: the caller's tasks (every task for an admin), newest first, in pages."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from db.models import Task
from db.repositories import tasks as task_queries
from domain.vocabulary import TaskStatus, parse_word
from resolvers.context import RequestContext
from resolvers.errors import ValidationFailedError
from resolvers.limits import authorize

MAX_PAGE = 100
# REST history counts at most this many matching tasks for `total`; past it `total` is
# this figure and `totalExact` is false (docs/rest.md). Counting 100,000 tasks cost more
# than ten times the page itself.
TOTAL_COUNT_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class TaskQuery:
    status: str | None = None
    conversation_id: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: list[Task]
    has_next: bool
    # None when the caller did not ask: counting every matching task is the costly part.
    total: int | None
    # False when the count stopped at its bound: there are at least `total` tasks.
    total_exact: bool = True


class Positioned(Protocol):
    """A row paged newest first by (created_at, id): a task, an approval request."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def created_at(self) -> datetime: ...


def encode_cursor(row: Positioned) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, task_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment, uuid.UUID(task_id)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailedError(
            "after is not a cursor this API issued; pass pageInfo.endCursor back unchanged",
            field="after",
        ) from error


def _check_in_range(moment: datetime | None, *, field: str) -> None:
    """A time whose UTC conversion leaves years 1-9999 (0001-01-01T00:00:00+14:00)."""
    if moment is None or moment.tzinfo is None:
        return
    try:
        moment.astimezone(UTC)
    except OverflowError as error:
        raise ValidationFailedError(
            f"{field} is out of range once converted to UTC: use a time between "
            "0001-01-02 and 9999-12-30",
            field=field,
        ) from error


def _filter_for(ctx: RequestContext, query: TaskQuery) -> task_queries.TaskFilter:
    if query.status is not None and parse_word(TaskStatus, query.status) is None:
        raise ValidationFailedError(
            f"status must be one of {', '.join(TaskStatus)}", field="status"
        )
    for moment, field in ((query.date_from, "dateFrom"), (query.date_to, "dateTo")):
        _check_in_range(moment, field=field)
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise ValidationFailedError("dateFrom must not be after dateTo", field="dateFrom")
    return task_queries.TaskFilter(
        user_id=None if ctx.principal.is_admin else ctx.principal.user_id,
        status=query.status,
        conversation_id=query.conversation_id,
        date_from=query.date_from,
        date_to=query.date_to,
    )


def _check_limit(limit: int, *, field: str) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailedError(f"{field} must be from 1 to {MAX_PAGE}", field=field)


async def list_tasks(
    ctx: RequestContext,
    *,
    query: TaskQuery,
    limit: int = 20,
    after: str | None = None,
    offset: int = 0,
    with_total: bool = True,
    total_at_most: int | None = None,
) -> TaskPage:
    """The caller's tasks (every task for an admin), newest first; the total only when
    `with_total` (a count over every matching task, where the page itself reads 21 rows),
    counting at most `total_at_most` of them when given. A last page (a short one)
    already tells the total, so no count runs for it."""
    await authorize(ctx, "tasks:read", across_tasks=True)
    _check_limit(limit, field="first" if after is not None or offset == 0 else "limit")
    if offset < 0:
        raise ValidationFailedError("offset must not be negative", field="offset")
    task_filter = _filter_for(ctx, query)
    before = decode_cursor(after) if after else None
    async with ctx.sessions() as session:
        rows = list(
            await task_queries.list_tasks_page(
                session, task_filter, limit=limit + 1, before=before, offset=offset
            )
        )
        total: int | None = None
        exact = True
        if with_total and len(rows) <= limit and (rows or offset == 0):
            total = offset + len(rows)  # the last page: nothing matches beyond it
        elif with_total:
            total = await task_queries.count_tasks(session, task_filter, at_most=total_at_most)
            if total_at_most is not None and total > total_at_most:
                total, exact = total_at_most, False
    return TaskPage(tasks=rows[:limit], has_next=len(rows) > limit, total=total, total_exact=exact)
