"""Ownership over GraphQL and graphql-transport-ws: another user's task is a missing task."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.support.attacker import (
    bearer,
    first_error,
    gql,
    next_frame,
    wait_for_audit,
    ws_init,
)
from tests.support.clients import Api, note, steps
from tests.support.live import LiveServer
from tests.support.operations import operation

AUDIT_LOG = "query($taskId: ID!) { auditLog(taskId: $taskId) { actor action target details } }"


async def gated_task(owner: Api) -> tuple[dict[str, Any], str]:
    task = await owner.submit("gated", context=steps(note("a", 1, approval=True)))
    waiting = await owner.wait_status(task["id"], "AWAITING_APPROVAL")
    return waiting, waiting["pendingApproval"]["id"]


def without_ids(body: dict[str, Any], *ids: str) -> str:
    text = json.dumps(body, sort_keys=True)
    for value in ids:
        text = text.replace(value, "<id>")
    return text


async def test_another_users_task_answers_exactly_like_a_missing_one(
    server: LiveServer, alice: Api, bob: Api
) -> None:
    # given
    task, approval_id = await gated_task(alice)
    missing = str(uuid.uuid4())
    mutations = {
        "cancel": "mutation($id: ID!) { cancelTask(taskId: $id) { id } }",
        "undo": "mutation($id: ID!) { undo(taskId: $id) { id } }",
        "approve": "mutation($id: ID!, $a: ID!) { approve(input: {taskId: $id, approvalId: $a, "
        "approved: true}) { id } }",
        "events": "query($id: ID!) { taskEvents(taskId: $id) { seq } }",
        "audit": "query($id: ID!) { auditLog(taskId: $id) { action } }",
        "read": "query($id: ID!) { task(id: $id) { id } }",
    }
    for name, query in mutations.items():
        # when: bob asks for alice's task, and for a task that does not exist
        theirs = await gql(
            server, query, {"id": task["id"], "a": approval_id}, headers=bearer(bob.token)
        )
        nothing = await gql(
            server, query, {"id": missing, "a": approval_id}, headers=bearer(bob.token)
        )
        # then: the same status and the same body, but for the id
        assert theirs.status_code == nothing.status_code == 200, name
        assert without_ids(theirs.json(), task["id"]) == without_ids(nothing.json(), missing), name
    assert theirs.json() == {"data": {"task": None}}
    # and alice's task did not move
    still = await alice.get(task["id"])
    assert still is not None
    assert still["status"] == "AWAITING_APPROVAL"
    assert still["pendingApproval"]["id"] == approval_id


async def test_admin_sees_and_acts_on_every_task(server: LiveServer, alice: Api) -> None:
    task, _ = await gated_task(alice)
    admin = Api(server, server.token(admin=True))
    assert (await admin.get(task["id"]) or {})["id"] == task["id"]
    cancelled = await admin.call("CancelTask", taskId=task["id"])
    assert cancelled["cancelTask"]["status"] == "CANCELLED"


async def test_subscribing_to_another_users_task_is_refused_like_a_missing_one(
    server: LiveServer, alice: Api, bob: Api
) -> None:
    task, _ = await gated_task(alice)
    answers = []
    for task_id in (task["id"], str(uuid.uuid4())):
        socket = await ws_init(server, {"authorization": f"Bearer {bob.token}"})
        try:
            assert (await next_frame(socket))["type"] == "connection_ack"
            await socket.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": operation("TaskUpdates"),
                            "variables": {"taskId": task_id},
                        },
                    }
                )
            )
            frame = await next_frame(socket)
        finally:
            await socket.close()
        assert frame["type"] == "error"
        [error] = frame["payload"]
        answers.append((error["extensions"]["code"], error["message"].replace(task_id, "<id>")))
    assert answers[0] == answers[1] == ("NOT_FOUND", "task <id> was not found")


async def test_audit_log_shows_decisions_and_denied_attempts_to_the_owner_only(
    server: LiveServer, alice: Api, bob: Api
) -> None:
    # given: alice approves; bob tries to cancel alice's task
    task, approval_id = await gated_task(alice)
    await alice.call(
        "Approve",
        input={"taskId": task["id"], "approvalId": approval_id, "approved": True, "message": "ok"},
    )
    request_id = f"bob-{uuid.uuid4().hex[:10]}"
    denied = await gql(
        server,
        "mutation($id: ID!) { cancelTask(taskId: $id) { id } }",
        {"id": task["id"]},
        headers={**bearer(bob.token), "X-Request-ID": request_id},
    )
    assert first_error(denied) == ("NOT_FOUND", f"task {task['id']} was not found")
    [entry] = await wait_for_audit(server, request_id=request_id)
    bob_actor = entry.actor
    # when: alice reads her task's audit log
    log = (await gql(server, AUDIT_LOG, {"taskId": task["id"]}, headers=bearer(alice.token))).json()
    # then
    actions = [(e["action"], e["target"]) for e in log["data"]["auditLog"]]
    assert actions == [
        ("approval.approved", f"task:{task['id']}"),
        ("access.denied", f"task:{task['id']}"),
    ]
    approved, refused = log["data"]["auditLog"]
    assert approved["details"]["approvalId"] == approval_id
    assert approved["details"]["message"] == "ok"
    assert refused["actor"] == bob_actor
    assert refused["details"] == {
        "attempted": "task.cancel",
        "reason": "not the owner",
        "via": "jwt",
    }
    # and bob cannot read it; an admin can
    theirs = await gql(server, AUDIT_LOG, {"taskId": task["id"]}, headers=bearer(bob.token))
    assert first_error(theirs) == ("NOT_FOUND", f"task {task['id']} was not found")
    admin = server.token(admin=True)
    seen = await gql(server, AUDIT_LOG, {"taskId": task["id"]}, headers=bearer(admin))
    assert len(seen.json()["data"]["auditLog"]) >= 2
