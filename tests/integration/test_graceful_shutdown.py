"""SIGTERM on a real `agentwire serve` process: open SSE streams end at once, the process
exits 0 well inside its grace period, and a subscriber that resumes after the restart
sees every event exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from auth.tokens import issue_token
from server.app import token_config
from server.settings import Settings
from tests.support.clients import note, steps, wait
from tests.support.live import TEST_JWT_SECRET

GRACE_SECONDS = 30  # long: without the fix, shutdown would wait this long for the stream


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_serve(data_dir: Path, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "AGENTWIRE_DATA_DIR": str(data_dir),
        "AGENTWIRE_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'agentwire.db'}",
        "AGENTWIRE_JWT_SECRET": TEST_JWT_SECRET,
        "AGENTWIRE_ENV": "test",
        "AGENTWIRE_PORT": str(port),
        "AGENTWIRE_LOG_LEVEL": "WARNING",
        "AGENTWIRE_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(300):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    await process.wait()
    raise AssertionError("agentwire serve did not answer /healthz within 15 s")


async def sse_ids(response: httpx.Response) -> AsyncIterator[int]:
    async for line in response.aiter_lines():
        if line.startswith("id:"):
            yield int(line.split(":", 1)[1].strip())


async def test_sigterm_ends_open_streams_exits_0_and_a_resumed_subscriber_loses_nothing(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = issue_token(
        token_config(Settings(jwt_secret=TEST_JWT_SECRET)),
        subject="shutdown-user",
        roles=[],
        ttl_seconds=600,
    )
    headers = {"Authorization": f"Bearer {token}"}
    process = await start_serve(tmp_path, port)
    seen: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            submitted = await client.post(
                "/api/agent",
                json={
                    "task": "across a restart",
                    "context": steps(note("a", 1), wait(50, approval=True)),
                },
            )
            assert submitted.status_code == 201, submitted.text
            task_id = submitted.json()["data"]["task"]["id"]
            async with client.stream("GET", f"/api/agent/{task_id}/stream") as response:
                assert response.status_code == 200
                ids = sse_ids(response)
                seen.append(await anext(ids))
                process.send_signal(signal.SIGTERM)
                # The stream ends by itself, long before the grace period would.
                async with asyncio.timeout(8):
                    seen.extend([event_id async for event_id in ids])
        async with asyncio.timeout(8):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    process = await start_serve(tmp_path, port)
    resumed: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            async with asyncio.timeout(15):
                while True:
                    task = (await client.get(f"/api/agent/{task_id}")).json()["data"]["task"]
                    if task["status"] == "awaiting_approval" and task.get("pendingApproval"):
                        break
                    await asyncio.sleep(0.05)
            async with client.stream(
                "GET", f"/api/agent/{task_id}/stream", headers={"Last-Event-ID": str(seen[-1])}
            ) as response:
                assert response.status_code == 200
                approved = await client.post(
                    f"/api/agent/{task_id}/approve",
                    json={"approvalId": task["pendingApproval"]["id"], "approved": True},
                )
                assert approved.status_code == 200, approved.text
                async with asyncio.timeout(15):
                    async for event_id in sse_ids(response):
                        resumed.append(event_id)
                        final = await client.get(f"/api/agent/{task_id}/events?after=0&limit=500")
                        stored = [event["id"] for event in final.json()["data"]["events"]]
                        done = (await client.get(f"/api/agent/{task_id}")).json()["data"]
                        if done["task"]["status"] == "completed" and event_id == len(stored):
                            break
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(8):
            assert await process.wait() == 0
    # Every stored event reached the subscriber exactly once, in order, across the restart.
    # (SSE ids are the task's event sequence numbers, 1, 2, 3, ...)
    assert seen + resumed == list(range(1, len(stored) + 1))


async def test_sigterm_answers_an_open_long_poll_at_once_and_exits_0(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = issue_token(
        token_config(Settings(jwt_secret=TEST_JWT_SECRET)),
        subject="long-poll-user",
        roles=[],
        ttl_seconds=600,
    )
    process = await start_serve(tmp_path, port)
    try:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            # given: a task held at an approval, so no event comes while the poll waits
            submitted = await client.post(
                "/api/agent",
                json={"task": "held", "context": steps(wait(50, approval=True))},
            )
            assert submitted.status_code == 201, submitted.text
            task_id = submitted.json()["data"]["task"]["id"]
            async with asyncio.timeout(15):
                while True:
                    task = (await client.get(f"/api/agent/{task_id}")).json()["data"]["task"]
                    if task["status"] == "awaiting_approval":
                        break
                    await asyncio.sleep(0.05)
            page = await client.get(f"/api/agent/{task_id}/events", params={"limit": 500})
            last = page.json()["data"]["nextAfter"]
            poll = asyncio.create_task(
                client.get(f"/api/agent/{task_id}/events", params={"after": last, "wait": 30})
            )
            # the poll is in the server once a request sent after it has been answered
            async with httpx.AsyncClient(base_url=base) as other:
                assert (await other.get("/healthz")).status_code == 200
            assert not poll.done()
            # when
            process.send_signal(signal.SIGTERM)
            # then the poll answers at once (no events yet), not after its 30 s wait
            async with asyncio.timeout(5):
                answered = await poll
            assert answered.status_code == 200, answered.text
            assert answered.json()["data"] == {"events": [], "nextAfter": last}
        async with asyncio.timeout(8):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
