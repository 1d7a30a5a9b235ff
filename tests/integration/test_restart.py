"""Restarts on the same database never strand a task (issue 8, item 1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clients import Api, GraphQLCallError, note, steps, wait


async def _approve(user: Api, task_id: str, approval_id: str) -> dict[str, Any]:
    data = await user.call(
        "Approve", input={"taskId": task_id, "approvalId": approval_id, "approved": True}
    )
    return data["approve"]


async def test_a_waiting_task_survives_restarts_and_holds_no_slot(make_server: Any) -> None:
    user = "restart-user"
    async with make_server(max_running_per_user=1) as first:
        alice = Api(first, first.token(user))
        plan = steps(note("a", 1), note("b", 2, approval=True))
        gated = await alice.submit("gated", context=plan)
        waiting = await alice.wait_status(gated["id"], "AWAITING_APPROVAL")
        approval = waiting["pendingApproval"]
    # Three graceful restarts in a row are not three failed attempts.
    for _ in range(3):
        async with make_server(max_running_per_user=1) as again:
            alice = Api(again, again.token(user))
            # With the per-user limit at 1, a new task runs only if the waiting one holds no slot.
            other = await alice.submit("other", context=steps(note("c", 3)))
            assert (await alice.wait_status(other["id"], "COMPLETED"))["artifacts"] == {"c": 3}
            after = await alice.get(gated["id"])
            assert after is not None
            assert after["status"] == "AWAITING_APPROVAL"
            assert after["pendingApproval"] == approval
            assert after["currentStep"]["status"] == "AWAITING_APPROVAL"
    async with make_server(max_running_per_user=1) as last:
        alice = Api(last, last.token(user))
        await _approve(alice, gated["id"], approval["id"])
        done = await alice.wait_status(gated["id"], "COMPLETED")
        assert done["artifacts"] == {"a": 1, "b": 2}


@pytest.mark.parametrize("restart", [False, True])
async def test_cancelling_a_waiting_task_ends_it_and_its_approval(
    make_server: Any, restart: bool
) -> None:
    user = "cancel-user"
    async with make_server() as first:
        alice = Api(first, first.token(user))
        gated = await alice.submit("gated", context=steps(note("b", 2, approval=True)))
        approval = (await alice.wait_status(gated["id"], "AWAITING_APPROVAL"))["pendingApproval"]
        if not restart:
            cancelled = (await alice.call("CancelTask", taskId=gated["id"]))["cancelTask"]
            assert cancelled["status"] == "CANCELLED"
    async with make_server() as second:
        alice = Api(second, second.token(user))
        if restart:
            cancelled = (await alice.call("CancelTask", taskId=gated["id"]))["cancelTask"]
            assert cancelled["status"] == "CANCELLED"
        assert cancelled["pendingApproval"] is None
        with pytest.raises(GraphQLCallError) as refused:
            await _approve(alice, gated["id"], approval["id"])
        assert refused.value.code == "CONFLICT"
        final = await alice.get(gated["id"])
        assert final is not None
        assert final["status"] == "CANCELLED"
        assert final["artifacts"] == {}


async def test_after_a_kill_running_tasks_resume_and_waiting_ones_still_wait(
    make_server: Any,
) -> None:
    user = "killed-user"
    async with make_server(lease_seconds=1.0) as first:
        alice = Api(first, first.token(user))
        running = await alice.submit("running", context=steps(wait(1000), note("b", 2)))
        gated = await alice.submit("gated", context=steps(note("g", 1, approval=True)))
        approval = (await alice.wait_status(gated["id"], "AWAITING_APPROVAL"))["pendingApproval"]
        await alice.wait_for(running["id"], lambda t: t["steps"][0]["status"] == "RUNNING")
        await first.kill()
    async with make_server(lease_seconds=1.0) as second:
        alice = Api(second, second.token(user))
        done = await alice.wait_status(running["id"], "COMPLETED")
        assert done["artifacts"] == {"b": 2}
        events = (await alice.call("TaskEvents", taskId=running["id"], limit=500))["taskEvents"]
        errors = [e["data"]["error"]["code"] for e in events if e["type"] == "ERROR"]
        assert errors == ["LEASE_EXPIRED"]
        waiting = await alice.get(gated["id"])
        assert waiting is not None
        assert (waiting["status"], waiting["pendingApproval"]) == ("AWAITING_APPROVAL", approval)
        await _approve(alice, gated["id"], approval["id"])
        assert (await alice.wait_status(gated["id"], "COMPLETED"))["artifacts"] == {"g": 1}
