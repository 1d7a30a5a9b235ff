"""A real uvicorn on a loopback port, serving the real app, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from auth.tokens import issue_token
from db.migrate import upgrade_to_head
from server.app import create_app, token_config
from server.serving import uvicorn_config
from server.settings import Settings

TEST_JWT_SECRET = "test-secret-for-agentwire-suite-only-0123456789"


async def create_scratch_database(base_url: str) -> str:
    """A new, empty PostgreSQL database beside `base_url`'s, for one test's own servers."""
    name = f"agentwire_scratch_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return str(make_url(base_url).set(database=name).render_as_string(hide_password=False))


async def drop_scratch_database(base_url: str, scratch_url: str) -> None:
    name = make_url(scratch_url).database
    engine = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


def test_settings(data_dir: Path, database_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": data_dir,
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        "progress_interval_seconds": 0.02,
        "max_running": 8,
        "max_running_per_user": 4,
        # Every test connects from 127.0.0.1, so the per-address throttle of failed
        # authentications would be shared by all of a module's tests; those that test it
        # set their own.
        "rate_limit_auth_failure": "1000/minute",
    }
    values.update(overrides)
    return Settings(**values)


class LiveServer:
    def __init__(self, settings: Settings, *, port: int = 0) -> None:
        self.settings = settings
        self.app: Starlette | None = None
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await upgrade_to_head(self.settings.resolved_database_url)
        self.app = create_app(self.settings)
        # The same protocols and limits as `agentwire serve`.
        config = uvicorn_config(
            self.app,
            self.settings,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                break
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("uvicorn did not start within 5 seconds")
        socket = self._server.servers[0].sockets[0]
        self.port = socket.getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 15)

    async def kill(self) -> None:
        """Stop like SIGKILL as far as the database can tell: the engine writes nothing
        (leases stay until they lapse), then the server goes."""
        assert self.app is not None
        await self.app.state.agentwire.services.engine.abandon()
        await self.stop()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.http_url}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def token(self, user: str | None = None, *, admin: bool = False, ttl: int = 3600) -> str:
        return issue_token(
            token_config(self.settings),
            subject=user or f"user-{uuid.uuid4().hex[:10]}",
            roles=["admin"] if admin else [],
            ttl_seconds=ttl,
        )


@contextlib.asynccontextmanager
async def live_server(settings: Settings, *, port: int = 0) -> AsyncIterator[LiveServer]:
    """`port` 0 takes a free one; a fixed port lets a test restart the server under the same
    URL (clients reconnect to where they were)."""
    server = LiveServer(settings, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
