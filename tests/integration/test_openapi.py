"""The OpenAPI document and Swagger UI: complete, in step with the routes, served offline."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from tests.support.live import LiveServer

METHODS = {"get", "post", "put", "patch", "delete"}


async def fetch(server: LiveServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        return await client.get(path)


@pytest.fixture
async def document(server: LiveServer) -> dict[str, Any]:
    response = await fetch(server, "/api/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def api_routes(server: LiveServer) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route mounted at /api, except the documentation pages."""
    assert server.app is not None
    mount = next(r for r in server.app.routes if isinstance(r, Mount) and r.path == "/api")
    found = set()
    for route in mount.routes:
        if isinstance(route, Route) and not route.path.startswith(("/docs", "/openapi")):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method.lower(), "/api" + route.path))
    return found


async def test_the_document_loads_without_a_token(server: LiveServer) -> None:
    response = await fetch(server, "/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    assert response.json()["openapi"] == "3.0.3"


async def test_every_route_is_documented_and_every_documented_route_exists(
    server: LiveServer, document: dict[str, Any]
) -> None:
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == api_routes(server)
    assert documented == {
        ("post", "/api/agent"),
        ("get", "/api/agent/history"),
        ("get", "/api/agent/approvals"),
        ("post", "/api/agent/approvals/batch"),
        ("get", "/api/approval-links/{token}"),
        ("post", "/api/approval-links/{token}"),
        ("get", "/api/agent/{taskId}"),
        ("delete", "/api/agent/{taskId}"),
        ("post", "/api/agent/{taskId}/approve"),
        ("post", "/api/agent/{taskId}/undo"),
        ("get", "/api/agent/{taskId}/events"),
        ("get", "/api/agent/{taskId}/stream"),
        ("post", "/api/agent/{taskId}/input"),
        ("post", "/api/worker/executors"),
        ("post", "/api/worker/claim"),
        ("post", "/api/worker/tasks/{taskId}/heartbeat"),
        ("post", "/api/worker/tasks/{taskId}/steps/{stepId}/start"),
        ("post", "/api/worker/tasks/{taskId}/steps/{stepId}/progress"),
        ("post", "/api/worker/tasks/{taskId}/steps/{stepId}/log"),
        ("post", "/api/worker/tasks/{taskId}/steps/{stepId}/complete"),
        ("post", "/api/worker/tasks/{taskId}/steps/{stepId}/fail"),
        ("post", "/api/worker/tasks/{taskId}/plan"),
        ("post", "/api/worker/tasks/{taskId}/release"),
        ("post", "/api/worker/tasks/{taskId}/artifacts"),
        ("post", "/api/worker/tasks/{taskId}/undo/complete"),
        ("post", "/api/worker/tasks/{taskId}/steps/{stepId}/rolled-back"),
        ("post", "/api/worker/tasks/{taskId}/steps/{stepId}/rollback-failed"),
        ("post", "/api/worker/tasks/{taskId}/approvals"),
        ("post", "/api/worker/tasks/{taskId}/complete"),
        ("post", "/api/worker/tasks/{taskId}/fail"),
    }


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


async def test_every_operation_documents_its_parameters_bodies_and_errors(
    document: dict[str, Any],
) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method} {path}"
            assert operation["operationId"] and operation["summary"], where
            path_params = set(re.findall(r"{(\w+)}", path))
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == path_params, where
            for parameter in operation["parameters"]:
                assert parameter["description"] and parameter["schema"], where
            statuses = set(operation["responses"])
            # A route its own secret authenticates (an approval link) has no 401.
            public = operation.get("security") == []
            assert ({"500"} if public else {"401", "500"}) <= statuses, where
            assert any(s.startswith("2") for s in statuses), where
            for status, response in operation["responses"].items():
                response = resolve(document, response)
                assert "X-Request-ID" in response["headers"], where
                if not status.startswith("2"):
                    example = response["content"]["application/json"]["example"]
                    assert example["success"] is False, where
                    assert set(example["error"]) == {
                        "code",
                        "category",
                        "message",
                        "hint",
                        "details",
                        "requestId",
                    }, where
            if method == "post" and path != "/api/agent/{taskId}/undo":
                assert operation["requestBody"]["required"] is True, where
                assert {"413", "415", "422"} <= statuses, where


