"""Long-polling: stored events after a cursor, waiting a bounded time when there are none yet."""

from __future__ import annotations

import asyncio
import uuid

from resolvers.access import load_visible_task
from resolvers.context import RequestContext
from resolvers.errors import ValidationFailedError
from resolvers.limits import authorize
from subscriptions.envelope import Event
from subscriptions.feeds import TaskFeed

MAX_WAIT_SECONDS = 30.0
MAX_POLL_EVENTS = 500
# The bus only wakes us; re-reading the log this often covers a dropped notification.
RECHECK_SECONDS = 1.0


async def poll_events(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    after: int,
    wait_seconds: float,
    limit: int = MAX_POLL_EVENTS,
) -> list[Event]:
    """Stored events with `seq > after`, oldest first; empty only if none came within the wait.

    When `after` is older than the retained log, the answer is one SNAPSHOT event (the
    whole task as of its seq, which the client then polls after), as SSE and the sockets
    start: the client learns that it missed events instead of silently skipping them.
    """
    await authorize(ctx, "tasks:read")
    if after < 0:
        raise ValidationFailedError("after must be 0 or a seq from an earlier event", field="after")
    if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
        raise ValidationFailedError(
            f"wait must be from 0 to {MAX_WAIT_SECONDS:g} seconds", field="wait"
        )
    if not 1 <= limit <= MAX_POLL_EVENTS:
        raise ValidationFailedError(f"limit must be from 1 to {MAX_POLL_EVENTS}", field="limit")
    task = await load_visible_task(ctx, task_id)
    user_id = str(task.user_id)
    feed = TaskFeed(sessions=ctx.sessions, bus=ctx.services.bus, task_id=task_id, user_id=user_id)
    if await feed.needs_snapshot(after):
        snapshot = await feed.snapshot()
        if snapshot is not None:
            return [snapshot]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    # Subscribe before the first read, so an event committed in between still wakes us.
    async with ctx.services.bus.subscribe(feed.channel, maxsize=16) as inbox:
        while True:
            inbox.take()  # what the read below sees needs no wake-up
            events = await feed.read_after(after, limit)
            remaining = deadline - loop.time()
            if events or remaining <= 0:
                return events
            await inbox.wait(min(remaining, RECHECK_SECONDS))
