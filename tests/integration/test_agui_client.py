"""The stock `@ag-ui/client` HttpAgent against a real server: interrupt, resume, finish."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.support.backends import in_ci
from tests.support.clients import Api

CLIENT_DIR = Path(__file__).resolve().parents[1] / "agui_client"


@pytest.fixture(scope="session")
def node_client() -> Path:
    """The client's npm dependencies, installed from its lock file on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if in_ci():
            raise RuntimeError("Node.js and npm are required for the AG-UI client test in CI")
        pytest.skip("Node.js and npm are not installed")
    if not (CLIENT_DIR / "node_modules" / "@ag-ui" / "client").exists():
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
