"""CORS, WebSocket Origin, body bounds, production mode, query size and input validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests.support.attacker import bearer, first_error, gql, http, next_frame, ws_init
from tests.support.live import LiveServer

APP = "https://app.example"
EVIL = "https://evil.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}
COUNT = "query { tasks { totalCount } }"


async def preflight(server: LiveServer, origin: str) -> Any:
    return await http(server, "OPTIONS", "/graphql", headers={"Origin": origin, **PREFLIGHT})


async def test_cors_preflight_from_a_listed_origin_is_allowed(make_server: Any) -> None:
    async with make_server(cors_origins=f"{APP}, https://other.example") as server:
        response = await preflight(server, APP)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == APP
        assert response.headers["access-control-allow-credentials"] == "true"
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "x-api-key"} <= set(allowed.split(", "))
        # and the actual request carries the headers a page may read
        actual = await gql(server, COUNT, headers={**bearer(server.token()), "Origin": APP})
        assert actual.headers["access-control-allow-origin"] == APP
        assert "ratelimit-remaining" in actual.headers["access-control-expose-headers"]


async def test_cors_preflight_from_another_origin_is_refused(make_server: Any) -> None:
    async with make_server(cors_origins=APP) as server:
        response = await preflight(server, EVIL)
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers
        actual = await gql(server, COUNT, headers={**bearer(server.token()), "Origin": EVIL})
        assert "access-control-allow-origin" not in actual.headers


async def test_no_cross_origin_access_by_default(server: LiveServer) -> None:
    response = await preflight(server, APP)
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_wildcard_never_allows_credentials(make_server: Any) -> None:
    async with make_server(cors_origins="*") as server:
        response = await preflight(server, EVIL)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


async def test_websocket_origin_is_checked_against_the_allow_list(make_server: Any) -> None:
    async with make_server(cors_origins=APP) as server:
        payload = {"authorization": f"Bearer {server.token()}"}
        with pytest.raises(InvalidStatus) as refused:
            await ws_init(server, payload, origin=EVIL)
        assert refused.value.response.status_code == 403
        allowed = await ws_init(server, payload, origin=APP)
        assert (await next_frame(allowed))["type"] == "connection_ack"
        await allowed.close()
        # a client that is not a browser sends no Origin and is not affected
        plain = await ws_init(server, payload)
        assert (await next_frame(plain))["type"] == "connection_ack"
        await plain.close()


async def _chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 65536 + 1):
        yield b" " * 65536


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_body_is_refused_with_413(make_server: Any, declared: bool) -> None:
    async with make_server(max_body_bytes=64 * 1024) as server:
        headers = {**bearer(server.token()), "Content-Type": "application/json"}
        body: Any = b"{" + b" " * (80 * 1024) + b"}" if declared else _chunks(80 * 1024)
        response = await http(server, "POST", "/graphql", content=body, headers=headers)
        assert response.status_code == 413
        assert response.json() == {
            "errors": [
                {
                    "message": "the request body is larger than 65536 bytes",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE", "hint": "send a smaller body"},
                }
            ]
        }


async def test_a_body_within_the_limit_still_works(server: LiveServer) -> None:
    response = await gql(server, COUNT, headers=bearer(server.token()))
    assert response.status_code == 200


async def test_a_body_that_is_not_json_is_refused_with_415(server: LiveServer) -> None:
    headers = {**bearer(server.token()), "Content-Type": "text/plain"}
    response = await http(server, "POST", "/graphql", content=b"{ me { id } }", headers=headers)
    assert response.status_code == 415
    assert first_error(response) == ("UNSUPPORTED_MEDIA_TYPE", "the request body must be JSON")


async def test_malformed_json_is_refused_with_400(server: LiveServer) -> None:
    headers = {**bearer(server.token()), "Content-Type": "application/json"}
    response = await http(server, "POST", "/graphql", content=b'{"query": ', headers=headers)
    assert response.status_code == 400
    assert first_error(response)[0] == "BAD_REQUEST"
    assert "Traceback" not in response.text


async def test_production_turns_off_introspection_and_graphiql(make_server: Any) -> None:
    async with make_server(env="production") as server:
        token = bearer(server.token())
        response = await gql(server, "{ __schema { queryType { name } } }", headers=token)
        assert "data" not in response.json() or response.json()["data"] is None
        assert "introspection" in response.json()["errors"][0]["message"].lower()
        page = await http(server, "GET", "/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        assert (await gql(server, COUNT, headers=token)).json()["data"]["tasks"] is not None


DEEP_LISTS = """query($n: Int!) {
  tasks(first: $n) { edges { node { id logs { message } steps { id } } } }
}"""


async def test_a_query_asking_for_too_many_objects_is_refused(server: LiveServer) -> None:
    token = bearer(server.token())
    refused = await gql(server, DEEP_LISTS, {"n": 100}, headers=token)
    assert first_error(refused) == (
        "QUERY_TOO_LARGE",
        "this operation could return about 55100 objects; the limit is 20000: ask for "
        "smaller pages (first/limit) or fewer nested lists",
    )
    allowed = await gql(server, DEEP_LISTS, {"n": 20}, headers=token)
    assert allowed.json() == {"data": {"tasks": {"edges": []}}}


@pytest.mark.parametrize(
    ("field", "value"),
    [("task", "hello\u0000world"), ("conversationId", "c\u0007"), ("idempotencyKey", "k\u001b")],
)
async def test_control_characters_in_text_fields_are_refused_naming_the_field(
    server: LiveServer, field: str, value: str
) -> None:
    token = bearer(server.token())
    fields = {"task": "fine", field: value}
    response = await gql(
        server,
        "mutation($input: SubmitTaskInput!) { submitTask(input: $input) { id } }",
        {"input": fields},
        headers=token,
    )
    assert first_error(response) == ("VALIDATION", f"{field} contains control characters")
    assert (await gql(server, COUNT, headers=token)).json()["data"]["tasks"]["totalCount"] == 0


async def test_nul_inside_json_context_is_refused_naming_the_path(server: LiveServer) -> None:
    token = bearer(server.token())
    context = {"steps": [{"name": "n\u0000", "action": "note", "params": {"key": "a"}}]}
    response = await gql(
        server,
        'mutation($c: JSON) { submitTask(input: {task: "t", context: $c}) { id } }',
        {"c": context},
        headers=token,
    )
    assert first_error(response) == (
        "VALIDATION",
        "context.steps[0].name contains a NUL character",
    )
    assert (await gql(server, COUNT, headers=token)).json()["data"]["tasks"]["totalCount"] == 0


async def test_a_non_finite_number_in_json_input_is_refused_as_validation(
    server: LiveServer,
) -> None:
    token = bearer(server.token())
    # In a document, 1e400 is a valid float literal that parses as infinity.
    literal = 'mutation { submitTask(input: {task: "t", context: {n: [1, 1e400]}}) { id } }'
    response = await gql(server, literal, headers=token)
    assert first_error(response) == (
        "VALIDATION",
        "context.n[1] is not a finite number: JSON numbers must be finite (1e400 overflows)",
    )
    assert (await gql(server, COUNT, headers=token)).json()["data"]["tasks"]["totalCount"] == 0


async def test_a_datetime_overflowing_utc_is_refused_as_validation(server: LiveServer) -> None:
    token = bearer(server.token())
    query = '{ tasks(dateFrom: "0001-01-01T00:00:00+14:00") { totalCount } }'
    response = await gql(server, query, headers=token)
    assert first_error(response) == (
        "VALIDATION",
        "dateFrom is out of range once converted to UTC: use a time between "
        "0001-01-02 and 9999-12-30",
    )
