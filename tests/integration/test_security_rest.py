"""The same security rules on the REST routes and the legacy WebSocket."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.attacker import api_key, bearer, gql, http, ws_open
from tests.support.clients import Api, note, steps
from tests.support.live import LiveServer

SUBMIT = 'mutation { submitTask(input: {task: "t"}) { id } }'


def without(text: str, *values: str) -> str:
    for value in values:
        text = text.replace(value, "<x>")
    return text


async def gated(owner: Api) -> tuple[str, str]:
    task = await owner.submit("gated", context=steps(note("a", 1, approval=True)))
    waiting = await owner.wait_status(task["id"], "AWAITING_APPROVAL")
    return task["id"], waiting["pendingApproval"]["id"]


async def test_another_users_task_is_a_404_like_a_missing_one(
    server: LiveServer, alice: Api, bob: Api
) -> None:
    task_id, approval_id = await gated(alice)
    missing = str(uuid.uuid4())
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/agent/{id}", {}),
        ("DELETE", "/api/agent/{id}", {}),
        (
            "POST",
            "/api/agent/{id}/approve",
            {"json": {"approvalId": approval_id, "approved": True}},
        ),
        ("POST", "/api/agent/{id}/undo", {"json": {}}),
        ("GET", "/api/agent/{id}/events?after=0", {}),
        ("GET", "/api/agent/{id}/stream", {}),
    ]
    for method, path, options in calls:
        answers = []
        for target in (task_id, missing):
            request_id = uuid.uuid4().hex
            response = await http(
                server,
                method,
                path.format(id=target),
                headers={**bearer(bob.token), "X-Request-ID": request_id},
                **options,
            )
            answers.append((response.status_code, without(response.text, target, request_id)))
        assert answers[0] == answers[1], (method, path)
        assert answers[0][0] == 404
    # and nothing changed
    still = await alice.get(task_id)
    assert still is not None
    assert (still["status"], still["pendingApproval"]["id"]) == ("AWAITING_APPROVAL", approval_id)


async def test_read_only_key_cannot_write_over_rest(server: LiveServer) -> None:
    user = f"ro-{uuid.uuid4().hex[:8]}"
    owner = Api(server, server.token(user))
    task_id, approval_id = await gated(owner)
    headers = {"X-API-Key": await api_key(server, user, ["tasks:read"])}
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/agent", {"json": {"task": "t"}}),
        (
            "POST",
            f"/api/agent/{task_id}/approve",
            {"json": {"approvalId": approval_id, "approved": True}},
        ),
        ("POST", f"/api/agent/{task_id}/undo", {"json": {}}),
        ("DELETE", f"/api/agent/{task_id}", {}),
    ]
    for method, path, options in writes:
        response = await http(server, method, path, headers=headers, **options)
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert (error["code"], error["message"]) == (
            "FORBIDDEN",
            "this credential lacks the 'tasks:write' scope",
        )
    read = await http(server, "GET", f"/api/agent/{task_id}", headers=headers)
    assert read.json()["data"]["task"]["status"] == "awaiting_approval"


async def test_rest_and_graphql_share_one_write_budget(make_server: Any) -> None:
    async with make_server(rate_limit_write="2/minute") as server:
        token = server.token()
        first = await http(server, "POST", "/api/agent", json={"task": "a"}, headers=bearer(token))
        assert first.status_code == 201
        assert first.headers["ratelimit-remaining"] == "1"
        assert (await gql(server, SUBMIT, headers=bearer(token))).status_code == 200
        # when: the third write, over REST
        refused = await http(
            server, "POST", "/api/agent", json={"task": "c"}, headers=bearer(token)
        )
        # then
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert (error["code"], error["category"]) == ("RATE_LIMITED", "rate_limited")
        assert re.fullmatch(
            r"too many writes: the limit is 2 per 60 seconds; retry after \d+ seconds",
            error["message"],
        )
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-limit"] == "2"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert (await gql(server, SUBMIT, headers=bearer(token))).status_code == 429
        history = await http(server, "GET", "/api/agent/history", headers=bearer(token))
        assert history.json()["data"]["total"] == 2


async def test_an_oversized_rest_body_is_a_413_in_the_rest_envelope(make_server: Any) -> None:
    async with make_server(max_body_bytes=16 * 1024) as server:
        request_id = uuid.uuid4().hex
        response = await http(
            server,
            "POST",
            "/api/agent",
            content=json.dumps({"task": "x" * 20_000}),
            headers={
                **bearer(server.token()),
                "Content-Type": "application/json",
                "X-Request-ID": request_id,
            },
        )
        assert response.status_code == 413
        assert response.json() == {
            "success": False,
            "error": {
                "code": "PAYLOAD_TOO_LARGE",
                "category": "client_error",
                "message": "the request body is larger than 16384 bytes",
                "hint": "send a smaller body",
                "details": [],
                "requestId": request_id,
            },
        }


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [("text/plain", b'{"task": "t"}', 415), ("application/json", b'{"task": ', 400)],
)
async def test_rest_refuses_bodies_that_are_not_json(
    server: LiveServer, content_type: str, body: bytes, status: int
) -> None:
    headers = {**bearer(server.token()), "Content-Type": content_type}
    response = await http(server, "POST", "/api/agent", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["success"] is False


async def legacy_close(server: LiveServer, task_id: str, **options: Any) -> tuple[int, str]:
    socket = await ws_open(
        server, path=f"/api/agent/{task_id}/updates", subprotocols=None, **options
    )
    try:
        for _ in range(100):
            await socket.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code, closed.rcvd.reason
    finally:
        await socket.close()
    raise AssertionError("the socket stayed open")


async def test_legacy_socket_answers_another_users_task_like_a_missing_one(
    server: LiveServer, alice: Api, bob: Api
) -> None:
    task_id, _ = await gated(alice)
    theirs = await legacy_close(server, task_id, additional_headers=bearer(bob.token))
    nothing = await legacy_close(server, str(uuid.uuid4()), additional_headers=bearer(bob.token))
    assert theirs == nothing
    assert theirs[0] == 4404


async def test_legacy_socket_takes_an_api_key_and_checks_origin(make_server: Any) -> None:
    async with make_server(cors_origins="https://app.example") as server:
        user = f"sys-{uuid.uuid4().hex[:8]}"
        created = await gql(server, SUBMIT, headers=bearer(server.token(user)))
        task_id = created.json()["data"]["submitTask"]["id"]
        key = await api_key(server, user, ["tasks:read"])
        path = f"/api/agent/{task_id}/updates"
        socket = await ws_open(
            server, path=path, subprotocols=None, additional_headers={"X-API-Key": key}
        )
        first = json.loads(await socket.recv())
        await socket.close()
        assert (first["type"], first["data"]["subject"]) == ("connected", user)
        with pytest.raises(InvalidStatus) as refused:
            await ws_open(
                server,
                path=path,
                subprotocols=None,
                origin="https://evil.example",
                additional_headers={"X-API-Key": key},
            )
        assert refused.value.response.status_code == 403


async def test_legacy_socket_over_its_message_limit_is_closed_with_4429(make_server: Any) -> None:
    async with make_server(rate_limit_ws_message="3/minute") as server:
        token = server.token()
        created = await gql(server, SUBMIT, headers=bearer(token))
        task_id = created.json()["data"]["submitTask"]["id"]
        socket = await ws_open(
            server,
            path=f"/api/agent/{task_id}/updates",
            subprotocols=None,
            additional_headers=bearer(token),
        )
        codes = []
        try:
            for _ in range(4):
                await socket.send(json.dumps({"type": "ping"}))
            for _ in range(200):
                await socket.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            codes.append(closed.rcvd.code)
        assert codes == [4429]


async def test_a_poll_counts_as_a_read_and_opening_sse_as_a_subscribe(make_server: Any) -> None:
    # One live-stream rule for every channel (issue 11): opening SSE spends the subscribe
    # budget, as a graphql-ws subscribe does; a long-poll request is a read.
    limits = {"rate_limit_read": "2/minute", "rate_limit_subscribe": "1/minute"}
    async with make_server(**limits) as server:
        token = server.token()
        created = await gql(server, SUBMIT, headers=bearer(token))
        task_id = created.json()["data"]["submitTask"]["id"]
        polled = await http(server, "GET", f"/api/agent/{task_id}/events", headers=bearer(token))
        assert polled.status_code == 200
        async with (
            httpx.AsyncClient(base_url=server.http_url, timeout=10) as client,
            client.stream("GET", f"/api/agent/{task_id}/stream", headers=bearer(token)) as stream,
        ):
            assert stream.status_code == 200
        # the stream spent no read: one more poll passes, the next is refused
        again = await http(server, "GET", f"/api/agent/{task_id}/events", headers=bearer(token))
        assert again.status_code == 200
        for path in (f"/api/agent/{task_id}/events", f"/api/agent/{task_id}/stream"):
            refused = await http(server, "GET", path, headers=bearer(token))
            assert refused.status_code == 429, path
            assert refused.json()["error"]["code"] == "RATE_LIMITED"
            assert int(refused.headers["retry-after"]) >= 1
