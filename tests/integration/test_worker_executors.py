"""Executors declare their actions (issue 12): registration, worker-only access, and plans
and changed parameters checked against the declared JSON Schemas."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from db.models import Executor, Task
from tests.support.attacker import api_key, rows_of
from tests.support.clients import Api, GraphQLCallError, steps, wait
from tests.support.live import LiveServer
from tests.support.operations import operation
from tests.support.rest import Rest, assert_error

MOVE = {
    "name": "move_file",
    "parameterSchema": {
        "type": "object",
        "properties": {
            "source": {"type": "string", "minLength": 1},
            "target": {"type": "string", "minLength": 1},
            "ms": {"type": "integer", "minimum": 0, "maximum": 1000},
        },
        "required": ["source", "target"],
        "additionalProperties": False,
    },
    "reversibility": "REVERSIBLE",
}
NEGATIVE_WAIT = {"action": "wait", "params": {"ms": -1}}
SEND = {
    "name": "send_mail",
    "parameterSchema": {"type": "object", "properties": {"to": {"type": "string"}}},
    "reversibility": "IRREVERSIBLE",
}


def keyed(server: LiveServer, key: str) -> Rest:
    client = Rest(server, None)
    client.headers = lambda **extra: {"X-API-Key": key, **extra}  # type: ignore[method-assign]
    return client


def user() -> str:
    return f"engine-{uuid.uuid4().hex[:8]}"


async def register(
    client: Rest, name: str, actions: list[dict[str, Any]] | None = None
) -> httpx.Response:
    body = {"name": name, "actions": actions if actions is not None else [MOVE, SEND]}
    return await client.request("POST", "/api/worker/executors", json=body)


async def test_a_worker_key_registers_an_executor_and_a_repeat_is_a_new_version(
    server: LiveServer,
) -> None:
    owner = user()
    worker = keyed(server, await api_key(server, owner, ["worker"]))
    name = f"files-{uuid.uuid4().hex[:6]}"
    # when
    first = await register(worker, name)
    second = await register(worker, name, [MOVE])
    # then
    assert first.status_code == 200, first.text
    data = first.json()["data"]["executor"]
    assert (data["name"], data["version"]) == (name, 1)
    assert [a["name"] for a in data["actions"]] == ["move_file", "send_mail"]
    assert data["actions"][1]["reversibility"] == "IRREVERSIBLE"
    assert second.json()["data"]["executor"]["version"] == 2
    rows = await rows_of(server, Executor, name=name)
    assert [(r.version, [a["name"] for a in r.actions]) for r in rows] == [(2, ["move_file"])]


async def test_user_credentials_cannot_call_the_worker_api_and_workers_cannot_call_tasks(
    server: LiveServer,
) -> None:
    owner = user()
    name = f"denied-{uuid.uuid4().hex[:6]}"
    by_token = Rest(server, server.token(owner))
    by_user_key = keyed(server, await api_key(server, owner, ["tasks:read", "tasks:write"]))
    worker = keyed(server, await api_key(server, owner, ["worker"]))
    # when
    token_denied = await register(by_token, name)
    key_denied = await register(by_user_key, name)
    submit_denied = await worker.request("POST", "/api/agent", json={"task": "no"})
    # then
    error = assert_error(token_denied, 403, "FORBIDDEN", "auth_error")
    assert error["message"] == "this credential lacks the 'worker' scope"
    assert_error(key_denied, 403, "FORBIDDEN", "auth_error")
    assert_error(submit_denied, 403, "FORBIDDEN", "auth_error")
    assert await rows_of(server, Executor, name=name) == []


async def test_another_users_name_and_built_in_names_are_409(server: LiveServer) -> None:
    name = f"taken-{uuid.uuid4().hex[:6]}"
    first = keyed(server, await api_key(server, user(), ["worker"]))
    other = keyed(server, await api_key(server, user(), ["worker"]))
    assert (await register(first, name)).status_code == 200
    # when
    stolen = await register(other, name, [SEND])
    builtin = await register(other, "builtin")
    # then
    error = assert_error(stolen, 409, "CONFLICT", "client_error")
    assert error["message"] == f"executor {name!r} is registered by another user"
    assert_error(builtin, 409, "CONFLICT", "client_error")
    rows = await rows_of(server, Executor, name=name)
    assert [a["name"] for a in rows[0].actions] == ["move_file", "send_mail"]


async def test_bad_declarations_name_the_field(server: LiveServer) -> None:
    worker = keyed(server, await api_key(server, user(), ["worker"]))
    name = f"bad-{uuid.uuid4().hex[:6]}"
    bad_schema = {**SEND, "parameterSchema": {"type": "object", "properties": {"a": {"type": 5}}}}
    cases = [
        ([{**MOVE, "reversibility": "MAYBE"}], "actions[0].reversibility"),
        ([MOVE, bad_schema], "actions[1].parameterSchema"),
        ([MOVE, MOVE], "actions[1].name"),
        ([], "actions"),
    ]
    for actions, field in cases:
        response = await register(worker, name, actions)
        assert_error(response, 422, "VALIDATION", "validation_error", field=field)
    bad_name = await register(worker, "Has Spaces")
    assert_error(bad_name, 422, "VALIDATION", "validation_error", field="name")
    assert await rows_of(server, Executor, name=name) == []


async def test_plans_for_a_registered_executor_are_checked_against_its_schemas(
    server: LiveServer,
) -> None:
    owner = user()
    worker = keyed(server, await api_key(server, owner, ["worker"]))
    name = f"plan-{uuid.uuid4().hex[:6]}"
    assert (await register(worker, name)).status_code == 200
    client = Rest(server, server.token(owner))
    good_step = {"action": "move_file", "params": {"source": "a", "target": "b"}}
    # when
    too_long = await client.request(
        "POST",
        "/api/agent",
        json={
            "task": "organise",
            "context": {
                "executor": name,
                "steps": [good_step, {**good_step, "params": {**good_step["params"], "ms": 5000}}],
            },
        },
    )
    missing = await client.request(
        "POST",
        "/api/agent",
        json={
            "task": "organise",
            "context": {"executor": name, "steps": [{"action": "move_file", "params": {}}]},
        },
    )
    unknown = await client.request(
        "POST", "/api/agent", json={"task": "x", "context": {"executor": "nobody-here"}}
    )
    created = await client.submit("organise", context={"executor": name, "steps": [good_step]})
    # then
    error = assert_error(
        too_long, 422, "VALIDATION", "validation_error", field="context.steps[1].params.ms"
    )
    assert error["message"] == (
        "context.steps[1].params.ms is invalid for action 'move_file': "
        "5000 is greater than the maximum of 1000"
    )
    error = assert_error(
        missing, 422, "VALIDATION", "validation_error", field="context.steps[0].params.source"
    )
    assert error["message"] == ("context.steps[0].params.source is required by action 'move_file'")
    assert_error(unknown, 422, "VALIDATION", "validation_error", field="context.executor")
    tasks = await rows_of(server, Task, id=uuid.UUID(created["id"]))
    assert [(t.executor, t.status) for t in tasks] == [(name, "pending")]
    assert created["steps"][0]["reversibility"] == "reversible"


async def test_the_built_in_executor_declares_its_schemas_and_checks_modified_parameters(
    server: LiveServer,
) -> None:
    api = Api(server, server.token(user()))
    bad = await Rest(server, api.token).request(
        "POST",
        "/api/agent",
        json={
            "task": "x",
            "context": steps(wait(10), wait(10), {"action": "wait", "params": {"ms": -1}}),
        },
    )
    error = assert_error(
        bad, 422, "VALIDATION", "validation_error", field="context.steps[2].params.ms"
    )
    assert error["message"] == (
        "context.steps[2].params.ms is invalid for action 'wait': -1 is less than the minimum of 0"
    )
    task = await api.submit("gated", context=steps(wait(10, approval=True)))
    waiting = await api.wait_status(task["id"], "AWAITING_APPROVAL")
    approval_id = waiting["approvals"][0]["id"]
    # when
    try:
        await api.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": approval_id,
                "approved": True,
                "modifiedParameters": {"ms": "soon"},
            },
        )
        raise AssertionError("an invalid modifiedParameters was accepted")
    except GraphQLCallError as refused:
        # then
        assert refused.code == "VALIDATION"
        assert refused.errors[0]["extensions"]["field"] == "modifiedParameters.ms"
    still = await api.get(task["id"])
    assert still is not None
    assert still["status"] == "AWAITING_APPROVAL"
    assert still["approvals"][0]["status"] == "PENDING"


async def test_graphql_register_executor_with_a_worker_key(server: LiveServer) -> None:
    key = await api_key(server, user(), ["worker"])
    name = f"gql-{uuid.uuid4().hex[:6]}"
    variables = {
        "input": {
            "name": name,
            "actions": [{**SEND, "reversibility": "IRREVERSIBLE"}],
        }
    }
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            server.graphql_url,
            headers={"X-API-Key": key},
            json={"query": operation("RegisterExecutor"), "variables": variables},
        )
    body = response.json()
    assert "errors" not in body, body
    registered = body["data"]["registerExecutor"]
    assert (registered["name"], registered["version"]) == (name, 1)
    assert registered["actions"][0]["parameterSchema"] == SEND["parameterSchema"]
