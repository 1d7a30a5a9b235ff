"""Stock npm clients against a real server: the AG-UI HttpAgent (interrupt, resume, finish),
graphql-sse and Apollo Client's multipart HttpLink (taskUpdates over plain HTTP), and
@durable-streams/client (Durable Streams reads of the polling route)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.support.backends import in_ci
from tests.support.clients import Api, note, steps
from tests.support.rest import Rest

CLIENT_DIR = Path(__file__).resolve().parents[1] / "node_clients"


@pytest.fixture(scope="session")
def node_client() -> Path:
    """The client's npm dependencies, installed from its lock file on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if in_ci():
            raise RuntimeError("Node.js and npm are required for the AG-UI client test in CI")
        pytest.skip("Node.js and npm are not installed")
    wanted = orjson.loads((CLIENT_DIR / "package.json").read_bytes())["dependencies"]
    if not all((CLIENT_DIR / "node_modules" / name).exists() for name in wanted):
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=CLIENT_DIR, check=True
        )
    return CLIENT_DIR / "run.mjs"


async def test_the_stock_http_agent_is_interrupted_resumes_and_finishes(
    alice: Api, node_client: Path
) -> None:
    env = {**os.environ, "AGENTWIRE_URL": alice.server.http_url, "AGENTWIRE_TOKEN": alice.token}
    process = await asyncio.create_subprocess_exec(
        "node",
        str(node_client),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    summary = orjson.loads(out.splitlines()[-1])
    # the first run ends paused on the approval, which the client holds as its interrupt
    assert summary["firstRun"][0] == "RUN_STARTED"
    assert summary["firstRun"][-1] == "RUN_FINISHED"
    (interrupt,) = summary["interrupts"]
    assert interrupt["reason"] == "approval"
    # the resumed run answers it and runs the task to the end with the changed parameters
    assert summary["pendingAfter"] == 0
    assert summary["secondRun"][-1] == "RUN_FINISHED"
    assert summary["state"]["status"] == "completed"
    assert summary["state"]["artifacts"] == {"a": 1, "b": 3}
    task = await alice.get(summary["threadId"])
    assert task is not None and task["status"] == "COMPLETED"


@pytest.mark.parametrize("mode", ["sse", "multipart"])
async def test_stock_http_streaming_clients_follow_task_updates(
    alice: Api, node_client: Path, mode: str
) -> None:
    # given a finished task and its stored events
    steps = [
        {"name": f"n{i}", "action": "note", "params": {"key": f"k{i}", "value": i}}
        for i in range(3)
    ]
    task = await alice.submit("three notes", context={"steps": steps})
    await alice.wait_for(task["id"], lambda t: t["status"] == "COMPLETED")
    stored = [e["seq"] for e in (await alice.call("TaskEvents", taskId=task["id"]))["taskEvents"]]
    # when graphql-sse (distinct connections) or Apollo's multipart HttpLink follows it from seq 1
    env = {**os.environ, "AGENTWIRE_URL": alice.server.http_url, "AGENTWIRE_TOKEN": alice.token}
    process = await asyncio.create_subprocess_exec(
        "node",
        str(node_client.parent / "streams.mjs"),
        mode,
        task["id"],
        "1",
        str(stored[-1]),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    # then it sees every later event once, in order
    assert orjson.loads(out.splitlines()[-1]) == stored[1:]


@pytest.mark.parametrize("mode", ["long-poll", "sse"])
async def test_the_durable_streams_client_follows_a_task_to_its_end(
    alice: Api, node_client: Path, mode: str
) -> None:
    rest = Rest(alice.server, alice.token)
    # given a task paused on its approval
    task = await rest.submit("follow", context=steps(note("a", 1, approval=True)))
    waiting = await rest.wait_status(task["id"], "awaiting_approval")
    # when @durable-streams/client follows it from the start (catch-up, then live)
    env = {**os.environ, "AGENTWIRE_URL": alice.server.http_url, "AGENTWIRE_TOKEN": alice.token}
    process = await asyncio.create_subprocess_exec(
        "node",
        str(node_client.parent / "durable.mjs"),
        mode,
        task["id"],
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 30)
        assert first == b"caught-up\n", first
        # and the task goes on only once it has caught up
        decided = await rest.request(
            "POST",
            f"/api/agent/{task['id']}/approve",
            json={"approvalId": waiting["task"]["pendingApproval"]["id"], "approved": True},
        )
        assert decided.status_code == 200, decided.text
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    # then it saw every event of the task once, in order, to the end
    last = (await rest.wait_status(task["id"], "completed"))["task"]["lastSeq"]
    assert orjson.loads(out.splitlines()[-1]) == list(range(1, last + 1))
