"""A worker speaking the REST protocol by hand (tests of the worker API, issue 12)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from db.models import TaskEvent
from tests.support.attacker import api_key, rows_of
from tests.support.clients import Api
from tests.support.live import LiveServer
from tests.support.rest import Rest

ORGANISE = {
    "name": "move_file",
    "parameterSchema": {
        "type": "object",
        "properties": {"source": {"type": "string"}, "target": {"type": "string"}},
        "required": ["source", "target"],
    },
    "reversibility": "REVERSIBLE",
}


class Worker:
    """A worker speaking the REST protocol by hand, counting its own sequence."""

    def __init__(self, server: LiveServer, key: str) -> None:
        self.rest = Rest(server, None)
        self.rest.headers = lambda **extra: {"X-API-Key": key, **extra}  # type: ignore[method-assign]
        self.sequence = 0
        self.token = ""
        self.task_id = ""

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.rest.request("POST", f"/api/worker{path}", json=body)

    async def claim(self, executor: str, **extra: Any) -> dict[str, Any] | None:
        response = await self.post("/claim", {"executors": [executor], **extra})
        if response.status_code == 204:
            return None
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        self.token, self.task_id, self.sequence = data["leaseToken"], data["task"]["id"], 0
        return data

    async def write(self, path: str, sequence: int | None = None, **body: Any) -> httpx.Response:
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        return await self.post(
            f"/tasks/{self.task_id}{path}", {"leaseToken": self.token, "sequence": sequence, **body}
        )


async def setup(server: LiveServer) -> tuple[Worker, Api, str]:
    owner = f"engine-{uuid.uuid4().hex[:8]}"
    worker = Worker(server, await api_key(server, owner, ["worker"]))
    name = f"files-{uuid.uuid4().hex[:6]}"
    registered = await worker.post("/executors", {"name": name, "actions": [ORGANISE]})
    assert registered.status_code == 200, registered.text
    return worker, Api(server, server.token(owner)), name


def move(source: str, *, approval: bool = False) -> dict[str, Any]:
    return {
        "action": "move_file",
        "params": {"source": source, "target": f"done/{source}"},
        "requiresApproval": approval,
    }


async def event_types(server: LiveServer, task_id: str) -> list[tuple[int, str]]:
    rows = await rows_of(server, TaskEvent, task_id=uuid.UUID(task_id))
    return sorted((r.seq, r.type) for r in rows)
