"""GraphQL over HTTP: authentication, media types and status codes, bad input."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from tests.support.clients import Api, GraphQLCallError, note, steps
from tests.support.live import LiveServer

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def post(
    server: LiveServer, body: object, *, token: str | None, accept: str = GRAPHQL_RESPONSE
) -> httpx.Response:
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await request(server, "POST", json=body, headers=headers)


async def request(server: LiveServer, method: str, **options: object) -> httpx.Response:
    """A real HTTP request from an async client (the server runs in this event loop)."""
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.request(method, server.graphql_url, **options)  # type: ignore[arg-type]


async def test_graphiql_page_loads_without_a_token(server: LiveServer) -> None:
    response = await request(server, "GET", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_graphiql_loads_every_asset_from_this_server(server: LiveServer) -> None:
    page = (await request(server, "GET", headers={"Accept": "text/html"})).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/graphiql-assets/") for a in assets), assets
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        for asset in assets:
            response = await client.get(asset)
            assert response.status_code == 200, asset
            if asset.endswith("graphiql.min.js"):
                digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
                # the integrity Strawberry pins for graphiql 3.8.3 on its CDN
                assert digest == "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"


async def test_an_operation_without_a_token_is_401_with_a_graphql_error(server: LiveServer) -> None:
    response = await post(server, {"query": "{ me { id } }"}, token=None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in body


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not-a-jwt", "the token is malformed: expected a signed JWT"),
        (
            None,
            "authentication required: send 'Authorization: Bearer <token>' or 'X-API-Key: <key>'",
        ),
    ],
)
async def test_bad_or_missing_tokens_say_why(
    server: LiveServer, token: str | None, message: str
) -> None:
    response = await post(server, {"query": "{ me { id } }"}, token=token)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == message


async def test_expired_token_is_refused(server: LiveServer) -> None:
    response = await post(server, {"query": "{ me { id } }"}, token=server.token(ttl=-120))
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "the token has expired; get a new one"


async def test_document_that_does_not_parse_is_400_without_data(server: LiveServer) -> None:
    response = await post(server, {"query": "{ me { id "}, token=server.token())
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body
    assert "Syntax Error" in body["errors"][0]["message"]


async def test_document_that_does_not_validate_is_400(server: LiveServer) -> None:
    response = await post(server, {"query": "{ nosuchfield }"}, token=server.token())
    assert response.status_code == 400
    assert "nosuchfield" in response.json()["errors"][0]["message"]


async def test_application_json_clients_keep_getting_200(server: LiveServer) -> None:
    response = await post(
        server, {"query": "{ nosuchfield }"}, token=server.token(), accept="application/json"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"] is None


async def test_successful_query_uses_the_negotiated_media_type(server: LiveServer) -> None:
    token = server.token("media-type-user")
    response = await post(server, {"query": "{ me { subject isAdmin } }"}, token=token)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"me": {"subject": "media-type-user", "isAdmin": False}}}


async def test_unacceptable_accept_header_is_406(server: LiveServer) -> None:
    response = await post(
        server, {"query": "{ me { id } }"}, token=server.token(), accept="text/plain"
    )
    assert response.status_code == 406


async def test_malformed_json_body_is_400(server: LiveServer) -> None:
    response = await request(
        server,
        "POST",
        content=b"{not json",
        headers={"Authorization": f"Bearer {server.token()}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Unable to parse request body as JSON"


async def test_every_response_carries_a_request_id(server: LiveServer) -> None:
    response = await post(server, {"query": "{ me { id } }"}, token=server.token())
    assert len(response.headers["x-request-id"]) >= 16
    echoed = await request(
        server,
        "POST",
        json={"query": "{ me { id } }"},
        headers={"Authorization": f"Bearer {server.token()}", "X-Request-ID": "trace-123"},
        timeout=10,
    )
    assert echoed.headers["x-request-id"] == "trace-123"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"task": ""}, "task must not be empty"),
        ({"task": "x" * 10_001}, "task is 10001 characters long; the limit is 10000"),
        (
            {"task": "ok", "context": {"blob": "x" * 70_000}},
            "context is 70011 bytes as JSON; the limit is 65536 bytes",
        ),
        (
            {"task": "ok", "context": {"steps": [{"action": "launch"}]}},
            "context.steps[0].action 'launch' is not a known action",
        ),
        ({"task": "ok", "priority": 1000}, "priority must be a whole number from -100 to 100"),
        (
            {"task": "ok", "context": {"onReject": "explode"}},
            "context.onReject must be 'skip' or 'cancel'",
        ),
    ],
)
async def test_invalid_submissions_are_validation_errors_and_store_nothing(
    alice: Api, fields: dict, message: str
) -> None:
    with pytest.raises(GraphQLCallError) as error:
        await alice.call("SubmitTask", input=fields)
    assert error.value.code == "VALIDATION"
    assert str(error.value).startswith(message)
    assert error.value.errors[0]["extensions"]["hint"]
    assert (await alice.call("ListTasks"))["tasks"]["totalCount"] == 0


async def test_malformed_ids_are_validation_errors(alice: Api) -> None:
    for name, variables in (
        ("GetTask", {"id": "42"}),
        ("CancelTask", {"taskId": "not-a-uuid"}),
        ("Undo", {"taskId": "00000000-0000-4000-8000-000000000000", "stepId": "x"}),
        ("TaskEvents", {"taskId": "nope"}),
    ):
        with pytest.raises(GraphQLCallError) as error:
            await alice.call(name, **variables)
        assert error.value.code == "VALIDATION", name
        assert "is not a valid id" in str(error.value)


async def test_approval_id_of_another_task_is_not_found(alice: Api) -> None:
    first = await alice.submit("one", context=steps(note("a", 1, approval=True)))
    second = await alice.submit("two", context=steps(note("b", 1, approval=True)))
    waiting = await alice.wait_status(first["id"], "AWAITING_APPROVAL")
    await alice.wait_status(second["id"], "AWAITING_APPROVAL")
    with pytest.raises(GraphQLCallError) as error:
        await alice.call(
            "Approve",
            input={
                "taskId": second["id"],
                "approvalId": waiting["pendingApproval"]["id"],
                "approved": True,
            },
        )
    assert error.value.code == "NOT_FOUND"
    assert (await alice.get(second["id"]))["status"] == "AWAITING_APPROVAL"
    for task in (first, second):
        await alice.call("CancelTask", taskId=task["id"])


async def test_modified_parameters_with_a_rejection_is_a_validation_error(alice: Api) -> None:
    task = await alice.submit("mod", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
    with pytest.raises(GraphQLCallError) as error:
        await alice.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": waiting["pendingApproval"]["id"],
                "approved": False,
                "modifiedParameters": {"key": "a", "value": 2},
            },
        )
    assert error.value.code == "VALIDATION"
    assert (await alice.get(task["id"]))["approvals"][0]["status"] == "PENDING"
    await alice.call("CancelTask", taskId=task["id"])
