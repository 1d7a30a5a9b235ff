"""What the docs promise is what a real server does (issue 8, item 12)."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

from tests.support.attacker import bearer, close_code, gql, next_frame, ws_init
from tests.support.clients import Api, note, steps
from tests.support.live import LiveServer

AUDIT_LOG = "query($taskId: ID!) { auditLog(taskId: $taskId) { actor action } }"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def documented_close_codes() -> set[int]:
    """Every code in the first column of docs/protocol.md's close-code table."""
    text = (DOCS / "protocol.md").read_text()
    table = text.split("## Close codes and what to do", 1)[1].split("\n## ", 1)[0]
    codes: set[int] = set()
    for line in table.splitlines():
        cells = line.split("|")
        if len(cells) > 2:
            codes.update(int(c) for c in re.findall(r"\b(\d{4})\b", cells[1]))
    return codes


async def test_the_close_code_of_a_shutdown_is_documented(make_server: Any) -> None:
    async with make_server() as server:
        socket = await ws_init(server, {"authorization": f"Bearer {server.token()}"})
        assert (await next_frame(socket))["type"] == "connection_ack"
        closing = asyncio.create_task(close_code(socket))
        await server.stop()
        code = await closing
    assert code == 1012
    assert code in documented_close_codes()


async def test_decided_by_and_the_audit_actor_name_the_user_alike(server: LiveServer) -> None:
    subject = f"carol-{uuid.uuid4().hex[:8]}"
    carol = Api(server, server.token(subject))
    task = await carol.submit("gated", context=steps(note("a", 1, approval=True)))
    waiting = await carol.wait_status(task["id"], "AWAITING_APPROVAL")
    await carol.call(
        "Approve",
        input={
            "taskId": task["id"],
            "approvalId": waiting["pendingApproval"]["id"],
            "approved": True,
        },
    )
    done = await carol.wait_status(task["id"], "COMPLETED")
    log = await gql(server, AUDIT_LOG, {"taskId": task["id"]}, headers=bearer(carol.token))
    [entry] = log.json()["data"]["auditLog"]
    assert [a["decidedBy"] for a in done["approvals"]] == [f"user:{subject}"]
    assert (entry["action"], entry["actor"]) == ("approval.approved", f"user:{subject}")
