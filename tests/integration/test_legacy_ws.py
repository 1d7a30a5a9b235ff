"""The legacy WebSocket `/api/agent/{taskId}/updates?after=N`, with a plain WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.clients import note, steps, wait
from tests.support.live import LiveServer
from tests.support.rest import Rest

Message = dict[str, Any]
EVENT_KEYS = {"id", "version", "type", "seq", "timestamp", "priority", "cursor", "data"}


@pytest.fixture
def alice(server: LiveServer) -> Rest:
    return Rest(server, server.token())


def url(server: LiveServer, task_id: str, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/api/agent/{task_id}/updates{query}"


@asynccontextmanager
async def socket(
    client: Rest, task_id: str, query: str = "", **options: Any
) -> AsyncIterator[ClientConnection]:
    if "subprotocols" not in options and "additional_headers" not in options:
        options["additional_headers"] = client.headers()
    async with connect(url(client.server, task_id, query), open_timeout=10, **options) as ws:
        yield ws


async def receive(ws: ClientConnection, timeout: float = 10.0) -> Message:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def receive_until(
    ws: ClientConnection, until: Callable[[Message], bool], timeout: float = 20.0
) -> list[Message]:
    messages: list[Message] = []

    async def run() -> None:
        while True:
            message = await receive(ws, timeout)
            messages.append(message)
            if until(message):
                return

    await asyncio.wait_for(run(), timeout)
    return messages


async def closed_with(ws: ClientConnection) -> tuple[Message, int]:
    """The error message the server sent before closing, and the close code."""
    error = await receive(ws)
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    return error, closed.value.rcvd.code


def stored(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.get("seq") is not None]


async def test_header_auth_replays_then_streams_live_in_the_seed_format(alice: Rest) -> None:
    task = await alice.submit("ws", context=steps(note("a", 1), note("b", 2, approval=True)))
    async with socket(alice, task["id"], "?after=0") as ws:
        connected = await receive(ws)
        assert connected["type"] == "connected"
        assert connected["data"]["taskId"] == task["id"]
        assert connected["data"]["after"] == 0
        assert connected["data"]["heartbeatSeconds"] == 15
        messages = await receive_until(ws, lambda m: m["type"] == "approval_request")
    events = stored(messages)
    assert all(set(m) == EVENT_KEYS for m in events)
    assert [m["seq"] for m in events] == list(range(1, len(events) + 1))
    assert [m["type"] for m in events][:4] == [
        "status_change",
        "status_change",
        "step_start",
        "step_complete",
    ]
    assert all(m["data"]["taskId"] == task["id"] for m in events)
    assert events[-1]["priority"] == "critical"
    await alice.request("DELETE", f"/api/agent/{task['id']}")


async def test_subprotocol_auth_selects_agentwire_v1(alice: Rest) -> None:
    task = await alice.submit("subprotocol", context=steps(note("a", 1)))
    protocols = ["agentwire.v1", f"agentwire.bearer.{alice.token}"]
    async with socket(alice, task["id"], subprotocols=protocols) as ws:
        assert ws.subprotocol == "agentwire.v1"
        assert (await receive(ws))["type"] == "connected"
        messages = await receive_until(ws, lambda m: m["type"] == "completed")
    assert stored(messages)[0]["seq"] == 1


async def test_first_message_auth(alice: Rest) -> None:
    task = await alice.submit("message auth", context=steps(note("a", 1)))
    async with connect(url(alice.server, task["id"]), open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "auth", "token": alice.token}))
        connected = await receive(ws)
        assert connected["type"] == "connected"
        messages = await receive_until(ws, lambda m: m["type"] == "completed")
    assert stored(messages)[-1]["data"]["result"]["artifacts"] == {"a": 1}


async def test_a_bad_credential_is_an_error_then_close_4401(alice: Rest) -> None:
    task = await alice.submit("denied")
    async with socket(
        alice, task["id"], subprotocols=["agentwire.v1", "agentwire.bearer.forged"]
    ) as ws:
        error, code = await closed_with(ws)
    assert code == 4401
    assert error["type"] == "error"
    assert error["data"]["code"] == "UNAUTHENTICATED"
    assert error["data"]["category"] == "auth_error"
    async with connect(url(alice.server, task["id"]), open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        error, code = await closed_with(ws)
    assert code == 4401
    assert error["data"]["code"] == "UNAUTHENTICATED"


async def test_another_users_task_closes_4404_and_bad_input_4400(
    alice: Rest, server: LiveServer
) -> None:
    bob = Rest(server, server.token())
    task = await alice.submit("private")
    async with socket(bob, task["id"]) as ws:
        error, code = await closed_with(ws)
    assert code == 4404
    assert error["data"]["message"] == f"task {task['id']} was not found"
    async with socket(alice, "not-a-uuid") as ws:
        error, code = await closed_with(ws)
    assert (code, error["data"]["code"]) == (4400, "VALIDATION")
    async with socket(alice, task["id"], "?after=-1") as ws:
        error, code = await closed_with(ws)
    assert (code, error["data"]["details"][0]["field"]) == (4400, "after")


async def test_ping_pong_and_bad_messages_keep_the_socket_open(alice: Rest) -> None:
    task = await alice.submit("ping", context=steps(note("a", 1)))
    async with socket(alice, task["id"]) as ws:
        await receive(ws)
        await ws.send(json.dumps({"type": "ping", "id": "p1"}))
        await ws.send("not json")
        await ws.send(json.dumps({"type": "dance", "id": 7}))
        replies = await receive_until(ws, lambda m: m.get("replyTo") == 7)
        control = [m for m in replies if "seq" not in m]
        assert [(m["type"], m.get("replyTo")) for m in control] == [
            ("pong", "p1"),
            ("error", None),
            ("error", 7),
        ]
        assert control[1]["data"]["code"] == "VALIDATION"
        assert control[2]["data"]["message"] == "unknown message type 'dance': send ping or approve"
        await ws.send(json.dumps({"type": "ping"}))
        assert [m["type"] for m in await receive_until(ws, lambda m: m["type"] == "pong")][-1]


async def test_interactive_approval_over_the_socket(alice: Rest) -> None:
    task = await alice.submit("approve", context=steps(note("a", 1, approval=True), note("b", 2)))
    async with socket(alice, task["id"]) as ws:
        await receive(ws)
        messages = await receive_until(ws, lambda m: m["type"] == "approval_request")
        approval = messages[-1]["data"]["approvalRequest"]
        await ws.send(
            json.dumps(
                {
                    "type": "approve",
                    "id": "a1",
                    "data": {"approvalId": approval["id"], "approved": True, "message": "go"},
                }
            )
        )
        rest = await receive_until(ws, lambda m: m["type"] == "completed")
        result = next(m for m in rest if m["type"] == "approve_result")
        assert result["replyTo"] == "a1"
        assert result["data"]["approvalId"] == approval["id"]
        assert result["data"]["task"]["approvals"][0]["status"] == "approved"
        assert result["data"]["task"]["approvals"][0]["decisionMessage"] == "go"
        assert "approval_resolved" in [m["type"] for m in stored(rest)]
        # a second answer is refused and changes nothing
        events_before = await alice.events(task["id"])
        await ws.send(
            json.dumps(
                {
                    "type": "approve",
                    "id": "a2",
                    "data": {"approvalId": approval["id"], "approved": False},
                }
            )
        )
        refused = await receive(ws)
    assert refused["type"] == "error" and refused["replyTo"] == "a2"
    assert refused["data"]["code"] == "CONFLICT"
    assert await alice.events(task["id"]) == events_before
    done = await alice.get(task["id"])
    assert done["task"]["artifacts"] == {"a": 1, "b": 2}


async def test_reconnecting_with_after_loses_and_repeats_nothing(alice: Rest) -> None:
    task = await alice.submit("resume", context=steps(*(wait(120) for _ in range(4)), note("z", 1)))
    async with socket(alice, task["id"]) as ws:
        await receive(ws)
        first = stored(await receive_until(ws, lambda m: m["type"] == "step_complete"))
    await asyncio.sleep(0.3)  # events keep happening while the client is away
    last = first[-1]["seq"]
    async with socket(alice, task["id"], f"?after={last}") as ws:
        assert (await receive(ws))["data"]["after"] == last
        second = stored(await receive_until(ws, lambda m: m["type"] == "completed"))
    seen = first + second
    assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
    assert [m["id"] for m in seen] == [e["id"] for e in await alice.events(task["id"])]


async def test_the_server_sends_heartbeats(make_server: Any) -> None:
    async with make_server(ws_heartbeat_seconds=0.2) as server:
        alice = Rest(server, server.token())
        task = await alice.submit("idle", context=steps(note("a", 1)))
        await alice.wait_status(task["id"], "completed")
        async with socket(alice, task["id"], "?after=1000") as ws:
            assert (await receive(ws))["data"]["heartbeatSeconds"] == 0.2
            beats = [await receive(ws, timeout=3), await receive(ws, timeout=3)]
    assert [b["type"] for b in beats] == ["heartbeat", "heartbeat"]
    assert set(beats[0]) == {"type", "timestamp"}
    assert beats[1]["timestamp"] >= beats[0]["timestamp"]


async def test_modified_parameters_over_the_socket_are_validated(alice: Rest) -> None:
    task = await alice.submit("gated wait", context=steps(wait(10, approval=True)))
    async with socket(alice, task["id"]) as ws:
        await receive(ws)
        messages = await receive_until(ws, lambda m: m["type"] == "approval_request")
        approval = messages[-1]["data"]["approvalRequest"]
        events_before = await alice.events(task["id"])
        answer = {"approvalId": approval["id"], "approved": True, "modifiedParameters": {"ms": -5}}
        await ws.send(json.dumps({"type": "approve", "id": "m1", "data": answer}))
        refused = await receive(ws)
    assert refused["type"] == "error" and refused["replyTo"] == "m1"
    assert refused["data"]["code"] == "VALIDATION"
    assert "modifiedParameters.ms" in json.dumps(refused["data"])
    assert await alice.events(task["id"]) == events_before
    waiting = await alice.get(task["id"])
    assert waiting["task"]["status"] == "awaiting_approval"
