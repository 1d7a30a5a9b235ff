"""Rate limits (429 with Retry-After) and an unreachable database (503), over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support import live
from tests.support.rest import Rest, assert_error


async def test_over_the_write_limit_is_429_with_retry_after_and_creates_nothing(
    make_server: Any,
) -> None:
    async with make_server(rate_limit_write="2/minute", run_engine=False) as server:
        alice = Rest(server, server.token())
        for _ in range(2):
            await alice.submit("allowed")
        refused = await alice.request("POST", "/api/agent", json={"task": "one too many"})
        error = assert_error(refused, 429, "RATE_LIMITED", "rate_limited")
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert error["hint"] == f"retry after {refused.headers['retry-after']} seconds"
        listing = await alice.request("GET", "/api/agent/history")
        assert listing.status_code == 200
        assert listing.json()["data"]["total"] == 2
        assert [t["task"] for t in listing.json()["data"]["tasks"]] == ["allowed", "allowed"]


class TcpProxy:
    """A loopback TCP relay that can be cut, to make the database unreachable for real."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await asyncio.sleep(0.1)


async def test_an_unreachable_database_is_503_and_service_resumes(
    make_server: Any, backend: str, tmp_path: Path
) -> None:
    if backend != "postgres":
        pytest.skip("cutting the network to the database needs PostgreSQL")
    async with make_server(run_engine=False) as direct:
        url = urlsplit(direct.settings.resolved_database_url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}"))
    settings = live.test_settings(tmp_path, proxied, run_engine=False)
    try:
        async with live.live_server(settings) as server:
            alice = Rest(server, server.token())
            task = await alice.submit("before the outage")
            # when
            await proxy.cut()
            down = await alice.request("GET", f"/api/agent/{task['id']}")
            # then
            error = assert_error(down, 503, "UNAVAILABLE", "server_error")
            assert error["message"] == "the database is unreachable"
            assert down.headers["retry-after"] == "5"
            # the database comes back
            await proxy.start()
            back = await alice.request("GET", f"/api/agent/{task['id']}")
            assert back.status_code == 200
            assert back.json()["data"]["task"]["task"] == "before the outage"
    finally:
        await proxy.cut()
