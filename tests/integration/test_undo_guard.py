"""Two undos of one task at once: one runs, the other is refused before changing anything."""

from __future__ import annotations

import asyncio

from tests.support.clients import Api, GraphQLCallError, note, steps


async def test_concurrent_undos_of_one_task_run_once(alice: Api) -> None:
    task = await alice.submit("undo race", context=steps(note("a", 1), note("b", 2), note("c", 3)))
    await alice.wait_status(task["id"], "COMPLETED")
    first_step = (await alice.get(task["id"]))["steps"][0]["id"]

    results = await asyncio.gather(
        *(alice.call("Undo", taskId=task["id"], stepId=first_step) for _ in range(2)),
        return_exceptions=True,
    )

    succeeded = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, GraphQLCallError)]
    assert len(succeeded) == 1 and len(refused) == 1, results
    assert refused[0].code == "CONFLICT"
    final = await alice.get(task["id"])
    assert final["status"] == "ROLLED_BACK"
    assert final["artifacts"] == {}
    events = (await alice.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]
    assert [e["type"] for e in events].count("UNDO_START") == 1
    assert [e["type"] for e in events].count("STEP_ROLLED_BACK") == 3


async def test_undo_can_run_again_after_the_first_finished(alice: Api) -> None:
    task = await alice.submit("undo twice", context=steps(note("a", 1), note("b", 2)))
    await alice.wait_status(task["id"], "COMPLETED")
    once = (await alice.call("Undo", taskId=task["id"]))["undo"]
    assert once["artifacts"] == {"a": 1}
    twice = (await alice.call("Undo", taskId=task["id"]))["undo"]
    assert twice["artifacts"] == {} and twice["status"] == "ROLLED_BACK"
    try:
        await alice.call("Undo", taskId=task["id"])
    except GraphQLCallError as error:
        assert error.code == "CONFLICT"
        assert str(error) == "the task has no completed step to undo"
    else:
        raise AssertionError("undoing a task with nothing left to undo must be refused")
