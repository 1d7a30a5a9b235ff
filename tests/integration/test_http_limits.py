"""Request heads are bounded before any route or authentication (issue #10 item 2).

Raw sockets: huge headers, header floods, slowloris heads and idle keep-alive
connections, against the test server (the same uvicorn config as `agentwire serve`)
and against `agentwire serve` itself as the README starts it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil

from tests.integration.test_graceful_shutdown import free_port
from tests.support.raw_http import agentwire_serve, raw_connection, request_head

MiB = 1024 * 1024


async def test_a_huge_header_is_refused_with_431_before_it_is_buffered(make_server: Any) -> None:
    async with make_server() as server:
        process = psutil.Process()
        rss_before = process.memory_info().rss
        async with raw_connection(server.port) as connection:
            # when: a header value that never ends, up to 64 MiB
            answer = await connection.send_until_answered(
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ",
                b"a" * 65536,
                64 * MiB,
            )
        # then: refused long before the end, and the server did not hold it
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]
        assert b'"code":"HEADERS_TOO_LARGE"' in answer
        assert b"larger than 32768 bytes" in answer
        assert process.memory_info().rss - rss_before < 16 * MiB


async def test_headers_over_the_byte_limit_in_one_piece_are_refused(make_server: Any) -> None:
    async with make_server() as server:
        async with raw_connection(server.port) as connection:
            await connection.send(request_head(headers=[("X-Big", "b" * (33 * 1024))]))
            assert await connection.status_line() == b"HTTP/1.1 431 Request Header Fields Too Large"
            assert await connection.closed_within(2)
        # a large but allowed head (a big JWT) still works
        async with raw_connection(server.port) as connection:
            await connection.send(request_head(headers=[("Authorization", "c" * 16 * 1024)]))
            assert await connection.status_line() == b"HTTP/1.1 200 OK"


async def test_more_headers_than_the_limit_are_refused_with_431(make_server: Any) -> None:
    async with make_server() as server:
        # the default limit is 100 headers, Host included
        allowed = [(f"X-H{i}", "v") for i in range(99)]
        async with raw_connection(server.port) as connection:
            await connection.send(request_head(headers=allowed))
            assert await connection.status_line() == b"HTTP/1.1 200 OK"
        async with raw_connection(server.port) as connection:
            # when: 100,000 header lines
            flood = b"".join(b"X-F%d: v\r\n" % i for i in range(100_000))
            answer = await connection.send_until_answered(
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", flood[:65536], len(flood)
            )
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b"more than 100 request headers" in answer


async def test_a_slow_head_is_answered_408_and_closed(make_server: Any) -> None:
    async with make_server(header_timeout_seconds=1) as server:
        # given: slowloris, one byte every 200 ms, never finishing the head
        async with raw_connection(server.port) as connection:
            started = time.monotonic()
            await connection.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            answer = b""
            for _ in range(50):
                if not await connection.send(b"z"):
                    break
                answer = await connection.answer(timeout=0.2)
                if answer:
                    break
            elapsed = time.monotonic() - started
        # then: answered and closed after the timeout, not after 10 s of dripping
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:200]
        assert 0.9 < elapsed < 3
        # a connection that sends nothing at all is closed too
        async with raw_connection(server.port) as connection:
            assert await connection.closed_within(3)


async def test_an_idle_keep_alive_connection_is_closed(make_server: Any) -> None:
    async with (
        make_server(keep_alive_seconds=1) as server,
        raw_connection(server.port) as connection,
    ):
        await connection.send(request_head())
        assert await connection.status_line() == b"HTTP/1.1 200 OK"
        started = time.monotonic()
        assert await connection.closed_within(4)
        assert time.monotonic() - started < 3


async def test_agentwire_serve_bounds_heads_as_the_readme_starts_it(tmp_path: Path) -> None:
    port = free_port()
    async with agentwire_serve(
        tmp_path, port, AGENTWIRE_HEADER_TIMEOUT_SECONDS="1", AGENTWIRE_KEEP_ALIVE_SECONDS="2"
    ):
        async with raw_connection(port) as connection:
            await connection.send(request_head(headers=[(f"X-H{i}", "v") for i in range(150)]))
            assert await connection.status_line() == b"HTTP/1.1 431 Request Header Fields Too Large"
        async with raw_connection(port) as connection:
            await connection.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            assert (await connection.answer(timeout=4)).startswith(b"HTTP/1.1 408 ")
        async with raw_connection(port) as connection:
            await connection.send(request_head())
            assert await connection.status_line() == b"HTTP/1.1 200 OK"
            # the keep-alive setting reaches uvicorn as `agentwire serve` starts it
            assert await connection.closed_within(5)
