"""Durable Streams reads on `GET /api/agent/{taskId}/events`: `offset`, `live=long-poll|sse`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import create_async_engine

from db.models import TaskEvent
from tests.support.clients import note, steps
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error


@pytest.fixture
def alice(server: LiveServer) -> Rest:
    return Rest(server, server.token())


def offset(seq: int) -> str:
    return str(seq).zfill(16)


async def read(client: Rest, task_id: str, query: str) -> httpx.Response:
    return await client.request("GET", f"/api/agent/{task_id}/events{query}")


async def test_a_catch_up_read_returns_the_events_after_the_offset(alice: Rest) -> None:
    task = await alice.submit("catch up", context=steps(note("a", 1)))
    last = (await alice.wait_status(task["id"], "completed"))["task"]["lastSeq"]
    # from the start: every stored event, as a JSON array, with the protocol's headers
    everything = await read(alice, task["id"], "?offset=-1")
    assert everything.status_code == 200, everything.text
    assert everything.headers["content-type"].startswith("application/json")
    assert [e["seq"] for e in everything.json()] == list(range(1, last + 1))
    assert everything.json()[-1]["type"] == "completed"
    assert everything.headers["stream-next-offset"] == offset(last)
    assert everything.headers["stream-up-to-date"] == "true"
    assert everything.headers["cache-control"] == "no-store"
    # resuming from an offset it gave: only what came after, each event once
    middle = (await read(alice, task["id"], "?offset=-1&limit=2")).headers
    assert middle["stream-next-offset"] == offset(2)
    assert "stream-up-to-date" not in middle
    rest = await read(alice, task["id"], f"?offset={middle['stream-next-offset']}")
    assert [e["seq"] for e in rest.json()] == list(range(3, last + 1))
    # at the tail (or `now`): an empty array, up to date, the offset unchanged
    for tail in (offset(last), "now"):
        empty = await read(alice, task["id"], f"?offset={tail}")
        assert (empty.status_code, empty.json()) == (200, [])
        assert empty.headers["stream-next-offset"] == offset(last)
        assert empty.headers["stream-up-to-date"] == "true"


async def test_a_long_poll_with_nothing_new_is_204_after_its_timeout(alice: Rest) -> None:
    task = await alice.submit("quiet", context=steps(note("a", 1)))
    last = (await alice.wait_status(task["id"], "completed"))["task"]["lastSeq"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await read(alice, task["id"], f"?offset={offset(last)}&live=long-poll&timeout=0.5")
    elapsed = loop.time() - started
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["stream-next-offset"] == offset(last)
    assert response.headers["stream-up-to-date"] == "true"
    cursor = response.headers["stream-cursor"]
    assert 0.45 <= elapsed < 3
    # echoing the cursor gives one strictly greater (no cache loop, PROTOCOL.md 8.1)
    again = await read(
        alice, task["id"], f"?offset={offset(last)}&live=long-poll&timeout=0&cursor={cursor}"
    )
    assert again.status_code == 204
    assert int(again.headers["stream-cursor"]) > int(cursor)


async def test_a_long_poll_answers_as_soon_as_an_event_is_stored(alice: Rest) -> None:
    task = await alice.submit("gate", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "awaiting_approval")
    last = waiting["task"]["lastSeq"]
    pending = asyncio.create_task(
        read(alice, task["id"], f"?offset={offset(last)}&live=long-poll&timeout=20")
    )
    await asyncio.sleep(0.3)
    assert not pending.done()
    await alice.request(
        "POST",
        f"/api/agent/{task['id']}/approve",
        json={"approvalId": waiting["task"]["pendingApproval"]["id"], "approved": True},
    )
    response = await asyncio.wait_for(pending, 10)
    assert response.status_code == 200, response.text
    events = response.json()
    assert (events[0]["seq"], events[0]["type"]) == (last + 1, "approval_resolved")
    assert response.headers["stream-next-offset"] == offset(events[-1]["seq"])
    assert response.headers["stream-cursor"].isdigit()


async def test_an_offset_older_than_the_retained_log_is_410(
    alice: Rest, server: LiveServer
) -> None:
    task = await alice.submit("retention", context=steps(note("a", 1), note("b", 2)))
    await alice.wait_status(task["id"], "completed")
    database = create_async_engine(server.settings.resolved_database_url)
    async with database.begin() as connection:
        await connection.execute(
            delete(TaskEvent).where(TaskEvent.task_id == uuid.UUID(task["id"]), TaskEvent.seq <= 3)
        )
    await database.dispose()
    for live in ("", "&live=long-poll&timeout=0", "&live=sse"):
        gone = await read(alice, task["id"], f"?offset={offset(1)}{live}")
        assert_error(gone, 410, "GONE", "client_error")
        assert "older than the oldest event still stored" in gone.json()["error"]["message"]
    # a position still retained reads on
    kept = await read(alice, task["id"], f"?offset={offset(3)}")
    assert kept.json()[0]["seq"] == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?offset=abc", "offset"),
        ("?offset=1.5", "offset"),
        ("?offset=99999999999999999", "offset"),
        ("?live=forever", "live"),
        ("?live=long-poll&timeout=31", "timeout"),
    ],
)
async def test_bad_durable_parameters_are_422(alice: Rest, query: str, field: str) -> None:
    task = await alice.submit("bad params")
    response = await read(alice, task["id"], query)
    assert_error(response, 422, "VALIDATION", "validation_error", field=field)


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
    kind, data = "", ""
    async for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data += line[6:]
        elif line == "" and kind:
            yield kind, orjson.loads(data)
            kind, data = "", ""


async def test_live_sse_catches_up_then_follows_the_task_to_its_end(alice: Rest) -> None:
    task = await alice.submit("follow", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "awaiting_approval")
    last = waiting["task"]["lastSeq"]
    seqs: list[int] = []
    headers = alice.headers()

    async def follow() -> None:
        async with (
            httpx.AsyncClient(base_url=alice.server.http_url, timeout=30) as client,
            client.stream(
                "GET", f"/api/agent/{task['id']}/events?offset=-1&live=sse", headers=headers
            ) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            approved = False
            async for kind, data in sse_events(response.aiter_lines()):
                if kind == "data":
                    seqs.extend(event["seq"] for event in data)
                    if data[-1]["type"] == "completed":
                        return
                    continue
                assert kind == "control"
                assert data["streamNextOffset"] == offset(seqs[-1])
                assert data["streamCursor"].isdigit()
                if data.get("upToDate") and not approved:
                    # caught up with what was stored: now the task goes on, live
                    assert seqs == list(range(1, last + 1))
                    approved = True
                    decided = await alice.request(
                        "POST",
                        f"/api/agent/{task['id']}/approve",
                        json={
                            "approvalId": waiting["task"]["pendingApproval"]["id"],
                            "approved": True,
                        },
                    )
                    assert decided.status_code == 200, decided.text

    await asyncio.wait_for(follow(), 20)
    final = (await alice.wait_status(task["id"], "completed"))["task"]["lastSeq"]
    assert seqs == list(range(1, final + 1))
