"""The two servers bench/http.py compares, as uvicorn factories (the same flags for both).

- `baseline`: bare Starlette, one-row read of a task through SQLAlchemy Core, orjson body.
- `agentwire`: the real app, configured from AGENTWIRE_* variables, plus bench-only routes
  (`GET /bench/statements`; `POST /bench/emit?task=<id>&count=<n>`, n events into a real
  task through the engine's journal, one transaction each, as a runner reports progress).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.models import Task
from server.app import create_app
from server.settings import Settings
from subscriptions.envelope import EventType


def baseline() -> Starlette:
    size = int(os.environ.get("AGENTWIRE_DB_POOL_SIZE", "10"))
    engine = create_async_engine(
        os.environ["AGENTWIRE_DATABASE_URL"], pool_size=size, max_overflow=size
    )
    tasks = Task.__table__

    async def row(request: Request) -> Response:
        task_id = uuid.UUID(request.path_params["task_id"])
        async with engine.connect() as connection:
            found = (
                await connection.execute(
                    select(tasks.c.id, tasks.c.status, tasks.c.task, tasks.c.priority).where(
                        tasks.c.id == task_id
                    )
                )
            ).one()
        body = {"id": str(found.id), "status": found.status, "task": found.task}
        return Response(
            orjson.dumps({"success": True, "data": body}), media_type="application/json"
        )

    return Starlette(routes=[Route("/row/{task_id}", row)])


def agentwire() -> Starlette:
    """The real app plus `GET /bench/statements`: SQL statements this process has run."""
    app = create_app(Settings())
    engine = app.state.agentwire.services.sessions.kw["bind"]
    count = [0]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        count[0] += 1

    async def statements(request: Request) -> Response:
        return Response(orjson.dumps({"statements": count[0]}), media_type="application/json")

    journal = app.state.agentwire.services.engine

    async def emit(request: Request) -> Response:
        task_id = uuid.UUID(request.query_params["task"])
        emitted = int(request.query_params.get("count", "1"))
        for index in range(emitted):
            async with journal.transaction(task_id) as tx:
                tx.emit(
                    EventType.STEP_PROGRESS,
                    step={"id": f"bench-{index}", "name": "bench", "position": 0},
                    progress=0.5,
                    message="bench",
                )
        return Response(orjson.dumps({"emitted": emitted}), media_type="application/json")

    app.router.routes[:0] = [
        Route("/bench/statements", statements),
        Route("/bench/emit", emit, methods=["POST"]),
    ]
    return app
