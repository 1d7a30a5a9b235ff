"""Production means production: nothing a request sends decides where a redirect goes,
and no credential from a query string reaches the log (issue #10 item 10)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.integration.test_graceful_shutdown import free_port
from tests.support.raw_http import agentwire_serve, raw_connection, request_head


async def test_a_slash_redirect_keeps_the_host_the_client_used(make_server: Any) -> None:
    async with make_server() as server:
        for path, expected in (
            ("/api/agent/?status=queued", "/api/agent?status=queued"),
            ("/graphql/", "/graphql"),
            ("/healthz/", "/healthz"),
        ):
            async with raw_connection(server.port) as connection:
                # when: a Host header naming another site
                head = request_head(path).replace(b"Host: 127.0.0.1", b"Host: evil.example")
                await connection.send(head)
                answer = await connection.answer(timeout=2)
            # then: the redirect is a path on this server, whatever Host said
            status, _, rest = answer.partition(b"\r\n")
            assert status == b"HTTP/1.1 307 Temporary Redirect", answer[:200]
            headers = dict(
                line.split(b": ", 1) for line in rest.split(b"\r\n\r\n")[0].split(b"\r\n")
            )
            assert headers[b"location"].decode() == expected
            assert b"evil.example" not in answer


async def test_query_string_tokens_never_reach_the_log(tmp_path: Path) -> None:
    port = free_port()
    secrets = ["S3CRETaccess", "S3CRETtoken", "S3CRETws", "S3CRETkey"]
    async with agentwire_serve(tmp_path, port, AGENTWIRE_LOG_LEVEL="INFO") as base:
        async with httpx.AsyncClient(base_url=base) as client:
            await client.get(f"/healthz?access_token={secrets[0]}&x=1")
            await client.get(f"/api/agent?status=queued&token={secrets[1]}")
            await client.get(f"/api/agent?api_key={secrets[3]}")
        async with connect(
            f"ws://127.0.0.1:{port}/graphql?access_token={secrets[2]}",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        ) as socket:
            await socket.close()
        log_path = tmp_path / "serve.log"
        # wait for the handshake's log line (bounded) before the server stops
        for _ in range(200):
            if "WebSocket /graphql" in log_path.read_text():
                break
            await asyncio.sleep(0.05)
    log = log_path.read_text()
    assert "GET /healthz?access_token=[redacted]&x=1 HTTP/1.1" in log, log[-2000:]
    assert "GET /api/agent?status=queued&token=[redacted] HTTP/1.1" in log
    assert '"WebSocket /graphql?access_token=[redacted]"' in log
    for secret in secrets:
        assert secret not in log
