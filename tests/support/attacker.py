"""Raw clients for the security tests: exact status codes, headers and close codes.

gql hides what an attacker sees (statuses, headers, close codes), so these speak plain
HTTP (httpx) and plain WebSockets (websockets) to the live server.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from auth.credentials import create_api_key
from db.models import AuditEntry
from tests.support.live import LiveServer

GRAPHQL_WS = "graphql-transport-ws"
M = TypeVar("M")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def gql(
    server: LiveServer,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            server.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers=headers or {},
        )


async def http(server: LiveServer, method: str, path: str, **options: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        return await client.request(method, path, **options)


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    return list(response.json().get("errors") or [])


def first_error(response: httpx.Response) -> tuple[str, str]:
    """(code, message) of the first GraphQL error."""
    error = errors_of(response)[0]
    return error["extensions"]["code"], error["message"]


async def api_key(server: LiveServer, user: str, scopes: list[str]) -> str:
    """A key made the way `agentwire apikey create` makes it, in the server's database."""
    assert server.app is not None
    sessions = server.app.state.agentwire.services.sessions
    created = await create_api_key(sessions, subject=user, name="test", scopes=scopes)
    return created.plain


async def rows_of(server: LiveServer, model: type[M], **match: Any) -> list[M]:
    """Rows of `model` in the server's database, straight from the table."""
    assert server.app is not None
    sessions = server.app.state.agentwire.services.sessions
    async with sessions() as session:
        return list((await session.execute(select(model).filter_by(**match))).scalars().all())


async def audit_rows(server: LiveServer, **match: Any) -> list[AuditEntry]:
    rows = await rows_of(server, AuditEntry, **match)
    return sorted(rows, key=lambda row: row.created_at)


async def wait_for_audit(server: LiveServer, *, count: int = 1, **match: Any) -> list[AuditEntry]:
    """Audit entries are written in the background: poll briefly (bounded) for `count`."""
    rows: list[AuditEntry] = []
    for _ in range(100):
        rows = await audit_rows(server, **match)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(rows)} audit entries match {match}; expected {count}")


async def ws_open(
    server: LiveServer, *, path: str = "/graphql", **options: Any
) -> ClientConnection:
    url = f"ws://127.0.0.1:{server.port}{path}"
    options.setdefault("subprotocols", [GRAPHQL_WS])
    return await connect(url, open_timeout=10, **options)


async def ws_init(server: LiveServer, payload: dict[str, Any], **options: Any) -> ClientConnection:
    """A graphql-transport-ws socket after `connection_init`; the ack is checked by callers."""
    socket = await ws_open(server, **options)
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    return socket


async def next_frame(socket: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(socket.recv(), timeout)))


async def close_code(socket: ClientConnection, timeout: float = 10) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await socket.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    finally:
        await socket.close()


async def ws_handshake_code(payload: dict[str, Any], server: LiveServer) -> int | None:
    """Open, init with `payload`: the close code (None when acknowledged)."""
    socket = await ws_init(server, payload)
    try:
        frame = await next_frame(socket)
    except ConnectionClosed as closed:
        await socket.close()
        return closed.rcvd.code if closed.rcvd else None
    await socket.close()
    assert frame["type"] == "connection_ack", frame
    return None
