"""A REST client for the tests: real HTTP requests to `/api` on the live server (httpx)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.live import LiveServer


class Rest:
    """One user's view of the REST API."""

    def __init__(self, server: LiveServer, token: str | None) -> None:
        self.server = server
        self.token = token

    def headers(self, **extra: str) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**auth, **extra}

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **options: Any
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.server.http_url, timeout=40) as client:
            return await client.request(
                method, path, headers={**self.headers(), **(headers or {})}, **options
            )

    async def submit(self, task: str = "demo", **fields: Any) -> dict[str, Any]:
        response = await self.request("POST", "/api/agent", json={"task": task, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json()["data"]["task"])

    async def get(self, task_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"/api/agent/{task_id}")
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])

    async def wait_for(
        self, task_id: str, predicate: Any, *, timeout: float = 20.0
    ) -> dict[str, Any]:
        """Poll `GET /api/agent/{id}` until `predicate(data)` holds; bounded by `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            data = await self.get(task_id)
            if predicate(data):
                return data
            if loop.time() > deadline:
                raise AssertionError(f"never reached; last status {data['task']['status']}")
            await asyncio.sleep(0.05)

    async def wait_status(
        self, task_id: str, *statuses: str, timeout: float = 20.0
    ) -> dict[str, Any]:
        return await self.wait_for(
            task_id, lambda d: d["task"]["status"] in statuses, timeout=timeout
        )

    async def events(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        response = await self.request("GET", f"/api/agent/{task_id}/events?after={after}&limit=500")
        assert response.status_code == 200, response.text
        return list(response.json()["data"]["events"])


def assert_error(
    response: httpx.Response, status: int, code: str, category: str, *, field: str | None = None
) -> dict[str, Any]:
    """The error envelope, checked whole: status, code, category, request id, field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    assert set(body) == {"success", "error"}
    error = body["error"]
    assert set(error) == {"code", "category", "message", "hint", "details", "requestId"}
    assert error["code"] == code
    assert error["category"] == category
    assert error["requestId"] == response.headers["x-request-id"]
    assert error["message"] and error["hint"]
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    return dict(error)
