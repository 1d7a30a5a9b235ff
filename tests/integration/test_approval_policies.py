"""Approval policies: several approvers, roles, no self-approval, and the inbox."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from auth.tokens import issue_token
from server.app import token_config
from tests.integration.test_sse import read_stream
from tests.integration.test_statement_counts import counting
from tests.support.clients import Api, GraphQLCallError, note, steps
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error
from tests.support.worker_rest import move, setup


def person(server: LiveServer, *roles: str) -> Api:
    token = issue_token(
        token_config(server.settings),
        subject=f"user-{uuid.uuid4().hex[:10]}",
        roles=list(roles),
        ttl_seconds=3600,
    )
    return Api(server, token)


def gated(policy: dict[str, Any], *, key: str = "k", value: Any = 1) -> dict[str, Any]:
    step = note(key, value, approval=True)
    step["approval"] = policy
    return steps(step)


def decide(task: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "taskId": task["id"],
        "approvalId": task["pendingApproval"]["id"],
        "approved": True,
        **fields,
    }


async def refused(api: Api, name: str, **variables: Any) -> str | None:
    with pytest.raises(GraphQLCallError) as error:
        await api.call(name, **variables)
    return error.value.code


async def inbox(api: Api, **variables: Any) -> list[dict[str, Any]]:
    data = await api.call("Approvals", **variables)
    return [edge["node"] for edge in data["approvals"]["edges"]]


async def test_two_reviewers_without_the_owner_run_the_step(server: LiveServer) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    owner, first, second = person(server), person(server, role), person(server, role)
    outsider = person(server, "someone-else")
    policy = {"required": 2, "roles": [role], "allowSelf": False}
    submitted = await owner.submit("two reviewers", context=gated(policy, value="original"))
    task = await owner.wait_status(submitted["id"], "AWAITING_APPROVAL")

    assert await refused(owner, "Approve", input=decide(task)) == "FORBIDDEN"
    assert await refused(outsider, "Approve", input=decide(task)) == "NOT_FOUND"

    # A reviewer sees the task (read-only) and the request in their inbox.
    [request] = await inbox(first, status="PENDING")
    assert request["id"] == task["pendingApproval"]["id"]
    assert request["task"]["id"] == task["id"]
    assert request["step"]["action"] == "note"
    assert (request["required"], request["roles"], request["allowSelf"]) == (2, [role], False)
    assert 0 < request["remainingSeconds"] <= server.settings.approval_timeout_seconds
    assert (await first.get(task["id"]))["id"] == task["id"]
    assert await refused(first, "CancelTask", taskId=task["id"]) == "FORBIDDEN"

    changed = {"key": "k", "value": "changed by the first"}
    await first.call("Approve", input=decide(task, modifiedParameters=changed))
    waiting = await owner.get(task["id"])
    assert waiting["status"] == "AWAITING_APPROVAL"
    assert waiting["approvals"][0]["status"] == "PENDING"
    assert await refused(first, "Approve", input=decide(task)) == "CONFLICT"

    await second.call("Approve", input=decide(task, message="fine by me"))
    done = await owner.wait_status(task["id"], "COMPLETED")
    assert done["artifacts"] == {"k": "changed by the first"}
    [settled] = await inbox(second)
    assert settled["status"] == "MODIFIED"
    assert [(d["decision"], d["message"]) for d in settled["decisions"]] == [
        ("MODIFIED", None),
        ("APPROVED", "fine by me"),
    ]
    assert settled["decisions"][0]["parametersBefore"] == {"key": "k", "value": "original"}
    assert settled["decisions"][0]["parametersAfter"] == changed
    assert settled["decisions"][1]["parametersBefore"] == changed


async def test_one_eligible_rejection_rejects_the_request(server: LiveServer) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    owner, first, second = person(server), person(server, role), person(server, role)
    policy = {"required": 2, "roles": [role]}
    submitted = await owner.submit("rejected", context=gated(policy))
    task = await owner.wait_status(submitted["id"], "AWAITING_APPROVAL")
    await first.call("Approve", input=decide(task))
    await second.call("Approve", input=decide(task, approved=False, message="no"))
    done = await owner.wait_status(task["id"], "COMPLETED")
    assert done["approvals"][0]["status"] == "REJECTED"
    assert done["artifacts"] == {}


async def test_without_a_policy_the_owner_alone_decides_as_before(server: LiveServer) -> None:
    owner, stranger = person(server), person(server, "reviewer")
    submitted = await owner.submit("plain", context=steps(note("k", 1, approval=True)))
    task = await owner.wait_status(submitted["id"], "AWAITING_APPROVAL")
    assert await refused(stranger, "Approve", input=decide(task)) == "NOT_FOUND"
    assert await inbox(stranger) == []
    await owner.call("Approve", input=decide(task))
    assert (await owner.wait_status(task["id"], "COMPLETED"))["artifacts"] == {"k": 1}


async def test_a_reviewer_sees_only_the_tasks_that_name_their_role(server: LiveServer) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    owner, reviewer = person(server), person(server, role)
    named = await owner.submit("named", context=gated({"roles": [role]}))
    other = await owner.submit("other", context=steps(note("k", 1, approval=True)))
    await owner.wait_status(named["id"], "AWAITING_APPROVAL")
    await owner.wait_status(other["id"], "AWAITING_APPROVAL")
    assert [a["task"]["id"] for a in await inbox(reviewer)] == [named["id"]]
    assert await reviewer.get(other["id"]) is None
    assert (await reviewer.get(named["id"]) or {}).get("id") == named["id"]
    assert {a["task"]["id"] for a in await inbox(owner)} == {named["id"], other["id"]}
    await owner.call("CancelTask", taskId=other["id"])
    await owner.call("CancelTask", taskId=named["id"])
    cancelled = await inbox(owner, status="CANCELLED")
    assert {a["task"]["id"] for a in cancelled} == {named["id"], other["id"]}


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"required": 11}, "context.steps[0].approval.required"),
        ({"required": 0}, "context.steps[0].approval.required"),
        ({"required": True}, "context.steps[0].approval.required"),
        ({"roles": ["has space"]}, "context.steps[0].approval.roles"),
        ({"roles": "reviewer"}, "context.steps[0].approval.roles"),
        ({"allowSelf": "no"}, "context.steps[0].approval.allowSelf"),
        ({"quorum": 2}, "context.steps[0].approval"),
    ],
)
async def test_a_bad_policy_is_refused_and_nothing_is_stored(
    server: LiveServer, policy: dict[str, Any], field: str
) -> None:
    owner = person(server)
    with pytest.raises(GraphQLCallError) as error:
        await owner.submit("bad policy", context=gated(policy))
    assert error.value.code == "VALIDATION"
    assert (error.value.errors[0].get("extensions") or {}).get("field") == field
    history = await owner.call("ListTasks")
    assert history["tasks"]["edges"] == []


INBOX = """query { approvals(first: 50) { edges { node {
  id required decisions { by } task { id status } step { id name }
} } } }"""


async def test_the_inbox_loads_tasks_steps_and_decisions_once_per_page(
    server: LiveServer,
) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    owner, reviewer = person(server), person(server, role)

    async def inbox_statements() -> tuple[int, int]:
        async with httpx.AsyncClient(
            base_url=server.http_url, headers={"Authorization": f"Bearer {reviewer.token}"}
        ) as client:
            with counting(server) as seen:
                response = await client.post("/graphql", json={"query": INBOX})
        edges = response.json()["data"]["approvals"]["edges"]
        children = [
            s for s in seen if "approval_decisions" in s or "task_steps" in s or "tasks.id IN" in s
        ]
        return len(edges), len(children)

    # one request with a decision on it, settled before anything is counted
    rejected = await owner.submit("rejected", context=gated({"roles": [role]}))
    rejected_task = await owner.wait_status(rejected["id"], "AWAITING_APPROVAL")
    await reviewer.call("Approve", input=decide(rejected_task, approved=False))
    await owner.wait_status(rejected["id"], "COMPLETED")

    counts: dict[int, int] = {}
    for size in (2, 5):
        while len(await inbox(reviewer)) < size:
            submitted = await owner.submit("gated", context=gated({"roles": [role]}))
            await owner.wait_status(submitted["id"], "AWAITING_APPROVAL")
        measured = [await inbox_statements() for _ in range(2)]
        assert {edges for edges, _ in measured} == {size}
        # the fewest seen: the engine's own idle statements can only add, never hide one
        counts[size] = min(statements for _, statements in measured)
    # decisions, tasks, steps: one statement each, not one per request
    assert counts[2] == counts[5] == 3


async def test_the_rest_inbox_matches_graphql(server: LiveServer) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    owner, reviewer = person(server), person(server, role)
    submitted = await owner.submit("gated", context=gated({"roles": [role], "required": 2}))
    task = await owner.wait_status(submitted["id"], "AWAITING_APPROVAL")
    await reviewer.call("Approve", input=decide(task, message="one of two"))
    async with httpx.AsyncClient(
        base_url=server.http_url, headers={"Authorization": f"Bearer {reviewer.token}"}
    ) as client:
        response = await client.get("/api/agent/approvals", params={"status": "pending"})
        assert response.status_code == 200, response.text
        [item] = response.json()["data"]["approvals"]
        bad = await client.get("/api/agent/approvals", params={"status": "nope"})
    assert item["id"] == task["pendingApproval"]["id"]
    assert (item["required"], item["roles"], item["allowSelf"]) == (2, [role], True)
    assert item["task"]["id"] == task["id"] and item["step"]["action"] == "note"
    assert [(d["decision"], d["message"]) for d in item["decisions"]] == [
        ("approved", "one of two")
    ]
    assert item["status"] == "pending" and item["remainingSeconds"] > 0
    assert bad.status_code == 422


async def test_a_worker_request_carries_its_own_policy(server: LiveServer) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    worker, owner, name = await setup(server)
    reviewer = person(server, role)
    task = await owner.submit("worker gated", context={"executor": name, "steps": [move("a")]})
    assert await worker.claim(name, wait=0) is not None
    step = (await owner.get(task["id"]))["steps"][0]["id"]  # type: ignore[index]
    bad = await worker.write("/approvals", stepId=step, prompt="Move a?", approval={"required": 99})
    assert_error(bad, 422, "VALIDATION", "validation_error", field="approval.required")
    asked = await worker.write(
        "/approvals",
        stepId=step,
        prompt="Move a?",
        approval={"required": 1, "roles": [role], "allowSelf": False},
    )
    assert asked.status_code == 200, asked.text
    approval = asked.json()["data"]["approval"]
    assert approval["policy"] == {"required": 1, "roles": [role], "allowSelf": False}
    decision = {"taskId": task["id"], "approvalId": approval["id"], "approved": True}
    assert await refused(owner, "Approve", input=decision) == "FORBIDDEN"
    [request] = await inbox(reviewer, status="PENDING")
    assert request["id"] == approval["id"]
    await reviewer.call("Approve", input=decision)
    assert (await owner.get(task["id"]))["approvals"][0]["status"] == "APPROVED"  # type: ignore[index]


async def test_a_reviewer_follows_the_task_on_sse_and_rest_and_nothing_else(
    server: LiveServer,
) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    owner, reviewer = person(server), person(server, role)
    submitted = await owner.submit("watched", context=gated({"roles": [role]}))
    task = await owner.wait_status(submitted["id"], "AWAITING_APPROVAL")
    other = await owner.submit("not theirs", context=steps(note("k", 1)))
    rest = Rest(server, reviewer.token)

    async def follow() -> list[dict[str, Any]]:
        return await read_stream(
            rest,
            task["id"],
            until=lambda f: "data" in f and f["data"].get("type") == "completed",
        )

    watching = asyncio.create_task(follow())
    read = await rest.request("GET", f"/api/agent/{task['id']}")
    assert read.status_code == 200, read.text
    assert read.json()["data"]["task"]["id"] == task["id"]
    hidden = await rest.request("GET", f"/api/agent/{other['id']}")
    assert hidden.status_code == 404
    cancel = await rest.request("DELETE", f"/api/agent/{task['id']}")
    assert cancel.status_code == 403
    await reviewer.call("Approve", input=decide(task))
    frames = await watching
    types = [f["data"]["type"] for f in frames if "data" in f]
    assert types[0] == "status_change" and types[-1] == "completed"
    assert "approval_request" in types and "approval_resolved" in types


async def test_an_expiry_that_approves_is_shown_expired_with_its_decision(
    server: LiveServer,
) -> None:
    owner = person(server)
    context = {
        **steps(note("k", 1, approval=True)),
        "onApprovalTimeout": "approve",
        "approvalTimeoutSeconds": 0.3,
    }
    submitted = await owner.submit("expiring", context=context)
    done = await owner.wait_status(submitted["id"], "COMPLETED")
    assert done["artifacts"] == {"k": 1}
    [request] = await inbox(owner, status="EXPIRED")
    assert request["status"] == "EXPIRED" and request["remainingSeconds"] is None
    [decision] = request["decisions"]
    assert (decision["by"], decision["decision"]) == ("system:timeout", "EXPIRED")
    assert await inbox(owner, status="REJECTED") == []
