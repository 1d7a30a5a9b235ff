"""Global positions for committed events, handed out after commit (db/event_log.py).

Every event a writer publishes without a `cursor` (PostgreSQL: positions are not taken
inside the writer's transaction) waits here for a numbering pass, then goes out with its
cursor. Writers that commit while a pass runs share the next one, so a burst of commits
costs a few passes rather than one per commit, and no writer ever waits for another
writer's transaction. A pass also numbers events whose writer died between its commit
and its pass, and publishes them; a quiet sweep looks for such events once a second.
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
        self._waiting: list[tuple[list[EventKey], asyncio.Future[dict[EventKey, int]]]] = []
        self._runner: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._publish: Publish | None = None
        self._last_pass = 0.0
        self.passes = 0

    async def stamp(self, events: list[Event]) -> list[Event]:
        """`events` with the cursor of each stored one; waits for the next pass."""
        keys = [_key(event) for event in events if needs_position(event)]
        if not keys:
            return events
        future: asyncio.Future[dict[EventKey, int]] = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="agentwire-sequencer")
        try:
            # Shielded: a cancelled writer must not cancel the pass its neighbours share.
            positions = await asyncio.shield(future)
        except Exception:
            logger.exception("numbering committed events failed; the sweep retries")
            return events
        return [
            replace(event, cursor=positions.get(_key(event))) if needs_position(event) else event
            for event in events
        ]

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            wanted = [key for keys, _ in batch for key in keys]
            try:
                positions = await self._pass(wanted)
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(positions)

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
