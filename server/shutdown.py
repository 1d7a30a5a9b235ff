"""Graceful shutdown: open streams end when the server stops, so SIGTERM is never held hostage.

uvicorn waits for every running response before it shuts the app down, and an SSE stream
(or a GraphQL subscription over SSE) never ends on its own. When the server begins to shut
down, every streaming response is told its client went away (`http.disconnect`), which
Starlette's StreamingResponse answers by ending the stream; clients resume with
`Last-Event-ID` or `after`. Ordinary requests finish within the grace period
(`AGENTWIRE_SHUTDOWN_GRACE_SECONDS`), after which uvicorn cancels what is left.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DISCONNECT: Message = {"type": "http.disconnect"}


class Shutdown:
    """Set once the server has begun to shut down."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def begin(self) -> None:
        self.event.set()


class ShutdownMiddleware:
    """Turn a shutdown into `http.disconnect` for any response still reading `receive`."""

    def __init__(self, app: ASGIApp, shutdown: Shutdown) -> None:
        self.app = app
        self.shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def receive_or_shutdown() -> Message:
            nonlocal body_done
            # Reading the body costs nothing extra; only a wait after it (a stream
            # listening for disconnect) races the shutdown.
            if not body_done:
                message = await receive()
                body_done = message["type"] != "http.request" or not message.get("more_body")
                return message
            if self.shutdown.event.is_set():
                return _DISCONNECT
            received = asyncio.ensure_future(receive())
            stopping = asyncio.ensure_future(self.shutdown.event.wait())
            done, _ = await asyncio.wait({received, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if received in done:
                stopping.cancel()
                return received.result()
            received.cancel()
            return _DISCONNECT

        open_body = False

        async def send_and_track(message: Message) -> None:
            nonlocal open_body
            if message["type"] == "http.response.start":
                open_body = True
            elif message["type"] == "http.response.body":
                open_body = bool(message.get("more_body"))
            await send(message)

        await self.app(scope, receive_or_shutdown, send_and_track)
        if open_body and self.shutdown.event.is_set():
            # The stream was ended for the shutdown, not by a client that left: finish
            # the chunked body so the client sees a clean end and resumes.
            await send({"type": "http.response.body", "body": b"", "more_body": False})


class GracefulServer(uvicorn.Server):
    """uvicorn's server, ending open streams as soon as shutdown begins."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown) -> None:
        super().__init__(config)
        self._shutdown = shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._shutdown.begin()
        await super().shutdown(sockets)
