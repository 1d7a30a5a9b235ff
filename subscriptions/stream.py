"""Replay-then-live event streams: stored events after a cursor, then live ones, no gap, no repeat.

The bus only wakes the stream. Whenever the stream sees a jump in `seq`, an
overflowed inbox or a quiet spell, it reads the missing events back from the
database, so a dropped notification never becomes a lost event.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import TaskEvent
from db.repositories.events import events_after
from subscriptions.bus import TASK_CHANNEL, EventBus
from subscriptions.envelope import Event, EventPriority, EventType

REPLAY_BATCH = 500
QUIET_RECHECK_SECONDS = 5.0
INBOX_SIZE = 1000


def event_from_row(row: TaskEvent, user_id: str) -> Event:
    return Event(
        task_id=str(row.task_id),
        user_id=user_id,
        type=EventType(row.type),
        data=row.data,
        seq=row.seq,
        id=row.id,
        timestamp=float(int(row.created_at.timestamp() * 1000)),
        priority=EventPriority(row.priority),
    )


class TaskEventStream:
    """The events of one task after `after`, then live, in `seq` order."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        task_id: uuid.UUID,
        user_id: str,
        after: int,
        quiet_recheck_seconds: float = QUIET_RECHECK_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._task_id = task_id
        self._user_id = user_id
        self.last_seq = after
        self._quiet = quiet_recheck_seconds

    async def _stored_after_last(self) -> AsyncIterator[Event]:
        while True:
            async with self._sessions() as session:
                rows = await events_after(
                    session, self._task_id, after=self.last_seq, limit=REPLAY_BATCH
                )
            for row in rows:
                self.last_seq = row.seq
                yield event_from_row(row, self._user_id)
            if len(rows) < REPLAY_BATCH:
                return

    async def __aiter__(self) -> AsyncIterator[Event]:
        # Subscribe before replaying, so nothing published during the replay is missed.
        async with self._bus.subscribe(
            TASK_CHANNEL.format(self._task_id), maxsize=INBOX_SIZE
        ) as inbox:
            async for stored in self._stored_after_last():
                yield stored
            while True:
                event: Event | None = None
                with contextlib.suppress(TimeoutError):
                    event = await asyncio.wait_for(inbox.queue.get(), self._quiet)
                if inbox.overflowed:
                    inbox.overflowed = False
                    while not inbox.queue.empty():
                        inbox.queue.get_nowait()
                    event = None
                if event is None:
                    async for stored in self._stored_after_last():
                        yield stored
                    continue
                if event.seq is None:
                    yield event
                    continue
                if event.seq <= self.last_seq:
                    continue
                if event.seq > self.last_seq + 1:
                    async for stored in self._stored_after_last():
                        yield stored
                    continue
                self.last_seq = event.seq
                yield event
