"""Benchmark clients: many graphql-transport-ws subscribers, or many plain sockets, in one process.

Each socket has a reader that stamps every frame on arrival; the driver waits until
every socket has a given frame, then reads the latencies. Clients offer
permessage-deflate, as browsers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

QUERY = (
    "subscription($taskId: ID!, $after: Int) { taskUpdates(taskId: $taskId, after: $after) "
    "{ id type seq timestamp priority data { taskId progress message step { id name } } } }"
)
# Handshakes in flight at once: the rate limiter's Redis pool (50) must keep up.
BATCH = 50


class _Fleet:
    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self._changed = asyncio.Event()
        self.frame_bytes = 0
        # Sockets that got an error or were closed: reported, and not waited for.
        self.failed: list[str] = []

    @property
    def connected(self) -> int:
        return len(self.sockets)

    def record(self, key: int, sent_ms: float, size: int) -> None:
        self.arrivals[key].append(time.time() * 1000 - sent_ms)
        self.frame_bytes = max(self.frame_bytes, size)
        self._changed.set()

    async def wait_all(self, key: int, timeout: float = 120) -> None:
        async with asyncio.timeout(timeout):
            while len(self.arrivals[key]) < len(self.sockets) - len(self.failed):
                self._changed.clear()
                await self._changed.wait()

    def latencies(self, key: int) -> list[float]:
        return list(self.arrivals[key])

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        for index in range(0, len(self.sockets), BATCH):
            batch = self.sockets[index : index + BATCH]
            await asyncio.gather(*(s.close() for s in batch), return_exceptions=True)
        self.sockets.clear()
        self.readers.clear()


class GraphQLSubscribers(_Fleet):
    def __init__(self, port: int, token: str, task_id: str) -> None:
        super().__init__()
        self.url = f"ws://127.0.0.1:{port}/graphql"
        self.token = token
        self.task_id = task_id

    async def open(self, count: int, *, after: int) -> None:
        for index in range(0, count, BATCH):
            size = min(BATCH, count - index)
            await asyncio.gather(*(self._open_one(after) for _ in range(size)))

    async def _open_one(self, after: int) -> None:
        ws = await connect(
            self.url, subprotocols=["graphql-transport-ws"], ping_interval=None, open_timeout=60
        )  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}
        await ws.send(orjson.dumps(init).decode())
        ack = orjson.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        variables = {"taskId": self.task_id, "after": after}
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": QUERY, "variables": variables},
        }
        await ws.send(orjson.dumps(subscribe).decode())
        self.sockets.append(ws)
        self.readers.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                message = orjson.loads(frame)
                if message["type"] == "ping":
                    await ws.send('{"type":"pong"}')
                    continue
                if message["type"] != "next":
                    self.fail(f"{message['type']}: {str(message.get('payload'))[:120]}")
                    return
                event = message["payload"]["data"]["taskUpdates"]
                self.record(int(event["seq"]), float(event["timestamp"]), len(frame))
        except ConnectionClosed:
            pass
        self.fail(f"closed {ws.close_code} {ws.close_reason}")

    def fail(self, why: str) -> None:
        self.failed.append(why)
        self._changed.set()


class PlainSockets(_Fleet):
    def __init__(self, port: int) -> None:
        super().__init__()
        self.url = f"ws://127.0.0.1:{port}/bench/plain"
        self._count = 0

    async def open(self, count: int) -> None:
        for index in range(0, count, BATCH):
            size = min(BATCH, count - index)
            await asyncio.gather(*(self._open_one() for _ in range(size)))

    async def _open_one(self) -> None:
        ws = await connect(self.url, ping_interval=None, open_timeout=60)
        self.sockets.append(ws)
        self.readers.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: ClientConnection) -> None:
        seen = 0
        with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
            async for frame in ws:
                seen += 1
                head = frame[: frame.index("}") + 1] if isinstance(frame, str) else "{}"
                self.record(seen, float(orjson.loads(head)["t"]), len(frame))
