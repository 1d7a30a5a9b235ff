"""The example engine (examples/file_organiser) as a separate process really moves files
inside its sandbox, after an approval, moves them back on undo, and refuses a path that
leaves the sandbox."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

from tests.support.attacker import api_key
from tests.support.clients import Api, GraphQLCallError
from tests.support.live import LiveServer

REPO = Path(__file__).resolve().parents[2]


async def test_the_example_engine_moves_files_after_an_approval(
    server: LiveServer, tmp_path: Path
) -> None:
    owner = f"files-{uuid.uuid4().hex[:8]}"
    key = await api_key(server, owner, ["worker"])
    sandbox = tmp_path / "sandbox"
    (sandbox / "inbox").mkdir(parents=True)
    (sandbox / "inbox" / "a.txt").write_text("hello")
    env = {
        **os.environ,
        "AGENTWIRE_WORKER_KEY": key,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "clients" / "python")]),
    }
    engine = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "examples" / "file_organiser" / "engine.py"),
        "--url",
        server.http_url,
        "--sandbox",
        str(sandbox),
        "--max-tasks",
        "3",
        env=env,
    )
    try:
        api = Api(server, server.token(owner))
        move = {"source": "inbox/a.txt", "target": "done/a.txt"}
        step = {"action": "move_file", "params": move, "requiresApproval": True}
        context = {"executor": "file-organiser", "steps": [step]}
        # The engine registers its executor when it starts; submit once it exists.
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            try:
                task = await api.submit("tidy the inbox", context=context)
                break
            except GraphQLCallError:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.1)
        waiting = await api.wait_status(task["id"], "AWAITING_APPROVAL")
        await api.call(
            "Approve",
            input={
                "taskId": task["id"],
                "approvalId": waiting["approvals"][0]["id"],
                "approved": True,
            },
        )
        done = await api.wait_status(task["id"], "COMPLETED")
        moved = (sandbox / "done" / "a.txt").read_text()
        # when the user undoes the task, the engine's rollback moves the file back
        undone = await api.call("Undo", taskId=task["id"])
        assert undone is not None
        rolled_back = await api.wait_status(task["id"], "ROLLED_BACK")
        escape = {"action": "move_file", "params": {"source": "inbox/a.txt", "target": "../x"}}
        failed_task = await api.submit(
            "escape", context={"executor": "file-organiser", "steps": [escape]}
        )
        failed = await api.wait_status(failed_task["id"], "FAILED")
        await asyncio.wait_for(engine.wait(), 30)
    finally:
        if engine.returncode is None:
            engine.kill()
            await engine.wait()
    assert moved == "hello"
    assert (sandbox / "inbox" / "a.txt").read_text() == "hello"
    assert not (sandbox / "done" / "a.txt").exists()
    assert done["steps"][0]["result"] == {"moved": "inbox/a.txt", "to": "done/a.txt"}
    assert [s["status"] for s in rolled_back["steps"]] == ["ROLLED_BACK"]
    assert failed["error"]["message"] == "'../x' is outside the sandbox"
    assert failed["steps"][0]["status"] == "FAILED"
    assert not (tmp_path / "x").exists()
    assert engine.returncode == 0
