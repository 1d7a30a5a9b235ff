"""Statements per read: a page costs the same whatever its tasks are, a task read a fixed number.

Counted on the live server's own engine (a `before_cursor_execute` listener) while one
request runs; the server runs no engine, so nothing else issues statements meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers import history as history_resolvers
from tests.support.live import LiveServer

PAGE = """query { tasks(first: 20) { edges { node {
  id status queuePosition estimatedWaitTime progress steps { id status } approvals { id }
} } } }"""
READ = """query($id: ID!) { task(id: $id) {
  id status queuePosition progress currentStep { id } steps { id name status } approvals { id }
} }"""
SUBMIT = "mutation($input: SubmitTaskInput!) { submitTask(input: $input) { id } }"
CANCEL = "mutation($id: ID!) { cancelTask(taskId: $id) { id status } }"


def plan(count: int) -> dict[str, Any]:
    return {"steps": [{"action": "wait", "params": {"ms": 10}} for _ in range(count)]}


@contextlib.contextmanager
def counting(server: LiveServer) -> Iterator[list[str]]:
    assert server.app is not None
    engine: AsyncEngine = server.app.state.agentwire.services.sessions.kw["bind"]
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


async def statements_for(
    server: LiveServer, client: httpx.AsyncClient, query: str, **variables: Any
) -> int:
    await graphql(client, query, **variables)  # warm: the user row, caches
    await settled(server)
    with counting(server) as seen:
        await graphql(client, query, **variables)
    # SQLite's BEGIN is issued as a statement (db/engine.py); PostgreSQL's is not counted
    # by the cursor hook. Count the queries on both.
    return len([s for s in request_statements(seen) if s.split()[0].upper() != "BEGIN"])


async def settled(server: LiveServer) -> None:
    """Wait for the numbering of the last submits' events and the queue-update pass they
    started (subscriptions/sequencer.py, engine/queue_updates.py),
    then refresh the shared wait estimates, so the counted read finds them cached
    (ESTIMATE_TTL_SECONDS) as the warm-up did."""
    assert server.app is not None
    engine = server.app.state.agentwire.services.engine
    sequencer = server.app.state.agentwire.services.bus.sequencer
    if sequencer is not None:
        await sequencer.flush()  # the submits' events, numbered after commit
    await engine.queue_updates.flush()
    await engine.estimated_waits(fresh=True)


def request_statements(seen: list[str]) -> list[str]:
    """Without the once-a-second look for unnumbered events (subscriptions/sequencer.py),
    which runs whatever the request does."""
    return [s for s in seen if "global_seq IS NULL" not in s]


def client_for(server: LiveServer, user: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.http_url,
        headers={"Authorization": f"Bearer {server.token(user)}"},
        timeout=30,
    )


async def test_a_page_of_pending_tasks_costs_no_more_statements_than_a_finished_one(
    make_server: Any,
) -> None:
    async with (
        make_server(run_engine=False) as server,
        client_for(server, "pending-owner") as pending,
        client_for(server, "finished-owner") as finished,
    ):
        for _ in range(8):
            await graphql(pending, SUBMIT, input={"task": "queued", "context": plan(2)})
            task = await graphql(finished, SUBMIT, input={"task": "ended", "context": plan(2)})
            await graphql(finished, CANCEL, id=task["submitTask"]["id"])
        page = await graphql(pending, PAGE)
        positions = [e["node"]["queuePosition"] for e in page["tasks"]["edges"]]
        assert sorted(positions) == list(range(1, 9))  # the cancelled ones left the queue
        pending_count = await statements_for(server, pending, PAGE)
        finished_count = await statements_for(server, finished, PAGE)
        # + the one window query for every pending task's position, whatever the page size
        assert pending_count <= finished_count + 1
        # and it does not grow with the page: one more pending task, the same count
        await graphql(pending, SUBMIT, input={"task": "one more", "context": plan(1)})
        assert await statements_for(server, pending, PAGE) == pending_count


async def test_a_task_read_issues_a_fixed_number_of_statements(make_server: Any) -> None:
    async with make_server(run_engine=False) as server, client_for(server, "reader") as reader:
        counts = []
        for steps in (1, 5, 20):
            task = await graphql(reader, SUBMIT, input={"task": "t", "context": plan(steps)})
            counts.append(await statements_for(server, reader, READ, id=task["submitTask"]["id"]))
        assert counts == [counts[0]] * 3
        # the task row, its steps, its approvals, its queue position
        assert counts[0] == 4


async def test_rest_history_counts_only_when_the_page_cannot_tell_and_bounded(
    make_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_resolvers, "TOTAL_COUNT_LIMIT", 3)
    async with make_server(run_engine=False) as server, client_for(server, "historian") as user:
        for index in range(5):
            await graphql(user, SUBMIT, input={"task": f"t{index}", "context": plan(1)})

        async def page(query: str) -> tuple[dict[str, Any], list[str]]:
            with counting(server) as seen:
                response = await user.get(f"/api/agent/history{query}")
            assert response.status_code == 200, response.text
            return dict(response.json()["data"]), [
                s for s in request_statements(seen) if "count(" in s.lower()
            ]

        # a last page tells its own total: no count runs
        last, counts = await page("?limit=10")
        assert (last["total"], last["totalExact"], counts) == (5, True, [])
        offset_last, counts = await page("?limit=2&offset=4")
        assert (offset_last["total"], offset_last["totalExact"], counts) == (5, True, [])
        # a full page counts, but stops at the bound and says so
        full, counts = await page("?limit=2")
        assert len(counts) == 1
        assert (full["total"], full["totalExact"]) == (3, False)
        # past the end, the count is what answers
        beyond, counts = await page("?limit=2&offset=50")
        assert (beyond["total"], beyond["totalExact"], len(counts)) == (3, False, 1)


async def test_a_task_read_shares_one_session_between_its_loaders(make_server: Any) -> None:
    async with make_server(run_engine=False) as server, client_for(server, "reader") as reader:
        task = await graphql(reader, SUBMIT, input={"task": "t", "context": plan(3)})
        task_id = task["submitTask"]["id"]
        await graphql(reader, READ, id=task_id)  # warm
        await settled(server)
        assert server.app is not None
        engine: AsyncEngine = server.app.state.agentwire.services.sessions.kw["bind"]
        checkouts: list[object] = []

        def checked_out(*_args: Any) -> None:
            checkouts.append(object())

        event.listen(engine.sync_engine, "checkout", checked_out)
        try:
            await graphql(reader, READ, id=task_id)
        finally:
            event.remove(engine.sync_engine, "checkout", checked_out)
        # the task's own read, then one session for steps, approvals and queue position
        assert len(checkouts) == 2


async def test_concurrent_rest_reads_of_a_pending_task_do_not_deadlock_the_pool(
    make_server: Any,
) -> None:
    # given a pool of two connections (one + one overflow) and a task in the queue
    async with (
        make_server(run_engine=False, db_pool_size=1) as server,
        client_for(server, "queued-reader") as reader,
    ):
        task = await graphql(reader, SUBMIT, input={"task": "queued", "context": plan(2)})
        await settled(server)
        assert server.app is not None
        server.app.state.agentwire.services.engine._estimates = None  # a reader replays
        # when more readers than connections read it at once (each needs the wait estimate)
        path = f"/api/agent/{task['submitTask']['id']}"
        async with asyncio.timeout(20):
            replies = await asyncio.gather(*(reader.get(path) for _ in range(6)))
        # then every one is answered: no reader holds a connection while waiting for another
        assert [r.status_code for r in replies] == [200] * 6
        assert all(r.json()["data"]["task"]["queuePosition"] == 1 for r in replies)
