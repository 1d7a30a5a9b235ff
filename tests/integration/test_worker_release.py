"""A task awaiting approval holds no lease (issue 12): the worker releases it, the decision
puts it back in the queue, and the next claim carries the decision and goes on at the first
step not done. Also a lease that lapses while a step waits for approval parks the task
instead of queueing it, so the approval can still be answered."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

from db.models import Task
from tests.support.attacker import api_key, rows_of
from tests.support.clients import Api
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error
from tests.support.worker_rest import Worker, event_types, move, setup

REPO = Path(__file__).resolve().parents[2]


async def test_a_released_task_is_claimed_again_with_its_decision(server: LiveServer) -> None:
    # given a worker that completed step a and asked for approval of step b
    worker, api, name = await setup(server)
    task = await api.submit(
        "organise", context={"executor": name, "steps": [move("a"), move("b", approval=True)]}
    )
    await worker.claim(name)
    first, second = [s["id"] for s in (await api.get(task["id"]))["steps"]]  # type: ignore[index]
    await worker.write(f"/steps/{first}/start")
    await worker.write(f"/steps/{first}/complete", result={"moved": "a"})
    asked = await worker.write("/approvals", stepId=second, prompt="Move b?", dedupeKey="b")
    approval = asked.json()["data"]["approval"]
    # when it releases the task
    released = await worker.write("/release")
    # then the task waits without a lease, and nothing can claim it yet
    assert released.status_code == 200, released.text
    assert released.json()["data"]["status"] == "awaiting_approval"
    rows = await rows_of(server, Task, id=uuid.UUID(task["id"]))
    assert (rows[0].status, rows[0].lease_token, rows[0].lease_owner) == (
        "awaiting_approval",
        None,
        None,
    )
    old_token = worker.token
    beat = await worker.post(f"/tasks/{task['id']}/heartbeat", {"leaseToken": old_token})
    assert_error(beat, 409, "LEASE_LOST", "client_error")
    assert await worker.claim(name, wait=0) is None
    # when a person approves with changed parameters
    changed = {"source": "b", "target": "elsewhere/b"}
    await api.call(
        "Approve",
        input={
            "taskId": task["id"],
            "approvalId": approval["id"],
            "approved": True,
            "modifiedParameters": changed,
        },
    )
    # then the task is back in the queue and the next claim has the decision
    assert (await api.get(task["id"]))["status"] == "PENDING"  # type: ignore[index]
    lease = await worker.claim(name, wait=5)
    assert lease is not None
    assert lease["task"]["attempts"] == 1  # a release is not a failed attempt
    assert [(s["status"], s["params"]) for s in lease["steps"]] == [
        ("completed", {"source": "a", "target": "done/a"}),
        ("pending", changed),
    ]
    assert [
        (a["approvalId"], a["status"], a["granted"], a["parameters"]) for a in lease["approvals"]
    ] == [(approval["id"], "modified", True, changed)]
    late = await worker.post(
        f"/tasks/{task['id']}/steps/{second}/start", {"leaseToken": old_token, "sequence": 99}
    )
    assert_error(late, 409, "LEASE_LOST", "client_error")
    assert (await worker.write(f"/steps/{second}/start")).status_code == 200
    await worker.write(f"/steps/{second}/complete", result={"moved": "b"})
    assert (await worker.write("/complete")).status_code == 200
    final = await api.wait_status(task["id"], "COMPLETED")
    assert [s["status"] for s in final["steps"]] == ["COMPLETED", "COMPLETED"]
    types = await event_types(server, task["id"])
    assert [seq for seq, _ in types] == list(range(1, len(types) + 1))
    assert [t for _, t in types] == [
        "status_change",  # pending (submitted)
        "status_change",  # running (claimed)
        "step_start",
        "step_complete",
        "status_change",  # awaiting_approval
        "approval_request",
        "approval_resolved",
        "status_change",  # pending: the decision put the released task back in the queue
        "status_change",  # running (claimed again)
        "step_start",
        "step_complete",
        "status_change",
        "completed",
    ]


async def test_a_retried_release_is_acknowledged_and_a_running_task_goes_back_to_the_queue(
    server: LiveServer,
) -> None:
    worker, api, name = await setup(server)
    task = await api.submit("organise", context={"executor": name, "steps": [move("a")]})
    await worker.claim(name)
    step = (await api.get(task["id"]))["steps"][0]["id"]  # type: ignore[index]
    await worker.write(f"/steps/{step}/start")
    # when
    released = await worker.write("/release")
    retried = await worker.write("/release", sequence=worker.sequence)
    # then
    assert released.json()["data"]["status"] == "pending"
    assert_error(retried, 409, "LEASE_LOST", "client_error")  # the lease ended with it
    lease = await worker.claim(name, wait=5)
    assert lease is not None
    assert (lease["task"]["attempts"], [s["status"] for s in lease["steps"]]) == (1, ["pending"])
    types = [t for _, t in await event_types(server, task["id"])]
    assert "error" not in types  # a release is no failure


async def test_a_lapsed_lease_during_an_approval_parks_the_task_so_it_can_be_answered(
    server: LiveServer,
) -> None:
    # given a worker that asked for approval and then went silent
    worker, api, name = await setup(server)
    task = await api.submit(
        "organise", context={"executor": name, "steps": [move("a", approval=True)]}
    )
    await worker.claim(name, leaseSeconds=5)
    step = (await api.get(task["id"]))["steps"][0]["id"]  # type: ignore[index]
    asked = await worker.write("/approvals", stepId=step, prompt="Move a?")
    approval = asked.json()["data"]["approval"]
    # when its lease lapses (another worker's claim runs recovery)
    other = Worker(server, "")
    other.rest = worker.rest
    assert await other.claim(name, wait=8) is None
    # then the task still waits for its decision, without a lease, and can be answered
    rows = await rows_of(server, Task, id=uuid.UUID(task["id"]))
    assert (rows[0].status, rows[0].lease_token) == ("awaiting_approval", None)
    await api.call(
        "Approve", input={"taskId": task["id"], "approvalId": approval["id"], "approved": True}
    )
    lease = await other.claim(name, wait=5)
    assert lease is not None
    assert [a["status"] for a in lease["approvals"]] == ["approved"]
    assert [s["status"] for s in lease["steps"]] == ["pending"]


SDK_WORKER = "tests.support.sdk_worker"


async def test_the_sdk_releases_during_an_approval_and_finishes_after_the_decision(
    server: LiveServer, tmp_path: Path
) -> None:
    # given an SDK worker process whose step asks for approval in the middle of its work
    owner = f"sdk-{uuid.uuid4().hex[:8]}"
    key = await api_key(server, owner, ["worker"])
    executor = f"ask-{uuid.uuid4().hex[:6]}"
    rest = Rest(server, None)
    rest.headers = lambda **extra: {"X-API-Key": key, **extra}  # type: ignore[method-assign]
    declared = {
        "name": "slow",
        "parameterSchema": {"type": "object"},
        "reversibility": "REVERSIBLE",
    }
    registered = await rest.request(
        "POST", "/api/worker/executors", json={"name": executor, "actions": [declared]}
    )
    assert registered.status_code == 200, registered.text
    api = Api(server, server.token(owner))
    steps = [
        {"name": "a", "action": "slow", "params": {"label": "a", "ms": 10}},
        {"name": "b", "action": "slow", "params": {"label": "b", "ms": 10, "ask": True}},
    ]
    task = await api.submit("ask midway", context={"executor": executor, "steps": steps})
    runs = tmp_path / "runs.txt"
    runs.touch()
    env = {
        **os.environ,
        "AGENTWIRE_WORKER_KEY": key,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "clients" / "python")]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", SDK_WORKER, server.http_url, executor, str(runs), env=env, cwd=REPO
    )
    try:
        # when the step asks: the worker gives the task back at once
        waiting = await api.wait_status(task["id"], "AWAITING_APPROVAL")
        deadline = asyncio.get_running_loop().time() + 10
        while (await rows_of(server, Task, id=uuid.UUID(task["id"])))[0].lease_token:
            assert asyncio.get_running_loop().time() < deadline, "the worker never released"
            await asyncio.sleep(0.05)
        await api.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": waiting["approvals"][0]["id"],
                "approved": True,
                "modifiedParameters": {"label": "b2", "ms": 10, "ask": True},
            },
        )
        done = await api.wait_status(task["id"], "COMPLETED", timeout=30)
        await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    # then step b ran again from its start with the changed parameters, a never again
    assert runs.read_text().split() == ["a", "b", "b2"]
    assert [s["result"] for s in done["steps"]] == [{"label": "a"}, {"label": "b2"}]
    assert process.returncode == 0
    rows = await rows_of(server, Task, id=uuid.UUID(task["id"]))
    assert rows[0].attempts == 1


async def test_an_sdk_worker_that_holds_its_lease_goes_on_mid_step_after_the_decision(
    server: LiveServer,
) -> None:
    # given an SDK worker (in this process) that keeps its lease while a person decides
    from agentwire_client.worker import StepContext
    from agentwire_client.worker import Worker as SdkWorker

    owner = f"hold-{uuid.uuid4().hex[:8]}"
    key = await api_key(server, owner, ["worker"])
    executor = f"hold-{uuid.uuid4().hex[:6]}"
    sdk = SdkWorker(
        server.http_url, key, executor=executor, lease_seconds=5, approval_hold_seconds=60
    )
    runs: list[str] = []

    @sdk.action("ask", schema={"type": "object"})
    async def ask(params: dict[str, object], ctx: StepContext) -> dict[str, object]:
        runs.append("before")
        decision = await ctx.request_approval("go on?", {"n": 1})
        runs.append(f"after:{decision.status}")
        await ctx.progress(0.5, "half way")
        return {"granted": decision.granted}

    await sdk.register()
    api = Api(server, server.token(owner))
    task = await api.submit("hold", context={"executor": executor, "steps": [{"action": "ask"}]})
    running = asyncio.create_task(sdk.run(register=False, max_tasks=1))
    try:
        # when the request is approved while the worker still holds the lease
        waiting = await api.wait_status(task["id"], "AWAITING_APPROVAL")
        rows = await rows_of(server, Task, id=uuid.UUID(task["id"]))
        assert rows[0].lease_token is not None  # held, not released
        await api.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": waiting["approvals"][0]["id"],
                "approved": True,
            },
        )
        done = await api.wait_status(task["id"], "COMPLETED", timeout=30)
        assert await asyncio.wait_for(running, 30) == 1
    finally:
        running.cancel()
        await sdk.close()
    # then the handler went on from where it asked, once
    assert runs == ["before", "after:approved"]
    assert done["steps"][0]["result"] == {"granted": True}
    types = [t for _, t in await event_types(server, task["id"])]
    assert types == [
        "status_change",
        "status_change",
        "step_start",
        "status_change",
        "approval_request",
        "approval_resolved",
        "status_change",
        "step_start",  # the grant put the step back to pending; the SDK started it again
        "step_progress",
        "step_complete",
        "status_change",
        "completed",
    ]


async def test_an_after_step_cancel_lets_the_sdk_finish_the_step_and_start_no_other(
    server: LiveServer,
) -> None:
    from agentwire_client.worker import StepContext
    from agentwire_client.worker import Worker as SdkWorker

    owner = f"after-{uuid.uuid4().hex[:8]}"
    key = await api_key(server, owner, ["worker"])
    executor = f"after-{uuid.uuid4().hex[:6]}"
    sdk = SdkWorker(server.http_url, key, executor=executor, lease_seconds=5)
    started: list[str] = []

    @sdk.action("work", schema={"type": "object"})
    async def work(params: dict[str, object], ctx: StepContext) -> str:
        started.append(str(params["n"]))
        loop = asyncio.get_running_loop()
        until = loop.time() + 3  # longer than a heartbeat round (lease / 3)
        while loop.time() < until:
            await ctx.checkpoint()  # an after_step cancel does not stop the step
            await asyncio.sleep(0.1)
        return "finished"

    await sdk.register()
    api = Api(server, server.token(owner))
    steps = [{"action": "work", "params": {"n": 1}}, {"action": "work", "params": {"n": 2}}]
    task = await api.submit("two", context={"executor": executor, "steps": steps})
    running = asyncio.create_task(sdk.run(register=False, max_tasks=1))
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while not started:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        # when
        cancelled = await Rest(server, api.token).request(
            "DELETE", f"/api/agent/{task['id']}?mode=after_step"
        )
        assert cancelled.status_code == 200, cancelled.text
        final = await api.wait_status(task["id"], "CANCELLED", timeout=30)
        await asyncio.wait_for(running, 30)
    finally:
        running.cancel()
        await sdk.close()
    # then
    assert started == ["1"]
    assert [(s["status"], s["result"]) for s in final["steps"]] == [
        ("COMPLETED", "finished"),
        ("CANCELLED", None),
    ]
