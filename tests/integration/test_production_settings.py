"""`AGENTWIRE_ENV=production` refuses to start on settings that are only safe in development."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from server.settings import MIN_JWT_SECRET_BYTES
from tests.integration.test_graceful_shutdown import free_port
from tests.support.attacker import bearer, gql, next_frame, ws_init


async def test_production_refuses_a_jwt_secret_under_32_bytes(tmp_path: Path) -> None:
    short = "s" * (MIN_JWT_SECRET_BYTES - 1)
    env = {
        **os.environ,
        "AGENTWIRE_DATA_DIR": str(tmp_path),
        "AGENTWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'agentwire.db'}",
        "AGENTWIRE_JWT_SECRET": short,
        "AGENTWIRE_ENV": "production",
        "AGENTWIRE_PORT": str(free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode != 0
    text = stderr.decode()
    assert "AGENTWIRE_JWT_SECRET must be at least 32 bytes when AGENTWIRE_ENV=production" in text
    # the secret itself is never echoed
    assert short not in text


async def test_production_gives_no_field_suggestions(make_server: Any) -> None:
    typo = "{ tasks { totalCont } }"
    async with make_server(env="production") as server:
        response = await gql(server, typo, headers=bearer(server.token()))
        assert [e["message"] for e in response.json()["errors"]] == [
            "Cannot query field 'totalCont' on type 'TaskConnection'."
        ]
    async with make_server() as server:
        response = await gql(server, typo, headers=bearer(server.token()))
        messages = [e["message"] for e in response.json()["errors"]]
        assert messages == [
            "Cannot query field 'totalCont' on type 'TaskConnection'. Did you mean 'totalCount'?"
        ]


async def test_production_gives_no_field_suggestions_over_sockets(make_server: Any) -> None:
    # given: documents with a typo in a query, a mutation and a shared subscription's enum
    typos = {
        "{ tasks { totalCont } }": (
            "Cannot query field 'totalCont' on type 'TaskConnection'.",
            " Did you mean 'totalCount'?",
        ),
        'mutation { cancelTsk(taskId: "x") { id } }': (
            "Cannot query field 'cancelTsk' on type 'Mutation'.",
            " Did you mean 'cancelTask'?",
        ),
        "subscription { myTaskUpdates { seqq } }": (
            "Cannot query field 'seqq' on type 'TaskEvent'.",
            " Did you mean 'seq'?",
        ),
    }
    for env, suggested in (("production", False), ("test", True)):
        async with make_server(env=env) as server:
            socket = await ws_init(server, {"authorization": f"Bearer {server.token()}"})
            assert (await next_frame(socket))["type"] == "connection_ack"
            for number, (query, (message, suggestion)) in enumerate(typos.items()):
                # when
                await socket.send(
                    json.dumps(
                        {"id": str(number), "type": "subscribe", "payload": {"query": query}}
                    )
                )
                # then
                frame = await next_frame(socket)
                assert frame["type"] == "error", frame
                expected = message + suggestion if suggested else message
                assert [e["message"] for e in frame["payload"]] == [expected]
            await socket.close()
