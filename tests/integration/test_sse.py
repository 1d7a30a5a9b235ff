"""`GET /api/agent/{taskId}/stream`: Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.clients import note, steps, wait
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error

Frame = dict[str, Any]


@pytest.fixture
def alice(server: LiveServer) -> Rest:
    return Rest(server, server.token())


async def read_stream(
    client: Rest,
    task_id: str,
    *,
    until: Callable[[Frame], bool],
    headers: dict[str, str] | None = None,
    query: str = "",
    timeout: float = 20.0,
) -> list[Frame]:
    """Frames of the stream (each `{id?, event?, data?, comment?, retry?}`) until `until(frame)`."""
    frames: list[Frame] = []

    async def run() -> None:
        async with (
            httpx.AsyncClient(base_url=client.server.http_url, timeout=30) as http,
            http.stream(
                "GET",
                f"/api/agent/{task_id}/stream{query}",
                headers={**client.headers(), **(headers or {})},
            ) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            frame: Frame = {}
            async for line in response.aiter_lines():
                if line == "":
                    if frame:
                        frames.append(frame)
                        if until(frame):
                            return
                    frame = {}
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "":
                    frame["comment"] = value
                elif name == "data":
                    frame["data"] = json.loads(value)
                else:
                    frame[name] = value

    await asyncio.wait_for(run(), timeout)
    return frames


def events_of(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if "data" in f]


async def test_stream_replays_then_goes_live_and_resumes_with_last_event_id(alice: Rest) -> None:
    task = await alice.submit(
        "sse", context=steps(note("a", 1), wait(100), note("b", 2, approval=True), note("c", 3))
    )
    first = await read_stream(
        alice, task["id"], until=lambda f: f.get("event") == "approval_request"
    )
    assert first[0] == {"retry": "1000"}
    seen = [f for f in events_of(first) if "id" in f]
    assert [int(f["id"]) for f in seen] == list(range(1, len(seen) + 1))
    assert all(f["id"] == str(f["data"]["seq"]) for f in seen)
    assert all(f["event"] == f["data"]["type"] for f in seen)
    approval = seen[-1]["data"]["data"]["approvalRequest"]
    # the client is gone; the task moves on without it
    await alice.request(
        "POST",
        f"/api/agent/{task['id']}/approve",
        json={"approvalId": approval["id"], "approved": True},
    )
    await alice.wait_status(task["id"], "completed")
    rest = await read_stream(
        alice,
        task["id"],
        headers={"Last-Event-ID": seen[-1]["id"]},
        until=lambda f: f.get("event") == "completed",
    )
    resumed = [f for f in events_of(rest) if "id" in f]
    all_seqs = [int(f["id"]) for f in seen + resumed]
    assert all_seqs == list(range(1, len(all_seqs) + 1))
    assert resumed[0]["event"] == "approval_resolved"
    log = await alice.events(task["id"])
    assert [f["data"]["id"] for f in seen + resumed] == [e["id"] for e in log]


async def test_stream_starts_after_the_query_cursor(alice: Rest) -> None:
    task = await alice.submit("after", context=steps(note("a", 1)))
    await alice.wait_status(task["id"], "completed")
    frames = await read_stream(
        alice, task["id"], query="?after=2", until=lambda f: f.get("event") == "completed"
    )
    ids = [int(f["id"]) for f in events_of(frames)]
    assert ids == list(range(3, 3 + len(ids)))
    assert frames[-1]["data"]["type"] == "completed"


async def test_stream_errors_are_json_envelopes(alice: Rest, server: LiveServer) -> None:
    bob = Rest(server, server.token())
    task = await alice.submit("private")
    denied = await bob.request("GET", f"/api/agent/{task['id']}/stream")
    assert_error(denied, 404, "NOT_FOUND", "client_error")
    bad = await alice.request(
        "GET", f"/api/agent/{task['id']}/stream", headers={"Last-Event-ID": "x"}
    )
    assert_error(bad, 422, "VALIDATION", "validation_error", field="Last-Event-ID")


async def test_a_quiet_stream_sends_heartbeat_comments(make_server: Any) -> None:
    async with make_server(ws_heartbeat_seconds=0.2) as server:
        alice = Rest(server, server.token())
        task = await alice.submit("quiet", context=steps(note("a", 1)))
        await alice.wait_status(task["id"], "completed")
        frames = await read_stream(
            alice,
            task["id"],
            headers={"Last-Event-ID": "1000"},
            until=lambda f: f.get("comment") == "heartbeat",
            timeout=5,
        )
    assert frames == [{"retry": "1000"}, {"comment": "heartbeat"}]
