"""Socket settings and liveness: init timeout, heartbeat, expiring credentials, the registry."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.exceptions import ConnectionClosed

from auth.revocation import EXPIRED
from db.models import WebSocketConnection
from tests.integration.test_ws_protocol import (
    close_code,
    init,
    raw_socket,
    receive,
    send,
    subscribe,
)
from tests.support.clients import Api, steps, wait
from tests.support.live import LiveServer

FAST = {
    "ws_init_timeout": 0.4,
    "ws_heartbeat_seconds": 0.3,
    "jwt_leeway_seconds": 0,
    "credential_recheck_seconds": 0.2,
}


async def registry_rows(server: LiveServer) -> list[WebSocketConnection]:
    database = create_async_engine(server.settings.resolved_database_url)
    try:
        async with database.connect() as connection:
            result = await connection.execute(select(WebSocketConnection))
            return list(result.all())  # type: ignore[arg-type]
    finally:
        await database.dispose()


async def test_socket_settings_liveness_and_expiry(make_server: Callable[..., Any]) -> None:
    async with make_server(**FAST) as server:
        await _init_timeout_closes_with_4408(server)
        await _silent_peer_is_closed_with_4504_and_answering_peer_stays(server)
        await _expired_token_closes_with_4403(server)
        await _registry_records_live_connections_and_forgets_closed_ones(server)


async def _init_timeout_closes_with_4408(server: LiveServer) -> None:
    started = time.monotonic()
    async with raw_socket(server) as ws:
        assert await close_code(ws) == 4408
    assert 0.3 < time.monotonic() - started < 3


async def _silent_peer_is_closed_with_4504_and_answering_peer_stays(server: LiveServer) -> None:
    async with raw_socket(server) as silent, raw_socket(server) as polite:
        await init(silent, server.token())
        await init(polite, server.token())
        # the polite client answers every ping for a while
        deadline = time.monotonic() + 1.5
        pings = 0
        while time.monotonic() < deadline:
            message = await receive(polite, timeout=2, pings=True)
            assert message["type"] == "ping"
            pings += 1
            await send(polite, {"type": "pong"})
        assert pings >= 3
        assert await close_code(silent, timeout=0.1) == 4504
        await send(polite, {"type": "ping"})
        while (message := await receive(polite, pings=True))["type"] == "ping":
            await send(polite, {"type": "pong"})
        assert message["type"] == "pong"


async def _expired_token_closes_with_4403(server: LiveServer) -> None:
    async with raw_socket(server) as ws:
        # exp is whole seconds: ttl=2 leaves at least one second to connect
        await init(ws, server.token(ttl=2))
        started = time.monotonic()
        code = None
        while code is None and time.monotonic() - started < 4:
            try:
                message = await receive(ws, timeout=4, pings=True)
            except Exception:
                code = ws.close_code
                break
            if message["type"] == "ping":
                try:
                    await send(ws, {"type": "pong"})
                except ConnectionClosed:
                    # the server closed between its ping and our answer
                    code = ws.close_code
        assert code == 4403
        assert ws.close_reason == EXPIRED


async def _registry_records_live_connections_and_forgets_closed_ones(server: LiveServer) -> None:
    # given a row left behind by an instance that died without closing its sockets
    database = create_async_engine(server.settings.resolved_database_url)
    async with database.begin() as connection:
        await connection.execute(
            insert(WebSocketConnection).values(
                id=uuid.uuid4(),
                connection_id="from-a-crashed-instance",
                task_ids=[],
                last_heartbeat=datetime.now(UTC) - timedelta(hours=1),
                created_at=datetime.now(UTC) - timedelta(hours=2),
            )
        )
    await database.dispose()
    alice = Api(server, server.token())
    task = await alice.submit("watched", context=steps(wait(3000)))
    async with raw_socket(server) as ws:
        await init(ws, alice.token)
        await send(ws, subscribe("1", task["id"]))
        rows: list[Any] = []
        for _ in range(50):
            message = await receive(ws, pings=True)
            if message["type"] == "ping":
                await send(ws, {"type": "pong"})
            rows = await registry_rows(server)
            if len(rows) == 1 and rows[0].task_ids == [task["id"]]:
                break
        # the live connection is recorded with its task; the stale row was swept
        assert len(rows) == 1 and rows[0].task_ids == [task["id"]]
        assert rows[0].connection_id != "from-a-crashed-instance"
        first_beat = rows[0].last_heartbeat
        for _ in range(50):
            message = await receive(ws, pings=True)
            if message["type"] == "ping":
                await send(ws, {"type": "pong"})
            rows = await registry_rows(server)
            if rows[0].last_heartbeat > first_beat:
                break
        assert rows[0].last_heartbeat > first_beat
    # the closed socket's row goes when the server has handled the close (bounded wait)
    deadline = time.monotonic() + 20
    for _ in range(400):
        if not await registry_rows(server) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert await registry_rows(server) == []
    await alice.call("CancelTask", taskId=task["id"])
