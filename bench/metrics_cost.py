# ruff: noqa: E402  (imports follow the sys.path fix below)
"""CPU cost of recording request metrics: the metrics middleware around a no-op app.

    .venv/bin/python bench/metrics_cost.py

Prints microseconds of process CPU per request for the bare app and with
MetricsMiddleware (route-template lookup through the real app's routes, a counter,
a histogram); compare with `agentwire_cpu_ms_per_request` of bench/http.py, or run
bench/http.py with `--metrics on` and `--metrics off`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would be first on sys.path and bench/http.py would shadow
# the standard library's `http`: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import asyncio
import tempfile
import time

from starlette.types import Message, Receive, Scope, Send

from server.app import create_app
from server.metrics import MetricsMiddleware
from tests.support.live import test_settings

REQUESTS = 50_000
PATH = "/api/agent/00000000-0000-4000-8000-000000000000"


async def noop(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"x"})


async def discard(message: Message) -> None:
    return None


async def empty_body() -> Message:
    return {"type": "http.request", "body": b""}


async def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="agentwire-metrics-cost-"))
    app = create_app(test_settings(data, f"sqlite+aiosqlite:///{data / 'a.db'}"))
    measured = MetricsMiddleware(noop, routes=app.routes)
    for label, wrapped in (("bare", noop), ("metrics", measured)):
        started = time.process_time()
        for _ in range(REQUESTS):
            scope: Scope = {
                "type": "http",
                "path": PATH,
                "method": "GET",
                "root_path": "",
                "headers": [],
                "query_string": b"",
            }
            await wrapped(scope, empty_body, discard)
        cost = (time.process_time() - started) / REQUESTS * 1e6
        print(f"{label}: {cost:.1f} us CPU per request")


if __name__ == "__main__":
    asyncio.run(main())
