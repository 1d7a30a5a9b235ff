"""Approve by link: a single-use URL that decides one request as the person who made it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.test_task_tokens import person
from tests.support.clients import Api, GraphQLCallError, note, steps
from tests.support.live import LiveServer
from tests.support.rest import assert_error

AUDIT_LOG = "query($taskId: ID!) { auditLog(taskId: $taskId) { actor action details } }"


async def refused(api: Api, name: str, **variables: Any) -> str | None:
    with pytest.raises(GraphQLCallError) as error:
        await api.call(name, **variables)
    return error.value.code


async def waiting_task(owner: Api, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    step = note("k", "v", approval=True)
    if policy is not None:
        step["approval"] = policy
    submitted = await owner.submit("linked", context=steps(step))
    return await owner.wait_status(submitted["id"], "AWAITING_APPROVAL")


async def link_of(api: Api, task: dict[str, Any], **variables: Any) -> dict[str, Any]:
    data = await api.call(
        "CreateApprovalLink", approvalId=task["pendingApproval"]["id"], **variables
    )
    link = data["createApprovalLink"]
    assert link["approvalId"] == task["pendingApproval"]["id"]
    return dict(link)


def path_of(link: dict[str, Any]) -> str:
    return str(httpx.URL(link["url"]).path)


async def audit_log(api: Api, task_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=api.server.http_url) as http:
        response = await http.post(
            "/graphql",
            json={"query": AUDIT_LOG, "variables": {"taskId": task_id}},
            headers={"Authorization": f"Bearer {api.token}"},
        )
    return list(response.json()["data"]["auditLog"])


async def test_a_link_decides_once_then_answers_410(server: LiveServer) -> None:
    owner = person(server)
    task = await waiting_task(owner)
    link = await link_of(owner, task)
    assert link["url"].startswith(f"{server.http_url}/api/approval-links/")
    path = path_of(link)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        # given: anyone holding the URL sees the request, without a credential
        shown = await http.get(path)
        assert shown.status_code == 200, shown.text
        data = shown.json()["data"]
        assert data["approvalId"] == task["pendingApproval"]["id"]
        assert (data["taskName"], data["status"], data["required"]) == ("linked", "pending", 1)
        assert data["parameters"] == {"key": "k", "value": "v"}
        assert data["step"]["action"] == "note"
        assert data["decidesAs"].startswith("user:user-")
        assert shown.headers["cache-control"] == "no-store"

        # when: it is answered
        answered = await http.post(path, json={"approved": True, "message": "ok"})
        assert answered.status_code == 200, answered.text
        assert answered.json()["data"]["decision"] == "approved"
        assert answered.json()["data"]["decidedBy"] == f"link:{link['id']} for {data['decidesAs']}"

        # then: the step runs, and the link is used up
        done = await owner.wait_status(task["id"], "COMPLETED")
        assert done["artifacts"] == {"k": "v"}
        again = await http.post(path, json={"approved": False})
        error = assert_error(again, 410, "GONE", "client_error")
        assert "already used" in error["message"]
        assert_error(await http.get(path), 410, "GONE", "client_error")
        assert_error(
            await http.get("/api/approval-links/" + "x" * 43), 404, "NOT_FOUND", "client_error"
        )


async def test_an_expired_or_revoked_link_answers_410_and_decides_nothing(
    server: LiveServer,
) -> None:
    owner = person(server)
    task = await waiting_task(owner)
    short = await link_of(owner, task, ttlSeconds=1)
    revoked = await link_of(owner, task)
    await owner.call("RevokeApprovalLink", linkId=revoked["id"])
    assert await refused(owner, "RevokeApprovalLink", linkId=revoked["id"]) == "CONFLICT"
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        error = assert_error(
            await http.post(path_of(revoked), json={"approved": True}), 410, "GONE", "client_error"
        )
        assert "revoked" in error["message"]
        # Reading never uses a link: wait (bounded) until the short one has expired.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (await http.get(path_of(short))).status_code == 200:
            assert loop.time() < deadline, "the link never expired"
            await asyncio.sleep(0.1)
        response = await http.post(path_of(short), json={"approved": True})
        assert_error(response, 410, "GONE", "client_error")
        assert "expired" in response.json()["error"]["message"]
    waiting = await owner.get(task["id"])
    assert waiting["status"] == "AWAITING_APPROVAL"


async def test_a_link_decision_records_both_the_link_and_its_creator(
    server: LiveServer,
) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    owner, first, second = person(server), person(server, role), person(server, role)
    task = await waiting_task(owner, {"required": 2, "roles": [role], "allowSelf": False})
    # The owner may not decide (allowSelf: false), so may not hand out a link either.
    assert (
        await refused(owner, "CreateApprovalLink", approvalId=task["pendingApproval"]["id"])
        == "FORBIDDEN"
    )
    link = await link_of(first, task)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        # An HTML form post, as the page's buttons send it.
        page = await http.get(path_of(link), headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "<form method=post>" in page.text and "<script" not in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        posted = await http.post(
            path_of(link),
            data={"approved": "true", "message": "from the link"},
            headers={"Accept": "text/html"},
        )
        assert posted.status_code == 200, posted.text
        assert "was recorded as link:" in posted.text
    # The creator already decided through the link: a direct answer is a second one.
    decision = {"taskId": task["id"], "approvalId": task["pendingApproval"]["id"], "approved": True}
    assert await refused(first, "Approve", input=decision) == "CONFLICT"
    await second.call("Approve", input=decision)
    await owner.wait_status(task["id"], "COMPLETED")

    [request] = [edge["node"] for edge in (await first.call("Approvals"))["approvals"]["edges"]]
    first_actor = f"link:{link['id']} for user:"
    assert [d["by"].startswith(first_actor) for d in request["decisions"]] == [True, False]
    assert request["decisions"][0]["message"] == "from the link"
    log = await audit_log(owner, task["id"])
    by_action = {entry["action"]: entry for entry in log}
    assert by_action["approval_link.create"]["actor"].startswith("user:user-")
    assert by_action["approval_link.use"]["actor"].startswith(first_actor)
    assert by_action["approval_link.use"]["details"]["linkId"] == link["id"]
    assert next(e["actor"] for e in log if e["action"] == "approval.approved").startswith(
        first_actor
    )


async def test_bad_link_requests_are_refused(server: LiveServer) -> None:
    owner, stranger = person(server), person(server)
    task = await waiting_task(owner)
    approval_id = task["pendingApproval"]["id"]
    for ttl in (0, 604801):
        assert (
            await refused(owner, "CreateApprovalLink", approvalId=approval_id, ttlSeconds=ttl)
            == "VALIDATION"
        )
    assert await refused(stranger, "CreateApprovalLink", approvalId=approval_id) == "NOT_FOUND"
    link = await link_of(owner, task)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        bad = await http.post(path_of(link), json={"approved": "yes"})
        assert_error(bad, 422, "VALIDATION", "validation_error")
    # A refused answer leaves the link usable.
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get(path_of(link))).status_code == 200


async def test_two_answers_racing_on_one_link_decide_once(server: LiveServer) -> None:
    owner = person(server)
    task = await waiting_task(owner)
    link = await link_of(owner, task)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        answers = await asyncio.gather(
            *(http.post(path_of(link), json={"approved": True}) for _ in range(4))
        )
    assert sorted(a.status_code for a in answers) == [200, 410, 410, 410]
    await owner.wait_status(task["id"], "COMPLETED")
    [request] = [e["node"] for e in (await owner.call("Approvals"))["approvals"]["edges"]]
    assert len(request["decisions"]) == 1
