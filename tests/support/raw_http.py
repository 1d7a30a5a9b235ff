"""Raw TCP clients for attacks no HTTP library will send: huge or endless heads, slowloris."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.live import TEST_JWT_SECRET


@dataclass
class RawConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> bool:
        """Send; False once the server has closed the connection."""
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            return False
        return True

    async def answer(self, timeout: float = 5) -> bytes:
        """Everything the server sends until it closes the connection (or `timeout`)."""
        received = b""
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(timeout):
                while chunk := await self.reader.read(65536):
                    received += chunk
        return received

    async def status_line(self, timeout: float = 5) -> bytes:
        async with asyncio.timeout(timeout):
            return (await self.reader.readline()).strip()

    async def closed_within(self, timeout: float) -> bool:
        """True when the server closes the connection within `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    async def send_until_answered(self, head: bytes, chunk: bytes, total: int) -> bytes:
        """Send `head`, then `chunk` until `total` bytes or until the server answers; the
        answer (empty if the server accepted everything without answering)."""
        if not await self.send(head):
            return await self.answer()
        sent = len(head)
        while sent < total:
            if not await self.send(chunk):
                break
            sent += len(chunk)
            with contextlib.suppress(TimeoutError):
                # A refusal arrives as soon as the server has seen enough.
                first = await asyncio.wait_for(self.reader.read(65536), 0.001)
                return first + await self.answer()
        return await self.answer(timeout=2)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def raw_connection(port: int) -> AsyncIterator[RawConnection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = RawConnection(reader, writer)
    try:
        yield connection
    finally:
        await connection.close()


def request_head(path: str = "/healthz", *, headers: list[tuple[str, str]] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextlib.asynccontextmanager
async def agentwire_serve(data_dir: Path, port: int, **env: str) -> AsyncIterator[str]:
    """`agentwire serve` as the README starts it (SQLite), with extra `AGENTWIRE_*` env;
    yields its base URL. Its log goes to `data_dir / "serve.log"`."""
    environment = {
        **os.environ,
        "AGENTWIRE_DATA_DIR": str(data_dir),
        "AGENTWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'agentwire.db'}",
        "AGENTWIRE_JWT_SECRET": TEST_JWT_SECRET,
        "AGENTWIRE_ENV": "test",
        "AGENTWIRE_PORT": str(port),
        **env,
    }
    with (data_dir / "serve.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            env=environment,
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(300):
                if process.returncode is not None:
                    raise AssertionError("agentwire serve exited before it answered")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("agentwire serve did not answer /healthz within 15 s")
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
