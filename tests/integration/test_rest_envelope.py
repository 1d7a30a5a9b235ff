"""The envelope, request ids, unknown routes and wrong methods."""

from __future__ import annotations

import pytest

from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error


@pytest.fixture
def alice(server: LiveServer) -> Rest:
    return Rest(server, server.token())


async def test_success_envelope_carries_only_success_and_data(alice: Rest) -> None:
    response = await alice.request("GET", "/api/agent/history")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "success": True,
        "data": {"tasks": [], "total": 0, "totalExact": True, "limit": 20, "offset": 0},
    }
    assert len(response.headers["x-request-id"]) == 32


async def test_a_callers_request_id_is_echoed_and_quoted_in_the_error(alice: Rest) -> None:
    response = await alice.request(
        "GET", "/api/agent/history?limit=0", headers={"X-Request-ID": "trace-abc.123"}
    )
    assert response.headers["x-request-id"] == "trace-abc.123"
    error = assert_error(response, 422, "VALIDATION", "validation_error", field="limit")
    assert error["requestId"] == "trace-abc.123"
    assert error["message"] == "limit must be from 1 to 100"
    assert error["details"] == [{"field": "limit", "message": "limit must be from 1 to 100"}]


async def test_an_unsafe_request_id_is_replaced(alice: Rest) -> None:
    response = await alice.request(
        "GET", "/api/agent/nope/nope", headers={"X-Request-ID": "<script>"}
    )
    error = assert_error(response, 404, "ROUTE_NOT_FOUND", "client_error")
    assert error["requestId"] != "<script>"
    assert len(error["requestId"]) == 32


async def test_unknown_routes_answer_404_in_the_envelope(server: LiveServer) -> None:
    anonymous = Rest(server, None)
    for path in ("/api/agent/1/2/3", "/api/unknown", "/api/"):
        response = await anonymous.request("GET", path)
        error = assert_error(response, 404, "ROUTE_NOT_FOUND", "client_error")
        assert error["message"] == f"no route {path}"


async def test_wrong_methods_answer_405_with_allow(alice: Rest) -> None:
    cases = [
        ("PUT", "/api/agent", "POST"),
        ("GET", "/api/agent", "POST"),
        ("PATCH", "/api/agent/00000000-0000-4000-8000-000000000000", "DELETE, GET, HEAD"),
        ("GET", "/api/agent/00000000-0000-4000-8000-000000000000/approve", "POST"),
        ("POST", "/api/agent/history", "GET, HEAD"),
    ]
    for method, path, allowed in cases:
        response = await alice.request(method, path)
        error = assert_error(response, 405, "METHOD_NOT_ALLOWED", "client_error")
        assert response.headers["allow"] == allowed, path
        assert error["message"] == f"{method} is not allowed on {path}; allowed: {allowed}"
