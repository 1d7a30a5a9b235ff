"""Server pings on every graphql-transport-ws connection, from one timer per process.

Strawberry answers pings but never sends them. Every `interval` seconds each
acknowledged connection gets `{"type": "ping"}`; a connection that has not
answered the previous ping (with a pong, or any other message) by the next
round is closed with 4504, so half-open sockets do not hold subscriptions and
registry rows forever. One loop for all connections costs less memory than a
timer task per socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

logger = logging.getLogger(__name__)

HEARTBEAT_TIMEOUT_CODE = 4504
PING_FRAME = '{"type":"ping"}'


class Pingable(Protocol):
    connection_id: str
    last_seen: float
    ping_sent_at: float | None

    @property
    def acknowledged(self) -> bool: ...

    async def send_text(self, frame: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class HeartbeatMonitor:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.connections: dict[str, Pingable] = {}
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    def add(self, connection: Pingable) -> None:
        self.connections[connection.connection_id] = connection

    def discard(self, connection: Pingable) -> None:
        self.connections.pop(connection.connection_id, None)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="agentwire-ws-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.tick(time.monotonic())
            except Exception:
                logger.exception("heartbeat round failed")

    def tick(self, now: float) -> None:
        for connection in list(self.connections.values()):
            if not connection.acknowledged:
                continue
            sent = connection.ping_sent_at
            if sent is not None and connection.last_seen < sent:
                self._spawn(connection.close(HEARTBEAT_TIMEOUT_CODE, "heartbeat timeout"))
                self.discard(connection)
                continue
            connection.ping_sent_at = now
            self._spawn(connection.send_text(PING_FRAME))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        # A slow socket must not hold up the round for everyone else.
        task = asyncio.ensure_future(coroutine)
        self._sends.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if not task.cancelled():
            task.exception()  # a socket that closed meanwhile: nothing to do
