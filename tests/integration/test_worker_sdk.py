"""The Python worker SDK in real processes: a worker killed with SIGKILL mid-step loses
nothing, and a second worker finishes the task without repeating completed steps."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

from db.models import TaskEvent
from tests.support.attacker import api_key, rows_of
from tests.support.clients import Api
from tests.support.live import LiveServer
from tests.support.rest import Rest

REPO = Path(__file__).resolve().parents[2]
SLOW = {
    "name": "slow",
    "parameterSchema": {"type": "object"},
    "reversibility": "REVERSIBLE",
}


def slow(label: str, ms: int) -> dict[str, object]:
    return {"name": label, "action": "slow", "params": {"label": label, "ms": ms}}


async def start_worker(
    server: LiveServer, key: str, executor: str, runs: Path, *cap: str
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "AGENTWIRE_WORKER_KEY": key,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "clients" / "python")]),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.sdk_worker",
        server.http_url,
        executor,
        str(runs),
        *cap,
        env=env,
        cwd=REPO,
    )


async def wait_until(predicate: object, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


async def test_sigkill_mid_step_and_a_second_worker_finishes_without_repeating(
    server: LiveServer, tmp_path: Path
) -> None:
    owner = f"sdk-{uuid.uuid4().hex[:8]}"
    key = await api_key(server, owner, ["worker"])
    executor = f"slow-{uuid.uuid4().hex[:6]}"
    rest = Rest(server, None)
    rest.headers = lambda **extra: {"X-API-Key": key, **extra}  # type: ignore[method-assign]
    registered = await rest.request(
        "POST", "/api/worker/executors", json={"name": executor, "actions": [SLOW]}
    )
    assert registered.status_code == 200, registered.text
    api = Api(server, server.token(owner))
    task = await api.submit(
        "three slow steps",
        context={"executor": executor, "steps": [slow("a", 50), slow("b", 50), slow("c", 60_000)]},
    )
    runs = tmp_path / "runs.txt"
    runs.touch()
    first = await start_worker(server, key, executor, runs)
    await wait_until(lambda: runs.read_text().split() == ["a", "b", "c"])
    # when
    first.send_signal(signal.SIGKILL)
    await first.wait()
    second = await start_worker(server, key, executor, runs, "200")
    done = await api.wait_status(task["id"], "COMPLETED", timeout=30)
    await asyncio.wait_for(second.wait(), 30)
    # then
    assert runs.read_text().split() == ["a", "b", "c", "c"]
    assert [s["status"] for s in done["steps"]] == ["COMPLETED"] * 3
    assert [s["result"] for s in done["steps"]] == [{"label": "a"}, {"label": "b"}, {"label": "c"}]
    rows = await rows_of(server, TaskEvent, task_id=uuid.UUID(task["id"]))
    seqs = sorted(r.seq for r in rows)
    assert seqs == list(range(1, len(seqs) + 1))
    types = [r.type for r in sorted(rows, key=lambda r: r.seq)]
    assert types.count("step_start") == 4
    assert types.count("error") == 1
    assert second.returncode == 0
