"""The seed's task routes over real HTTP: submit, read, approve, undo, cancel."""

from __future__ import annotations

import uuid

import pytest

from tests.support.clients import fail, note, steps, wait
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def alice(server: LiveServer) -> Rest:
    return Rest(server, server.token())


@pytest.fixture
def bob(server: LiveServer) -> Rest:
    return Rest(server, server.token())


async def test_submit_answers_201_with_the_queued_task_and_its_location(alice: Rest) -> None:
    response = await alice.request(
        "POST",
        "/api/agent",
        json={
            "task": "write a note",
            "priority": 5,
            "conversationId": "conv-1",
            "context": steps(note("a", 1)),
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and set(body) == {"success", "data"}
    task = body["data"]["task"]
    assert response.headers["location"] == f"/api/agent/{task['id']}"
    assert task["task"] == "write a note"
    assert task["priority"] == 5
    assert task["conversationId"] == "conv-1"
    assert task["status"] in ("pending", "running")
    assert [(s["name"], s["action"], s["status"]) for s in task["steps"]] == [
        ("note a", "note", task["steps"][0]["status"])
    ]
    assert task["context"] == steps(note("a", 1))
    done = await alice.wait_status(task["id"], "completed")
    assert done["task"]["artifacts"] == {"a": 1}


async def test_a_repeat_with_the_same_idempotency_key_returns_the_first_task(alice: Rest) -> None:
    key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = await alice.request("POST", "/api/agent", json={"task": "once"}, headers=key)
    again = await alice.request("POST", "/api/agent", json={"task": "twice"}, headers=key)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["data"]["task"]["id"] == first.json()["data"]["task"]["id"]
    assert again.json()["data"]["task"]["task"] == "once"
    history = (await alice.request("GET", "/api/agent/history")).json()["data"]
    assert history["total"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "task"),
        ({"task": "   "}, "task"),
        ({"task": 5}, "task"),
        ({"task": "x", "priority": 101}, "priority"),
        ({"task": "x", "priority": "5"}, "priority"),
        ({"task": "x", "context": []}, "context"),
        ({"task": "x", "unknown": 1}, "unknown"),
        ({"task": "x", "context": {"onReject": "explode"}}, "context.onReject"),
        ({"task": "x", "context": {"steps": [{"name": "a", "action": "nope"}]}}, None),
    ],
)
async def test_invalid_submissions_are_422_and_create_nothing(
    alice: Rest, body: dict[str, object], field: str | None
) -> None:
    response = await alice.request("POST", "/api/agent", json=body)
    assert_error(response, 422, "VALIDATION", "validation_error", field=field)
    history = (await alice.request("GET", "/api/agent/history")).json()["data"]
    assert history["total"] == 0 and history["tasks"] == []


async def test_malformed_json_is_400_and_a_form_body_is_415(alice: Rest) -> None:
    bad = await alice.request(
        "POST", "/api/agent", content=b'{"task": ', headers={"Content-Type": "application/json"}
    )
    error = assert_error(bad, 400, "MALFORMED_JSON", "client_error")
    assert error["message"].startswith("the request body is not valid JSON")
    form = await alice.request("POST", "/api/agent", data={"task": "x"})
    assert_error(form, 415, "UNSUPPORTED_MEDIA_TYPE", "client_error")
    array = await alice.request("POST", "/api/agent", json=["task"])
    assert_error(array, 422, "VALIDATION", "validation_error", field="body")
    empty = await alice.request("POST", "/api/agent")
    assert_error(empty, 422, "VALIDATION", "validation_error", field="body")
    history = (await alice.request("GET", "/api/agent/history")).json()["data"]
    assert history["total"] == 0


