"""Fixtures: a live server per backend: SQLite always, PostgreSQL when reachable (CI: always)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.backends import postgres_url
from tests.support.clients import Api
from tests.support.live import (
    LiveServer,
    create_scratch_database,
    drop_scratch_database,
    live_server,
    test_settings,
)

_POSTGRES_URL = postgres_url()
BACKENDS = ["sqlite", *(["postgres"] if _POSTGRES_URL else [])]


async def database_url_for(backend: str, tmp: Path) -> str | None:
    """SQLite: a file in `tmp`. PostgreSQL: a scratch database made for this run, so that
    runs on one machine never share (or wipe) each other's tables."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'agentwire.db'}"
    assert _POSTGRES_URL is not None
    return await create_scratch_database(_POSTGRES_URL)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="session")
async def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """One shared server per backend; tests keep apart by using their own users."""
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    database_url = await database_url_for(backend, tmp)
    settings = test_settings(tmp, database_url)
    try:
        async with live_server(settings) as running:
            yield running
    finally:
        if backend == "postgres" and _POSTGRES_URL and database_url:
            await drop_scratch_database(_POSTGRES_URL, database_url)


@pytest_asyncio.fixture
async def make_server(backend: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Dedicated servers with their own settings and their own database, for tests of
    global behaviour (limits, restarts). Servers made in one test share that database."""
    database: dict[str, str | None] = {}

    async def database_url() -> str | None:
        if "url" not in database:
            database["url"] = await database_url_for(backend, tmp_path)
        return database["url"]

    @contextlib.asynccontextmanager
    async def factory(*, port: int = 0, **overrides: Any) -> AsyncIterator[LiveServer]:
        settings = test_settings(tmp_path, await database_url(), **overrides)
        async with live_server(settings, port=port) as running:
            yield running

    yield factory
    if backend == "postgres" and database.get("url"):
        assert _POSTGRES_URL is not None and database["url"] is not None
        await drop_scratch_database(_POSTGRES_URL, database["url"])


@pytest.fixture
def alice(server: LiveServer) -> Api:
    return Api(server, server.token())


@pytest.fixture
def bob(server: LiveServer) -> Api:
    return Api(server, server.token())
