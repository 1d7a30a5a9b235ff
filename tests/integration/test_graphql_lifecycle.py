"""The core lifecycle over real HTTP and a real graphql-transport-ws WebSocket."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.clients import Api, GraphQLCallError, collect, fail, note, steps, wait


async def test_submitted_task_runs_to_completion_step_by_step(alice: Api) -> None:
    # given
    task = await alice.submit(
        "write two notes", context=steps(note("a", 1), wait(50), note("b", [2]))
    )
    assert task["status"] in ("PENDING", "RUNNING")
    assert [s["name"] for s in task["steps"]] == ["note a", "wait 50", "note b"]
    # when
    done = await alice.wait_status(task["id"], "COMPLETED")
    # then
    assert done["artifacts"] == {"a": 1, "b": [2]}
    assert done["progress"] == 1.0
    assert [s["status"] for s in done["steps"]] == ["COMPLETED"] * 3
    assert done["result"] == {
        "stepsCompleted": 3,
        "stepsSkipped": 0,
        "artifacts": {"a": 1, "b": [2]},
    }
    assert done["startedAt"] is not None and done["finishedAt"] is not None
    assert done["queuePosition"] is None and done["estimatedWaitTime"] is None


async def test_task_without_steps_is_planned_from_its_text(alice: Api) -> None:
    task = await alice.submit("Look up the weather. Summarise it")
    assert [s["action"] for s in task["steps"]] == ["wait", "wait"]
    done = await alice.wait_status(task["id"], "COMPLETED")
    assert done["progress"] == 1.0


async def test_gated_step_waits_for_approval_then_runs(alice: Api) -> None:
    task = await alice.submit("gated", context=steps(note("a", 1), note("b", 2, approval=True)))
    waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
    approval = waiting["pendingApproval"]
    assert approval["parameters"] == {"key": "b", "value": 2}
    assert waiting["currentStep"]["status"] == "AWAITING_APPROVAL"
    assert waiting["artifacts"] == {"a": 1}

    answered = await alice.call(
        "Approve",
        input={
            "taskId": task["id"],
            "approvalId": approval["id"],
            "approved": True,
            "message": "ok",
        },
    )
    assert answered["approve"]["status"] in ("PENDING", "RUNNING", "COMPLETED")
    done = await alice.wait_status(task["id"], "COMPLETED")
    assert done["artifacts"] == {"a": 1, "b": 2}
    decided = done["approvals"][0]
    assert decided["status"] == "APPROVED"
    assert decided["decisionMessage"] == "ok"


async def test_approval_with_modified_parameters_runs_the_step_with_them(alice: Api) -> None:
    task = await alice.submit("modify", context=steps(note("colour", "red", approval=True)))
    waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
    await alice.call(
        "Approve",
        input={
            "taskId": task["id"],
            "approvalId": waiting["pendingApproval"]["id"],
            "approved": True,
            "modifiedParameters": {"key": "colour", "value": "blue"},
        },
    )
    done = await alice.wait_status(task["id"], "COMPLETED")
    assert done["artifacts"] == {"colour": "blue"}
    assert done["steps"][0]["params"] == {"key": "colour", "value": "blue"}
    assert done["approvals"][0]["status"] == "MODIFIED"
    assert done["approvals"][0]["modifiedParameters"] == {"key": "colour", "value": "blue"}


async def test_rejected_step_is_skipped_and_the_task_goes_on(alice: Api) -> None:
    task = await alice.submit("reject", context=steps(note("a", 1, approval=True), note("b", 2)))
    waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
    await alice.call(
        "Approve",
        input={
            "taskId": task["id"],
            "approvalId": waiting["pendingApproval"]["id"],
            "approved": False,
        },
    )
    done = await alice.wait_status(task["id"], "COMPLETED")
    assert [s["status"] for s in done["steps"]] == ["SKIPPED", "COMPLETED"]
    assert done["artifacts"] == {"b": 2}
    assert done["approvals"][0]["status"] == "REJECTED"


async def test_reject_with_cancel_policy_cancels_the_task(alice: Api) -> None:
    context = {**steps(note("a", 1, approval=True), note("b", 2)), "onReject": "cancel"}
    task = await alice.submit("reject cancels", context=context)
    waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
    await alice.call(
        "Approve",
        input={
            "taskId": task["id"],
            "approvalId": waiting["pendingApproval"]["id"],
            "approved": False,
        },
    )
    done = await alice.wait_status(task["id"], "CANCELLED")
    assert [s["status"] for s in done["steps"]] == ["CANCELLED", "CANCELLED"]


async def test_expired_approval_is_recorded_as_expired_not_rejected(alice: Api) -> None:
    context = {**steps(note("a", 1, approval=True), note("b", 2)), "approvalTimeoutSeconds": 0.5}
    task = await alice.submit("expires", context=context)
    done = await alice.wait_status(task["id"], "COMPLETED", timeout=15)
    assert done["approvals"][0]["status"] == "EXPIRED"
    assert done["approvals"][0]["decidedBy"] == "system:timeout"
    assert [s["status"] for s in done["steps"]] == ["SKIPPED", "COMPLETED"]
    events = (await alice.call("TaskEvents", taskId=task["id"]))["taskEvents"]
    assert "APPROVAL_TIMEOUT" in [e["type"] for e in events]


async def test_failing_step_fails_the_task_with_its_message(alice: Api) -> None:
    task = await alice.submit("fails", context=steps(note("a", 1), fail("disk full"), note("b", 2)))
    done = await alice.wait_status(task["id"], "FAILED")
    assert done["error"]["message"] == "disk full"
    assert [s["status"] for s in done["steps"]] == ["COMPLETED", "FAILED", "SKIPPED"]
    events = (await alice.call("TaskEvents", taskId=task["id"]))["taskEvents"]
    error_event = next(e for e in events if e["type"] == "ERROR")
    assert error_event["data"]["message"] == "disk full"
    assert error_event["priority"] == "CRITICAL"


async def test_cancel_pending_awaiting_and_running_tasks(alice: Api) -> None:
    # awaiting approval: ends at once
    gated = await alice.submit("gated", context=steps(note("a", 1, approval=True)))
    await alice.wait_status(gated["id"], "AWAITING_APPROVAL")
    cancelled = (await alice.call("CancelTask", taskId=gated["id"]))["cancelTask"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["approvals"][0]["status"] == "CANCELLED"
    # running: cancelled at the next checkpoint
    slow = await alice.submit("slow", context=steps(wait(5000), note("never", 1)))
    await alice.wait_for(
        slow["id"], lambda t: t["status"] == "RUNNING" and t["currentStep"] is not None
    )
    await alice.call("CancelTask", taskId=slow["id"])
    done = await alice.wait_status(slow["id"], "CANCELLED", timeout=5)
    assert done["artifacts"] == {}
    assert [s["status"] for s in done["steps"]] == ["CANCELLED", "CANCELLED"]


async def test_cancelling_a_finished_task_is_a_conflict_and_changes_nothing(alice: Api) -> None:
    task = await alice.submit("quick", context=steps(note("a", 1)))
    await alice.wait_status(task["id"], "COMPLETED")
    before = (await alice.call("TaskEvents", taskId=task["id"]))["taskEvents"]
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("CancelTask", taskId=task["id"])
    assert error.value.code == "CONFLICT"
    assert "already completed" in str(error.value)
    after = (await alice.call("TaskEvents", taskId=task["id"]))["taskEvents"]
    assert after == before
    assert (await alice.get(task["id"]))["status"] == "COMPLETED"


async def test_undo_rolls_back_in_reverse_order_down_to_a_step(alice: Api) -> None:
    task = await alice.submit("undo", context=steps(note("a", 1), note("b", 2), note("c", 3)))
    done = await alice.wait_status(task["id"], "COMPLETED")
    second = done["steps"][1]["id"]
    undone = (await alice.call("Undo", taskId=task["id"], stepId=second))["undo"]
    assert undone["artifacts"] == {"a": 1}
    assert [s["status"] for s in undone["steps"]] == ["COMPLETED", "ROLLED_BACK", "ROLLED_BACK"]
    assert undone["status"] == "COMPLETED"
    events = (await alice.call("TaskEvents", taskId=task["id"]))["taskEvents"]
    rolled = [e["data"]["step"]["name"] for e in events if e["type"] == "STEP_ROLLED_BACK"]
    assert rolled == ["note c", "note b"]
    # the rest: undo without a step id takes the last completed step, and the task is rolled back
    final = (await alice.call("Undo", taskId=task["id"]))["undo"]
    assert final["status"] == "ROLLED_BACK"
    assert final["artifacts"] == {}


async def test_undo_restores_an_overwritten_artifact(alice: Api) -> None:
    task = await alice.submit("overwrite", context=steps(note("k", "old"), note("k", "new")))
    await alice.wait_status(task["id"], "COMPLETED")
    undone = (await alice.call("Undo", taskId=task["id"]))["undo"]
    assert undone["artifacts"] == {"k": "old"}


async def test_undo_of_a_running_task_is_a_conflict(alice: Api) -> None:
    task = await alice.submit("running", context=steps(note("a", 1), wait(3000)))
    await alice.wait_for(task["id"], lambda t: t["steps"][0]["status"] == "COMPLETED")
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("Undo", taskId=task["id"])
    assert error.value.code == "CONFLICT"
    current = await alice.get(task["id"])
    assert current["steps"][0]["status"] == "COMPLETED"
    await alice.call("CancelTask", taskId=task["id"])


async def test_undo_refuses_an_irreversible_step_before_changing_anything(alice: Api) -> None:
    task = await alice.submit("irreversible", context=steps(note("a", 1), fail("boom")))
    done = await alice.wait_status(task["id"], "FAILED")
    undone = (await alice.call("Undo", taskId=task["id"]))["undo"]
    assert undone["artifacts"] == {}
    assert done["steps"][1]["status"] == "FAILED"


async def test_approving_an_answered_approval_is_a_conflict(alice: Api) -> None:
    task = await alice.submit("twice", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
    answer = {
        "taskId": task["id"],
        "approvalId": waiting["pendingApproval"]["id"],
        "approved": True,
    }
    await alice.call("Approve", input=answer)
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("Approve", input={**answer, "approved": False})
    assert error.value.code == "CONFLICT"
    done = await alice.wait_status(task["id"], "COMPLETED")
    assert done["approvals"][0]["status"] == "APPROVED"


async def test_subscription_replays_then_streams_live_events(alice: Api) -> None:
    task = await alice.submit(
        "watch", context=steps(note("a", 1), wait(200), note("b", 2, approval=True))
    )
    async with alice.websocket() as ws:
        events = await collect(
            ws,
            "TaskUpdates",
            taskId=task["id"],
            after=0,
            until=lambda e: e["type"] == "APPROVAL_REQUEST",
        )
        approval = events[-1]["data"]["approvalRequest"]
        assert approval["status"] == "PENDING"
        seqs = [e["seq"] for e in events if e["seq"] is not None]
        assert seqs == list(range(1, len(seqs) + 1))
        types = [e["type"] for e in events if e["seq"] is not None]
        assert types[:4] == ["STATUS_CHANGE", "STATUS_CHANGE", "STEP_START", "STEP_COMPLETE"]
        assert "STEP_PROGRESS" in types
        await alice.call(
            "Approve", input={"taskId": task["id"], "approvalId": approval["id"], "approved": True}
        )
        rest = await collect(
            ws,
            "TaskUpdates",
            taskId=task["id"],
            after=seqs[-1],
            until=lambda e: e["type"] == "COMPLETED",
        )
    rest_types = [e["type"] for e in rest if e["seq"] is not None]
    assert rest_types[0] == "APPROVAL_RESOLVED"
    assert rest_types[-2:] == ["STATUS_CHANGE", "COMPLETED"]
    assert rest[-1]["data"]["result"]["artifacts"] == {"a": 1, "b": 2}
    assert [e["seq"] for e in rest if e["seq"] is not None] == list(
        range(seqs[-1] + 1, seqs[-1] + 1 + len(rest_types))
    )


async def test_reconnect_with_after_sees_every_event_exactly_once(alice: Api) -> None:
    task = await alice.submit("resume", context=steps(*(wait(120) for _ in range(4)), note("z", 1)))
    seen: list[dict] = []
    async with alice.websocket() as ws:
        seen += await collect(
            ws,
            "TaskUpdates",
            taskId=task["id"],
            after=0,
            until=lambda e: e["type"] == "STEP_COMPLETE",
        )
    # the connection is gone; events keep happening while we are away
    await asyncio.sleep(0.3)
    last = max(e["seq"] for e in seen if e["seq"] is not None)
    async with alice.websocket() as ws:
        seen += await collect(
            ws,
            "TaskUpdates",
            taskId=task["id"],
            after=last,
            until=lambda e: e["type"] == "COMPLETED",
        )
    stored = [e for e in seen if e["seq"] is not None]
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
    assert len({e["id"] for e in stored}) == len(stored)
    log = (await alice.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]
    assert [e["id"] for e in log] == [e["id"] for e in stored]


async def test_two_users_cannot_see_each_others_tasks(alice: Api, bob: Api) -> None:
    task = await alice.submit("private", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
    assert await bob.get(task["id"]) is None
    listing = (await bob.call("ListTasks"))["tasks"]
    assert listing["totalCount"] == 0 and listing["edges"] == []
    for name, variables in (
        ("CancelTask", {"taskId": task["id"]}),
        ("Undo", {"taskId": task["id"]}),
        ("TaskEvents", {"taskId": task["id"]}),
        (
            "Approve",
            {
                "input": {
                    "taskId": task["id"],
                    "approvalId": waiting["pendingApproval"]["id"],
                    "approved": True,
                }
            },
        ),
    ):
        with pytest.raises(GraphQLCallError) as error:
            await bob.call(name, **variables)
        assert error.value.code == "NOT_FOUND", name
        assert str(error.value) == f"task {task['id']} was not found"
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(GraphQLCallError) as error:
        await bob.call("CancelTask", taskId=missing)
    assert str(error.value) == f"task {missing} was not found"
    still = await alice.get(task["id"])
    assert still["status"] == "AWAITING_APPROVAL"
    await alice.call("CancelTask", taskId=task["id"])


async def test_subscribing_to_another_users_task_is_not_found(alice: Api, bob: Api) -> None:
    task = await alice.submit("private", context=steps(note("a", 1)))
    async with bob.websocket() as ws:
        with pytest.raises(Exception) as error:
            await collect(
                ws, "TaskUpdates", taskId=task["id"], after=0, until=lambda e: True, timeout=5
            )
    assert "was not found" in str(error.value)
