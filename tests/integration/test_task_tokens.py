"""Tokens scoped to one task: exactly their scopes on that task, on every transport."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from auth.tokens import issue_token
from server.app import token_config
from tests.support.clients import Api, GraphQLCallError, collect, note, steps
from tests.support.live import LiveServer
from tests.support.operations import operation
from tests.support.rest import Rest, assert_error


def person(server: LiveServer, *roles: str) -> Api:
    token = issue_token(
        token_config(server.settings),
        subject=f"user-{uuid.uuid4().hex[:10]}",
        roles=list(roles),
        ttl_seconds=3600,
    )
    return Api(server, token)


async def refused(api: Api, name: str, **variables: Any) -> GraphQLCallError:
    with pytest.raises(GraphQLCallError) as error:
        await api.call(name, **variables)
    return error.value


async def task_token(api: Api, task_id: str, *scopes: str, ttl: int | None = None) -> str:
    variables: dict[str, Any] = {"taskId": task_id, "scopes": list(scopes)}
    if ttl is not None:
        variables["ttlSeconds"] = ttl
    data = await api.call("CreateTaskToken", **variables)
    created = data["createTaskToken"]
    assert created["taskId"] == task_id
    assert created["scopes"] == list(scopes)
    return str(created["token"])


async def first_sse_events(server: LiveServer, path: str, count: int) -> list[dict[str, Any]]:
    """The first `count` events of a stream opened natively (no headers, as EventSource)."""
    events: list[dict[str, Any]] = []

    async def read() -> None:
        async with (
            httpx.AsyncClient(base_url=server.http_url, timeout=30) as http,
            http.stream("GET", path, headers={"Accept": "text/event-stream"}) as response,
        ):
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) >= count:
                        return

    await asyncio.wait_for(read(), 20)
    return events


async def test_a_task_token_streams_sse_through_the_query_string(server: LiveServer) -> None:
    owner = person(server)
    task = await owner.submit("watched", context=steps(note("a", 1)))
    await owner.wait_status(task["id"], "COMPLETED")
    token = await task_token(owner, task["id"], "READ")

    events = await first_sse_events(
        server, f"/api/agent/{task['id']}/stream?after=0&access_token={token}", 2
    )
    assert [e["seq"] for e in events] == [1, 2]
    assert {e["data"]["taskId"] for e in events} == {task["id"]}

    async with httpx.AsyncClient(base_url=server.http_url) as http:
        polled = await http.get(f"/api/agent/{task['id']}/events?after=0&access_token={token}")
    assert polled.status_code == 200, polled.text
    assert polled.json()["data"]["events"][0]["seq"] == 1


async def test_a_task_token_sees_no_other_task_and_cannot_change_its_own(
    server: LiveServer,
) -> None:
    owner = person(server)
    mine = await owner.submit("scoped", context=steps(note("a", 1, approval=True)))
    other = await owner.submit("other", context=steps(note("b", 2)))
    waiting = await owner.wait_status(mine["id"], "AWAITING_APPROVAL")
    scoped = Api(server, await task_token(owner, mine["id"], "READ"))

    # given: it reads its own task over GraphQL
    assert (await scoped.get(mine["id"]))["id"] == mine["id"]
    # then: another task of the same user does not exist for it, on every transport
    assert (await scoped.get(other["id"])) is None
    assert (await refused(scoped, "TaskEvents", taskId=other["id"])).code == "NOT_FOUND"
    rest = Rest(server, scoped.token)
    assert_error(
        await rest.request("GET", f"/api/agent/{other['id']}"), 404, "NOT_FOUND", "client_error"
    )
    query = f"/api/agent/{other['id']}/stream?access_token={scoped.token}"
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert_error(await http.get(query), 404, "NOT_FOUND", "client_error")
    # and: lists spanning tasks, and every write it was not given, are forbidden
    assert (await refused(scoped, "ListTasks")).code == "FORBIDDEN"
    assert (await refused(scoped, "CancelTask", taskId=mine["id"])).code == "FORBIDDEN"
    assert (await refused(scoped, "Undo", taskId=mine["id"])).code == "FORBIDDEN"
    assert (await refused(scoped, "SubmitTask", input={"task": "x"})).code == "FORBIDDEN"
    decision = {
        "taskId": mine["id"],
        "approvalId": waiting["pendingApproval"]["id"],
        "approved": True,
    }
    assert (await refused(scoped, "Approve", input=decision)).code == "FORBIDDEN"
    assert (
        await refused(scoped, "CreateTaskToken", taskId=mine["id"], scopes=["READ"])
    ).code == "FORBIDDEN"
    # nothing changed
    assert (await owner.get(mine["id"]))["status"] == "AWAITING_APPROVAL"
    assert (await owner.get(other["id"]))["status"] in ("PENDING", "RUNNING", "COMPLETED")


async def test_an_approve_token_decides_its_task_but_cannot_cancel_it(server: LiveServer) -> None:
    owner = person(server)
    task = await owner.submit("approve by token", context=steps(note("a", 1, approval=True)))
    waiting = await owner.wait_status(task["id"], "AWAITING_APPROVAL")
    scoped = Api(server, await task_token(owner, task["id"], "APPROVE"))
    assert (await refused(scoped, "CancelTask", taskId=task["id"])).code == "FORBIDDEN"
    decision = {
        "taskId": task["id"],
        "approvalId": waiting["pendingApproval"]["id"],
        "approved": True,
    }
    await scoped.call("Approve", input=decision)
    done = await owner.wait_status(task["id"], "COMPLETED")
    assert done["artifacts"] == {"a": 1}


async def test_a_full_token_in_the_query_string_is_refused(server: LiveServer) -> None:
    owner = person(server)
    task = await owner.submit("no leaks", context=steps(note("a", 1)))
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        for path in (f"/api/agent/{task['id']}/stream", f"/api/agent/{task['id']}/events"):
            response = await http.get(f"{path}?access_token={owner.token}")
            error = assert_error(response, 401, "UNAUTHENTICATED", "auth_error")
            assert "may not be passed in the URL" in error["message"]
            assert "createTaskToken" in error["hint"]


async def test_bad_task_token_requests_are_refused_with_nothing_issued(
    server: LiveServer,
) -> None:
    owner, stranger = person(server), person(server)
    task = await owner.submit("bad input", context=steps(note("a", 1)))
    for ttl in (0, 3601):
        error = await refused(
            owner, "CreateTaskToken", taskId=task["id"], scopes=["READ"], ttlSeconds=ttl
        )
        assert error.code == "VALIDATION"
    assert (
        await refused(owner, "CreateTaskToken", taskId=task["id"], scopes=[])
    ).code == "VALIDATION"
    assert (
        await refused(stranger, "CreateTaskToken", taskId=task["id"], scopes=["READ"])
    ).code == "NOT_FOUND"


async def test_a_task_token_on_a_graphql_socket_follows_only_its_task(
    server: LiveServer,
) -> None:
    owner = person(server)
    mine = await owner.submit("socket", context=steps(note("a", 1)))
    other = await owner.submit("not for it", context=steps(note("b", 2)))
    scoped = Api(server, await task_token(owner, mine["id"], "READ"))
    async with scoped.websocket() as ws:
        events = await collect(
            ws, "TaskUpdates", taskId=mine["id"], after=0, until=lambda e: e["type"] == "COMPLETED"
        )
        assert {e["data"]["taskId"] for e in events} == {mine["id"]}
        for name, variables, code in (
            ("TaskUpdates", {"taskId": other["id"], "after": 0}, "NOT_FOUND"),
            ("MyTaskUpdates", {}, "FORBIDDEN"),
        ):
            with pytest.raises(TransportQueryError) as error:
                await collect(ws, name, until=lambda e: True, **variables)
            assert (error.value.errors or [{}])[0]["extensions"]["code"] == code, name
        with pytest.raises(TransportQueryError) as refused_cancel:
            await ws.execute(
                GraphQLRequest(operation("CancelTask"), variable_values={"taskId": mine["id"]})
            )
        assert (refused_cancel.value.errors or [{}])[0]["extensions"]["code"] == "FORBIDDEN"
