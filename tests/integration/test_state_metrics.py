"""State metrics against a live server: tasks by status and the queue depth (read at scrape
time), the database pool's size and checked-out connections, and approval waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import text

from tests.integration.test_observability import scrape, value
from tests.support.clients import note, steps, wait
from tests.support.live import LiveServer
from tests.support.rest import Rest

CHECKED_OUT, POOL_SIZE = "agentwire_db_pool_checked_out", "agentwire_db_pool_size"


async def until(server: LiveServer, check: Callable[[dict[Any, float]], bool]) -> dict[Any, float]:
    async with asyncio.timeout(15):
        while True:
            samples = await scrape(server)
            if check(samples):
                return samples
            await asyncio.sleep(0.05)


async def test_tasks_by_status_and_the_queue_depth_follow_the_database(
    make_server: Callable[..., Any],
) -> None:
    async with make_server(max_running=1, max_running_per_user=1) as server:
        alice = Rest(server, server.token())
        # given one task running (a long wait) and two queued behind it
        running = await alice.submit("long", context=steps(wait(20_000)))
        await alice.wait_status(running["id"], "running")
        queued = [await alice.submit(f"queued {n}", context=steps(note("a", n))) for n in (1, 2)]

        def counts(samples: dict[Any, float]) -> tuple[float, ...]:
            return (
                value(samples, "agentwire_tasks", status="pending"),
                value(samples, "agentwire_tasks", status="running"),
                value(samples, "agentwire_tasks", status="awaiting_approval"),
                value(samples, "agentwire_queue_depth"),
            )

        # then the scrape shows them (within the counts' short cache)
        await until(server, lambda s: counts(s) == (2, 1, 0, 2))
        # when all three are cancelled, the figures fall back to zero
        for task in (running, *queued):
            await alice.request("DELETE", f"/api/agent/{task['id']}")
        await until(server, lambda s: counts(s) == (0, 0, 0, 0))


async def test_the_pool_gauges_follow_checkouts_and_the_pool_size(
    make_server: Callable[..., Any],
) -> None:
    size_before = REGISTRY.get_sample_value(POOL_SIZE) or 0.0
    async with make_server(run_engine=False) as server:
        assert server.app is not None
        sessions = server.app.state.agentwire.services.sessions
        pool = sessions.kw["bind"].sync_engine.pool
        during = await scrape(server)
        assert value(during, POOL_SIZE) - size_before == pool.size()
        base = value(during, CHECKED_OUT)
        # when three connections are held out of the pool
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(3):
                session = await stack.enter_async_context(sessions())
                await session.execute(text("SELECT 1"))
            await until(server, lambda s: value(s, CHECKED_OUT) - base == 3)
        # then giving them back brings the gauge down again
        await until(server, lambda s: value(s, CHECKED_OUT) <= base)
    assert (REGISTRY.get_sample_value(POOL_SIZE) or 0.0) == size_before


async def test_an_answered_approval_observes_how_long_it_waited(server: LiveServer) -> None:
    alice = Rest(server, server.token())
    approved = {"outcome": "approved"}
    count = "agentwire_approval_wait_seconds_count"
    task = await alice.submit("gated", context=steps(note("a", 1, approval=True)))
    waiting = await alice.wait_status(task["id"], "awaiting_approval")
    before = await scrape(server)
    await asyncio.sleep(0.2)  # the wait being measured, not a synchronisation
    response = await alice.request(
        "POST",
        f"/api/agent/{task['id']}/approve",
        json={"approvalId": waiting["task"]["pendingApproval"]["id"], "approved": True},
    )
    assert response.status_code == 200
    after = await scrape(server)
    assert value(after, count, **approved) - value(before, count, **approved) == 1
    waited = value(after, "agentwire_approval_wait_seconds_sum", **approved) - value(
        before, "agentwire_approval_wait_seconds_sum", **approved
    )
    assert 0.2 <= waited < 60
    # a rejection is its own outcome
    second = await alice.submit("gated again", context=steps(note("b", 2, approval=True)))
    waiting = await alice.wait_status(second["id"], "awaiting_approval")
    await alice.request(
        "POST",
        f"/api/agent/{second['id']}/approve",
        json={"approvalId": waiting["task"]["pendingApproval"]["id"], "approved": False},
    )
    rejected = await scrape(server)
    assert (
        value(rejected, count, outcome="rejected") - value(before, count, outcome="rejected") == 1
    )
