"""Undo of worker-run tasks (issue 12): the undo is queued for a worker of the task's
executor, claimed as undo work, and reported step by step; the events are the built-in
executor's undo events, and the reversibility rules are the same."""

from __future__ import annotations

import uuid
from typing import Any

from db.models import Task
from tests.support.attacker import api_key, rows_of
from tests.support.clients import Api
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error
from tests.support.worker_rest import Worker, event_types

SCHEMA = {"type": "object"}
ACTIONS = [
    {"name": "move", "parameterSchema": SCHEMA, "reversibility": "REVERSIBLE"},
    {"name": "pay", "parameterSchema": SCHEMA, "reversibility": "COMPENSATABLE"},
    {"name": "send", "parameterSchema": SCHEMA, "reversibility": "IRREVERSIBLE"},
]


async def finished_task(
    server: LiveServer, actions: list[str]
) -> tuple[Worker, Api, str, list[str]]:
    """A task of a registered executor whose worker completed every step."""
    owner = f"undo-{uuid.uuid4().hex[:8]}"
    worker = Worker(server, await api_key(server, owner, ["worker"]))
    name = f"undo-{uuid.uuid4().hex[:6]}"
    registered = await worker.post("/executors", {"name": name, "actions": ACTIONS})
    assert registered.status_code == 200, registered.text
    api = Api(server, server.token(owner))
    steps = [{"name": f"{a}-{i}", "action": a, "params": {"n": i}} for i, a in enumerate(actions)]
    task = await api.submit("undoable", context={"executor": name, "steps": steps})
    await worker.claim(name)
    ids = [s["id"] for s in (await api.get(task["id"]))["steps"]]  # type: ignore[index]
    for index, step_id in enumerate(ids):
        await worker.write(f"/steps/{step_id}/start")
        rollback = None if actions[index] == "send" else {"undo": index}
        done = await worker.write(f"/steps/{step_id}/complete", result=index, rollback=rollback)
        assert done.status_code == 200, done.text
    assert (await worker.write("/complete")).status_code == 200
    await api.wait_status(task["id"], "COMPLETED")
    return worker, api, task["id"], ids


async def undo(server: LiveServer, api: Api, task_id: str, **body: Any) -> Any:
    return await Rest(server, api.token).request(
        "POST", f"/api/agent/{task_id}/undo", json=body or None
    )


async def test_a_worker_claims_the_undo_and_reports_the_built_in_undo_events(
    server: LiveServer,
) -> None:
    # given a finished worker-run task: reversible, compensatable, reversible
    worker, api, task_id, ids = await finished_task(server, ["move", "pay", "move"])
    before = len(await event_types(server, task_id))
    # when the user undoes it, down to the first step
    asked = await undo(server, api, task_id, stepId=ids[0])
    # then the undo is queued for a worker; the task is unchanged until it runs
    assert asked.status_code == 200, asked.text
    assert asked.json()["data"]["task"]["status"] == "completed"
    lease = await worker.claim(worker_executor(await rows_of(server, Task, id=uuid.UUID(task_id))))
    assert lease is not None
    assert lease["undo"] == list(reversed(ids))
    assert [s["rollback"] for s in lease["steps"]] == [{"undo": 0}, {"undo": 1}, {"undo": 2}]
    beat = await worker.post(f"/tasks/{task_id}/heartbeat", {"leaseToken": worker.token})
    assert beat.json()["data"]["undo"] == list(reversed(ids))
    out_of_order = await worker.write(f"/steps/{ids[0]}/rolled-back")
    assert_error(out_of_order, 409, "CONFLICT", "client_error")
    early = await worker.write("/undo/complete")
    assert_error(early, 409, "CONFLICT", "client_error")
    for step_id in reversed(ids):
        rolled = await worker.write(f"/steps/{step_id}/rolled-back")
        assert rolled.status_code == 200, rolled.text
    retried = await worker.write(f"/steps/{ids[0]}/rolled-back", sequence=worker.sequence)
    assert retried.json()["data"]["applied"] is False
    finished = await worker.write("/undo/complete")
    assert finished.json()["data"]["status"] == "rolled_back"
    # then
    final = await api.wait_status(task_id, "ROLLED_BACK")
    assert [s["status"] for s in final["steps"]] == ["ROLLED_BACK"] * 3
    types = await event_types(server, task_id)
    assert [seq for seq, _ in types] == list(range(1, len(types) + 1))
    assert [t for _, t in types[before:]] == await built_in_undo_events(server, api, steps=3)
    late = await worker.write(f"/steps/{ids[0]}/log", level="info", message="late")
    assert_error(late, 409, "LEASE_LOST", "client_error")


