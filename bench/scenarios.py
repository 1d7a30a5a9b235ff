"""The bench scenarios that are not one request in a loop: approvals to answer, the engine's
drain rate, and events written and delivered across many running tasks (bench/http.py)."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.clients import GraphQLSubscribers

APPROVE = "mutation($input: ApproveInput!) { approve(input: $input) { id status } }"


async def seed_approvals(database: str, subject: str, count: int) -> list[tuple[str, str]]:
    """`count` tasks of the user waiting on one approval each: (task id, approval id).

    Copied from the user's first task in three INSERT … SELECT statements (tasks, their one
    gated step, its pending approval request), so answering one is the real approve path.
    """
    task_ids = [uuid.uuid4() for _ in range(count)]
    step_ids = [uuid.uuid4() for _ in range(count)]
    approval_ids = [uuid.uuid4() for _ in range(count)]
    engine = create_async_engine(database)
    async with engine.begin() as connection:
        columns = [
            row[0]
            for row in await connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'tasks' ORDER BY ordinal_position"
                )
            )
        ]
        overrides = {
            "id": "ids.task_id",
            "task": "'waiting for approval'",
            "status": "'awaiting_approval'",
            "idempotency_key": "NULL",
            "created_at": "now()",
            "started_at": "now()",
            "finished_at": "NULL",
        }
        select_list = ", ".join(overrides.get(c, f"template.{c}") for c in columns)
        ids = (
            "(SELECT * FROM unnest(CAST(:tasks AS uuid[]), CAST(:steps AS uuid[]), "
            "CAST(:approvals AS uuid[])) AS u(task_id, step_id, approval_id)) AS ids"
        )
        params = {"tasks": task_ids, "steps": step_ids, "approvals": approval_ids}
        await connection.execute(
            text(
                f"INSERT INTO tasks ({', '.join(columns)}) SELECT {select_list} "
                "FROM (SELECT * FROM tasks WHERE user_id = "
                "(SELECT id FROM users WHERE subject = :subject) "
                "ORDER BY created_at LIMIT 1) AS template, " + ids
            ),
            {"subject": subject, **params},
        )
        await connection.execute(
            text(
                "INSERT INTO task_steps (id, task_id, position, name, action, params, "
                "requires_approval, reversibility, status, progress) "
                "SELECT step_id, task_id, 0, 'gate', 'note', '{\"message\": \"ok\"}', true, "
                "'reversible', 'awaiting_approval', 0 FROM " + ids
            ),
            params,
        )
        await connection.execute(
            text(
                "INSERT INTO approval_requests (id, task_id, step_id, status, prompt, "
                "parameters, on_timeout, created_at, expires_at) "
                "SELECT approval_id, task_id, step_id, 'pending', 'go on?', '{}', 'reject', "
                "now(), now() + interval '1 day' FROM " + ids
            ),
            params,
        )
    await engine.dispose()
    return [(str(t), str(a)) for t, a in zip(task_ids, approval_ids, strict=True)]


async def drain_rate(
    database: str, *, tasks_like: str, seconds: float, started: float
) -> dict[str, Any]:
    """Tasks whose name is LIKE `tasks_like` that finish per second, over `seconds` once an
    engine runs (it started at `started`, monotonic), or until none is left to run."""
    engine = create_async_engine(database)
    count = text(
        "SELECT count(*) FILTER (WHERE status = 'completed'), "
        "count(*) FILTER (WHERE status IN ('pending', 'running')) "
        "FROM tasks WHERE task LIKE :like"
    )
    try:
        async with engine.connect() as connection:
            done_before, backlog = (await connection.execute(count, {"like": tasks_like})).one()
            first = time.monotonic()
            done, left = done_before, backlog
            while time.monotonic() - first < seconds and left > 0:
                await asyncio.sleep(0.25)
                done, left = (await connection.execute(count, {"like": tasks_like})).one()
                await connection.rollback()
            elapsed = time.monotonic() - first
    finally:
        await engine.dispose()
    finished = int(done) - int(done_before)
    return {
        "backlog_at_start": int(backlog),
        "completed": finished,
        "seconds": round(elapsed, 2),
        "tasks_per_second": round(finished / elapsed, 1) if elapsed > 0 else None,
        "engine_started_seconds_before": round(first - started, 2),
    }


async def events_across_tasks(
    *,
    port: int,
    token: str,
    tasks: list[tuple[str, int]],
    events_per_task: int,
    cpu_seconds: Callable[[], float],
) -> dict[str, Any]:
    """One graphql-transport-ws subscriber per task; then every task emits
    `events_per_task` events at once through the real journal (POST /bench/emit). Events
    written and delivered per second, and delivery latency (event timestamp, taken before
    its commit, to the subscriber's receipt)."""
    fleets = [GraphQLSubscribers(port, token, task_id) for task_id, _ in tasks]
    task_ids = [task_id for task_id, _ in tasks]
    try:
        for index in range(0, len(fleets), 25):
            await asyncio.gather(
                *(
                    fleet.open(1, after=after)
                    for fleet, (_, after) in list(zip(fleets, tasks, strict=True))[
                        index : index + 25
                    ]
                )
            )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as client:
            cpu_before = cpu_seconds()
            started = time.monotonic()
            replies = await asyncio.gather(
                *(
                    client.post("/bench/emit", params={"task": task_id, "count": events_per_task})
                    for task_id in task_ids
                )
            )
            written = time.monotonic() - started
            await asyncio.gather(
                *(
                    fleet.wait_all(after + events_per_task, timeout=120)
                    for fleet, (_, after) in zip(fleets, tasks, strict=True)
                )
            )
            delivered = time.monotonic() - started
            cpu = cpu_seconds() - cpu_before
        errors = [r.status_code for r in replies if r.status_code != 200]
        latencies = sorted(
            value for fleet in fleets for values in fleet.arrivals.values() for value in values
        )
        failed = [why for fleet in fleets for why in fleet.failed]
        total = len(task_ids) * events_per_task

        def pct(share: float) -> float | None:
            if not latencies:
                return None
            return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))], 1)

        return {
            "tasks": len(task_ids),
            "events": total,
            "received": len(latencies),
            "emit_errors": errors,
            "failed_subscribers": failed[:5],
            "written_per_second": round(total / written, 1),
            "written_and_delivered_per_second": round(total / delivered, 1),
            # Server CPU (user + system) per event written and delivered: what the rate
            # would be with a core of its own is about 1000 / this.
            "server_cpu_ms_per_event": round(cpu * 1000 / total, 2),
            "delivery_ms": {
                "p50": pct(0.5),
                "p99": pct(0.99),
                "max": round(latencies[-1], 1) if latencies else None,
                "mean": round(statistics.fmean(latencies), 1) if latencies else None,
            },
        }
    finally:
        await asyncio.gather(*(f.close() for f in fleets), return_exceptions=True)
