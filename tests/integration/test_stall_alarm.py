"""The stall alarm: an approved task that does not move gets STALLED; progress clears it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.clients import Api, note, steps, wait
from tests.support.live import LiveServer

TASK = """query($id: ID!) { task(id: $id) { id status stalledSince } }"""
EVENTS = """query($id: ID!) {
  taskEvents(taskId: $id, after: 0, limit: 200) { type priority data { message } }
}"""


async def graphql(server: LiveServer, api: Api, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=server.http_url, headers={"Authorization": f"Bearer {api.token}"}, timeout=30
    ) as client:
        body = (await client.post("/graphql", json={"query": query, "variables": variables})).json()
    assert "errors" not in body, body
    return dict(body["data"])


async def until(check: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_an_approved_task_without_a_slot_stalls_and_progress_clears_it(
    make_server: Any,
) -> None:
    async with make_server(max_running=1, max_running_per_user=1, resume_stall_seconds=1) as server:
        owner = Api(server, server.token())
        gated = await owner.submit("gated", context=steps(note("k", 1, approval=True)))
        gated = await owner.wait_status(gated["id"], "AWAITING_APPROVAL")
        blocker = await owner.submit("holds the only slot", context=steps(wait(30_000)))
        await owner.wait_status(blocker["id"], "RUNNING")

        approval = gated["pendingApproval"]["id"]
        await owner.call(
            "Approve", input={"taskId": gated["id"], "approvalId": approval, "approved": True}
        )

        async def stalled() -> Any:
            task = (await graphql(server, owner, TASK, id=gated["id"]))["task"]
            return task if task["stalledSince"] else None

        task = await until(stalled, "the stall alarm")
        assert task["status"] == "PENDING"
        events = (await graphql(server, owner, EVENTS, id=gated["id"]))["taskEvents"]
        [alarm] = [e for e in events if e["type"] == "STALLED"]
        assert alarm["priority"] == "CRITICAL"
        assert "waiting for a free run slot" in alarm["data"]["message"]

        await owner.call("CancelTask", taskId=blocker["id"])
        done = await owner.wait_status(gated["id"], "COMPLETED")
        assert done["artifacts"] == {"k": 1}
        cleared = (await graphql(server, owner, TASK, id=gated["id"]))["task"]
        assert cleared["stalledSince"] is None
        events = (await graphql(server, owner, EVENTS, id=gated["id"]))["taskEvents"]
        assert [e["type"] for e in events].count("STALLED") == 1


async def test_an_approved_task_that_runs_at_once_never_stalls(make_server: Any) -> None:
    async with make_server(resume_stall_seconds=1) as server:
        owner = Api(server, server.token())
        gated = await owner.submit(
            "gated", context=steps(note("k", 1, approval=True), wait(1500, name="slow"))
        )
        gated = await owner.wait_status(gated["id"], "AWAITING_APPROVAL")
        await owner.call(
            "Approve",
            input={
                "taskId": gated["id"],
                "approvalId": gated["pendingApproval"]["id"],
                "approved": True,
            },
        )
        await owner.wait_status(gated["id"], "COMPLETED")
        events = (await graphql(server, owner, EVENTS, id=gated["id"]))["taskEvents"]
        assert "STALLED" not in [e["type"] for e in events]
