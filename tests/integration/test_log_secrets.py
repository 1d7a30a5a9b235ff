"""No secret in the logs: a full run of `agentwire serve` (DEBUG level, JSON lines) with a
configured JWT secret, tokens, a session login, an API key, their revocations and forged
credentials, over REST, GraphQL, graphql-transport-ws and the legacy socket; then every
line the server wrote is searched for each secret the run used."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from auth.tokens import issue_token
from server.app import token_config
from tests.support.backends import postgres_url
from tests.support.clients import note, steps
from tests.support.live import create_scratch_database, drop_scratch_database
from tests.support.live import test_settings as settings_for
from tests.support.realtime import free_port

ROOT = Path(__file__).resolve().parents[2]
AGENTWIRE = [sys.executable, "-m", "server.cli"]
GRAPHQL_WS = Subprotocol("graphql-transport-ws")


@contextlib.asynccontextmanager
async def serving(env: dict[str, str], port: int) -> AsyncIterator[list[bytes]]:
    """`agentwire serve`; yields the list its output (stdout and stderr) is collected into."""
    process = await asyncio.create_subprocess_exec(
        *AGENTWIRE,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output: list[bytes] = []

    async def drain(stream: asyncio.StreamReader | None) -> None:
        assert stream is not None
        async for line in stream:
            output.append(line)

    readers = [
        asyncio.create_task(drain(process.stdout)),
        asyncio.create_task(drain(process.stderr)),
    ]
    try:
        async with asyncio.timeout(60), httpx.AsyncClient() as client:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                if process.returncode is not None:
                    raise AssertionError(b"".join(output).decode())
                await asyncio.sleep(0.1)
        yield output
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.wait()
            await asyncio.gather(*readers)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*AGENTWIRE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done


@contextlib.asynccontextmanager
async def database(tmp_path: Path) -> AsyncIterator[str]:
    """PostgreSQL when there is one: the CLI writes while the server runs."""
    base = postgres_url()
    if base is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'agentwire.db'}"
        return
    url = await create_scratch_database(base)
    try:
        yield url
    finally:
        await drop_scratch_database(base, url)


async def test_a_full_run_logs_no_token_key_or_secret(tmp_path: Path) -> None:
    async with database(tmp_path) as url:
        await full_run(tmp_path, url)


async def full_run(tmp_path: Path, database_url: str) -> None:
    jwt_secret = secrets.token_urlsafe(48)
    port = free_port()
    env = {
        **os.environ,
        "AGENTWIRE_ENV": "test",
        "AGENTWIRE_DATA_DIR": str(tmp_path),
        "AGENTWIRE_DATABASE_URL": database_url,
        "AGENTWIRE_JWT_SECRET": jwt_secret,
        "AGENTWIRE_LOG_LEVEL": "DEBUG",
        "AGENTWIRE_LOG_FORMAT": "json",
    }
    config = token_config(settings_for(tmp_path, None, jwt_secret=jwt_secret))
    token = issue_token(config, subject="alice")
    forged_secret = secrets.token_urlsafe(48)
    forged = issue_token(replace(config, secret=forged_secret), subject="alice")
    base = f"http://127.0.0.1:{port}"
    async with serving(env, port) as output:
        # a session login and an API key, made as an operator makes them
        login = cli(env, "token", "--user", "alice", "--session")
        session = login.stdout.strip()
        named = re.search(r"session ([0-9a-f-]{36});", login.stderr)
        assert named is not None, login.stderr
        session_id = named.group(1)
        api_key = cli(env, "apikey", "create", "--user", "alice").stdout.strip().splitlines()[-1]
        _, key_prefix, key_secret = api_key.split("_", 2)
        bad_key = f"aw_{key_prefix}_{secrets.token_urlsafe(24)}"
        used = {
            "the JWT secret": jwt_secret,
            "a token": token,
            "a token's signature": token.rsplit(".", 1)[1],
            "a session token": session,
            "an API key": api_key,
            "an API key's secret part": key_secret,
            "a forged token": forged,
            "a forged token's secret": forged_secret,
            "a wrong API key": bad_key,
        }
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            bearer = {"Authorization": f"Bearer {token}"}
            submitted = await http.post(
                "/api/agent",
                json={"task": "logged", "context": steps(note("a", 1, approval=True))},
                headers=bearer,
            )
            assert submitted.status_code == 201
            task_id = submitted.json()["data"]["task"]["id"]
            me = {"query": "{ me { subject } }"}
            answer = await http.post("/graphql", json=me, headers={"X-API-Key": api_key})
            assert answer.json()["data"]["me"]["subject"] == "alice"
            answer = await http.post(
                "/graphql", json=me, headers={"Authorization": f"Bearer {session}"}
            )
            assert answer.json()["data"]["me"]["subject"] == "alice"
            # the sockets, with the credential in connection_init and in the subprotocol
            for init in ({"apiKey": api_key}, {"authorization": f"Bearer {token}"}):
                async with connect(
                    f"ws://127.0.0.1:{port}/graphql", subprotocols=[GRAPHQL_WS]
                ) as ws:
                    await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                    assert json.loads(await ws.recv())["type"] == "connection_ack"
            legacy = f"ws://127.0.0.1:{port}/api/agent/{task_id}/updates"
            async with connect(
                legacy, subprotocols=[Subprotocol(f"agentwire.bearer.{token}")]
            ) as ws:
                assert json.loads(await ws.recv())["type"] == "connected"
            # refusals: forged and wrong credentials, then revoked ones
            refused = [{"Authorization": f"Bearer {forged}"}, {"X-API-Key": bad_key}]
            cli(env, "apikey", "revoke", key_prefix)
            cli(env, "revoke-session", session_id)
            refused += [{"X-API-Key": api_key}, {"Authorization": f"Bearer {session}"}]
            for headers in refused:
                answer = await http.get(f"/api/agent/{task_id}", headers=headers)
                assert answer.status_code == 401, headers
    log = b"".join(output).decode()
    # the run did log: request lines with their ids, at DEBUG
    assert log.count('"request_id"') >= 5, log[-2000:]
    leaked = sorted(name for name, value in used.items() if value in log)
    assert leaked == [], f"found {leaked} in the server's output"
