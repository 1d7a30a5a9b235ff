"""Durable Streams reads of a task's events (`offset`, `live=long-poll|sse`) on the polling route.

The protocol (github.com/durable-streams/durable-streams, PROTOCOL.md) is a renderer over
the same stored log as every other channel: a catch-up read is a poll, a long-poll is a
waiting poll that answers 204 when nothing came, and `live=sse` follows `TaskFeed.live`.
Only stored events are part of the stream; ephemeral ones (queue_update) have no offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import Response, StreamingResponse

from resolvers import polling
from resolvers.context import RequestContext
from resolvers.errors import UnavailableError
from rest_compat.envelope import dumps
from rest_compat.inputs import Param
from rest_compat.routing import Call
from rest_compat.sse import SSE_HEADERS, SSE_MEDIA_TYPE, credential_ended_frame, with_heartbeats
from rest_compat.views import EventJson
from subscriptions.envelope import Event
from subscriptions.feeds import TaskFeed
from subscriptions.telemetry import LONG_POLL, SSE, Watch

NEXT_OFFSET = "Stream-Next-Offset"
UP_TO_DATE = "Stream-Up-To-Date"
CURSOR = "Stream-Cursor"
# Task events are the caller's own: never cached by a shared proxy.
READ_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# The protocol's cursor: 20-second intervals counted from its epoch (2024-10-09T00:00Z).
CURSOR_EPOCH = 1728432000
CURSOR_INTERVAL_SECONDS = 20
DEFAULT_LONG_POLL_SECONDS = 20.0

OFFSET = Param(
    "offset",
    "query",
    {"type": "string", "maxLength": polling.OFFSET_DIGITS, "pattern": "^(-1|now|[0-9]+)$"},
    "Durable Streams: read after this offset (a `Stream-Next-Offset`; `-1` the start, `now` "
    "the tail). With `offset` or `live` the answer is a JSON array of events with the "
    "protocol's headers instead of the `after` page.",
)
LIVE = Param(
    "live",
    "query",
    {"type": "string", "enum": ["long-poll", "sse"]},
    "Durable Streams live mode: `long-poll` waits up to `timeout` for an event (204 when "
    "none came); `sse` streams `data` and `control` events.",
)
CURSOR_PARAM = Param(
    "cursor",
    "query",
    {"type": "string", "maxLength": 32},
    "Durable Streams: the last `Stream-Cursor`, echoed (only for proxy collapsing; one "
    "this server did not issue is ignored).",
)
TIMEOUT = Param(
    "timeout",
    "query",
    {
        "type": "number",
        "minimum": 0,
        "maximum": polling.MAX_WAIT_SECONDS,
        "default": DEFAULT_LONG_POLL_SECONDS,
    },
    "Durable Streams long-poll: seconds to wait for an event (at most 30).",
    default=DEFAULT_LONG_POLL_SECONDS,
)
PARAMS = (OFFSET, LIVE, CURSOR_PARAM, TIMEOUT)


def is_durable(call: Call) -> bool:
    return call.params["offset"] is not None or call.params["live"] is not None


def stream_cursor(echoed: str | None) -> str:
    """The current interval; past the client's cursor when it already has this one, so a
    proxy never answers the same cached response forever (PROTOCOL.md section 8.1)."""
    interval = int((time.time() - CURSOR_EPOCH) // CURSOR_INTERVAL_SECONDS)
    if echoed is not None and echoed.isascii() and echoed.isdigit() and int(echoed) >= interval:
        jitter_seconds = random.randint(1, 3600)  # not a secret: only spreads cursors
        interval = int(echoed) + max(1, jitter_seconds // CURSOR_INTERVAL_SECONDS)
    return str(interval)


def _body(events: list[Event]) -> bytes:
    return dumps([EventJson.of(event).dump() for event in events])


async def read(
    call: Call, *, waiting: Callable[[Awaitable[polling.StreamRead]], Awaitable[object]]
) -> Response:
    """A catch-up or long-poll read; `waiting` runs the resolver so that the client's
    leaving (or a shutdown) ends a long-poll early, as for the `after` form."""
    live = call.params["live"]
    long_poll = live == "long-poll"
    watch = Watch(LONG_POLL)
    try:
        reading = polling.read_stream(
            call.ctx,
            task_id=call.params["taskId"],
            offset=call.params["offset"],
            wait_seconds=float(call.params["timeout"]) if long_poll else 0.0,
            limit=call.params["limit"],
        )
        result = await waiting(reading) if long_poll else await reading
        if not isinstance(result, polling.StreamRead):
            # The client left (nobody reads this) or the server is stopping: read again,
            # elsewhere. A 204 would need a real offset, which `-1` or `now` is not.
            raise UnavailableError("the server is shutting down; read again from the same offset")
        for event in result.events:
            watch.sent(event)
    finally:
        watch.close()
    headers = {**READ_HEADERS, NEXT_OFFSET: result.next_offset}
    if result.up_to_date:
        headers[UP_TO_DATE] = "true"
    if long_poll:
        headers[CURSOR] = stream_cursor(call.params["cursor"])
        if not result.events:
            return Response(status_code=204, headers=headers)
    return Response(_body(result.events), media_type="application/json", headers=headers)


def _control(last: int, cursor: str, *, up_to_date: bool) -> bytes:
    control: dict[str, object] = {
        "streamNextOffset": polling.format_offset(last),
        "streamCursor": cursor,
    }
    if up_to_date:
        control["upToDate"] = True
    return b"event: control\ndata: " + dumps(control) + b"\n\n"


async def _events(feed: TaskFeed, after: int, end: int, cursor: str) -> AsyncIterator[bytes]:
    watch = Watch(SSE, resumed=after > 0)
    try:
        if after >= end:
            yield _control(after, cursor, up_to_date=True)
        async for event in feed.live(after):
            if event.seq is None:
                continue  # ephemeral: not part of the durable stream
            watch.sent(event)
            yield b"event: data\ndata: " + _body([event]) + b"\n\n"
            yield _control(event.seq, cursor, up_to_date=event.seq >= end)
    finally:
        watch.close()


async def _until_credential_ends(
    chunks: AsyncIterator[bytes], ctx: RequestContext, heartbeat_seconds: float
) -> AsyncIterator[bytes]:
    ended: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def end(reason: str) -> None:
        if not ended.done():
            ended.set_result(credential_ended_frame(reason, ctx.request_id))

    credentials = ctx.services.credentials
    channel = credentials.open(ctx.principal, end) if credentials is not None else None
    try:
        async for chunk in with_heartbeats(chunks, heartbeat_seconds, ended=ended):
            yield chunk
    finally:
        if channel is not None and credentials is not None:
            credentials.close(channel)
        with contextlib.suppress(Exception):
            await chunks.aclose()  # type: ignore[attr-defined]


async def follow(call: Call, heartbeat_seconds: float) -> Response:
    feed, after, end = await polling.open_stream_follow(
        call.ctx, task_id=call.params["taskId"], offset=call.params["offset"]
    )
    cursor = stream_cursor(call.params["cursor"])
    return StreamingResponse(
        _until_credential_ends(_events(feed, after, end, cursor), call.ctx, heartbeat_seconds),
        media_type=SSE_MEDIA_TYPE,
        headers={**SSE_HEADERS, "X-Content-Type-Options": "nosniff"},
    )