async def test_a_body_over_the_limit_is_413(alice: Rest) -> None:
    huge = b'{"task": "' + b"x" * (300 * 1024) + b'"}'
    response = await alice.request(
        "POST", "/api/agent", content=huge, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE", "client_error")


async def test_every_route_needs_a_valid_credential(server: LiveServer) -> None:
    anonymous = Rest(server, None)
    forged = Rest(server, "not-a-jwt")
    expired = Rest(server, server.token(ttl=-120))
    calls = [
        ("POST", "/api/agent"),
        ("GET", f"/api/agent/{MISSING}"),
        ("POST", f"/api/agent/{MISSING}/approve"),
        ("POST", f"/api/agent/{MISSING}/undo"),
        ("GET", "/api/agent/history"),
        ("DELETE", f"/api/agent/{MISSING}"),
        ("GET", f"/api/agent/{MISSING}/events"),
        ("GET", f"/api/agent/{MISSING}/stream"),
    ]
    for client in (anonymous, forged, expired):
        for method, path in calls:
            response = await client.request(method, path, json={"task": "x"})
            assert_error(response, 401, "UNAUTHENTICATED", "auth_error")
            assert response.headers["www-authenticate"] == 'Bearer realm="agentwire"'


async def test_get_shows_logs_and_the_current_execution_while_a_step_waits(alice: Rest) -> None:
    task = await alice.submit("gated", context=steps(note("a", 1), note("b", 2, approval=True)))
    data = await alice.wait_status(task["id"], "awaiting_approval")
    assert set(data) == {"task", "logs", "currentExecution"}
    current = data["currentExecution"]
    assert current["status"] == "awaiting_approval"
    assert current["step"]["name"] == "note b"
    assert current["step"]["id"] == data["task"]["currentStep"]["id"]
    assert current["progress"] == 0.5
    assert data["task"]["pendingApproval"]["parameters"] == {"key": "b", "value": 2}
    assert data["logs"][0]["message"] == "task submitted with 2 step(s)"
    assert all(log["level"] in ("info", "warning", "error") for log in data["logs"])


async def test_get_of_a_finished_task_has_no_current_execution(alice: Rest) -> None:
    task = await alice.submit("quick", context=steps(note("a", 1)))
    data = await alice.wait_status(task["id"], "completed")
    assert set(data) == {"task", "logs"}
    assert data["task"]["progress"] == 1.0
    assert data["task"]["currentStep"] is None
    assert [s["status"] for s in data["task"]["steps"]] == ["completed"]


async def test_another_users_task_is_404_exactly_like_a_missing_one(alice: Rest, bob: Rest) -> None:
    task = await alice.submit("private", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "awaiting_approval")
    approval_id = waiting["task"]["pendingApproval"]["id"]
    for task_id in (task["id"], MISSING):
        for method, path, body in (
            ("GET", f"/api/agent/{task_id}", None),
            ("DELETE", f"/api/agent/{task_id}", None),
            ("POST", f"/api/agent/{task_id}/undo", None),
            ("GET", f"/api/agent/{task_id}/events", None),
            (
                "POST",
                f"/api/agent/{task_id}/approve",
                {"approvalId": approval_id, "approved": True},
            ),
        ):
            response = await bob.request(method, path, json=body)
            error = assert_error(response, 404, "NOT_FOUND", "client_error")
            assert error["message"] == f"task {task_id} was not found", (method, path)
    # nothing changed
    still = await alice.get(task["id"])
    assert still["task"]["status"] == "awaiting_approval"
    assert still["task"]["approvals"][0]["status"] == "pending"
    await alice.request("DELETE", f"/api/agent/{task['id']}")


async def test_a_malformed_task_id_is_422_naming_it(alice: Rest) -> None:
    response = await alice.request("GET", "/api/agent/not-a-uuid")
    assert_error(response, 422, "VALIDATION", "validation_error", field="taskId")


async def test_approve_runs_the_step(alice: Rest) -> None:
    task = await alice.submit("gated", context=steps(note("a", 1), note("b", 2, approval=True)))
    waiting = await alice.wait_status(task["id"], "awaiting_approval")
    approval = waiting["task"]["pendingApproval"]
    response = await alice.request(
        "POST",
        f"/api/agent/{task['id']}/approve",
        json={"approvalId": approval["id"], "approved": True, "message": "ok"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["task"]["status"] in ("pending", "running", "completed")
    done = await alice.wait_status(task["id"], "completed")
    assert done["task"]["artifacts"] == {"a": 1, "b": 2}
    decided = done["task"]["approvals"][0]
    assert (decided["status"], decided["decisionMessage"]) == ("approved", "ok")


async def test_approve_with_modified_parameters_and_reject(alice: Rest) -> None:
    task = await alice.submit(
        "two gates", context=steps(note("c", "red", approval=True), note("d", 1, approval=True))
    )
    first = await alice.wait_status(task["id"], "awaiting_approval")
    await alice.request(
        "POST",
        f"/api/agent/{task['id']}/approve",
        json={
            "approvalId": first["task"]["pendingApproval"]["id"],
            "approved": True,
            "modifiedParameters": {"key": "c", "value": "blue"},
        },
    )
    second = await alice.wait_for(
        task["id"],
        lambda d: (
            d["task"]["pendingApproval"] is not None
            and d["task"]["pendingApproval"]["id"] != first["task"]["pendingApproval"]["id"]
        ),
    )
    await alice.request(
        "POST",
        f"/api/agent/{task['id']}/approve",
        json={"approvalId": second["task"]["pendingApproval"]["id"], "approved": False},
    )
    done = await alice.wait_status(task["id"], "completed")
    assert done["task"]["artifacts"] == {"c": "blue"}
    assert [a["status"] for a in done["task"]["approvals"]] == ["modified", "rejected"]
    assert [s["status"] for s in done["task"]["steps"]] == ["completed", "skipped"]


async def test_answering_an_answered_approval_is_409_and_changes_nothing(alice: Rest) -> None:
    task = await alice.submit("once", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "awaiting_approval")
    answer = {"approvalId": waiting["task"]["pendingApproval"]["id"], "approved": True}
    path = f"/api/agent/{task['id']}/approve"
    assert (await alice.request("POST", path, json=answer)).status_code == 200
    done = await alice.wait_status(task["id"], "completed")
    events_before = await alice.events(task["id"])
    again = await alice.request("POST", path, json={**answer, "approved": False})
    assert_error(again, 409, "CONFLICT", "client_error")
    assert await alice.events(task["id"]) == events_before
    assert (await alice.get(task["id"]))["task"] == done["task"]


async def test_approve_input_errors(alice: Rest) -> None:
    task = await alice.submit("gate", context=steps(note("a", 1, approval=True)))
    await alice.wait_status(task["id"], "awaiting_approval")
    path = f"/api/agent/{task['id']}/approve"
    missing = await alice.request("POST", path, json={"approved": True})
    assert_error(missing, 422, "VALIDATION", "validation_error", field="approvalId")
    bad_id = await alice.request("POST", path, json={"approvalId": "x", "approved": True})
    assert_error(bad_id, 422, "VALIDATION", "validation_error", field="approvalId")
    unknown = await alice.request("POST", path, json={"approvalId": MISSING, "approved": True})
    error = assert_error(unknown, 404, "NOT_FOUND", "client_error")
    assert error["message"] == f"approval {MISSING} was not found on task {task['id']}"
    rejected_modified = await alice.request(
        "POST",
        path,
        json={
            "approvalId": (await alice.get(task["id"]))["task"]["pendingApproval"]["id"],
            "approved": False,
            "modifiedParameters": {"key": "a", "value": 2},
        },
    )
    assert_error(
        rejected_modified, 422, "VALIDATION", "validation_error", field="modifiedParameters"
    )
    still = await alice.get(task["id"])
    assert still["task"]["approvals"][0]["status"] == "pending"
    await alice.request("DELETE", f"/api/agent/{task['id']}")


async def test_undo_rolls_back_down_to_a_step_then_the_rest(alice: Rest) -> None:
    task = await alice.submit("undo", context=steps(note("a", 1), note("b", 2), note("c", 3)))
    done = await alice.wait_status(task["id"], "completed")
    second = done["task"]["steps"][1]["id"]
    response = await alice.request("POST", f"/api/agent/{task['id']}/undo", json={"stepId": second})
    assert response.status_code == 200
    undone = response.json()["data"]["task"]
    assert undone["artifacts"] == {"a": 1}
    assert [s["status"] for s in undone["steps"]] == ["completed", "rolled_back", "rolled_back"]
    rest = await alice.request("POST", f"/api/agent/{task['id']}/undo")
    assert rest.json()["data"]["task"]["status"] == "rolled_back"
    assert rest.json()["data"]["task"]["artifacts"] == {}


async def test_undo_of_a_running_task_is_409_and_changes_nothing(alice: Rest) -> None:
    task = await alice.submit("running", context=steps(note("a", 1), wait(3000)))
    await alice.wait_for(task["id"], lambda d: d["task"]["steps"][0]["status"] == "completed")
    response = await alice.request("POST", f"/api/agent/{task['id']}/undo", json={})
    assert_error(response, 409, "CONFLICT", "client_error")
    current = await alice.get(task["id"])
    assert current["task"]["steps"][0]["status"] == "completed"
    assert current["task"]["artifacts"] == {"a": 1}
    await alice.request("DELETE", f"/api/agent/{task['id']}")


async def test_undo_of_an_unknown_step_is_404(alice: Rest) -> None:
    task = await alice.submit("undo", context=steps(note("a", 1)))
    await alice.wait_status(task["id"], "completed")
    response = await alice.request(
        "POST", f"/api/agent/{task['id']}/undo", json={"stepId": MISSING}
    )
    error = assert_error(response, 404, "NOT_FOUND", "client_error")
    assert error["message"] == f"step {MISSING} was not found on task {task['id']}"
    assert (await alice.get(task["id"]))["task"]["artifacts"] == {"a": 1}


async def test_delete_cancels_awaiting_and_running_tasks(alice: Rest) -> None:
    gated = await alice.submit("gated", context=steps(note("a", 1, approval=True)))
    await alice.wait_status(gated["id"], "awaiting_approval")
    response = await alice.request("DELETE", f"/api/agent/{gated['id']}")
    assert response.status_code == 200
    cancelled = response.json()["data"]["task"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["approvals"][0]["status"] == "cancelled"
    slow = await alice.submit("slow", context=steps(wait(5000), note("never", 1)))
    await alice.wait_for(slow["id"], lambda d: "currentExecution" in d)
    assert (await alice.request("DELETE", f"/api/agent/{slow['id']}")).status_code == 200
    done = await alice.wait_status(slow["id"], "cancelled", timeout=5)
    assert done["task"]["artifacts"] == {}


async def test_cancelling_a_finished_task_is_409_and_changes_nothing(alice: Rest) -> None:
    task = await alice.submit("fails", context=steps(fail("boom")))
    before = await alice.wait_status(task["id"], "failed")
    events_before = await alice.events(task["id"])
    response = await alice.request("DELETE", f"/api/agent/{task['id']}")
    error = assert_error(response, 409, "CONFLICT", "client_error")
    assert error["message"] == "the task is already failed and cannot be cancelled"
    assert await alice.events(task["id"]) == events_before
    assert (await alice.get(task["id"]))["task"] == before["task"]


async def test_a_number_beyond_64_bits_in_the_context_reads_back(alice: Rest) -> None:
    # PostgreSQL's JSONB hands 1.8446744073709552e19 back as an exact 20-digit integer,
    # which orjson cannot write; found by the schemathesis run.
    task = await alice.submit("big number", context={"big": 1.8446744073709552e19})
    response = await alice.request("GET", f"/api/agent/{task['id']}")
    assert response.status_code == 200
    assert float(response.json()["data"]["task"]["context"]["big"]) == 1.8446744073709552e19
    history = await alice.request("GET", "/api/agent/history")
    assert history.status_code == 200
    assert history.json()["data"]["tasks"][0]["id"] == task["id"]
