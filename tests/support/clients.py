"""Real GraphQL clients: gql over HTTP (httpx) and over graphql-transport-ws (websockets)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.support.live import LiveServer
from tests.support.operations import operation


class GraphQLCallError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("message") if errors else "error")
        self.errors = errors

    @property
    def code(self) -> str | None:
        return (self.errors[0].get("extensions") or {}).get("code") if self.errors else None


class Api:
    """One user's view of the API: each call is a real HTTP request."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.server = server
        self.token = token

    def _http_client(self) -> Client:
        transport = HTTPXAsyncTransport(
            url=self.server.graphql_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        return Client(transport=transport, fetch_schema_from_transport=False)

    async def call(self, name: str, **variables: Any) -> dict[str, Any]:
        """Run operation `name`; raise `GraphQLCallError` with the errors when there are any."""
        async with self._http_client() as session:
            try:
                request = GraphQLRequest(operation(name), variable_values=variables)
                return await session.execute(request)
            except TransportQueryError as error:
                raise GraphQLCallError(list(error.errors or [])) from error

    async def submit(self, task: str = "demo", **fields: Any) -> dict[str, Any]:
        data = await self.call("SubmitTask", input={"task": task, **fields})
        return data["submitTask"]

    async def get(self, task_id: str) -> dict[str, Any] | None:
        return (await self.call("GetTask", id=task_id))["task"]

    async def wait_for(
        self, task_id: str, predicate: Any, *, timeout: float = 20.0, interval: float = 0.05
    ) -> dict[str, Any]:
        """Poll the task until `predicate(task)` holds; bounded by `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            task = await self.get(task_id)
            assert task is not None
            if predicate(task):
                return task
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"task never reached the expected state; last: {task['status']}"
                )
            await asyncio.sleep(interval)

    async def wait_status(
        self, task_id: str, *statuses: str, timeout: float = 20.0
    ) -> dict[str, Any]:
        return await self.wait_for(task_id, lambda t: t["status"] in statuses, timeout=timeout)

    @contextlib.asynccontextmanager
    async def websocket(self, **transport_options: Any) -> AsyncIterator[Any]:
        transport = WebsocketsTransport(
            url=self.server.ws_url,
            init_payload={"authorization": f"Bearer {self.token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            **transport_options,
        )
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            yield session


def steps(*specs: dict[str, Any]) -> dict[str, Any]:
    """A context with an explicit plan."""
    return {"steps": list(specs)}


def note(
    key: str, value: Any, *, approval: bool = False, name: str | None = None
) -> dict[str, Any]:
    return {
        "name": name or f"note {key}",
        "action": "note",
        "params": {"key": key, "value": value},
        "requiresApproval": approval,
    }


def wait(ms: int, *, approval: bool = False, name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or f"wait {ms}",
        "action": "wait",
        "params": {"ms": ms},
        "requiresApproval": approval,
    }


def fail(message: str, *, name: str = "failing step") -> dict[str, Any]:
    return {"name": name, "action": "fail", "params": {"message": message}}


async def collect(
    session: Any, name: str, *, until: Any, timeout: float = 20.0, **variables: Any
) -> list[dict[str, Any]]:
    """Subscribe with operation `name` and gather events until `until(event)` holds."""
    events: list[dict[str, Any]] = []

    async def gather() -> None:
        async for result in session.subscribe(
            GraphQLRequest(operation(name), variable_values=variables)
        ):
            event = next(iter(result.values()))
            events.append(event)
            if until(event):
                return

    await asyncio.wait_for(gather(), timeout)
    return events
