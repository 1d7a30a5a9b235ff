# ruff: noqa: E402  (imports follow the sys.path fix below)
"""CPU cost of recording request metrics: the metrics middleware around a no-op app.

    .venv/bin/python bench/metrics_cost.py

Prints microseconds of process CPU per request for the bare app and with
MetricsMiddleware (route-template lookup through the real app's routes, a counter,
a histogram); compare with `agentwire_cpu_ms_per_request` of bench/http.py, or run
bench/http.py with `--metrics on` and `--metrics off`.

Then the per-message cost of the delivery metrics (`Watch.sent`: a counter and, for a
live event, a histogram) and of one GraphQL operation's count, with the Prometheus
recorder and with the no-op one (metrics off).
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
from server.metrics import MetricsMiddleware, install_recorder
from subscriptions import telemetry
from subscriptions.envelope import Event, EventType
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
    event = Event(task_id="t", user_id="u", type=EventType.STEP_PROGRESS, data={"taskId": "t"})
    for enabled in (False, True):
        install_recorder(enabled)
        watch = telemetry.Watch(telemetry.GRAPHQL_WS)
        watch.opened_ms = 0  # every event counts as a live delivery: the dearer path
        started = time.process_time()
        for _ in range(REQUESTS):
            watch.sent(event)
        sent = (time.process_time() - started) / REQUESTS * 1e6
        started = time.process_time()
        for _ in range(REQUESTS):
            telemetry.recorder.graphql_operation("query", "ok")
        operation = (time.process_time() - started) / REQUESTS * 1e6
        label = "prometheus" if enabled else "metrics off"
        print(f"{label}: {sent:.2f} us CPU per message sent, {operation:.2f} us per operation")


if __name__ == "__main__":
    asyncio.run(main())
