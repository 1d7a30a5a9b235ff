"""estimatedWaitTime follows the limit that binds and the plans ahead (issue 8, item 4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support.clients import Api, steps, wait


async def test_estimates_follow_the_per_user_limit_and_known_durations(make_server: Any) -> None:
    async with make_server() as warmup:
        # Runs the server has seen teach it the average run time (2.5 s here), as in use.
        bob = Api(warmup, warmup.token())
        seen = [await bob.submit("warm-up", context=steps(wait(2500))) for _ in range(2)]
        for task in seen:
            await bob.wait_status(task["id"], "COMPLETED")
    async with make_server(max_running=8, max_running_per_user=2) as server:
        alice = Api(server, server.token())
        tasks = [await alice.submit(f"wait {i}", context=steps(wait(2500))) for i in range(6)]
        asked_at = datetime.now(UTC)
        estimates = {}
        for task in tasks:
            seen = await alice.get(task["id"])
            assert seen is not None
            if seen["status"] == "PENDING":
                estimates[task["id"]] = seen["estimatedWaitTime"]
        # Two run at once; the other four wait behind this user's limit, not the global one.
        assert len(estimates) == 4
        for task_id, estimate in estimates.items():
            started = await alice.wait_for(task_id, lambda t: t["startedAt"] is not None)
            actual = (datetime.fromisoformat(started["startedAt"]) - asked_at).total_seconds()
            assert abs(estimate - actual) <= 0.5 * actual, (estimate, actual)
        for task in tasks:
            await alice.wait_status(task["id"], "COMPLETED")
