"""Server-Sent Events plumbing shared by the event-stream routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from auth.authenticate import AuthenticationError
from rest_compat.envelope import dumps, error_payload
from rest_compat.errors import describe

SSE_MEDIA_TYPE = "text/event-stream"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
HEARTBEAT_FRAME = b": heartbeat\n\n"


async def with_heartbeats(
    chunks: AsyncIterator[bytes],
    heartbeat_seconds: float,
    *,
    ended: asyncio.Future[bytes] | None = None,
) -> AsyncIterator[bytes]:
    """`chunks`, with a comment line whenever nothing was sent for `heartbeat_seconds`
    (proxies close idle streams); the source is closed as soon as the stream ends.
    When `ended` resolves (the credential was revoked, say), its frame is the last one."""
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(chunks))
            waits: set[asyncio.Future[bytes]] = {pending} if ended is None else {pending, ended}
            done, _ = await asyncio.wait(
                waits, timeout=heartbeat_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            if ended is not None and ended in done:
                yield ended.result()
                return
            if not done:
                yield HEARTBEAT_FRAME
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def credential_ended_frame(reason: str, request_id: str) -> bytes:
    """The last frame of a stream whose credential expired or was revoked."""
    info = describe(AuthenticationError(reason))
    return b"event: error\ndata: " + dumps(error_payload(info, request_id)) + b"\n\n"
