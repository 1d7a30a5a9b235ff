"""Event use cases: read the stored log of a task, or follow it live."""

from __future__ import annotations

import uuid

from db.repositories.events import events_after
from resolvers.access import load_visible_task
from resolvers.context import RequestContext
from resolvers.errors import ValidationFailedError
from resolvers.limits import authorize
from subscriptions.envelope import Event
from subscriptions.feeds import event_from_row

MAX_EVENTS_PAGE = 1000


def _check_after(after: int | None) -> int:
    if after is None:
        return 0
    if after < 0:
        raise ValidationFailedError("after must be 0 or a seq from an earlier event", field="after")
    return after


async def task_events(
    ctx: RequestContext, *, task_id: uuid.UUID, after: int | None, limit: int
) -> list[Event]:
    """Stored events with `seq > after`, oldest first."""
    await authorize(ctx, "tasks:read")
    after_seq = _check_after(after)
    if not 1 <= limit <= MAX_EVENTS_PAGE:
        raise ValidationFailedError(f"limit must be from 1 to {MAX_EVENTS_PAGE}", field="limit")
    task = await load_visible_task(ctx, task_id)
    async with ctx.sessions() as session:
        rows = await events_after(session, task_id, after=after_seq, limit=limit)
    return [event_from_row(row, str(task.user_id)) for row in rows]
