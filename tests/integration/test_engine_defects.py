"""Engine defects of issue 8: checked modified parameters (2), expiries (3), prompt cancel (10)."""

from __future__ import annotations

import pytest

from tests.support.attacker import bearer, gql
from tests.support.clients import Api, GraphQLCallError, note, steps, wait
from tests.support.live import LiveServer

AUDIT_LOG = "query($taskId: ID!) { auditLog(taskId: $taskId) { actor action details } }"
BAD_MS = [(-5, "modifiedParameters.ms"), (3_600_000, "modifiedParameters.ms")]


async def _gated_wait(api: Api) -> dict:
    task = await api.submit("gated wait", context=steps(wait(10, approval=True)))
    return await api.wait_status(task["id"], "AWAITING_APPROVAL")


async def _event_count(api: Api, task_id: str) -> int:
    return len((await api.call("TaskEvents", taskId=task_id, limit=500))["taskEvents"])


@pytest.mark.parametrize(("ms", "field"), BAD_MS)
async def test_modified_parameters_are_validated_over_graphql(
    alice: Api, ms: int, field: str
) -> None:
    waiting = await _gated_wait(alice)
    before = await _event_count(alice, waiting["id"])
    answer = {
        "taskId": waiting["id"],
        "approvalId": waiting["pendingApproval"]["id"],
        "approved": True,
        "modifiedParameters": {"ms": ms},
    }
    with pytest.raises(GraphQLCallError) as refused:
        await alice.call("Approve", input=answer)
    assert refused.value.code == "VALIDATION"
    assert refused.value.errors[0]["extensions"]["field"] == field
    with pytest.raises(GraphQLCallError) as batch_refused:
        await alice.call("ApproveBatch", input={"items": [answer]})
    assert batch_refused.value.code == "VALIDATION"
    after = await alice.get(waiting["id"])
    assert after is not None
    assert after["status"] == "AWAITING_APPROVAL"
    assert after["pendingApproval"] == waiting["pendingApproval"]
    assert await _event_count(alice, waiting["id"]) == before


async def test_modified_parameters_are_validated_over_rest(server: LiveServer, alice: Api) -> None:
    import httpx

    waiting = await _gated_wait(alice)
    async with httpx.AsyncClient(base_url=server.http_url, headers=bearer(alice.token)) as http:
        response = await http.post(
            f"/api/agent/{waiting['id']}/approve",
            json={
                "approvalId": waiting["pendingApproval"]["id"],
                "approved": True,
                "modifiedParameters": {"ms": -5},
            },
        )
    assert response.status_code == 422
    assert "modifiedParameters.ms" in response.text
    after = await alice.get(waiting["id"])
    assert after is not None and after["status"] == "AWAITING_APPROVAL"


@pytest.mark.parametrize(
    ("policy", "status", "artifacts"),
    [("approve", "COMPLETED", {"a": 1}), ("reject", "COMPLETED", {}), ("cancel", "CANCELLED", {})],
)
async def test_every_expiry_is_recorded_expired_and_audited(
    server: LiveServer, alice: Api, policy: str, status: str, artifacts: dict
) -> None:
    context = {
        **steps(note("a", 1, approval=True)),
        "onApprovalTimeout": policy,
        "approvalTimeoutSeconds": 0.3,
    }
    task = await alice.submit("expiring", context=context)
    done = await alice.wait_status(task["id"], status)
    assert done["artifacts"] == artifacts
    [approval] = done["approvals"]
    assert approval["status"] == "EXPIRED"
    assert approval["decidedBy"] == "system:timeout"
    outcome = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}[policy]
    assert approval["decisionMessage"] == (
        f"the approval request expired; step {outcome} by its onApprovalTimeout policy"
    )
    types = [e["type"] for e in (await alice.call("TaskEvents", taskId=task["id"]))["taskEvents"]]
    timeout_at = types.index("APPROVAL_TIMEOUT")
    assert "APPROVAL_RESOLVED" not in types
    final = "COMPLETED" if status == "COMPLETED" else "CANCELLED"
    assert types.index(final) > timeout_at
    if policy == "approve":
        assert types.index("STEP_START") > timeout_at
    log = await gql(server, AUDIT_LOG, {"taskId": task["id"]}, headers=bearer(alice.token))
    entries = log.json()["data"]["auditLog"]
    assert [(e["actor"], e["action"]) for e in entries] == [("system:timeout", "approval.expired")]
    assert entries[0]["details"]["outcome"] == outcome


async def test_a_cancelled_long_wait_stops_promptly(alice: Api) -> None:
    task = await alice.submit("long wait", context=steps(wait(600_000)))
    await alice.wait_for(task["id"], lambda t: t["steps"][0]["status"] == "RUNNING")
    await alice.call("CancelTask", taskId=task["id"])
    # The old loop checked five times per step: this wait would have taken two minutes.
    cancelled = await alice.wait_status(task["id"], "CANCELLED", timeout=3)
    assert cancelled["steps"][0]["status"] == "CANCELLED"
