"""API keys on REST and on the legacy WebSocket: scopes decide, 403 changes nothing."""

from __future__ import annotations

import json
import uuid

from websockets.asyncio.client import connect

from tests.support.attacker import api_key
from tests.support.clients import note, steps
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error


def keyed(server: LiveServer, key: str) -> Rest:
    client = Rest(server, None)
    client.headers = lambda **extra: {"X-API-Key": key, **extra}  # type: ignore[method-assign]
    return client


async def test_a_read_only_key_reads_but_cannot_write(server: LiveServer) -> None:
    user = f"keyed-{uuid.uuid4().hex[:8]}"
    owner = Rest(server, server.token(user))
    task = await owner.submit("owned", context=steps(note("a", 1)))
    await owner.wait_status(task["id"], "completed")
    reader = keyed(server, await api_key(server, user, ["tasks:read"]))
    # when
    read = await reader.request("GET", f"/api/agent/{task['id']}")
    denied = await reader.request("POST", "/api/agent", json={"task": "not allowed"})
    undo = await reader.request("POST", f"/api/agent/{task['id']}/undo")
    # then
    assert read.status_code == 200
    assert read.json()["data"]["task"]["id"] == task["id"]
    error = assert_error(denied, 403, "FORBIDDEN", "auth_error")
    assert error["message"] == "this credential lacks the 'tasks:write' scope"
    assert_error(undo, 403, "FORBIDDEN", "auth_error")
    history = (await owner.request("GET", "/api/agent/history")).json()["data"]
    assert [t["id"] for t in history["tasks"]] == [task["id"]]
    assert history["tasks"][0]["artifacts"] == {"a": 1}


async def test_a_wrong_key_is_401(server: LiveServer) -> None:
    response = await keyed(server, "awk_not-a-real-key").request("GET", "/api/agent/history")
    assert_error(response, 401, "UNAUTHENTICATED", "auth_error")


async def test_the_legacy_socket_accepts_a_key_in_a_header_or_the_first_message(
    server: LiveServer,
) -> None:
    user = f"keyed-{uuid.uuid4().hex[:8]}"
    owner = Rest(server, server.token(user))
    task = await owner.submit("watched", context=steps(note("a", 1)))
    key = await api_key(server, user, ["tasks:read"])
    url = f"ws://127.0.0.1:{server.port}/api/agent/{task['id']}/updates"
    async with connect(url, additional_headers={"X-API-Key": key}, open_timeout=10) as ws:
        connected = json.loads(await ws.recv())
    assert connected["type"] == "connected"
    assert connected["data"]["subject"] == user
    async with connect(url, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "auth", "apiKey": key}))
        connected = json.loads(await ws.recv())
        first = json.loads(await ws.recv())
    assert connected["type"] == "connected"
    assert (first["type"], first["seq"]) == ("status_change", 1)


async def test_a_write_only_key_submits_and_gets_its_task_back_but_cannot_read(
    server: LiveServer,
) -> None:
    user = f"keyed-{uuid.uuid4().hex[:8]}"
    writer = keyed(server, await api_key(server, user, ["tasks:write"]))
    created = await writer.request("POST", "/api/agent", json={"task": "write only"})
    assert created.status_code == 201
    task = created.json()["data"]["task"]
    assert task["task"] == "write only"
    denied = await writer.request("GET", f"/api/agent/{task['id']}")
    error = assert_error(denied, 403, "FORBIDDEN", "auth_error")
    assert error["message"] == "this credential lacks the 'tasks:read' scope"