def worker_executor(rows: list[Task]) -> str:
    return rows[0].executor


async def built_in_undo_events(server: LiveServer, api: Api, *, steps: int) -> list[str]:
    """The event types a built-in task's undo of `steps` note steps produces."""
    notes = [{"action": "note", "params": {"key": f"k{i}", "value": i}} for i in range(steps)]
    task = await api.submit("notes", context={"steps": notes})
    done = await api.wait_status(task["id"], "COMPLETED")
    before = len(await event_types(server, task["id"]))
    response = await undo(server, api, task["id"], stepId=done["steps"][0]["id"])
    assert response.status_code == 200, response.text
    return [t for _, t in (await event_types(server, task["id"]))[before:]]


async def test_an_irreversible_step_refuses_the_undo_before_anything_changes(
    server: LiveServer,
) -> None:
    worker, api, task_id, ids = await finished_task(server, ["move", "send", "pay"])
    before = await event_types(server, task_id)
    # when
    refused = await undo(server, api, task_id, stepId=ids[0])
    # then
    error = assert_error(refused, 409, "CONFLICT", "client_error")
    assert error["message"] == "step 'send-1' cannot be rolled back"
    assert await event_types(server, task_id) == before
    rows = await rows_of(server, Task, id=uuid.UUID(task_id))
    assert rows[0].undo_step_ids is None
    # an undo down to the step after it (compensatable) is allowed
    allowed = await undo(server, api, task_id, stepId=ids[2])
    assert allowed.status_code == 200, allowed.text
    again = await undo(server, api, task_id, stepId=ids[2])
    assert assert_error(again, 409, "CONFLICT", "client_error")["message"] == (
        "an undo of this task is already running"
    )
    lease = await worker.claim(rows[0].executor)
    assert lease is not None and lease["undo"] == [ids[2]]
    await worker.write(f"/steps/{ids[2]}/rolled-back")
    assert (await worker.write("/undo/complete")).json()["data"]["status"] == "completed"
    final = await api.get(task_id)
    assert final is not None
    assert [s["status"] for s in final["steps"]] == ["COMPLETED", "COMPLETED", "ROLLED_BACK"]


async def test_a_failed_rollback_ends_the_undo_and_the_steps_before_it_stay_rolled_back(
    server: LiveServer,
) -> None:
    worker, api, task_id, ids = await finished_task(server, ["move", "move"])
    executor = (await rows_of(server, Task, id=uuid.UUID(task_id)))[0].executor
    assert (await undo(server, api, task_id, stepId=ids[0])).status_code == 200
    await worker.claim(executor)
    await worker.write(f"/steps/{ids[1]}/rolled-back")
    # when
    failed = await worker.write(
        f"/steps/{ids[0]}/rollback-failed", error={"code": "EBUSY", "message": "file in use"}
    )
    # then
    assert failed.status_code == 200, failed.text
    final = await api.get(task_id)
    assert final is not None
    assert (final["status"], [s["status"] for s in final["steps"]]) == (
        "COMPLETED",
        ["COMPLETED", "ROLLED_BACK"],
    )
    events = await Rest(server, api.token).events(task_id)
    tail = [(e["type"], e["data"].get("message")) for e in events[-2:]]
    message = "rolling back step 'move-0' failed; the steps after it stay rolled back"
    assert tail == [("error", message), ("undo_complete", message)]
    assert events[-2]["data"]["error"] == {"code": "ROLLBACK_FAILED"}
    # the rest can be undone again later
    assert (await undo(server, api, task_id)).status_code == 200
    lease = await worker.claim(executor)
    assert lease is not None and lease["undo"] == [ids[0]]
