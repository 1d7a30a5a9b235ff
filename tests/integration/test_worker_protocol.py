"""The worker protocol over REST (issue 12): claim, steps, approvals, completion, fencing,
retries and lease recovery, watched by a GraphQL client."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from db.models import Task
from tests.support.attacker import rows_of
from tests.support.clients import GraphQLCallError
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error
from tests.support.worker_rest import Worker, event_types, move, setup

REPO = Path(__file__).resolve().parents[2]


async def test_a_worker_claims_runs_an_approval_and_completes(server: LiveServer) -> None:
    worker, api, name = await setup(server)
    task = await api.submit(
        "organise", context={"executor": name, "steps": [move("a"), move("b", approval=True)]}
    )
    lease = await worker.claim(name, wait=0)
    assert lease is not None
    assert [s["status"] for s in lease["steps"]] == ["pending", "pending"]
    claimed = worker
    steps = (await api.get(task["id"]))["steps"]  # type: ignore[index]
    first, second = steps[0]["id"], steps[1]["id"]
    assert (await claimed.write(f"/steps/{first}/start")).status_code == 200
    assert (
        await claimed.write(f"/steps/{first}/progress", progress=0.5, message="half")
    ).status_code == 200
    done = await claimed.write(f"/steps/{first}/complete", result={"moved": "a"})
    assert done.json()["data"]["applied"] is True
    refused = await claimed.write(f"/steps/{second}/start")
    assert_error(refused, 409, "CONFLICT", "client_error")
    asked = await claimed.write("/approvals", stepId=second, prompt="Move b?", dedupeKey="b")
    approval = asked.json()["data"]["approval"]
    again = await claimed.write("/approvals", stepId=second, prompt="Move b?", dedupeKey="b")
    assert again.json()["data"]["applied"] is False
    assert again.json()["data"]["approval"]["id"] == approval["id"]
    waiting = await api.wait_status(task["id"], "AWAITING_APPROVAL")
    await api.call(
        "Approve", input={"taskId": task["id"], "approvalId": approval["id"], "approved": True}
    )
    beat = await claimed.post(f"/tasks/{task['id']}/heartbeat", {"leaseToken": claimed.token})
    signals = beat.json()["data"]
    assert [a["status"] for a in signals["approvals"]] == ["approved"]
    assert signals["status"] == "running"
    assert (await claimed.write(f"/steps/{second}/start")).status_code == 200
    assert (
        await claimed.write(f"/steps/{second}/complete", result={"moved": "b"})
    ).status_code == 200
    finished = await claimed.write("/complete", result={"files": 2})
    assert finished.status_code == 200, finished.text
    final = await api.wait_status(task["id"], "COMPLETED")
    assert waiting["status"] == "AWAITING_APPROVAL"
    assert [s["status"] for s in final["steps"]] == ["COMPLETED", "COMPLETED"]
    types = await event_types(server, task["id"])
    assert [seq for seq, _ in types] == list(range(1, len(types) + 1))
    assert [t for _, t in types] == [
        "status_change",
        "status_change",
        "step_start",
        "step_progress",
        "step_complete",
        "status_change",
        "approval_request",
        "approval_resolved",
        "status_change",
        "step_start",
        "step_complete",
        "status_change",
        "completed",
    ]


async def test_a_retried_write_is_applied_once_and_a_stale_token_changes_nothing(
    server: LiveServer,
) -> None:
    worker, api, name = await setup(server)
    task = await api.submit("organise", context={"executor": name, "steps": [move("a")]})
    await worker.claim(name)
    step = (await api.get(task["id"]))["steps"][0]["id"]  # type: ignore[index]
    assert (await worker.write(f"/steps/{step}/start")).status_code == 200
    first = await worker.write(f"/steps/{step}/progress", progress=0.3)
    retried = await worker.write(f"/steps/{step}/progress", sequence=worker.sequence, progress=0.3)
    assert first.json()["data"]["applied"] is True
    assert retried.json()["data"] == {
        "applied": False,
        "sequence": 2,
        "step": None,
        "steps": None,
        "approval": None,
        "status": None,
        "artifact": None,
    }
    real_token = worker.token
    worker.token = "not-the-token"
    stale = await worker.write(f"/steps/{step}/complete", result=1)
    error = assert_error(stale, 409, "LEASE_LOST", "client_error")
    assert "nothing was changed" in error["message"]
    worker.token = real_token
    types = [t for _, t in await event_types(server, task["id"])]
    assert types.count("step_progress") == 1
    assert "step_complete" not in types
    rows = await rows_of(server, Task, id=uuid.UUID(task["id"]))
    assert (rows[0].status, rows[0].lease_sequence) == ("running", 2)


async def test_nothing_to_claim_is_204_and_bad_input_names_the_field(server: LiveServer) -> None:
    worker, api, name = await setup(server)
    assert await worker.claim(name, wait=0.3) is None
    bad_lease = await worker.post("/claim", {"executors": [name], "leaseSeconds": 1})
    assert_error(bad_lease, 422, "VALIDATION", "validation_error", field="leaseSeconds")
    unknown = await worker.post("/claim", {"executors": ["nobody-at-all"]})
    assert_error(unknown, 404, "NOT_FOUND", "client_error")
    task = await api.submit("organise", context={"executor": name, "steps": [move("a")]})
    await worker.claim(name)
    step = (await api.get(task["id"]))["steps"][0]["id"]  # type: ignore[index]
    missing = await worker.write(f"/steps/{uuid.uuid4()}/start")
    assert_error(missing, 404, "NOT_FOUND", "client_error")
    await worker.write(f"/steps/{step}/start")
    out_of_range = await worker.write(f"/steps/{step}/progress", progress=1.5)
    assert_error(out_of_range, 422, "VALIDATION", "validation_error", field="progress")
    long_line = await worker.write(f"/steps/{step}/log", level="info", message="x" * 4001)
    assert_error(long_line, 422, "VALIDATION", "validation_error", field="message")
    bad_plan = await worker.write(
        "/plan", steps=[{"action": "move_file", "params": {"source": 1, "target": "b"}}]
    )
    assert_error(bad_plan, 422, "VALIDATION", "validation_error", field="steps[0].params.source")
    planned = await worker.write("/plan", steps=[move("c")])
    assert [s["name"] for s in planned.json()["data"]["steps"]] == ["move_file", "move_file"]
    user_denied = await Rest(server, api.token).request(
        "POST", "/api/worker/claim", json={"executors": [name]}
    )
    assert_error(user_denied, 403, "FORBIDDEN", "auth_error")


async def test_a_cancel_reaches_the_worker_and_a_late_write_is_refused(server: LiveServer) -> None:
    worker, api, name = await setup(server)
    task = await api.submit("organise", context={"executor": name, "steps": [move("a"), move("b")]})
    await worker.claim(name)
    steps = (await api.get(task["id"]))["steps"]  # type: ignore[index]
    await worker.write(f"/steps/{steps[0]['id']}/start")
    await api.call("CancelTask", taskId=task["id"])
    beat = await worker.post(f"/tasks/{task['id']}/heartbeat", {"leaseToken": worker.token})
    assert beat.json()["data"]["cancel"] == {"mode": "immediate"}
    refused = await worker.write(f"/steps/{steps[1]['id']}/start")
    assert_error(refused, 409, "CONFLICT", "client_error")
    acknowledged = await worker.write("/fail", error={"code": "CANCELLED", "message": "stopped"})
    assert acknowledged.status_code == 200, acknowledged.text
    final = await api.wait_status(task["id"], "CANCELLED")
    assert [s["status"] for s in final["steps"]] == ["CANCELLED", "CANCELLED"]
    late = await worker.write(f"/steps/{steps[0]['id']}/complete", result=1)
    assert_error(late, 409, "LEASE_LOST", "client_error")


async def test_a_lapsed_lease_requeues_and_the_next_worker_skips_completed_steps(
    server: LiveServer,
) -> None:
    crashed, api, name = await setup(server)
    task = await api.submit("organise", context={"executor": name, "steps": [move("a"), move("b")]})
    await crashed.claim(name, leaseSeconds=5)
    steps = (await api.get(task["id"]))["steps"]  # type: ignore[index]
    await crashed.write(f"/steps/{steps[0]['id']}/start")
    await crashed.write(f"/steps/{steps[0]['id']}/complete", result={"moved": "a"})
    await crashed.write(f"/steps/{steps[1]['id']}/start")
    # The first worker goes silent; a second one waits for work.
    second = Worker(server, "")
    second.rest = crashed.rest
    # when
    lease = await second.claim(name, wait=15)
    # then
    assert lease is not None
    assert lease["task"]["id"] == task["id"]
    assert lease["task"]["attempts"] == 2
    assert [s["status"] for s in lease["steps"]] == ["completed", "pending"]
    late = await crashed.write(f"/steps/{steps[1]['id']}/complete", result=1)
    assert_error(late, 409, "LEASE_LOST", "client_error")
    await second.write(f"/steps/{steps[1]['id']}/start")
    await second.write(f"/steps/{steps[1]['id']}/complete", result={"moved": "b"})
    assert (await second.write("/complete")).status_code == 200
    final = await api.wait_status(task["id"], "COMPLETED")
    assert final["result"]["stepsCompleted"] == 2
    types = [t for _, t in await event_types(server, task["id"])]
    assert types.count("step_start") == 3
    assert types.count("error") == 1
    errors = [e for e in await Rest(server, api.token).events(task["id"]) if e["type"] == "error"]
    assert errors[0]["data"]["error"]["code"] == "LEASE_EXPIRED"


async def test_eight_worker_processes_claim_two_hundred_tasks_each_exactly_once(
    server: LiveServer, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("the claim race is a PostgreSQL property (SKIP LOCKED); SQLite serializes")
    worker, _, name = await setup(server)
    owner_key = worker.rest.headers()["X-API-Key"]
    submitters = [Rest(server, server.token(f"race-{uuid.uuid4().hex[:8]}")) for _ in range(10)]
    submitted: list[str] = []
    for index in range(200):
        task = await submitters[index % 10].submit(f"race {index}", context={"executor": name})
        submitted.append(task["id"])
    repo = REPO
    env = {**os.environ, "AGENTWIRE_WORKER_KEY": owner_key, "PYTHONPATH": str(repo)}
    # when
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.claim_worker",
            server.http_url,
            name,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            cwd=repo,
        )
        for _ in range(8)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 120)
    # then
    assert [p.returncode for p in processes] == [0] * 8
    claimed = [task_id for out, _ in outputs for task_id in json.loads(out)]
    assert sorted(claimed) == sorted(submitted)
    assert sum(1 for out, _ in outputs if json.loads(out)) >= 2  # the work really was shared
    rows = [r for r in await rows_of(server, Task, executor=name)]
    assert sorted((r.status, r.attempts) for r in rows) == [("completed", 1)] * 200


async def test_a_worker_that_ignores_a_cancel_is_fenced_when_its_lease_lapses(
    server: LiveServer,
) -> None:
    worker, api, name = await setup(server)
    task = await api.submit("organise", context={"executor": name, "steps": [move("a")]})
    await worker.claim(name, leaseSeconds=5)
    step = (await api.get(task["id"]))["steps"][0]["id"]  # type: ignore[index]
    await worker.write(f"/steps/{step}/start")
    await Rest(server, api.token).request("DELETE", f"/api/agent/{task['id']}?mode=after_step")
    beat = await worker.post(f"/tasks/{task['id']}/heartbeat", {"leaseToken": worker.token})
    assert beat.json()["data"]["cancel"] == {"mode": "after_step"}
    before = beat.json()["data"]["leaseExpiresAt"]
    again = await worker.post(f"/tasks/{task['id']}/heartbeat", {"leaseToken": worker.token})
    assert again.json()["data"]["leaseExpiresAt"] == before  # a cancel is not renewed
    # when: the worker keeps working instead of stopping; another claim runs recovery
    other = Worker(server, "")
    other.rest = worker.rest
    assert await other.claim(name, wait=8) is None
    # then
    final = await api.wait_status(task["id"], "CANCELLED")
    assert [s["status"] for s in final["steps"]] == ["CANCELLED"]
    late = await worker.write(f"/steps/{step}/complete", result={"moved": "a"})
    assert_error(late, 409, "LEASE_LOST", "client_error")


async def test_input_while_an_approval_is_pending_follows_its_policy(server: LiveServer) -> None:
    worker, api, name = await setup(server)
    task = await api.submit(
        "organise", context={"executor": name, "steps": [move("a", approval=True), move("b")]}
    )
    await worker.claim(name)
    steps = (await api.get(task["id"]))["steps"]  # type: ignore[index]
    await worker.write("/approvals", stepId=steps[0]["id"], prompt="Move a?", dedupeKey="a")
    await api.wait_status(task["id"], "AWAITING_APPROVAL")
    # when: QUEUE keeps the input back while the approval is pending
    await api.call("SendInput", taskId=task["id"], input={"note": "first"}, policy="QUEUE")
    held = await worker.post(f"/tasks/{task['id']}/heartbeat", {"leaseToken": worker.token})
    # then
    assert held.json()["data"]["inputs"] == []
    assert [a["status"] for a in held.json()["data"]["approvals"]] == ["pending"]
    # when: REJECT_PENDING rejects the approval and hands everything over
    response = await Rest(server, api.token).request(
        "POST",
        f"/api/agent/{task['id']}/input",
        json={"input": {"note": "second"}, "policy": "reject_pending"},
    )
    assert response.status_code == 200, response.text
    given = (
        await worker.post(f"/tasks/{task['id']}/heartbeat", {"leaseToken": worker.token})
    ).json()["data"]
    # then
    assert [i["input"] for i in given["inputs"]] == [{"note": "first"}, {"note": "second"}]
    assert [a["status"] for a in given["approvals"]] == ["rejected"]
    assert given["status"] == "running"
    events = [e for e in await Rest(server, api.token).events(task["id"]) if e["type"] == "input"]
    assert [(e["data"]["input"], e["data"]["policy"], e["data"]["queued"]) for e in events] == [
        ({"note": "first"}, "queue", True),
        ({"note": "second"}, "reject_pending", False),
    ]
    bad = await Rest(server, api.token).request(
        "POST", f"/api/agent/{task['id']}/input", json={"input": 1, "policy": "later"}
    )
    assert_error(bad, 422, "VALIDATION", "validation_error", field="policy")


async def test_a_task_that_fails_cancels_its_pending_approvals(server: LiveServer) -> None:
    # given a worker-run task whose second step waits for approval
    worker, api, name = await setup(server)
    task = await api.submit(
        "organise", context={"executor": name, "steps": [move("a"), move("b", approval=True)]}
    )
    assert await worker.claim(name, wait=0) is not None
    second = (await api.get(task["id"]))["steps"][1]["id"]  # type: ignore[index]
    asked = await worker.write("/approvals", stepId=second, prompt="Move b?")
    approval = asked.json()["data"]["approval"]
    # when the worker fails the task
    failed = await worker.write("/fail", error={"code": "DISK_FULL", "message": "no space left"})
    assert failed.status_code == 200, failed.text
    # then the approval is cancelled with it, and answering it is a conflict
    final = await api.wait_status(task["id"], "FAILED")
    assert [a["status"] for a in final["approvals"]] == ["CANCELLED"]
    with pytest.raises(GraphQLCallError) as refused:
        await api.call(
            "Approve", input={"taskId": task["id"], "approvalId": approval["id"], "approved": True}
        )
    assert refused.value.code == "CONFLICT"
    assert (await api.get(task["id"]))["status"] == "FAILED"  # type: ignore[index]


async def test_artifact_writes_answer_the_previous_value_and_refuse_bad_input(
    server: LiveServer,
) -> None:
    worker, api, name = await setup(server)
    task = await api.submit("organise", context={"executor": name, "steps": [move("a")]})
    await worker.claim(name)
    # when
    first = await worker.write("/artifacts", key="colour", value="green")
    second = await worker.write("/artifacts", key="colour", value="blue")
    retried = await worker.write("/artifacts", sequence=worker.sequence, key="colour", value="x")
    empty_key = await worker.write("/artifacts", key="", value=1)
    too_big = await worker.write("/artifacts", key="big", value="x" * 70_000)
    both = await worker.write("/artifacts", key="colour", value=1, remove=True)
    # then
    assert first.json()["data"]["artifact"] == {"key": "colour", "existed": False, "previous": None}
    assert second.json()["data"]["artifact"] == {
        "key": "colour",
        "existed": True,
        "previous": "green",
    }
    assert retried.json()["data"]["applied"] is False
    assert retried.json()["data"]["artifact"] == {"key": "colour", "value": "blue"}
    assert_error(empty_key, 422, "VALIDATION", "validation_error", field="key")
    assert_error(too_big, 422, "VALIDATION", "validation_error", field="value")
    assert_error(both, 422, "VALIDATION", "validation_error", field="value")
    rows = await rows_of(server, Task, id=uuid.UUID(task["id"]))
    assert rows[0].artifacts == {"colour": "blue"}
    removed = await worker.write("/artifacts", key="colour", remove=True)
    assert removed.json()["data"]["artifact"]["previous"] == "blue"
    stale = worker.token
    worker.token = "not-the-token"
    refused = await worker.write("/artifacts", key="colour", value="red")
    assert_error(refused, 409, "LEASE_LOST", "client_error")
    worker.token = stale
    assert (await rows_of(server, Task, id=uuid.UUID(task["id"])))[0].artifacts == {}


async def test_every_worker_write_refuses_unknown_tasks_foreign_steps_and_stale_leases(
    server: LiveServer,
) -> None:
    # given a claimed task, and a step of another task
    worker, api, name = await setup(server)
    task = await api.submit("organise", context={"executor": name, "steps": [move("a")]})
    other = await api.submit("other", context={"executor": name, "steps": [move("z")]})
    not_mine = (await api.get(other["id"]))["steps"][0]["id"]  # type: ignore[index]
    lease = await worker.claim(name)
    assert lease is not None and lease["task"]["id"] == task["id"]  # the older one first
    mine, step = task["id"], lease["steps"][0]["id"]
    await worker.write(f"/steps/{step}/start")
    before = await event_types(server, mine)
    writes: list[tuple[str, dict[str, Any]]] = [
        (f"/steps/{step}/start", {}),
        (f"/steps/{step}/progress", {"progress": 0.5}),
        (f"/steps/{step}/log", {"level": "info", "message": "x"}),
        (f"/steps/{step}/complete", {"result": 1}),
        (f"/steps/{step}/fail", {"error": {"code": "X", "message": "x"}}),
        (f"/steps/{step}/rolled-back", {}),
        (f"/steps/{step}/rollback-failed", {"error": {"code": "X", "message": "x"}}),
        ("/plan", {"steps": [move("b")]}),
        ("/approvals", {"stepId": step, "prompt": "ok?"}),
        ("/artifacts", {"key": "k", "value": 1}),
        ("/release", {}),
        ("/undo/complete", {}),
        ("/complete", {}),
        ("/fail", {"error": {"code": "X", "message": "x"}}),
    ]
    # when / then: a stale token is LEASE_LOST on every route, and nothing changes
    real = worker.token
    worker.token = "stale-token"
    for path, body in writes:
        assert_error(await worker.write(path, **body), 409, "LEASE_LOST", "client_error")
    beat = await worker.post(f"/tasks/{mine}/heartbeat", {"leaseToken": "stale-token"})
    assert_error(beat, 409, "LEASE_LOST", "client_error")
    worker.token = real
    assert await event_types(server, mine) == before
    # an unknown task is 404, on writes and heartbeats alike
    missing = uuid.uuid4()
    unknown = await worker.post(
        f"/tasks/{missing}/steps/{step}/start", {"leaseToken": real, "sequence": 50}
    )
    assert_error(unknown, 404, "NOT_FOUND", "client_error")
    beat = await worker.post(f"/tasks/{missing}/heartbeat", {"leaseToken": real})
    assert_error(beat, 404, "NOT_FOUND", "client_error")
    # a step of another task is not in this plan: 404
    for path in ("progress", "log", "complete"):
        body = {"progress": 0.5} if path == "progress" else {}
        if path == "log":
            body = {"level": "info", "message": "x"}
        refused = await worker.write(f"/steps/{not_mine}/{path}", **body)
        assert_error(refused, 404, "NOT_FOUND", "client_error")
    below = await worker.write(f"/steps/{step}/progress", progress=-0.1)
    assert_error(below, 422, "VALIDATION", "validation_error", field="progress")
    assert await event_types(server, mine) == before
    # an executor registered by another user cannot be claimed with this key: 409
    stranger, _, _ = await setup(server)
    foreign = await stranger.post("/claim", {"executors": [name]})
    assert_error(foreign, 409, "CONFLICT", "client_error")
