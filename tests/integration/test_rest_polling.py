"""`GET /api/agent/{taskId}/events?after=N&wait=S`: the long-polling fallback."""

from __future__ import annotations

import asyncio
import uuid

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


async def poll(client: Rest, task_id: str, query: str) -> dict[str, object]:
    response = await client.request("GET", f"/api/agent/{task_id}/events{query}")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


async def test_polling_returns_stored_events_after_the_cursor(alice: Rest) -> None:
    task = await alice.submit("poll", context=steps(note("a", 1)))
    done = await alice.wait_status(task["id"], "completed")
    last = done["task"]["lastSeq"]
    everything = await poll(alice, task["id"], "?after=0")
    events = everything["events"]
    assert [e["seq"] for e in events] == list(range(1, last + 1))  # type: ignore[attr-defined]
    assert everything["nextAfter"] == last
    assert events[0]["type"] == "status_change"  # type: ignore[index]
    assert events[-1]["type"] == "completed"  # type: ignore[index]
    page = await poll(alice, task["id"], "?after=1&limit=2")
    assert [e["seq"] for e in page["events"]] == [2, 3]  # type: ignore[attr-defined]
    assert page["nextAfter"] == 3
    assert await poll(alice, task["id"], f"?after={last}") == {"events": [], "nextAfter": last}


async def test_a_waiting_poll_answers_as_soon_as_an_event_is_stored(alice: Rest) -> None:
    task = await alice.submit("gate", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "awaiting_approval")
    last = waiting["task"]["lastSeq"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    pending = asyncio.create_task(poll(alice, task["id"], f"?after={last}&wait=20"))
    await asyncio.sleep(0.3)
    assert not pending.done()
    await alice.request(
        "POST",
        f"/api/agent/{task['id']}/approve",
        json={"approvalId": waiting["task"]["pendingApproval"]["id"], "approved": True},
    )
    page = await asyncio.wait_for(pending, 10)
    assert loop.time() - started < 5
    events = page["events"]
    assert events[0]["seq"] == last + 1  # type: ignore[index]
    assert events[0]["type"] == "approval_resolved"  # type: ignore[index]
    assert page["nextAfter"] == events[-1]["seq"]  # type: ignore[index]


async def test_a_waiting_poll_with_nothing_new_answers_empty_after_the_wait(alice: Rest) -> None:
    task = await alice.submit("quiet", context=steps(note("a", 1)))
    done = await alice.wait_status(task["id"], "completed")
    last = done["task"]["lastSeq"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    page = await poll(alice, task["id"], f"?after={last}&wait=0.5")
    elapsed = loop.time() - started
    assert page == {"events": [], "nextAfter": last}
    assert 0.45 <= elapsed < 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?wait=31", "wait"),
        ("?wait=-1", "wait"),
        ("?wait=soon", "wait"),
        ("?after=-1", "after"),
        ("?after=1.5", "after"),
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
    ],
)
async def test_bad_polling_parameters_are_422(alice: Rest, query: str, field: str) -> None:
    task = await alice.submit("bad params")
    response = await alice.request("GET", f"/api/agent/{task['id']}/events{query}")
    assert_error(response, 422, "VALIDATION", "validation_error", field=field)


async def test_a_poll_after_a_pruned_seq_starts_with_a_snapshot(
    alice: Rest, server: LiveServer
) -> None:
    task = await alice.submit("retention", context=steps(note("a", 1), note("b", 2)))
    done = await alice.wait_status(task["id"], "completed")
    last = done["task"]["lastSeq"]
    # given the oldest events were pruned from the log
    database = create_async_engine(server.settings.resolved_database_url)
    async with database.begin() as connection:
        await connection.execute(
            delete(TaskEvent).where(TaskEvent.task_id == uuid.UUID(task["id"]), TaskEvent.seq <= 3)
        )
    await database.dispose()
    # when polling after a seq that is no longer stored
    page = await poll(alice, task["id"], "?after=1&wait=0")
    # then the answer is a snapshot of the task as of its last seq, and polling after it
    # gives only what comes later
    events = page["events"]
    assert [(e["type"], e["seq"]) for e in events] == [("snapshot", last)]  # type: ignore[attr-defined]
    assert events[0]["data"]["task"]["status"] == "completed"  # type: ignore[index]
    assert events[0]["data"]["task"]["artifacts"] == {"a": 1, "b": 2}  # type: ignore[index]
    assert page["nextAfter"] == last
    assert await poll(alice, task["id"], f"?after={last}") == {"events": [], "nextAfter": last}
    # and a cursor still inside the retained log replays as before
    kept = await poll(alice, task["id"], "?after=3")
    assert [e["seq"] for e in kept["events"]] == list(range(4, last + 1))  # type: ignore[attr-defined]
