"""One set of scenarios, run over every live channel (issue 11): graphql-transport-ws
`taskUpdates`, Server-Sent Events, the legacy WebSocket and long-polling.

Each channel is driven by a small adapter that opens a task's stream after a cursor and
hands back events in one form (`type` in lower case, `seq`), or says how it was refused.
Every scenario waits on what arrives, never on a sleep.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
import pytest
from sqlalchemy import delete
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from db.engine import write_session
from db.models import Task, TaskEvent
from db.repositories.events import append_event
from subscriptions.envelope import new_event_id
from tests.support.clients import Api, note, steps
from tests.support.live import LiveServer

CHANNELS = ["graphql-ws", "sse", "legacy-ws", "long-poll"]
QUERY = "subscription($t: ID!, $a: Int) { taskUpdates(taskId: $t, after: $a) { type seq } }"


class RefusedError(Exception):
    """The channel refused or ended the stream; `code` is its close code or HTTP status."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(f"{code} {detail}")
        self.code = code
        self.detail = detail


class Reader(Protocol):
    async def next(self) -> dict[str, Any]: ...


class GraphQLWs:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    async def next(self) -> dict[str, Any]:
        while True:
            try:
                frame = json.loads(await self.socket.recv())
            except ConnectionClosed as closed:
                raise RefusedError(closed.rcvd.code if closed.rcvd else 1006) from None
            if frame["type"] == "ping":
                await self.socket.send('{"type":"pong"}')
                continue
            if frame["type"] == "error":
                raise RefusedError(0, frame["payload"][0]["extensions"]["code"])
            event = frame["payload"]["data"]["taskUpdates"]
            return {"type": event["type"].lower(), "seq": event["seq"]}


class Legacy:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    async def next(self) -> dict[str, Any]:
        while True:
            try:
                message = json.loads(await self.socket.recv())
            except ConnectionClosed as closed:
                raise RefusedError(closed.rcvd.code if closed.rcvd else 1006) from None
            if message["type"] in ("connected", "heartbeat", "error"):
                continue
            return {"type": message["type"], "seq": message["seq"]}


class Sse:
    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines

    async def next(self) -> dict[str, Any]:
        kind = None
        async for line in self.lines:
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                if kind == "error":
                    raise RefusedError(401, data["code"])
                return {"type": data["type"], "seq": data["seq"]}
        raise RefusedError(0, "stream ended")


class LongPoll:
    def __init__(self, client: httpx.AsyncClient, path: str, after: int) -> None:
        self.client, self.path, self.after = client, path, after
        self.buffered: list[dict[str, Any]] = []

    async def next(self) -> dict[str, Any]:
        while not self.buffered:
            response = await self.client.get(self.path, params={"after": self.after, "wait": 5})
            if response.status_code != 200:
                raise RefusedError(response.status_code, response.json()["error"]["code"])
            data = response.json()["data"]
            self.buffered = [{"type": e["type"], "seq": e["seq"]} for e in data["events"]]
            self.after = data["nextAfter"]
        return self.buffered.pop(0)


@asynccontextmanager
async def opened(
    channel: str, server: LiveServer, token: str, task_id: str, after: int
) -> AsyncIterator[Reader]:
    """The task's events after `after` on `channel`; `RefusedError` if it will not open."""
    headers = {"Authorization": f"Bearer {token}"}
    if channel == "graphql-ws":
        async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            await socket.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"authorization": headers["Authorization"]},
                    }
                )
            )
            reader = GraphQLWs(socket)
            ack = json.loads(await socket.recv())
            assert ack["type"] == "connection_ack", ack
            variables = {"t": task_id, "a": after}
            await socket.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": QUERY, "variables": variables},
                    }
                )
            )
            yield reader
    elif channel == "legacy-ws":
        url = f"ws://127.0.0.1:{server.port}/api/agent/{task_id}/updates?after={after}"
        async with connect(url, additional_headers=headers, open_timeout=10) as socket:
            yield Legacy(socket)
    elif channel == "sse":
        async with (
            httpx.AsyncClient(base_url=server.http_url, timeout=30) as client,
            client.stream(
                "GET", f"/api/agent/{task_id}/stream", params={"after": after}, headers=headers
            ) as response,
        ):
            if response.status_code != 200:
                await response.aread()
                raise RefusedError(response.status_code, response.json()["error"]["code"])
            yield Sse(response.aiter_lines())
    else:
        async with httpx.AsyncClient(
            base_url=server.http_url, timeout=30, headers=headers
        ) as client:
            yield LongPoll(client, f"/api/agent/{task_id}/events", after)


async def read_until(reader: Reader, last_seq: int, timeout: float = 20) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not events or (events[-1]["seq"] or 0) < last_seq:
            events.append(await reader.next())
    return events


async def gated(user: Api) -> dict[str, Any]:
    task = await user.submit("gated", context=steps(note("a", 1), note("b", 2, approval=True)))
    return await user.wait_status(task["id"], "AWAITING_APPROVAL")


async def approve(user: Api, task: dict[str, Any]) -> dict[str, Any]:
    approval = task["pendingApproval"]
    await user.call(
        "Approve", input={"taskId": task["id"], "approvalId": approval["id"], "approved": True}
    )
    return await user.wait_status(task["id"], "COMPLETED")


