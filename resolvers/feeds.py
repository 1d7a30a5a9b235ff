"""Live feed use cases: authorize, then say where a subscriber starts (a snapshot or a cursor)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from resolvers.access import load_visible_task
from resolvers.context import RequestContext
from resolvers.errors import ValidationFailedError
from resolvers.limits import require_scope, throttle
from subscriptions.envelope import Event, InvalidCursorError, decode_event_cursor
from subscriptions.feeds import ApprovalFeed, TaskFeed, UserFeed
from subscriptions.telemetry import GRAPHQL_HTTP, Watch

Start = Event | int
"""A SNAPSHOT event to send first, or the position to resume after."""


async def open_task_feed(
    ctx: RequestContext, *, task_id: uuid.UUID, after: int | None
) -> tuple[TaskFeed, Start]:
    """The task's feed if the caller may see it; a snapshot when `after` is absent or too old."""
    require_scope(ctx, "tasks:read")
    if after is not None and after < 0:
        raise ValidationFailedError("after must be 0 or a seq from an earlier event", field="after")
    task = await load_visible_task(ctx, task_id)
    feed = TaskFeed(
        sessions=ctx.sessions, bus=ctx.services.bus, task_id=task_id, user_id=str(task.user_id)
    )
    if await feed.needs_snapshot(after):
        snapshot = await feed.snapshot()
        if snapshot is not None:
            return feed, snapshot
    return feed, after or 0


async def open_task_stream(
    ctx: RequestContext, *, task_id: uuid.UUID, after: int
) -> tuple[TaskFeed, Start]:
    """SSE and the legacy socket: as `open_task_feed`, and opening the stream spends the
    caller's `subscribe` budget, as a graphql-ws `subscribe` does (server/ws_guard.py)."""
    require_scope(ctx, "tasks:read")
    await throttle(ctx, "subscribe")
    return await open_task_feed(ctx, task_id=task_id, after=after)


async def open_user_feed(ctx: RequestContext, *, after: str | None) -> tuple[UserFeed, int]:
    """Every task of the caller: after `after` (a cursor), or from now when it is absent."""
    require_scope(ctx, "tasks:read", across_tasks=True)
    feed = UserFeed(sessions=ctx.sessions, bus=ctx.services.bus, user_id=ctx.principal.user_id)
    return feed, await _start(feed, after)


async def open_approval_feed(ctx: RequestContext, *, after: str | None) -> tuple[ApprovalFeed, int]:
    """The approval events of every task the caller may decide (the inbox's rule: their
    own, those naming one of their roles, all for an admin), after `after` or from now."""
    require_scope(ctx, "tasks:read", across_tasks=True)
    principal = ctx.principal
    feed = ApprovalFeed(
        sessions=ctx.sessions,
        bus=ctx.services.bus,
        user_id=principal.user_id,
        roles=tuple(principal.roles),
        is_admin=principal.is_admin,
    )
    return feed, await _start(feed, after)


async def _start(feed: UserFeed | ApprovalFeed, after: str | None) -> int:
    if after is None:
        return await feed.end_position()
    try:
        return decode_event_cursor(after)
    except InvalidCursorError as error:
        raise ValidationFailedError(
            "after must be the cursor of an event you received", field="after"
        ) from error


async def replay_then_live(
    feed: TaskFeed | UserFeed | ApprovalFeed, start: Start, *, resumed: bool = False
) -> AsyncIterator[Event]:
    """One subscriber's own stream (used where the shared fan-out does not apply: GraphQL
    subscriptions over SSE or multipart HTTP)."""
    watch = Watch(GRAPHQL_HTTP, resumed=resumed)
    try:
        position = start
        if isinstance(start, Event):
            watch.sent(start)
            yield start
            position = feed.position(start) or 0
        assert isinstance(position, int)
        async for event in feed.live(position):
            watch.sent(event)
            yield event
    finally:
        watch.close()
