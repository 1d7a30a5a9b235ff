"""Helpers for multi-instance real-time tests: a scratch PostgreSQL database, a private
redis-server the test may stop and restart, and a subscription that records as it goes."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gql import GraphQLRequest

from tests.support.backends import in_ci, postgres_url
from tests.support.live import create_scratch_database, drop_scratch_database
from tests.support.operations import operation


@contextlib.asynccontextmanager
async def scratch_postgres() -> AsyncIterator[str]:
    base = postgres_url()
    if base is None:
        pytest.skip("PostgreSQL is not reachable (it is required in CI)")
    url = await create_scratch_database(base)
    try:
        yield url
    finally:
        await drop_scratch_database(base, url)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisProcess:
    """A redis-server of the test's own on a loopback port, so stopping it disturbs no one."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if in_ci():
                raise RuntimeError("redis-server is required in CI")
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            self.binary,
            *("--bind", "127.0.0.1", "--port", str(self.port), "--save", ""),
            *("--appendonly", "no", "--dir", str(self.directory)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(100):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def pause(self) -> None:
        """SIGSTOP: Redis hangs (connections stay open, nothing answers), as in a freeze."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self.process is not None:
            # A stopped process acts on SIGTERM only once it runs again.
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 10)
            self.process = None


class Recorder:
    """Subscribes in the background and keeps every event it receives, in order."""

    def __init__(self, session: Any, name: str, **variables: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self._request = GraphQLRequest(operation(name), variable_values=variables)
        self._task = asyncio.create_task(self._run(session))

    async def _run(self, session: Any) -> None:
        async for result in session.subscribe(self._request):
            self.events.append(next(iter(result.values())))

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                if self._task.done():
                    self._task.result()
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
