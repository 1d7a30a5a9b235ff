"""Global positions for committed events, handed out after commit (db/event_log.py).

Every event a writer publishes without a `cursor` (PostgreSQL: positions are not taken
inside the writer's transaction) is queued here for a numbering pass, then goes out with
its cursor; the writer does not wait for it. Writers that commit while a pass runs share
the next one, so a burst of commits costs a few passes rather than one per commit, and no
writer ever waits for another writer's transaction. A pass also numbers events whose
writer died between its commit and its pass, and publishes them; a quiet sweep looks for
such events once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.event_log import (
    PASS_LIMIT,
    EventKey,
    assign_positions,
    has_unpositioned,
    positions_of,
    rows_by_keys,
)
from subscriptions.envelope import Event, EventType
from subscriptions.feeds import event_from_row

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
# At shutdown, how long the events already committed may take to go out.
STOP_FLUSH_SECONDS = 2.0
_NOT_STORED = (EventType.SNAPSHOT, EventType.LAGGED, EventType.QUEUE_UPDATE)

Publish = Callable[[list[Event]], Awaitable[None]]


def _key(event: Event) -> EventKey:
    assert event.seq is not None
    return uuid.UUID(event.task_id), event.seq


def needs_position(event: Event) -> bool:
    return event.seq is not None and event.cursor is None and event.type not in _NOT_STORED


class Sequencer:
    """One per process: numbers committed events in short passes, one pass at a time."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: list[tuple[list[Event], Publish]] = []
        self._runner: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._publish: Publish | None = None
        self._last_pass = 0.0
        self.passes = 0

    def needs_positions(self, events: list[Event]) -> bool:
        return any(needs_position(event) for event in events)

    def submit(self, events: list[Event], deliver: Publish) -> None:
        """Queue committed events for the next pass; `deliver` then gets them with their
        cursors, batches in the order they were submitted (so one task's events stay in
        order). The writer does not wait: its commit is done, and delivery is a
        notification (the database log is the truth)."""
        self._waiting.append((events, deliver))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="agentwire-sequencer")

    async def flush(self) -> None:
        """Wait until everything submitted so far is numbered and delivered."""
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            wanted = [_key(e) for events, _ in batch for e in events if needs_position(e)]
            try:
                positions = await self._pass(wanted)
            except Exception:
                # Delivered without cursors: subscribers read the log back on their own;
                # the sweep numbers and publishes these events once the database answers.
                logger.exception("numbering committed events failed; the sweep retries")
                positions = {}
            for events, deliver in batch:
                stamped = [
                    replace(e, cursor=positions.get(_key(e))) if needs_position(e) else e
                    for e in events
                ]
                try:
                    await deliver(stamped)
                except Exception:
                    logger.exception("delivering numbered events failed")

    async def _pass(self, wanted: list[EventKey]) -> dict[EventKey, int]:
        """One numbering transaction; publishes what it numbered that nobody here asked for."""
        self._last_pass = asyncio.get_running_loop().time()
        self.passes += 1
        wanted_set = set(wanted)
        positions: dict[EventKey, int] = {}
        strays: list[EventKey] = []
        async with self._sessions() as session:
            while True:
                assigned = (await assign_positions(session)).positions
                positions.update(assigned)
                strays.extend(key for key in assigned if key not in wanted_set)
                if len(assigned) < PASS_LIMIT:
                    break
            # Numbered by an earlier pass (here or on another instance) that is committed.
            missing = [key for key in wanted if key not in positions]
            if missing:
                positions.update(await positions_of(session, missing))
            stray_rows = await rows_by_keys(session, strays) if strays else []
        if stray_rows and self._publish is not None:
            await self._publish([event_from_row(row, str(row.user_id)) for row in stray_rows])
        return positions

    # the sweep

    async def start(self, publish: Publish) -> None:
        self._publish = publish
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="agentwire-event-sweep")

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), STOP_FLUSH_SECONDS)
        for task in (self._sweeper, self._runner):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _sweep_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            if loop.time() - self._last_pass < SWEEP_SECONDS:
                continue  # passes are running anyway, and each numbers every straggler
            try:
                async with self._sessions() as session:
                    found = await has_unpositioned(session)
                if found and (self._runner is None or self._runner.done()):
                    await self._pass([])
            except Exception:
                logger.warning("event sweep failed; retrying", exc_info=True)