def stored(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events if e["seq"] is not None]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_replay_then_live(server: LiveServer, channel: str) -> None:
    alice = Api(server, server.token())
    task = await gated(alice)
    async with opened(channel, server, alice.token, task["id"], after=0) as reader:
        # the stored log first
        replayed = await read_until(reader, task["lastSeq"])
        # then what happens next, live
        done = await approve(alice, task)
        live = await read_until(reader, done["lastSeq"])
    assert stored(replayed + live) == list(range(1, done["lastSeq"] + 1))
    assert live[-1]["type"] == "completed"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_jump_in_seq_is_backfilled_from_the_log(server: LiveServer, channel: str) -> None:
    alice = Api(server, server.token())
    task = await gated(alice)
    async with opened(channel, server, alice.token, task["id"], after=0) as reader:
        await read_until(reader, task["lastSeq"])
        # given an event stored without a notification (as when Redis drops one)
        assert server.app is not None
        sessions = server.app.state.agentwire.services.sessions
        async with write_session(sessions) as session:
            row = await session.get(Task, uuid.UUID(task["id"]), with_for_update=True)
            assert row is not None
            append_event(
                session,
                row,
                event_id=new_event_id(),
                type="step_progress",
                priority="low",
                data={"taskId": task["id"], "progress": 0.5, "message": "unannounced"},
            )
        # when the next one is announced
        done = await approve(alice, task)
        live = await read_until(reader, done["lastSeq"])
    # then the silent one arrives first, in its place
    assert stored(live) == list(range(task["lastSeq"] + 1, done["lastSeq"] + 1))


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_cursor_older_than_the_log_gets_a_snapshot(
    server: LiveServer, channel: str
) -> None:
    alice = Api(server, server.token())
    task = await alice.submit("short", context=steps(note("a", 1), note("b", 2)))
    done = await alice.wait_status(task["id"], "COMPLETED")
    # given the log no longer holds the first three events
    assert server.app is not None
    async with write_session(server.app.state.agentwire.services.sessions) as session:
        await session.execute(
            delete(TaskEvent).where(TaskEvent.task_id == uuid.UUID(task["id"]), TaskEvent.seq <= 3)
        )
    async with opened(channel, server, alice.token, task["id"], after=1) as reader:
        first = await asyncio.wait_for(reader.next(), 20)
    assert first == {"type": "snapshot", "seq": done["lastSeq"]}


@pytest.mark.parametrize("channel", CHANNELS)
async def test_another_users_task_is_refused_as_not_found(server: LiveServer, channel: str) -> None:
    alice, bob = Api(server, server.token()), Api(server, server.token())
    task = await alice.submit("mine", context=steps(note("a", 1)))
    with pytest.raises(RefusedError) as refused:
        async with opened(channel, server, bob.token, task["id"], after=0) as reader:
            await asyncio.wait_for(reader.next(), 20)
    expected = {
        "graphql-ws": (0, "NOT_FOUND"),
        "legacy-ws": (4404, ""),
        "sse": (404, "NOT_FOUND"),
        "long-poll": (404, "NOT_FOUND"),
    }
    code, detail = expected[channel]
    assert refused.value.code == code
    assert detail in refused.value.detail


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_expired_token_ends_the_stream(make_server: Any, channel: str) -> None:
    async with make_server(credential_recheck_seconds=0.2, jwt_leeway_seconds=0) as server:
        alice = Api(server, server.token("expiring"))
        task = await gated(alice)
        short = server.token("expiring", ttl=6)
        with pytest.raises(RefusedError) as refused:
            async with opened(channel, server, short, task["id"], after=0) as reader:
                await read_until(reader, task["lastSeq"])
                async with asyncio.timeout(20):
                    while True:  # nothing more happens on the task: only the expiry ends this
                        await reader.next()
    assert (
        refused.value.code
        == {"graphql-ws": 4403, "legacy-ws": 4401, "sse": 401, "long-poll": 401}[channel]
    )


@pytest.mark.parametrize("channel", CHANNELS)
async def test_opening_streams_spends_the_budget(make_server: Any, channel: str) -> None:
    # every live stream spends `subscribe`; a long-poll request spends a `read`
    limits = {"rate_limit_subscribe": "2/minute", "rate_limit_read": "60/minute"}
    if channel == "long-poll":
        limits = {"rate_limit_subscribe": "60/minute", "rate_limit_read": "4/minute"}
    async with make_server(**limits) as server:
        alice = Api(server, server.token("budget"))
        task = await alice.submit("done", context=steps(note("a", 1)))
        await alice.wait_status(task["id"], "COMPLETED")  # 1 read (or more) spent polling
        allowed = 0
        with pytest.raises(RefusedError) as refused:
            for _ in range(5):
                async with opened(channel, server, alice.token, task["id"], after=0) as reader:
                    await asyncio.wait_for(reader.next(), 20)
                allowed += 1
    assert (
        refused.value.code
        == {"graphql-ws": 4429, "legacy-ws": 4429, "sse": 429, "long-poll": 429}[channel]
    )
    if channel != "long-poll":
        assert allowed == 2
