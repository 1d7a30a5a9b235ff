"""The Python SDK (clients/python, agentwire_client.Client) against a real server.

The server runs in this event loop, so the synchronous client runs in a worker thread."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path

import pytest
from agentwire_client.client import AgentwireError, Client, Task, operation

from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "clients" / "python" / "agentwire_client" / "operations"


def test_shipped_operations_match_the_repository() -> None:
    repo = {p.name: p.read_text() for p in (ROOT / "graphql" / "operations").glob("*.graphql")}
    shipped = {p.name: p.read_text() for p in SHIPPED.glob("*.graphql")}
    assert shipped == repo, (
        "copy graphql/operations/*.graphql to clients/python/agentwire_client/operations/"
    )


def test_operation_appends_only_the_fragments_it_spreads() -> None:
    document = operation("ListTasks")
    assert "fragment" not in document
    get_task = operation("GetTask")
    assert get_task.count("fragment TaskFields on Task") == 1
    assert "fragment EventFields" not in get_task


@pytest.mark.asyncio
async def test_submit_get_list_cancel(server: LiveServer) -> None:
    token = server.token()

    def scenario() -> None:
        with Client(server.http_url, token=token) as client:
            submitted = client.submit_task("python sdk", priority=7, conversation_id="py-1")
            assert (submitted.task, submitted.priority, submitted.conversation_id) == (
                "python sdk",
                7,
                "py-1",
            )
            fetched = client.task(submitted.id)
            assert fetched is not None and fetched.id == submitted.id
            page = client.tasks(first=10)
            assert [t.id for t in page.tasks] == [submitted.id]
            assert (page.total_count, page.has_next_page) == (1, False)
            client.cancel_task(submitted.id, mode="IMMEDIATE")
            # Cancelling a running task is acknowledged first and finished by the engine.
            deadline = time.monotonic() + 10
            while (
                current := client.task(submitted.id)
            ) is not None and current.status != "CANCELLED":
                assert time.monotonic() < deadline, current.status
                time.sleep(0.02)
            assert client.tasks(status="CANCELLED").total_count == 1
            with pytest.raises(AgentwireError) as caught:
                client.submit_task("")
            assert caught.value.code == "VALIDATION"

    await asyncio.to_thread(scenario)


@pytest.mark.asyncio
async def test_approve_with_edited_parameters_then_events_and_undo_plan(server: LiveServer) -> None:
    token = server.token()
    plan = {
        "steps": [
            {
                "name": "note k",
                "action": "note",
                "params": {"key": "k", "value": 1},
                "requiresApproval": True,
            }
        ]
    }

    def wait_status(client: Client, task_id: str, status: str) -> Task:
        deadline = time.monotonic() + 10
        while (current := client.task(task_id)) is None or current.status != status:
            assert time.monotonic() < deadline, current and current.status
            time.sleep(0.02)
        return current

    def scenario() -> None:
        with Client(server.http_url, token=token) as client:
            submitted = client.submit_task("gated", context=plan)
            waiting = wait_status(client, submitted.id, "AWAITING_APPROVAL")
            approval = waiting.raw["pendingApproval"]
            assert approval["parameters"] == {"key": "k", "value": 1}
            client.approve(
                submitted.id, approval["id"], modified_parameters={"key": "k", "value": 2}
            )
            done = wait_status(client, submitted.id, "COMPLETED")
            assert done.raw["approvals"][0]["status"] == "MODIFIED"
            events = client.task_events(submitted.id)
            seqs = [event["seq"] for event in events]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) > 0
            assert client.task_events(submitted.id, after=seqs[-1]) == []
            types = [event["type"] for event in events]
            assert types.index("APPROVAL_REQUEST") < types.index("APPROVAL_RESOLVED")
            assert types[-1] == "COMPLETED"
            undo_plan = client.undo_plan(submitted.id)
            assert (undo_plan["possible"], undo_plan["reason"]) == (True, None)
            assert [(s["name"], s["status"]) for s in undo_plan["steps"]] == [
                ("note k", "COMPLETED")
            ]

    await asyncio.to_thread(scenario)


def readme_snippets() -> list[tuple[str, str]]:
    """Each ```python block of the README with the output the text after it promises."""
    readme = (ROOT / "clients" / "python" / "README.md").read_text()
    found = re.findall(r"```python\n(.*?)```\n\n(?:It prints|It ends with) `([^`]*)`", readme, re.S)
    assert len(found) == readme.count("```python"), "every snippet says what it prints"
    return found


def test_the_readme_has_a_sync_and_an_async_quick_start() -> None:
    snippets = [code for code, _ in readme_snippets()]
    assert len(snippets) == 2
    assert "Client(" in snippets[0] and "AsyncClient(" in snippets[1]


@pytest.mark.asyncio
@pytest.mark.parametrize("index", [0, 1])
async def test_the_readme_quick_starts_run_as_pasted(server: LiveServer, index: int) -> None:
    snippet, promised = readme_snippets()[index]
    env = {**os.environ, "AGENTWIRE_URL": server.http_url, "AGENTWIRE_TOKEN": server.token()}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        snippet,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines[-1] == promised
    if index == 0:
        # a line per event, each seq once, in order, with the approval answered in between
        # (an ephemeral QUEUE_UPDATE, printed with seq None, may come between)
        seqs = [int(line.split()[0]) for line in lines[:-1] if not line.startswith("None ")]
        assert seqs == sorted(set(seqs))
        types = [line.split()[1] for line in lines[:-1]]
        assert types[0] == "SNAPSHOT" and types[-1] == "COMPLETED"
        assert "APPROVAL_RESOLVED" in types


@pytest.mark.asyncio
async def test_approve_batch_answers_in_order_or_refuses_all(server: LiveServer) -> None:
    token = server.token()

    def gated(client: Client, key: str) -> Task:
        step = {"name": key, "action": "note", "params": {"key": key, "value": 1}}
        task = client.submit_task(key, context={"steps": [{**step, "requiresApproval": True}]})
        deadline = time.monotonic() + 10
        while (task := client.task(task.id) or task).status != "AWAITING_APPROVAL":
            assert time.monotonic() < deadline, task.status
            time.sleep(0.02)
        return task

    def answer(task: Task, approved: bool) -> dict[str, object]:
        approval_id = task.raw["pendingApproval"]["id"]
        return {"taskId": task.id, "approvalId": approval_id, "approved": approved}

    def scenario() -> None:
        with Client(server.http_url, token=token) as client:
            first, second = gated(client, "b1"), gated(client, "b2")
            with pytest.raises(AgentwireError):
                client.approve_batch([answer(first, True), answer(first, True)])
            untouched = client.task(first.id)
            assert untouched is not None
            assert untouched.raw["approvals"][0]["status"] == "PENDING"
            done = client.approve_batch([answer(first, True), answer(second, False)])
            assert [d["id"] for d in done] == [first.id, second.id]
            assert [d["approvals"][0]["status"] for d in done] == ["APPROVED", "REJECTED"]

    await asyncio.to_thread(scenario)
