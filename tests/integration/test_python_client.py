"""The Python SDK (clients/python, agentwire_client.Client) against a real server.

The server runs in this event loop, so the synchronous client runs in a worker thread."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from agentwire_client.client import AgentwireError, Client, operation

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
