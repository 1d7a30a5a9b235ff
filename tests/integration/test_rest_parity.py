"""The same task read through REST and through GraphQL gives the same data."""

from __future__ import annotations

from typing import Any

from tests.support.clients import Api, note, steps
from tests.support.live import LiveServer
from tests.support.rest import Rest

ENUM_FIELDS = ("status", "reversibility")


def lower_enums(value: Any) -> Any:
    """GraphQL spells enum values in upper case; REST in lower case."""
    if isinstance(value, list):
        return [lower_enums(v) for v in value]
    if isinstance(value, dict):
        return {
            k: (v.lower() if k in ENUM_FIELDS and isinstance(v, str) else lower_enums(v))
            for k, v in value.items()
        }
    return value


def pick(value: Any, shape: Any) -> Any:
    """`value` restricted to the fields `shape` (a GraphQL result) has."""
    if isinstance(shape, list):
        return [pick(v, s) for v, s in zip(value, shape, strict=True)]
    if isinstance(shape, dict) and isinstance(value, dict):
        return {k: pick(value[k], shape[k]) for k in shape}
    return value


async def test_rest_and_graphql_return_the_same_task(server: LiveServer) -> None:
    token = server.token()
    rest, graphql = Rest(server, token), Api(server, token)
    created = await rest.submit(
        "parity",
        priority=3,
        conversationId="conv-p",
        context=steps(note("a", 1), note("b", {"x": [1, 2]}, approval=True)),
    )
    waiting = await rest.wait_status(created["id"], "awaiting_approval")
    await rest.request(
        "POST",
        f"/api/agent/{created['id']}/approve",
        json={"approvalId": waiting["task"]["pendingApproval"]["id"], "approved": True},
    )
    done = await rest.wait_status(created["id"], "completed")
    # when
    over_graphql = lower_enums(await graphql.get(created["id"]))
    over_rest = done["task"]
    # then
    logs = over_graphql.pop("logs")
    assert pick(over_rest, over_graphql) == over_graphql
    assert [
        {"level": log["level"], "message": log["message"], "stepId": log["stepId"]}
        for log in done["logs"]
    ] == logs
    assert over_rest["status"] == "completed"
    assert over_rest["approvals"][0]["status"] == "approved"
    assert len(over_rest["steps"]) == 2


async def test_rest_and_graphql_return_the_same_events(server: LiveServer) -> None:
    token = server.token()
    rest, graphql = Rest(server, token), Api(server, token)
    task = await rest.submit("events", context=steps(note("a", 1), note("b", 2)))
    await rest.wait_status(task["id"], "completed")
    over_rest = await rest.events(task["id"])
    over_graphql = (await graphql.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]
    assert [
        (e["id"], e["seq"], e["type"], e["priority"], e["timestamp"], e["version"])
        for e in over_rest
    ] == [
        (e["id"], e["seq"], e["type"].lower(), e["priority"].lower(), e["timestamp"], e["version"])
        for e in over_graphql
    ]
    assert [e["data"]["taskId"] for e in over_rest] == [task["id"]] * len(over_rest)
    assert [e["seq"] for e in over_rest] == list(range(1, len(over_rest) + 1))


async def test_a_task_submitted_over_graphql_reads_the_same_over_rest(server: LiveServer) -> None:
    token = server.token()
    rest, graphql = Rest(server, token), Api(server, token)
    task = await graphql.submit("from graphql", context=steps(note("k", "v")))
    await graphql.wait_status(task["id"], "COMPLETED")
    over_graphql = lower_enums(await graphql.get(task["id"]))
    over_graphql.pop("logs")
    over_rest = (await rest.get(task["id"]))["task"]
    assert pick(over_rest, over_graphql) == over_graphql
