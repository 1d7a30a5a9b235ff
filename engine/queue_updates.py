"""Queue-position updates, computed once per burst of changes and sent only where they changed.

A submit, a claim or a cancel changes the queue. Recomputing every pending task's position
and estimated wait and publishing an event for each, on every change, made each submit's
cost grow with the backlog. Here a change only marks the queue dirty: one background pass
(at most every COALESCE_SECONDS) reads the queue and the estimates once, and publishes a
`queue_update` only for the tasks whose position or estimated wait differs from what this
instance last published. Every FULL_REFRESH_SECONDS a pass publishes every entry again, so a
subscriber whose last update came from another instance converges too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.scheduler import queue_snapshot, queue_update_event
from subscriptions.bus import EventBus

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 0.05
FULL_REFRESH_SECONDS = 2.0

Waits = Callable[[], Awaitable[dict[uuid.UUID, float]]]
RoughWait = Callable[[int], float]


class QueueUpdates:
    """One per engine: `changed()` is cheap; the pass runs in the background."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        waits: Waits,
        rough_wait: RoughWait,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._waits = waits
        self._rough_wait = rough_wait
        self._dirty = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._published: dict[uuid.UUID, tuple[int, float]] = {}
        self._last_full = 0.0
        self.passes = 0

    def changed(self) -> None:
        """The queue changed; a pass soon publishes what that changed for its watchers."""
        self._dirty.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="agentwire-queue-updates")

    async def flush(self) -> None:
        """Wait until the changes so far are published (tests, shutdown)."""
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)

    async def stop(self) -> None:
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    async def _run(self) -> None:
        while self._dirty.is_set():
            self._dirty.clear()
            try:
                await self.publish_once()
            except Exception:
                logger.exception("publishing queue updates failed")
            # Changes arriving meanwhile share the next pass.
            await asyncio.sleep(COALESCE_SECONDS)

    async def publish_once(self) -> None:
        self.passes += 1
        entries = await queue_snapshot(self._sessions)
        waits = await self._waits() if entries else {}
        now = asyncio.get_running_loop().time()
        full = now - self._last_full >= FULL_REFRESH_SECONDS
        if full:
            self._last_full = now
        events = []
        current: dict[uuid.UUID, tuple[int, float]] = {}
        for entry in entries:
            wait = waits.get(entry.task_id, self._rough_wait(entry.position))
            current[entry.task_id] = (entry.position, wait)
            if full or self._published.get(entry.task_id) != (entry.position, wait):
                events.append(queue_update_event(entry, estimated_wait=wait))
        self._published = current
        if events:
            await self._bus.publish(events)
