"""The undo plan can be asked for before anything changes, and matches what undo then does."""

from __future__ import annotations

import pytest

from tests.support.clients import Api, GraphQLCallError, fail, note, steps, wait


async def test_the_plan_names_the_steps_undo_will_roll_back(alice: Api) -> None:
    task = await alice.submit("plan", context=steps(note("a", 1), note("b", 2), note("c", 3)))
    done = await alice.wait_status(task["id"], "COMPLETED")
    second = done["steps"][1]["id"]
    before = (await alice.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]

    plan = (await alice.call("UndoPlan", taskId=task["id"], stepId=second))["undoPlan"]

    assert plan["possible"] is True and plan["reason"] is None
    assert [s["name"] for s in plan["steps"]] == ["note c", "note b"]
    after = (await alice.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]
    assert after == before
    undone = (await alice.call("Undo", taskId=task["id"], stepId=second))["undo"]
    rolled = [s["id"] for s in undone["steps"] if s["status"] == "ROLLED_BACK"]
    assert sorted(rolled) == sorted(s["id"] for s in plan["steps"])


async def test_the_plan_says_why_undo_would_refuse(alice: Api) -> None:
    failed = await alice.submit("irreversible", context=steps(note("a", 1), fail("boom")))
    await alice.wait_status(failed["id"], "FAILED")
    plan = (await alice.call("UndoPlan", taskId=failed["id"]))["undoPlan"]
    assert plan["possible"] is True  # the failed step is not part of the plan
    assert [s["name"] for s in plan["steps"]] == ["note a"]

    running = await alice.submit("running", context=steps(wait(3000)))
    await alice.wait_status(running["id"], "RUNNING")
    refused = (await alice.call("UndoPlan", taskId=running["id"]))["undoPlan"]
    assert refused == {
        "possible": False,
        "reason": "the task is running; only a finished task can be undone",
        "hint": "cancel the task or wait for it to finish, then undo",
        "steps": [],
    }
    await alice.call("CancelTask", taskId=running["id"])


async def test_the_plan_of_another_users_task_is_not_found(alice: Api, bob: Api) -> None:
    task = await alice.submit("private", context=steps(note("a", 1)))
    await alice.wait_status(task["id"], "COMPLETED")
    with pytest.raises(GraphQLCallError) as error:
        await bob.call("UndoPlan", taskId=task["id"])
    assert error.value.code == "NOT_FOUND"
    assert str(error.value) == f"task {task['id']} was not found"
