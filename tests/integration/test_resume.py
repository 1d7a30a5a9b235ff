"""Resume for unmodified graphql-ws clients: `resumeKey` in connection_init (issue 11).

The stock npm `graphql-ws` client re-sends its subscription with the original variables
after every reconnect. With a `resumeKey` the server remembers, in the database, where
each operation stood, so a client that sees two server restarts mid-task still gets
every event exactly once; without one, each reconnect replays from the variables.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.attacker import close_code, next_frame, ws_init
from tests.support.backends import in_ci
from tests.support.clients import Api, note, steps
from tests.support.live import LiveServer
from tests.support.realtime import free_port

CLIENT_DIR = Path(__file__).resolve().parents[1] / "node_clients"
USER = "resume-user"


@pytest.fixture(scope="session")
def resume_client() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if in_ci():
            raise RuntimeError("Node.js and npm are required for the graphql-ws client test in CI")
        pytest.skip("Node.js and npm are not installed")
    wanted = orjson.loads((CLIENT_DIR / "package.json").read_bytes())["dependencies"]
    if not all((CLIENT_DIR / "node_modules" / name).exists() for name in wanted):
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=CLIENT_DIR, check=True
        )
    return CLIENT_DIR / "resume.mjs"


class NodeClient:
    """The node process and the lines it printed, with waits on what they say."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            async with self._changed:
                self.lines.append(json.loads(raw))
                self._changed.notify_all()

    @property
    def seqs(self) -> list[int]:
        return [line["seq"] for line in self.lines if "seq" in line]

    @property
    def connections(self) -> int:
        return sum(1 for line in self.lines if "connected" in line)

    async def wait_until(self, predicate: Any, timeout: float = 30) -> None:
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            raise AssertionError(f"the client never got there; it printed {self.lines}") from None

    async def finish(self) -> None:
        assert self.process.stderr is not None
        async with asyncio.timeout(30):
            await self._reader
            err = await self.process.stderr.read()
            await self.process.wait()
        assert self.process.returncode == 0, err.decode()


async def _approve_pending(server: LiveServer, task_id: str) -> None:
    alice = Api(server, server.token(USER))
    task = await alice.wait_status(task_id, "AWAITING_APPROVAL")
    approval = task["pendingApproval"]
    await alice.call(
        "Approve", input={"taskId": task_id, "approvalId": approval["id"], "approved": True}
    )


@pytest.mark.parametrize("resume", [True, False], ids=["resumeKey", "no-resumeKey"])
async def test_stock_graphql_ws_client_sees_every_event_once_across_two_restarts(
    make_server: Any, resume_client: Path, resume: bool
) -> None:
    port = free_port()
    plan = steps(note("a", 1), note("b", 2, approval=True), note("c", 3, approval=True))
    async with make_server(port=port) as first:
        alice = Api(first, first.token(USER))
        task = await alice.submit("resumed", context=plan)
        gated = await alice.wait_status(task["id"], "AWAITING_APPROVAL")
        # given the stock client following the task from after: 0, caught up to the gate
        process = await asyncio.create_subprocess_exec(
            "node",
            str(resume_client),
            first.ws_url,
            first.token(USER),
            task["id"],
            secrets.token_urlsafe(24) if resume else "",
            env=dict(os.environ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        client = NodeClient(process)
        await client.wait_until(lambda c: gated["lastSeq"] in c.seqs)
    # when the server restarts while the task waits, and the task goes on behind a gate
    async with make_server(port=port) as second:
        await client.wait_until(lambda c: c.connections == 2)
        await _approve_pending(second, task["id"])
        alice = Api(second, second.token(USER))
        gate = await alice.wait_for(
            task["id"],
            lambda t: t["status"] == "AWAITING_APPROVAL" and t["lastSeq"] > gated["lastSeq"],
        )
        await client.wait_until(lambda c: gate["lastSeq"] in c.seqs)
    # and restarts once more before the task finishes
    async with make_server(port=port) as third:
        await client.wait_until(lambda c: c.connections == 3)
        await _approve_pending(third, task["id"])
        await client.finish()
        final = await Api(third, third.token(USER)).wait_status(task["id"], "COMPLETED")
    # then: with resumeKey every event arrived exactly once, in order
    expected = list(range(1, final["lastSeq"] + 1))
    assert client.connections == 3
    if resume:
        assert client.seqs == expected
    else:
        # without it nothing changes: each reconnect replays from the variables (after: 0)
        assert sorted(set(client.seqs)) == expected
        assert len(client.seqs) > len(expected)


@pytest.mark.parametrize("key", ["short", "x" * 129, 42])
async def test_a_resume_key_that_is_not_16_to_128_characters_closes_with_4400(
    server: LiveServer, key: Any
) -> None:
    socket = await ws_init(server, {"authorization": f"Bearer {server.token()}", "resumeKey": key})
    assert await close_code(socket) == 4400


async def test_a_completed_operation_is_not_resumed(alice: Api) -> None:
    # given a task with stored events, followed to its end by an operation with a resume key
    task = await alice.submit("done", context=steps(note("a", 1)))
    done = await alice.wait_status(task["id"], "COMPLETED")
    key = secrets.token_urlsafe(24)
    query = "subscription($t: ID!, $a: Int) { taskUpdates(taskId: $t, after: $a) { seq } }"
    subscribe = {
        "id": "op-1",
        "type": "subscribe",
        "payload": {"query": query, "variables": {"t": task["id"], "a": 0}},
    }
    for _ in range(2):
        socket = await ws_init(
            alice.server, {"authorization": f"Bearer {alice.token}", "resumeKey": key}
        )
        assert (await next_frame(socket))["type"] == "connection_ack"
        await socket.send(json.dumps(subscribe))
        seqs = [(await next_frame(socket))["payload"]["data"]["taskUpdates"]["seq"]]
        while seqs[-1] < done["lastSeq"]:
            seqs.append((await next_frame(socket))["payload"]["data"]["taskUpdates"]["seq"])
        # when the client completes it (rather than losing the socket)
        await socket.send(json.dumps({"id": "op-1", "type": "complete"}))
        await socket.close()
        # then the next subscribe with the same id starts from its variables again
        assert seqs == list(range(1, done["lastSeq"] + 1))
