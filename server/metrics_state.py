"""Metrics of state rather than of events: the database pool, and the tasks by status.

The pool gauges follow SQLAlchemy's pool events (an increment per checkout and checkin)
so they stay right under `--workers N`, where each worker has its own pool and
prometheus-client sums the live workers' files. The task figures are one small query at
scrape time, cached for `TaskCounts.ttl_seconds`: they are the database's, the same
from any worker, so the worker that answers the scrape reports them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from db.repositories.stats import open_task_counts
from domain.vocabulary import TaskStatus
from server.metrics import DB_POOL_CHECKED_OUT, DB_POOL_SIZE, exposition

logger = logging.getLogger(__name__)

TASKS = "agentwire_tasks"
QUEUE_DEPTH = "agentwire_queue_depth"


def watch_pool(database: AsyncEngine) -> Callable[[], None]:
    """Count the pool's size and checkouts; returns the function that stops counting."""
    pool = database.sync_engine.pool
    size_of = getattr(pool, "size", None)  # NullPool and StaticPool have no size
    size = int(size_of()) if callable(size_of) else 0
    DB_POOL_SIZE.inc(size)

    def checked_out(*_: Any) -> None:
        DB_POOL_CHECKED_OUT.inc()

    def checked_in(*_: Any) -> None:
        DB_POOL_CHECKED_OUT.dec()

    event.listen(pool, "checkout", checked_out)
    event.listen(pool, "checkin", checked_in)

    def stop() -> None:
        event.remove(pool, "checkout", checked_out)
        event.remove(pool, "checkin", checked_in)
        DB_POOL_SIZE.dec(size)

    return stop


def forget_this_worker() -> None:
    """At a clean exit under `--workers N`, drop this process's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class TaskCounts:
    """`agentwire_tasks{status}` and `agentwire_queue_depth`, read when scraped."""

    ttl_seconds = 2.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._counts: dict[TaskStatus, int] | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        self.registry = CollectorRegistry()
        self.registry.register(self)

    async def refresh(self) -> None:
        """Read the counts unless they are fresh; concurrent scrapes share one read."""
        async with self._lock:
            if time.monotonic() - self._read_at < self.ttl_seconds:
                return
            try:
                async with self._sessions() as session:
                    self._counts = await open_task_counts(session)
            except Exception:
                # The rest of /metrics must still answer when the database does not.
                logger.warning("metrics: task counts unavailable", exc_info=True)
                self._counts = None
            self._read_at = time.monotonic()

    def describe(self) -> Iterator[Metric]:
        yield from self.families()

    def collect(self) -> Iterator[Metric]:
        yield from self.families(self._counts)

    @staticmethod
    def families(counts: dict[TaskStatus, int] | None = None) -> Iterator[Metric]:
        """The metric families, with the samples of `counts` (none when unknown)."""
        tasks = GaugeMetricFamily(
            TASKS, "Tasks that are pending, running or awaiting approval.", labels=["status"]
        )
        queue = GaugeMetricFamily(QUEUE_DEPTH, "Tasks waiting in the queue (pending).")
        if counts is not None:
            for status, count in counts.items():
                tasks.add_metric([status.value], count)
            queue.add_metric([], counts.get(TaskStatus.PENDING, 0))
        yield tasks
        yield queue


def metrics_endpoint(counts: TaskCounts) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        await counts.refresh()
        body = exposition() + generate_latest(counts.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return endpoint
