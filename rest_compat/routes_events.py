"""Fallbacks for clients without the legacy WebSocket: long-polling and Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from resolvers import feeds as feed_resolvers
from resolvers import polling
from resolvers.context import RequestContext
from resolvers.feeds import Start
from rest_compat import durable
from rest_compat.envelope import dumps, success
from rest_compat.inputs import Param
from rest_compat.payloads import EventsPage
from rest_compat.routes_tasks import TASK_ID
from rest_compat.routing import Call, Operation, Reply
from rest_compat.sse import credential_ended_frame, with_heartbeats
from rest_compat.views import EventJson
from subscriptions.envelope import Event
from subscriptions.feeds import TaskFeed
from subscriptions.member import Member
from subscriptions.telemetry import LONG_POLL, SSE, Watch

AFTER = Param(
    "after",
    "query",
    {"type": "integer", "minimum": 0, "maximum": 2**53, "default": 0},
    "Only events with seq greater than this (0: from the first).",
    default=0,
)
WAIT = Param(
    "wait",
    "query",
    {"type": "number", "minimum": 0, "maximum": polling.MAX_WAIT_SECONDS, "default": 0},
    "Seconds to wait for an event when there is none yet (at most 30).",
    default=0,
)
LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": polling.MAX_POLL_EVENTS, "default": 100},
    "At most this many events.",
    default=100,
)
LAST_EVENT_ID = Param(
    "Last-Event-ID",
    "header",
    {"type": "integer", "minimum": 0, "maximum": 2**53},
    "Resume after this seq (browsers send it on reconnect); overrides `after`.",
)
ACCESS_TOKEN = Param(
    "access_token",
    "query",
    # A JWT: base64url parts joined by dots.
    {"type": "string", "maxLength": 4096, "pattern": "^[A-Za-z0-9_.-]+$"},
    "A task token (Mutation.createTaskToken) for clients that cannot send headers, such as "
    "a browser's EventSource. A full user token is refused here with 401: URLs are written "
    "to logs.",
)
T = TypeVar("T")
SSE_MEDIA_TYPE = "text/event-stream"
# How long a browser waits before reconnecting a dropped stream.
SSE_RETRY_MS = 1000


async def _gone(request: Request) -> None:
    """Returns once the client has left or the server begins to shut down (the shutdown
    middleware answers `receive` with `http.disconnect` then, as it does for SSE)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _unless_gone(request: Request, waiting: asyncio.Future[T], default: T) -> T:
    """The poll's answer; `default` if the client left or the server is stopping first,
    so a long-poll never holds a shutdown for its whole `wait`."""
    gone = asyncio.ensure_future(_gone(request))
    try:
        racing: set[asyncio.Future[Any]] = {waiting, gone}
        await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not waiting.done():
            # The client left, the server is stopping, or this request itself was cancelled.
            waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        return await waiting
    return default


async def poll(call: Call) -> Response:
    if durable.is_durable(call):
        return await durable.read(
            call,
            waiting=lambda reading: _unless_gone(
                call.request, asyncio.ensure_future(reading), None
            ),
        )
    after: int = call.params["after"]
    wait_seconds = float(call.params["wait"])
    watch = Watch(LONG_POLL)
    try:
        polled = polling.poll_events(
            call.ctx,
            task_id=call.params["taskId"],
            after=after,
            wait_seconds=wait_seconds,
            limit=call.params["limit"],
        )
        if wait_seconds > 0:
            events = await _unless_gone(call.request, asyncio.ensure_future(polled), [])
        else:
            events = await polled
        for event in events:
            watch.sent(event)
    finally:
        watch.close()
    next_after = events[-1].seq if events and events[-1].seq is not None else after
    page = EventsPage(events=[EventJson.of(e) for e in events], next_after=next_after)
    return success(page.dump())


def sse_frame(event: Event) -> bytes:
    # Ephemeral events (queue_update) carry no id, so they never move the browser's cursor.
    head = f"id: {event.seq}\n" if event.seq is not None else ""
    return f"{head}event: {event.type.value}\ndata: ".encode() + dumps(event.to_wire()) + b"\n\n"


def sse_payload(event: Event) -> str:
    return sse_frame(event).decode()


# Every SSE reader of a task receives the same frames: one group, one render per event.
SSE_GROUP = ("sse", "frame")
# Frames ready for the response; beyond these the hub's member queues, coalesces and,
# when the reader still falls behind, says LAGGED (subscriptions/outbox.py).
SSE_BUFFER = 8


