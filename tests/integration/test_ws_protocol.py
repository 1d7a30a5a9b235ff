"""Bad input on a graphql-transport-ws socket: each case gets its close code or error,
and the server keeps serving every other connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.clients import Api, collect, steps, wait
from tests.support.live import LiveServer
from tests.support.operations import operation

PROTOCOL = "graphql-transport-ws"


@contextlib.asynccontextmanager
async def raw_socket(server: LiveServer) -> AsyncIterator[ClientConnection]:
    async with connect(
        server.ws_url, subprotocols=[PROTOCOL], open_timeout=10, max_size=None
    ) as ws:
        yield ws


async def send(ws: ClientConnection, message: Any) -> None:
    await ws.send(message if isinstance(message, str) else json.dumps(message))


async def receive(
    ws: ClientConnection, timeout: float = 5.0, *, pings: bool = False
) -> dict[str, Any]:
    """The next message; the server's heartbeat pings are answered and skipped unless asked."""
    while True:
        message = dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
        if pings or message != {"type": "ping"}:
            return message
        await send(ws, {"type": "pong"})


async def init(ws: ClientConnection, token: str) -> None:
    await send(ws, {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert (await receive(ws))["type"] == "connection_ack"


async def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Read until the server closes the socket; its close code."""
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    return ws.close_code


def subscribe(op_id: str, task_id: str, after: int | None = 0) -> dict[str, Any]:
    return {
        "id": op_id,
        "type": "subscribe",
        "payload": {
            "query": operation("TaskUpdates"),
            "variables": {"taskId": task_id, "after": after},
        },
    }


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "valid JSON"),
        ("[1, 2]", "JSON object"),
        ("42", "JSON object"),
        ('"connection_init"', "JSON object"),
        ('{"type": 7}', "string type"),
        ('{"type": "subscribe", "id": "1", "payload": "query"}', "payload"),
    ],
)
async def test_a_frame_that_is_not_a_protocol_message_closes_with_4400(
    server: LiveServer, frame: str, reason: str
) -> None:
    async with raw_socket(server) as ws:
        await init(ws, server.token())
        await send(ws, frame)
        assert await close_code(ws) == 4400
        assert ws.close_reason is not None and reason in ws.close_reason


async def test_unknown_message_type_closes_with_4400(server: LiveServer) -> None:
    async with raw_socket(server) as ws:
        await init(ws, server.token())
        await send(ws, {"type": "hello"})
        assert await close_code(ws) == 4400


async def test_subscribe_before_connection_init_closes_with_4401(
    server: LiveServer, alice: Api
) -> None:
    task = await alice.submit("early", context=steps(wait(10)))
    async with raw_socket(server) as ws:
        await send(ws, subscribe("1", task["id"]))
        assert await close_code(ws) == 4401


async def test_second_connection_init_closes_with_4429(server: LiveServer) -> None:
    async with raw_socket(server) as ws:
        await init(ws, server.token())
        await send(ws, {"type": "connection_init", "payload": {}})
        assert await close_code(ws) == 4429


async def test_duplicate_operation_id_closes_with_4409(server: LiveServer, alice: Api) -> None:
    task = await alice.submit("twice", context=steps(wait(2000)))
    async with raw_socket(server) as ws:
        await init(ws, alice.token)
        await send(ws, subscribe("same", task["id"]))
        assert (await receive(ws))["id"] == "same"
        await send(ws, subscribe("same", task["id"]))
        assert await close_code(ws) == 4409


async def test_oversized_frame_closes_with_1009(server: LiveServer) -> None:
    async with raw_socket(server) as ws:
        await init(ws, server.token())
        await send(ws, "x" * (server.settings.ws_max_message_bytes + 1))
        assert await close_code(ws) == 1009


async def test_document_that_does_not_parse_closes_with_4400(server: LiveServer) -> None:
    async with raw_socket(server) as ws:
        await init(ws, server.token())
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": "subscription {"}})
        assert await close_code(ws) == 4400


async def test_invalid_document_is_an_error_and_the_socket_stays_open(server: LiveServer) -> None:
    async with raw_socket(server) as ws:
        await init(ws, server.token())
        query = "subscription { taskUpdates(taskId: 1) { nope } }"
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": query}})
        error = await receive(ws)
        assert error["type"] == "error" and error["id"] == "1"
        assert "nope" in error["payload"][0]["message"]
        await send(ws, {"type": "ping"})
        assert (await receive(ws))["type"] == "pong"


async def test_subscribing_to_another_users_task_is_not_found_and_the_socket_stays_open(
    server: LiveServer, alice: Api, bob: Api
) -> None:
    task = await alice.submit("mine", context=steps(wait(10)))
    async with raw_socket(server) as ws:
        await init(ws, bob.token)
        await send(ws, subscribe("1", task["id"]))
        error = await receive(ws)
        assert error == {
            "id": "1",
            "type": "error",
            "payload": [
                {
                    "message": f"task {task['id']} was not found",
                    "path": ["taskUpdates"],
                    "extensions": error["payload"][0]["extensions"],
                }
            ],
        }
        assert error["payload"][0]["extensions"]["code"] == "NOT_FOUND"
        # the id is free again and the connection still serves
        await send(ws, {"type": "ping"})
        assert (await receive(ws))["type"] == "pong"


async def test_bad_sockets_do_not_disturb_a_healthy_subscriber(
    server: LiveServer, alice: Api
) -> None:
    task = await alice.submit("steady", context=steps(*(wait(80) for _ in range(5))))
    async with alice.websocket() as healthy:
        watcher = asyncio.create_task(
            collect(
                healthy,
                "TaskUpdates",
                taskId=task["id"],
                after=0,
                until=lambda e: e["type"] == "COMPLETED",
            )
        )
        for frame in ("{", "[]", '{"type":"nope"}', "x" * (1024 * 1024 + 10)):
            async with raw_socket(server) as ws:
                await init(ws, alice.token)
                await send(ws, frame)
                assert await close_code(ws) in (4400, 1009)
        events = await watcher
    seqs = [e["seq"] for e in events if e["seq"] is not None]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_permessage_deflate_is_offered(server: LiveServer) -> None:
    async with raw_socket(server) as ws:
        assert ws.response is not None
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in extensions
