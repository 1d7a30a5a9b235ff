"""Bounded sockets per user (issue #10 item 8): the next socket over
AGENTWIRE_WS_MAX_CONNECTIONS_PER_USER is closed with 4429, on every socket transport,
and a closed socket gives its place back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.attacker import bearer, http, next_frame, ws_init
from tests.support.clients import note, steps
from tests.support.live import LiveServer

LIMIT = 3


async def acked(server: LiveServer, token: str) -> ClientConnection:
    socket = await ws_init(server, {"authorization": f"Bearer {token}"})
    assert (await next_frame(socket))["type"] == "connection_ack"
    return socket


async def refusal(socket: ClientConnection) -> tuple[int, str]:
    """The close code and reason of a socket the server closes before anything else."""
    try:
        frame = await next_frame(socket)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code, closed.rcvd.reason
    finally:
        await socket.close()
    raise AssertionError(f"the socket was not refused: {frame}")


async def test_a_users_socket_over_the_limit_is_closed_with_4429(make_server: Any) -> None:
    async with make_server(ws_max_connections_per_user=LIMIT) as server:
        token = server.token("socket-hoarder")
        submitted = await http(
            server,
            "POST",
            "/api/agent",
            json={"task": "watched", "context": steps(note("a", 1))},
            headers=bearer(token),
        )
        task_id = submitted.json()["data"]["task"]["id"]
        legacy_url = f"ws://127.0.0.1:{server.port}/api/agent/{task_id}/updates"
        # given: the user holds the limit, on graphql-ws and the legacy socket together
        held = [await acked(server, token) for _ in range(LIMIT - 1)]
        legacy = await connect(legacy_url, additional_headers=bearer(token), open_timeout=10)
        assert json.loads(await legacy.recv())["type"] == "connected"

        # when / then: the next socket on either transport is refused with the documented code
        expected = (4429, f"too many open sockets for this user (limit {LIMIT})")
        over = await ws_init(server, {"authorization": f"Bearer {token}"})
        assert await refusal(over) == expected
        legacy_over = await connect(legacy_url, additional_headers=bearer(token), open_timeout=10)
        assert await refusal(legacy_over) == expected

        # another user is not affected
        other = await acked(server, server.token("someone-else"))
        await other.close()

        # a closed socket gives its place back, and refused ones never took one
        await legacy.close()
        held.append(await reopened(server, token))
        assert (
            await refusal(await ws_init(server, {"authorization": f"Bearer {token}"})) == expected
        )
        for socket in held:
            await socket.close()


async def reopened(server: LiveServer, token: str) -> ClientConnection:
    """A socket acknowledged once the server has seen an earlier close (bounded wait)."""
    for _ in range(100):
        socket = await ws_init(server, {"authorization": f"Bearer {token}"})
        try:
            frame = await next_frame(socket)
        except ConnectionClosed:
            await asyncio.sleep(0.05)  # the server has not processed the close yet
            continue
        assert frame["type"] == "connection_ack"
        return socket
    raise AssertionError("the closed socket's place was never given back")
