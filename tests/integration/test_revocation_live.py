"""Revocation and expiry reach open connections (issue 10, item 3).

A revoked session (`agentwire revoke-session`), a revoked API key (`agentwire apikey
revoke`) or an expired token ends every open channel within seconds: graphql-ws closes
with 4403, the legacy WebSocket with 4401 after an error message, an SSE stream ends
with an `error` event. A write on a socket re-checks the credential itself.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from db.models import ApprovalRequest, Task
from tests.integration.test_security_keys import agentwire
from tests.support.attacker import close_code, next_frame, rows_of, ws_init
from tests.support.clients import note, steps
from tests.support.live import LiveServer

Revoke = Callable[[], Awaitable[None]]


@asynccontextmanager
async def credential(server: LiveServer, kind: str) -> AsyncIterator[tuple[dict[str, str], Revoke]]:
    """Headers for a credential of `kind`, and how to end it (revoke it, or wait it out)."""
    user = f"revoked-{uuid.uuid4().hex[:8]}"
    if kind == "session":
        code, token, notes = await agentwire(server, "token", "--user", user, "--session")
        assert code == 0, notes
        sid = jwt.decode(token, options={"verify_signature": False})["sid"]

        async def revoke() -> None:
            status, _, err = await agentwire(server, "revoke-session", sid)
            assert status == 0, err

        yield {"Authorization": f"Bearer {token}"}, revoke
    elif kind == "api_key":
        code, key, notes = await agentwire(
            server, "apikey", "create", "--user", user, "--scopes", "tasks:read,tasks:write"
        )
        assert code == 0, notes

        async def revoke() -> None:
            status, _, err = await agentwire(server, "apikey", "revoke", key.split("_")[1])
            assert status == 0, err

        yield {"X-API-Key": key}, revoke
    else:  # expiry: a token that lapses six seconds from now (the leeway is 0 here)
        token = server.token(user, ttl=6)

        async def revoke() -> None:
            return None

        yield {"Authorization": f"Bearer {token}"}, revoke


def init_payload(headers: dict[str, str]) -> dict[str, str]:
    if "X-API-Key" in headers:
        return {"apiKey": headers["X-API-Key"]}
    return {"authorization": headers["Authorization"]}


async def gated_task(server: LiveServer, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        response = await client.post(
            "/api/agent",
            json={"task": "gated", "context": steps(note("a", 1, approval=True))},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()["data"]["task"]
        for _ in range(200):
            current = (await client.get(f"/api/agent/{task['id']}", headers=headers)).json()
            if current["data"]["task"]["status"] == "awaiting_approval":
                return dict(current["data"]["task"])
            await asyncio.sleep(0.05)
    raise AssertionError("the task never reached its approval gate")


@pytest.fixture
def fast_recheck() -> dict[str, Any]:
    return {"credential_recheck_seconds": 0.2, "jwt_leeway_seconds": 0}


@pytest.mark.parametrize("kind", ["session", "api_key", "expiry"])
async def test_every_open_channel_ends_when_its_credential_does(
    make_server: Any, fast_recheck: dict[str, Any], kind: str
) -> None:
    async with make_server(**fast_recheck) as server, credential(server, kind) as (headers, revoke):
        task = await gated_task(server, headers)
        # given a graphql-ws socket with a live subscription, a legacy socket and an SSE stream
        graphql = await ws_init(server, init_payload(headers))
        assert (await next_frame(graphql))["type"] == "connection_ack"
        query = "subscription($t: ID!) { taskUpdates(taskId: $t, after: 0) { seq } }"
        await graphql.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": {"t": task["id"]}},
                }
            )
        )
        assert (await next_frame(graphql))["type"] == "next"
        legacy = await connect(
            f"ws://127.0.0.1:{server.port}/api/agent/{task['id']}/updates",
            additional_headers=headers,
            open_timeout=10,
        )
        assert json.loads(await legacy.recv())["type"] == "connected"
        sse_frames: list[str] = []

        async def read_sse() -> None:
            async with (
                httpx.AsyncClient(base_url=server.http_url, timeout=30) as client,
                client.stream("GET", f"/api/agent/{task['id']}/stream", headers=headers) as stream,
            ):
                assert stream.status_code == 200
                async for line in stream.aiter_lines():
                    sse_frames.append(line)

        sse = asyncio.create_task(read_sse())
        # when the credential is revoked (or lapses)
        await revoke()
        # then within seconds: 4403 on graphql-ws, 4401 on the legacy socket, the stream ends
        assert await close_code(graphql, timeout=15) == 4403
        legacy_messages: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(15):
                while True:
                    legacy_messages.append(json.loads(await legacy.recv()))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert legacy_messages[-1]["type"] == "error"
        assert legacy_messages[-1]["data"]["code"] == "UNAUTHENTICATED"
        await asyncio.wait_for(sse, 15)
        assert "event: error" in sse_frames
        error = json.loads(sse_frames[sse_frames.index("event: error") + 1].removeprefix("data: "))
        assert error["code"] == "UNAUTHENTICATED"


async def test_a_mutation_on_an_open_socket_rechecks_a_revoked_session(make_server: Any) -> None:
    # a sweep too slow to matter here: only the write's own check can refuse it
    async with (
        make_server(credential_recheck_seconds=60) as server,
        credential(server, "session") as (headers, revoke),
    ):
        graphql = await ws_init(server, init_payload(headers))
        assert (await next_frame(graphql))["type"] == "connection_ack"
        await revoke()
        text = f"after revocation {uuid.uuid4().hex}"
        submit = "mutation($t: String!) { submitTask(input: {task: $t}) { id } }"
        payload = {"query": submit, "variables": {"t": text}}
        await graphql.send(json.dumps({"id": "w", "type": "subscribe", "payload": payload}))
        assert await close_code(graphql) == 4403
        # and nothing was written
        assert await rows_of(server, Task, task=text) == []


async def test_an_approval_on_the_legacy_socket_rechecks_a_revoked_key(make_server: Any) -> None:
    async with (
        make_server(credential_recheck_seconds=60) as server,
        credential(server, "api_key") as (headers, revoke),
    ):
        task = await gated_task(server, headers)
        legacy = await connect(
            f"ws://127.0.0.1:{server.port}/api/agent/{task['id']}/updates",
            additional_headers=headers,
            open_timeout=10,
        )
        assert json.loads(await legacy.recv())["type"] == "connected"
        await revoke()
        approval_id = task["pendingApproval"]["id"]
        await legacy.send(
            json.dumps({"type": "approve", "data": {"approvalId": approval_id, "approved": True}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(15):
                while True:
                    await legacy.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        # and the approval is still pending
        [approval] = await rows_of(server, ApprovalRequest, id=uuid.UUID(approval_id))
        assert approval.status == "pending"
