"""Live delivery over graphql-transport-ws: snapshot, approval broadcast, shared fan-out."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.routing import WebSocketRoute

from db.models import TaskEvent
from schema.view import AgentwireGraphQL
from tests.support.clients import Api, collect, note, steps, wait
from tests.support.live import LiveServer


def graphql_view(server: LiveServer) -> AgentwireGraphQL:
    assert server.app is not None
    for route in server.app.routes:
        if isinstance(route, WebSocketRoute) and route.path == "/graphql":
            view = route.app
            assert isinstance(view, AgentwireGraphQL)
            return view
    raise AssertionError("no /graphql WebSocket route")


def stored(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["seq"] is not None and e["type"] != "SNAPSHOT"]


async def test_subscription_without_after_opens_with_a_snapshot_then_every_later_event(
    alice: Api,
) -> None:
    # given a task that has already made progress
    task = await alice.submit(
        "snapshot", context=steps(note("a", 1), note("b", 2, approval=True), wait(50))
    )
    await alice.wait_status(task["id"], "AWAITING_APPROVAL")
    async with alice.websocket() as ws:
        # when subscribing without a cursor
        first = await collect(ws, "TaskSnapshot", taskId=task["id"], until=lambda e: True)
    snapshot = first[0]
    # then the first event is the whole task as of its seq
    assert snapshot["type"] == "SNAPSHOT"
    assert snapshot["data"]["task"]["status"] == "AWAITING_APPROVAL"
    assert snapshot["data"]["task"]["lastSeq"] == snapshot["seq"]
    assert snapshot["data"]["task"]["artifacts"] == {"a": 1}
    assert snapshot["data"]["task"]["pendingApproval"]["parameters"] == {"key": "b", "value": 2}
    assert [s["status"] for s in snapshot["data"]["task"]["steps"]] == [
        "COMPLETED",
        "AWAITING_APPROVAL",
        "PENDING",
    ]
    log = (await alice.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]
    assert snapshot["seq"] == log[-1]["seq"]

    async with alice.websocket() as ws:
        watcher = asyncio.create_task(
            collect(ws, "TaskUpdates", taskId=task["id"], until=lambda e: e["type"] == "COMPLETED")
        )
        await asyncio.sleep(0.3)
        await alice.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": snapshot["data"]["task"]["pendingApproval"]["id"],
                "approved": True,
            },
        )
        events = await watcher
    n = events[0]["seq"]
    assert events[0]["type"] == "SNAPSHOT"
    later = stored(events[1:])
    assert [e["seq"] for e in later] == list(range(n + 1, n + 1 + len(later)))
    assert later[0]["type"] == "APPROVAL_RESOLVED"


async def test_after_older_than_the_retained_log_gets_a_snapshot(
    alice: Api, server: LiveServer
) -> None:
    task = await alice.submit("retention", context=steps(note("a", 1), note("b", 2)))
    done = await alice.wait_status(task["id"], "COMPLETED")
    # given the oldest events were pruned from the log
    database = create_async_engine(server.settings.resolved_database_url)
    async with database.begin() as connection:
        await connection.execute(
            delete(TaskEvent).where(TaskEvent.task_id == uuid.UUID(task["id"]), TaskEvent.seq <= 3)
        )
    await database.dispose()
    async with alice.websocket() as ws:
        # when resuming from a seq that is no longer stored
        events = await collect(ws, "TaskSnapshot", taskId=task["id"], after=1, until=lambda e: True)
    # then a snapshot replaces the missing history, instead of an error
    assert events[0]["type"] == "SNAPSHOT"
    assert events[0]["seq"] == done["lastSeq"]
    assert events[0]["data"]["task"]["artifacts"] == {"a": 1, "b": 2}


async def test_every_watcher_gets_the_approval_request_then_its_resolution(
    alice: Api, server: LiveServer
) -> None:
    task = await alice.submit("broadcast", context=steps(note("x", 1, approval=True)))
    admin = Api(server, server.token(admin=True))

    def until_resolved(e: dict[str, Any]) -> bool:
        return bool(e["type"] == "APPROVAL_RESOLVED")

    async with alice.websocket() as one, alice.websocket() as two, admin.websocket() as three:
        watchers = [
            asyncio.create_task(
                collect(ws, "TaskUpdates", taskId=task["id"], after=0, until=until_resolved)
            )
            for ws in (one, two, three)
        ]
        waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
        await alice.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": waiting["pendingApproval"]["id"],
                "approved": False,
                "message": "not now",
            },
        )
        seen = await asyncio.gather(*watchers)
    for events in seen:
        types = [e["type"] for e in events]
        assert types.index("APPROVAL_REQUEST") < types.index("APPROVAL_RESOLVED")
        resolved = events[-1]["data"]["approvalRequest"]
        assert resolved["status"] == "REJECTED"
        assert resolved["message"] == "not now"
        assert resolved["decidedBy"] is not None and resolved["decidedAt"] is not None
    assert seen[0] == seen[1] == seen[2]


async def test_identical_subscriptions_share_one_group_and_receive_the_same_events(
    alice: Api, server: LiveServer
) -> None:
    task = await alice.submit("shared", context=steps(wait(400), note("a", 1)))
    hub = graphql_view(server).realtime.hub

    def done(e: dict[str, Any]) -> bool:
        return bool(e["type"] == "COMPLETED")

    async with alice.websocket() as one, alice.websocket() as two, alice.websocket() as three:
        watchers = [
            asyncio.create_task(collect(ws, "TaskUpdates", taskId=task["id"], after=0, until=done))
            for ws in (one, two)
        ]
        other = asyncio.create_task(
            collect(three, "TaskSnapshot", taskId=task["id"], after=0, until=done)
        )
        for _ in range(100):
            topic = hub.topics.get(f"task:{task['id']}")
            if topic is not None and sum(len(g.members) for g in topic.groups.values()) == 3:
                break
            await asyncio.sleep(0.02)
        assert topic is not None
        # two documents: two groups, one of them shared by two sockets
        assert sorted(len(g.members) for g in topic.groups.values()) == [1, 2]
        first, second, third = await asyncio.gather(*watchers, other)
    assert first == second
    assert [e["id"] for e in first] == [e["id"] for e in third]
    assert [e["seq"] for e in first] == list(range(1, len(first) + 1))
    await asyncio.sleep(0.1)
    assert f"task:{task['id']}" not in hub.topics