async def test_security_schemes_and_rate_limit_headers(document: dict[str, Any]) -> None:
    components = document["components"]
    assert components["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT: `Authorization: Bearer <token>`.",
    }
    assert components["securitySchemes"]["apiKey"]["type"] == "apiKey"
    assert document["security"] == [{"bearerAuth": []}, {"apiKey": []}]
    too_many = components["responses"]["Error429"]
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining"} <= set(too_many["headers"])
    assert too_many["content"]["application/json"]["example"]["error"]["category"] == (
        "rate_limited"
    )
    unavailable = components["responses"]["Error503"]
    assert "Retry-After" in unavailable["headers"]


async def test_schemas_are_openapi_3_0_without_json_schema_2020_keywords(
    document: dict[str, Any],
) -> None:
    text = str(document)
    for keyword in ("'const'", "'$defs'", "'examples'", "'type': 'null'"):
        assert keyword not in text
    task = document["components"]["schemas"]["TaskJson"]
    assert task["properties"]["status"]["enum"] == [
        "pending",
        "running",
        "awaiting_approval",
        "completed",
        "failed",
        "cancelled",
        "rolled_back",
    ]
    assert task["properties"]["conversationId"]["nullable"] is True
    assert "status" in task["required"]


async def test_swagger_ui_is_served_from_local_assets_without_a_token(server: LiveServer) -> None:
    page = await fetch(server, "/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 5
    for asset in assets:
        assert asset.startswith("/api/docs/")
        response = await fetch(server, asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 100, asset
    init = await fetch(server, "/api/docs/init.js")
    assert 'url: "/api/openapi.json"' in init.text
    bundle = await fetch(server, "/api/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text


def prefilled(document: dict[str, Any], operation_id: str) -> dict[str, dict[str, Any]]:
    """What Swagger UI's "Try it out" fills in for an operation: each parameter's example."""
    for item in document["paths"].values():
        for method, operation in item.items():
            if method in METHODS and operation["operationId"] == operation_id:
                values: dict[str, dict[str, Any]] = {"header": {}, "query": {}}
                for param in operation.get("parameters", []):
                    if "example" in param and param["in"] in values:
                        values[param["in"]][param["name"]] = param["example"]
                return values
    raise AssertionError(f"no operation {operation_id}")


async def test_try_it_out_examples_can_be_executed_twice(
    server: LiveServer, document: dict[str, Any]
) -> None:
    # given what "Try it out" pre-fills for submit and history
    submit = prefilled(document, "submitTask")
    history = prefilled(document, "taskHistory")
    task_text = document["components"]["schemas"]["SubmitTaskBody"]["properties"]["task"]
    body = {"task": task_text["example"]}
    auth = {"Authorization": f"Bearer {server.token()}"}
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        # when a user executes submit twice
        first = await client.post("/api/agent", json=body, headers={**auth, **submit["header"]})
        second = await client.post("/api/agent", json=body, headers={**auth, **submit["header"]})
        listed = await client.get("/api/agent/history", params=history["query"], headers=auth)
    # then each run creates a task (no fixed idempotency key) and history shows both,
    # whatever year it is (no fixed date range)
    assert (first.status_code, second.status_code) == (201, 201)
    ids = {first.json()["data"]["task"]["id"], second.json()["data"]["task"]["id"]}
    assert len(ids) == 2
    assert listed.status_code == 200
    assert {t["id"] for t in listed.json()["data"]["tasks"]} == ids
    assert history["query"].keys().isdisjoint({"dateFrom", "dateTo"})


def test_the_event_stream_and_the_server_enforced_rules_are_declared(
    document: dict[str, Any],
) -> None:
    paths = document["paths"]
    stream = paths["/api/agent/{taskId}/stream"]["get"]["responses"]["200"]
    assert list(stream["content"]) == ["text/event-stream"]
    history = {p["name"]: p for p in paths["/api/agent/history"]["get"]["parameters"]}
    assert "not before `dateFrom`" in history["dateTo"]["description"]
    assert history["status"]["allowEmptyValue"] is True
    body = document["components"]["schemas"]
    assert body["SubmitTaskBody"]["properties"]["task"]["pattern"].startswith("^[^\\u0000")
    progress = body["ProgressBody"]["properties"]["progress"]
    assert (progress["minimum"], progress["maximum"]) == (0, 1)
    assert "content" not in paths["/api/worker/claim"]["post"]["responses"]["204"]
    rate = document["components"]["headers"]
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"} <= set(
        rate
    )


async def test_a_wrong_method_on_a_literal_path_is_405_not_a_task_id(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        response = await client.delete(
            "/api/agent/approvals", headers={"Authorization": f"Bearer {server.token()}"}
        )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
