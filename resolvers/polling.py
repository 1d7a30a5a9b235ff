"""Long-polling: stored events after a cursor, waiting a bounded time when there are none yet."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from resolvers.access import load_visible_task
from resolvers.context import RequestContext
from resolvers.errors import GoneError, ValidationFailedError
from resolvers.limits import authorize, require_scope, throttle
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
    feed = await _task_feed(ctx, task_id)
    if await feed.needs_snapshot(after):
        snapshot = await feed.snapshot()
        if snapshot is not None:
            return [snapshot]
    return await _wait_for_events(ctx, feed, after, wait_seconds, limit)


async def _task_feed(ctx: RequestContext, task_id: uuid.UUID) -> TaskFeed:
    task = await load_visible_task(ctx, task_id)
    user_id = str(task.user_id)
    return TaskFeed(sessions=ctx.sessions, bus=ctx.services.bus, task_id=task_id, user_id=user_id)


async def _wait_for_events(
    ctx: RequestContext, feed: TaskFeed, after: int, wait_seconds: float, limit: int
) -> list[Event]:
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


# Durable Streams reads (https://github.com/durable-streams/durable-streams PROTOCOL.md).
# An offset is the seq of the last event read, zero-padded so that offsets sort
# lexicographically as the protocol requires; `-1` is the start and `now` the tail.
OFFSET_DIGITS = 16  # 2**53 has 16 digits
OFFSET_START = "-1"
OFFSET_NOW = "now"


def format_offset(seq: int) -> str:
    return str(seq).zfill(OFFSET_DIGITS)


def parse_offset(raw: str | None) -> int | None:
    """The seq to read after (0 for the start), or None for `now`; a malformed offset is a 422."""
    if raw is None or raw == OFFSET_START:
        return 0
    if raw == OFFSET_NOW:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > OFFSET_DIGITS or int(raw) > 2**53:
        raise ValidationFailedError(
            "offset must be -1, now, or a Stream-Next-Offset from an earlier read", field="offset"
        )
    return int(raw)


@dataclass(frozen=True, slots=True)
class StreamRead:
    events: list[Event]
    next_offset: str
    up_to_date: bool


async def _open_stream(
    ctx: RequestContext, task_id: uuid.UUID, offset: str | None
) -> tuple[TaskFeed, int]:
    after = parse_offset(offset)
    feed = await _task_feed(ctx, task_id)
    if after is None:
        return feed, await feed.end_position()
    if after > 0 and await feed.needs_snapshot(after):
        # The protocol's answer for a pruned position; the client starts again from a
        # snapshot (GET /api/agent/{taskId}, or a poll with `after`) and reads on from its seq.
        raise GoneError(
            f"offset {offset} is older than the oldest event still stored for this task",
            hint="read the task (GET /api/agent/{taskId}) and continue from its lastSeq",
        )
    return feed, after


async def read_stream(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    offset: str | None,
    wait_seconds: float,
    limit: int = MAX_POLL_EVENTS,
) -> StreamRead:
    """A catch-up (`wait_seconds` 0) or long-poll read of the task's stored events after
    `offset`; `up_to_date` when it holds everything stored at the time of the read."""
    await authorize(ctx, "tasks:read")
    if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
        raise ValidationFailedError(
            f"timeout must be from 0 to {MAX_WAIT_SECONDS:g} seconds", field="timeout"
        )
    feed, after = await _open_stream(ctx, task_id, offset)
    events = await _wait_for_events(ctx, feed, after, wait_seconds, limit)
    last = events[-1].seq if events and events[-1].seq is not None else after
    return StreamRead(events, format_offset(last), up_to_date=len(events) < limit)


async def open_stream_follow(
    ctx: RequestContext, *, task_id: uuid.UUID, offset: str | None
) -> tuple[TaskFeed, int, int]:
    """A live (SSE) read: the feed, the seq to follow after, and the seq stored last now.
    Opening it spends the caller's `subscribe` budget, as every live stream does."""
    require_scope(ctx, "tasks:read")
    await throttle(ctx, "subscribe")
    feed, after = await _open_stream(ctx, task_id, offset)
    return feed, after, await feed.end_position()
