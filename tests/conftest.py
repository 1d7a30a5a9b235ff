"""Fixtures: a live server per backend: SQLite always, PostgreSQL when reachable (CI: always)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.backends import postgres_url
from tests.support.clients import Api
from tests.support.live import LiveServer, live_server, reset_postgres, test_settings

_POSTGRES_URL = postgres_url()
BACKENDS = ["sqlite", *(["postgres"] if _POSTGRES_URL else [])]
_postgres_reset = False


async def database_url_for(backend: str, tmp: Path) -> str | None:
    global _postgres_reset
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'agentwire.db'}"
    assert _POSTGRES_URL is not None
    if not _postgres_reset:
        await reset_postgres(_POSTGRES_URL)
        _postgres_reset = True
    return _POSTGRES_URL


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="session")
async def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """One shared server per backend; tests keep apart by using their own users."""
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    settings = test_settings(tmp, await database_url_for(backend, tmp))
    async with live_server(settings) as running:
        yield running


@pytest.fixture
def make_server(backend: str, tmp_path: Path) -> Callable[..., Any]:
    """A dedicated server with its own settings, for tests of global behaviour."""

    def factory(**overrides: Any) -> Any:
        async def database_url() -> str | None:
            return await database_url_for(backend, tmp_path)

        class _Dedicated:
            async def __aenter__(self) -> LiveServer:
                settings = test_settings(tmp_path, await database_url(), **overrides)
                self._cm = live_server(settings)
                return await self._cm.__aenter__()

            async def __aexit__(self, *exc: object) -> None:
                await self._cm.__aexit__(*exc)

        return _Dedicated()

    return factory


@pytest.fixture
def alice(server: LiveServer) -> Api:
    return Api(server, server.token())


@pytest.fixture
def bob(server: LiveServer) -> Api:
    return Api(server, server.token())
