"""The worker protocol as GraphQL mutations, with a GraphQL client watching live."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.support.attacker import api_key
from tests.support.clients import Api, collect
from tests.support.live import LiveServer
from tests.support.operations import operation

ACTION = {
    "name": "touch",
    "parameterSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
    "reversibility": "IRREVERSIBLE",
}


class GraphQLWorker:
    def __init__(self, server: LiveServer, key: str) -> None:
        self.server = server
        self.key = key

    async def call(self, operation_name: str, /, **input: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                self.server.graphql_url,
                headers={"X-API-Key": self.key},
                json={
                    "query": operation("WorkerWrites")
                    if operation_name != "RegisterExecutor"
                    else operation("RegisterExecutor"),
                    "operationName": operation_name,
                    "variables": {"input": input},
                },
            )
        body: dict[str, Any] = response.json()
        return body


async def test_a_graphql_worker_runs_an_approval_while_a_subscriber_watches(
    server: LiveServer,
) -> None:
    owner = f"gql-engine-{uuid.uuid4().hex[:8]}"
    worker = GraphQLWorker(server, await api_key(server, owner, ["worker"]))
    name = f"touch-{uuid.uuid4().hex[:6]}"
    registered = await worker.call("RegisterExecutor", name=name, actions=[ACTION])
    assert "errors" not in registered, registered
    api = Api(server, server.token(owner))
    step = {"action": "touch", "params": {"path": "a"}, "requiresApproval": True}
    task = await api.submit("touch a file", context={"executor": name, "steps": [step]})
    async with api.websocket() as ws:
        watching = asyncio.create_task(
            collect(
                ws,
                "TaskUpdates",
                taskId=task["id"],
                after=0,
                until=lambda e: e["type"] == "COMPLETED",
            )
        )
        claimed = (await worker.call("ClaimTask", executors=[name], wait=5))["data"]["claimTask"]
        lease = {"taskId": task["id"], "leaseToken": claimed["leaseToken"]}
        step_id = claimed["steps"][0]["id"]
        asked = await worker.call(
            "RequestApproval", **lease, sequence=1, stepId=step_id, prompt="Touch a?", dedupeKey="a"
        )
        approval = asked["data"]["requestApproval"]["approval"]
        await api.wait_status(task["id"], "AWAITING_APPROVAL")
        await api.call(
            "Approve", input={"taskId": task["id"], "approvalId": approval["id"], "approved": True}
        )
        beat = (await worker.call("Heartbeat", **lease))["data"]["heartbeat"]
        assert [a["status"] for a in beat["approvals"]] == ["approved"]
        started = await worker.call("StartStep", **lease, sequence=2, stepId=step_id)
        assert started["data"]["startStep"]["applied"] is True
        await worker.call(
            "CompleteStep", **lease, sequence=3, stepId=step_id, result={"touched": "a"}
        )
        repeat = await worker.call(
            "CompleteStep", **lease, sequence=3, stepId=step_id, result={"touched": "a"}
        )
        assert repeat["data"]["completeStep"]["applied"] is False
        done = await worker.call("CompleteLeasedTask", **lease, sequence=4)
        assert done["data"]["completeLeasedTask"] == {"applied": True, "sequence": 4}
        events = await asyncio.wait_for(watching, 20)
        stale = await worker.call("StartStep", **lease, sequence=5, stepId=step_id)
    seqs = [e["seq"] for e in events if e["seq"] is not None]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e["type"] for e in events if e["seq"] is not None] == [
        "STATUS_CHANGE",
        "STATUS_CHANGE",
        "STATUS_CHANGE",
        "APPROVAL_REQUEST",
        "APPROVAL_RESOLVED",
        "STATUS_CHANGE",
        "STEP_START",
        "STEP_COMPLETE",
        "STATUS_CHANGE",
        "COMPLETED",
    ]
    assert stale["errors"][0]["extensions"]["code"] == "LEASE_LOST"
