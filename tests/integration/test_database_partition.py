"""The network to PostgreSQL is partitioned (connections open, no bytes move): requests
answer 503 UNAVAILABLE with Retry-After within a few seconds on REST and GraphQL, a new
subject gets a JSON 503, /readyz says 503 within a second, and when the network heals
requests and the engine carry on."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.support import live
from tests.support.attacker import ws_handshake_code
from tests.support.clients import steps, wait
from tests.support.realtime import scratch_postgres
from tests.support.relay import FreezingRelay
from tests.support.rest import Rest, assert_error

pytestmark = [pytest.mark.postgres]

# The default timeouts: a statement may wait AGENTWIRE_DB_COMMAND_TIMEOUT (5 s).
ANSWERED_WITHIN = 8.0
TASK_QUERY = "query($id: ID!) { task(id: $id) { id status } }"


async def timed(call: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await call
    return time.perf_counter() - started, response


async def test_a_partitioned_database_answers_503_fast_and_service_resumes(
    tmp_path: Path,
) -> None:
    async with scratch_postgres() as database:
        url = urlsplit(database)
        relay = FreezingRelay(url.hostname or "127.0.0.1", url.port or 5432)
        await relay.start()
        proxied = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{relay.port}"))
        # A runner cut off mid-task loses its lease; a short one brings the task back soon.
        settings = live.test_settings(tmp_path, proxied, lease_seconds=6)
        try:
            async with live.live_server(settings) as server:
                token = server.token()
                alice = Rest(server, token)
                task = await alice.submit(
                    "across a partition", context=steps(*(wait(100) for _ in range(20)))
                )
                headers = {"Authorization": f"Bearer {token}"}
                stranger = {"Authorization": f"Bearer {server.token()}"}
                async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as client:
                    # when the network to the database stops moving bytes
                    relay.freeze()
                    ready, rest, graphql, newcomer, submit = await asyncio.gather(
                        timed(client.get("/readyz")),
                        timed(client.get(f"/api/agent/{task['id']}", headers=headers)),
                        timed(
                            client.post(
                                "/graphql",
                                json={"query": TASK_QUERY, "variables": {"id": task["id"]}},
                                headers=headers,
                            )
                        ),
                        timed(client.get("/api/agent/history", headers=stranger)),
                        timed(
                            client.post(
                                "/api/agent", json={"task": "during the partition"}, headers=headers
                            )
                        ),
                    )
                    # then /readyz says so within a second
                    assert ready[0] < 1.5, ready
                    assert ready[1].status_code == 503
                    assert ready[1].json()["database"] == "unreachable"
                    # REST: 503 UNAVAILABLE with Retry-After, within a few seconds
                    assert rest[0] < ANSWERED_WITHIN, rest
                    error = assert_error(rest[1], 503, "UNAVAILABLE", "server_error")
                    assert int(rest[1].headers["retry-after"]) > 0
                    assert error["hint"]
                    # GraphQL: the same code, and HTTP says so too
                    assert graphql[0] < ANSWERED_WITHIN, graphql
                    assert graphql[1].status_code == 503, graphql[1].text
                    assert int(graphql[1].headers["retry-after"]) > 0
                    codes = {e["extensions"]["code"] for e in graphql[1].json()["errors"]}
                    assert codes == {"UNAVAILABLE"}
                    # a subject never seen before (its user is written on first sight)
                    assert newcomer[0] < ANSWERED_WITHIN, newcomer
                    assert_error(newcomer[1], 503, "UNAVAILABLE", "server_error")
                    # a write is refused the same way
                    assert submit[0] < ANSWERED_WITHIN, submit
                    assert_error(submit[1], 503, "UNAVAILABLE", "server_error")
                    new_graphql = await timed(
                        client.post(
                            "/graphql",
                            json={"query": "{ me { id } }"},
                            headers={"Authorization": f"Bearer {server.token()}"},
                        )
                    )
                    assert new_graphql[0] < ANSWERED_WITHIN, new_graphql
                    assert new_graphql[1].status_code == 503
                    assert new_graphql[1].json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
                    # a socket whose connection_init needs the database: 1013, try again later
                    started = time.perf_counter()
                    code = await ws_handshake_code(
                        {"authorization": f"Bearer {server.token()}"}, server
                    )
                    assert (code, time.perf_counter() - started < ANSWERED_WITHIN) == (1013, True)
                    # when the network heals, requests and the engine carry on
                    relay.thaw()
                    async with asyncio.timeout(30):
                        while True:
                            if (await client.get("/readyz")).status_code == 200:
                                break
                            await asyncio.sleep(0.1)
                    back = await client.get(f"/api/agent/{task['id']}", headers=headers)
                    assert back.status_code == 200, back.text
                    # and the refused write left nothing behind, even once its bytes flowed
                    history = await client.get("/api/agent/history", headers=headers)
                    assert [t["task"] for t in history.json()["data"]["tasks"]] == [
                        "across a partition"
                    ]
                done = await alice.wait_status(task["id"], "completed", timeout=60)
                assert done["task"]["status"] == "completed"
        finally:
            await relay.close()