async def _frames(
    feed: TaskFeed, start: Start, heartbeat_seconds: float, ctx: RequestContext, *, resumed: bool
) -> AsyncIterator[bytes]:
    # Ends with an `error` event when the credential expires or is revoked meanwhile.
    ended: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def end(reason: str) -> None:
        if not ended.done():
            ended.set_result(credential_ended_frame(reason, ctx.request_id))

    hub = ctx.services.hub
    ready: asyncio.Queue[str] = asyncio.Queue(SSE_BUFFER)
    member = Member(
        op_id="", prefix="", suffix="", send=ready.put, capacity=hub.outbox_capacity, channel=SSE
    )
    delivering = asyncio.ensure_future(
        member.run(hub, feed, group_key=SSE_GROUP, render=sse_payload, start=start, resumed=resumed)
    )

    async def encoded() -> AsyncIterator[bytes]:
        yield f"retry: {SSE_RETRY_MS}\n\n".encode()
        while True:
            frame = asyncio.ensure_future(ready.get())
            await asyncio.wait({frame, delivering}, return_when=asyncio.FIRST_COMPLETED)
            if not frame.done():
                frame.cancel()
                delivering.result()  # the delivery failed: end the stream with its error
                return
            yield frame.result().encode()

    credentials = ctx.services.credentials
    channel = credentials.open(ctx.principal, end) if credentials is not None else None
    try:
        async for chunk in with_heartbeats(encoded(), heartbeat_seconds, ended=ended):
            yield chunk
    finally:
        delivering.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await delivering
        if channel is not None and credentials is not None:
            credentials.close(channel)


def stream_operation(heartbeat_seconds: float) -> Operation:
    async def stream(call: Call) -> Response:
        after = call.params["after"]
        last_event_id = call.params["Last-Event-ID"]
        if last_event_id is not None:
            after = last_event_id
        feed, start = await feed_resolvers.open_task_stream(
            call.ctx, task_id=call.params["taskId"], after=after
        )
        return StreamingResponse(
            _frames(feed, start, heartbeat_seconds, call.ctx, resumed=bool(after)),
            media_type=SSE_MEDIA_TYPE,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return Operation(
        "GET",
        "/agent/{taskId}/stream",
        "streamTaskEvents",
        "Stream a task's events (Server-Sent Events)",
        "Each event is sent as `id: <seq>`, `event: <type>`, `data: <envelope JSON>`. "
        "Stored events after the cursor come first, then live ones, with no gap and no "
        "repeat. Reconnect with `Last-Event-ID` (browsers do it themselves) to resume. "
        f"A `: heartbeat` comment is sent every {heartbeat_seconds:g} s while quiet.",
        stream,
        replies=(Reply(200, "An endless text/event-stream.", None, media_type=SSE_MEDIA_TYPE),),
        errors=(401, 403, 404, 422, 429, 503),
        params=(TASK_ID, AFTER, LAST_EVENT_ID, ACCESS_TOKEN),
        tag="events",
        auth="query_token",
    )


def poll_operation(heartbeat_seconds: float) -> Operation:
    async def handle(call: Call) -> Response:
        if call.params["live"] == "sse":
            return await durable.follow(call, heartbeat_seconds)
        return await poll(call)

    return Operation(
        "GET",
        "/agent/{taskId}/events",
        "pollTaskEvents",
        "Poll a task's events (long-polling fallback; Durable Streams reads)",
        "Stored events with seq greater than `after`, oldest first. When there are none yet, "
        "waits up to `wait` seconds for one before answering with an empty list. Loop with "
        "`after = nextAfter`. With `offset` or `live` it is a Durable Streams read instead "
        "(docs/rest.md): a JSON array of events with `Stream-Next-Offset` and "
        "`Stream-Up-To-Date`, 204 when a long-poll times out, 410 for a pruned offset, "
        "or Server-Sent Events with `live=sse`.",
        handle,
        replies=(
            Reply(
                200,
                "Events after the cursor; with `offset` or `live=long-poll` a JSON array of "
                "events (Durable Streams), with `live=sse` a text/event-stream.",
                EventsPage,
                headers=(durable.NEXT_OFFSET, durable.UP_TO_DATE, durable.CURSOR),
                alternatives=(
                    (
                        "application/json",
                        {"type": "array", "items": {"$ref": "#/components/schemas/EventJson"}},
                    ),
                    (SSE_MEDIA_TYPE, {"type": "string"}),
                ),
            ),
            Reply(
                204,
                "Durable Streams long-poll: nothing new within `timeout`.",
                None,
                headers=(durable.NEXT_OFFSET, durable.UP_TO_DATE, durable.CURSOR),
            ),
        ),
        errors=(401, 403, 404, 410, 422, 429, 503),
        params=(TASK_ID, AFTER, WAIT, LIMIT, ACCESS_TOKEN, *durable.PARAMS),
        tag="events",
        auth="query_token",
    )
