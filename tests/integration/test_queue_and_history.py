"""Scheduling, queue position, idempotency, history pages and recovery after a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gql.transport.exceptions import TransportConnectionFailed
from websockets.exceptions import ConnectionClosed

from tests.support.clients import Api, GraphQLCallError, collect, note, steps, wait


async def test_idempotency_key_returns_the_first_task(alice: Api) -> None:
    first = await alice.submit("once", idempotencyKey="order-42", context=steps(note("a", 1)))
    again = await alice.submit("once more", idempotencyKey="order-42", context=steps(note("b", 2)))
    assert again["id"] == first["id"]
    assert again["task"] == "once"
    listing = (await alice.call("ListTasks"))["tasks"]
    assert listing["totalCount"] == 1


async def test_same_idempotency_key_of_another_user_is_independent(alice: Api, bob: Api) -> None:
    mine = await alice.submit("mine", idempotencyKey="shared-key", context=steps(note("a", 1)))
    theirs = await bob.submit("theirs", idempotencyKey="shared-key", context=steps(note("a", 1)))
    assert mine["id"] != theirs["id"]


async def test_history_is_newest_first_with_cursor_pages_and_filters(alice: Api) -> None:
    ids = []
    for index in range(5):
        task = await alice.submit(
            f"task {index}",
            conversationId="conv-a" if index % 2 else "conv-b",
            context=steps(note("i", index)),
        )
        ids.append(task["id"])
    for task_id in ids:
        await alice.wait_status(task_id, "COMPLETED")
    page1 = (await alice.call("ListTasks", first=2))["tasks"]
    assert [e["node"]["id"] for e in page1["edges"]] == ids[::-1][:2]
    assert page1["totalCount"] == 5 and page1["pageInfo"]["hasNextPage"] is True
    page2 = (await alice.call("ListTasks", first=2, after=page1["pageInfo"]["endCursor"]))["tasks"]
    assert [e["node"]["id"] for e in page2["edges"]] == ids[::-1][2:4]
    page3 = (await alice.call("ListTasks", first=2, after=page2["pageInfo"]["endCursor"]))["tasks"]
    assert [e["node"]["id"] for e in page3["edges"]] == ids[::-1][4:]
    assert page3["pageInfo"]["hasNextPage"] is False

    conv = (await alice.call("ListTasks", conversationId="conv-a"))["tasks"]
    assert {e["node"]["id"] for e in conv["edges"]} == {ids[1], ids[3]}
    done = (await alice.call("ListTasks", status="COMPLETED"))["tasks"]
    assert done["totalCount"] == 5
    pending = (await alice.call("ListTasks", status="PENDING"))["tasks"]
    assert pending["totalCount"] == 0
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await alice.call("ListTasks", dateFrom=future))["tasks"]["totalCount"] == 0
    assert (await alice.call("ListTasks", dateTo=future))["tasks"]["totalCount"] == 5


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 0}, "first"), ({"first": 101}, "first"), ({"after": "garbage!"}, "after")],
)
async def test_bad_history_arguments_are_validation_errors(
    alice: Api, variables: dict[str, Any], field: str
) -> None:
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("ListTasks", **variables)
    assert error.value.code == "VALIDATION"
    assert error.value.errors[0]["extensions"]["field"] == field


async def test_admin_sees_every_users_tasks(server: Any, alice: Api) -> None:
    task = await alice.submit("visible to admins", context=steps(note("a", 1)))
    admin = Api(server, server.token("an-admin", admin=True))
    assert (await admin.get(task["id"]))["task"] == "visible to admins"
    me = (await admin.call("Me"))["me"]
    assert me["isAdmin"] is True and me["roles"] == ["admin"]


async def test_queue_respects_limits_priority_and_reports_position(make_server: Any) -> None:
    async with make_server(max_running=1, max_running_per_user=1) as server:
        user = Api(server, server.token("queue-user"))
        blocker = await user.submit("blocker", context=steps(wait(1500)))
        await user.wait_status(blocker["id"], "RUNNING")
        low = await user.submit("low", priority=0, context=steps(note("low", 1)))
        high = await user.submit("high", priority=10, context=steps(note("high", 1)))
        low_now, high_now = await user.get(low["id"]), await user.get(high["id"])
        assert high_now["queuePosition"] == 1 and low_now["queuePosition"] == 2
        assert low_now["estimatedWaitTime"] > high_now["estimatedWaitTime"] > 0
        async with user.websocket() as ws:
            updates = await collect(
                ws,
                "TaskUpdates",
                taskId=low["id"],
                after=1000,
                until=lambda e: e["type"] == "QUEUE_UPDATE" and e["data"]["queuePosition"] == 1,
            )
        assert updates[-1]["seq"] is None
        assert updates[-1]["data"]["estimatedWaitTime"] >= 0
        done_low = await user.wait_status(low["id"], "COMPLETED")
        done_high = await user.get(high["id"])
        assert done_high["status"] == "COMPLETED"
        assert done_high["startedAt"] < done_low["startedAt"]


async def test_per_user_limit_does_not_hold_back_other_users(make_server: Any) -> None:
    async with make_server(max_running=3, max_running_per_user=1) as server:
        greedy, other = Api(server, server.token("greedy")), Api(server, server.token("other"))
        # g1 runs far longer than o1 needs, even on a loaded machine; it is cancelled after.
        first = await greedy.submit("g1", context=steps(wait(30_000)))
        second = await greedy.submit("g2", context=steps(wait(100)))
        await greedy.wait_status(first["id"], "RUNNING")
        theirs = await other.submit("o1", context=steps(note("a", 1)))
        await other.wait_status(theirs["id"], "COMPLETED")
        assert (await greedy.get(first["id"]))["status"] == "RUNNING"
        assert (await greedy.get(second["id"]))["status"] == "PENDING"
        await greedy.call("CancelTask", taskId=first["id"])
        await greedy.wait_status(second["id"], "COMPLETED")


async def test_a_task_interrupted_by_a_restart_resumes_and_loses_nothing(make_server: Any) -> None:
    overrides = {"lease_seconds": 1.0}
    async with make_server(**overrides) as server:
        user = Api(server, server.token("restart-user"))
        task = await user.submit("survives", context=steps(note("a", 1), wait(3000), note("b", 2)))
        await user.wait_for(task["id"], lambda t: t["steps"][1]["status"] == "RUNNING")
        token = user.token
    async with make_server(**overrides) as server:
        user = Api(server, token)
        done = await user.wait_status(task["id"], "COMPLETED", timeout=30)
        assert done["artifacts"] == {"a": 1, "b": 2}
        events = (await user.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1))
        statuses = [e["data"]["status"] for e in events if e["type"] == "STATUS_CHANGE"]
        assert statuses == ["PENDING", "RUNNING", "PENDING", "RUNNING", "COMPLETED"]


async def test_websocket_without_valid_credentials_is_closed_with_4403(alice: Api) -> None:
    intruder = Api(alice.server, "not-a-token")
    with pytest.raises(TransportConnectionFailed) as error:
        async with intruder.websocket() as ws:
            await asyncio.wait_for(ws.execute_batch([]), 5)
    close = error.value.__cause__
    assert isinstance(close, ConnectionClosed)
    assert close.rcvd is not None and close.rcvd.code == 4403


async def test_an_approved_step_interrupted_by_a_restart_is_not_asked_again(
    make_server: Any,
) -> None:
    overrides = {"lease_seconds": 1.0}
    async with make_server(**overrides) as server:
        user = Api(server, server.token("approved-restart-user"))
        task = await user.submit("approved once", context=steps(wait(3000, approval=True)))
        waiting = await user.wait_status(task["id"], "AWAITING_APPROVAL")
        await user.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": waiting["pendingApproval"]["id"],
                "approved": True,
            },
        )
        await user.wait_for(task["id"], lambda t: t["steps"][0]["status"] == "RUNNING")
        token = user.token
    async with make_server(**overrides) as server:
        user = Api(server, token)
        done = await user.wait_status(task["id"], "COMPLETED", timeout=30)
        assert [a["status"] for a in done["approvals"]] == ["APPROVED"]
