"""`agentwire worker` (issue 12): the built-in executor as a separate process, against an
API-only server (`run_engine=False`), over the worker REST protocol. Its tasks produce the
events the embedded engine produces for the same plan, as a live GraphQL subscriber sees
them; SIGTERM gives the task in hand back to the queue and a second worker finishes it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

from db.models import Task
from tests.support.attacker import api_key, rows_of
from tests.support.clients import Api, collect
from tests.support.live import LiveServer
from tests.support.worker_rest import event_types

REPO = Path(__file__).resolve().parents[2]
PLAN = [
    {"action": "wait", "params": {"ms": 100}},
    {"action": "note", "params": {"key": "colour", "value": "green"}},
    {"action": "announce", "params": {"message": "done soon"}},
    {"action": "wait", "params": {"ms": 50}, "requiresApproval": True},
]


async def start_worker(server: LiveServer, key: str, *extra: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "AGENTWIRE_WORKER_KEY": key,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "clients" / "python")]),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "worker",
        "--url",
        server.http_url,
        "--lease-seconds",
        "5",
        "--wait-seconds",
        "1",
        *extra,
        env=env,
        cwd=REPO,
    )


async def run_plan(api: Api, plan: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Run the plan, approving its approval, while a GraphQL subscriber watches live;
    returns the finished task and the event types the subscriber saw."""
    task = await api.submit("built-in plan", context={"steps": plan})
    async with api.websocket() as ws:
        watching = asyncio.create_task(
            collect(
                ws,
                "TaskUpdates",
                taskId=task["id"],
                after=0,
                until=lambda e: e["type"] == "COMPLETED",
                timeout=60,
            )
        )
        waiting = await api.wait_status(task["id"], "AWAITING_APPROVAL", timeout=30)
        await api.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": waiting["approvals"][0]["id"],
                "approved": True,
            },
        )
        done = await api.wait_status(task["id"], "COMPLETED", timeout=30)
        watched = await asyncio.wait_for(watching, 30)
    return done, [e["type"].lower() for e in watched if e["seq"] is not None]


async def test_the_worker_command_runs_built_in_tasks_as_the_embedded_engine_does(
    server: LiveServer, make_server: Any
) -> None:
    # given the same plan run by the embedded engine
    embedded_api = Api(server, server.token(f"embedded-{uuid.uuid4().hex[:6]}"))
    embedded, _ = await run_plan(embedded_api, PLAN)
    async with make_server(run_engine=False) as api_only:
        owner = f"ops-{uuid.uuid4().hex[:6]}"
        key = await api_key(api_only, owner, ["worker"])
        worker = await start_worker(api_only, key)
        try:
            api = Api(api_only, api_only.token(f"user-{uuid.uuid4().hex[:6]}"))
            # when
            remote, watched = await run_plan(api, PLAN)
            failing = await api.submit(
                "fails", context={"steps": [{"action": "fail", "params": {"message": "boom"}}]}
            )
            failed = await api.wait_status(failing["id"], "FAILED", timeout=30)
            # then
            assert remote["artifacts"] == embedded["artifacts"] == {"colour": "green"}
            assert remote["result"] == embedded["result"]
            assert [(s["status"], s["result"]) for s in remote["steps"]] == [
                (s["status"], s["result"]) for s in embedded["steps"]
            ]
            remote_types = [t for _, t in await event_types(api_only, remote["id"])]
            embedded_types = [t for _, t in await event_types(server, embedded["id"])]
            assert remote_types == embedded_types
            assert watched == remote_types  # what the live subscriber saw, in order
            assert failed["error"]["message"] == "boom"
            assert [s["status"] for s in failed["steps"]] == ["FAILED"]
            rows = await rows_of(api_only, Task, id=uuid.UUID(remote["id"]))
            assert rows[0].lease_owner is None and rows[0].lease_token is None
        finally:
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(worker.wait(), 30) == 0


async def test_sigterm_gives_the_task_back_and_a_second_worker_finishes_it(
    make_server: Any,
) -> None:
    async with make_server(run_engine=False) as api_only:
        key = await api_key(api_only, f"ops-{uuid.uuid4().hex[:6]}", ["worker"])
        api = Api(api_only, api_only.token(f"user-{uuid.uuid4().hex[:6]}"))
        steps = [{"action": "note", "params": {"key": "k", "value": 1}}]
        steps.append({"action": "wait", "params": {"ms": 2500}})
        task = await api.submit("long wait", context={"steps": steps})
        first = await start_worker(api_only, key)
        # when the first worker is stopped in the middle of the wait
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            current = await api.get(task["id"])
            assert current is not None
            if current["steps"][1]["status"] == "RUNNING":
                break
            assert asyncio.get_running_loop().time() < deadline, "the wait never started"
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 30) == 0
        # then the task is back in the queue, no attempt used up, the note still done
        requeued = await api.get(task["id"])
        assert requeued is not None
        assert (requeued["status"], [s["status"] for s in requeued["steps"]]) == (
            "PENDING",
            ["COMPLETED", "PENDING"],
        )
        rows = await rows_of(api_only, Task, id=uuid.UUID(task["id"]))
        assert rows[0].attempts == 0
        second = await start_worker(api_only, key, "--max-tasks", "1")
        done = await api.wait_status(task["id"], "COMPLETED", timeout=30)
        assert await asyncio.wait_for(second.wait(), 30) == 0
        assert [s["status"] for s in done["steps"]] == ["COMPLETED", "COMPLETED"]
        assert done["artifacts"] == {"k": 1}
        types = [t for _, t in await event_types(api_only, task["id"])]
        assert types.count("step_start") == 3  # note once, the wait twice
        assert "error" not in types
