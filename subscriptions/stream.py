"""Replay-then-live event streams: stored events after a cursor, then live ones, no gap, no repeat.

The bus only wakes the stream. Whenever the stream sees a jump in `seq`, an
overflowed (or poked) inbox or a quiet spell, it reads the missing events back
from the database, so a dropped notification never becomes a lost event. While
the bus is degraded (Redis is down) the quiet spell shrinks to a short polling
interval, and the stream is fed from the database alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import TaskEvent
from db.repositories.events import events_after
from db.repositories.feeds import first_retained_seq, task_rows_as_of_now
from subscriptions.bus import TASK_CHANNEL, EventBus, Subscription
from subscriptions.envelope import Event, EventPriority, EventType
from subscriptions.snapshot import snapshot_event

REPLAY_BATCH = 500
QUIET_RECHECK_SECONDS = 5.0
DEGRADED_POLL_SECONDS = 0.5
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
        cursor=row.global_seq,
    )


async def next_wakeup(inbox: Subscription, bus: EventBus, *, quiet: float, poll: float) -> bool:
    """Wait for the inbox; False when the wait timed out (time to read the database)."""
    if not inbox.queue.empty() or inbox.overflowed:
        return True
    inbox.wakeup.clear()
    timeout = poll if bus.degraded else quiet
    try:
        await asyncio.wait_for(inbox.wakeup.wait(), timeout)
    except TimeoutError:
        return False
    return True


def drain(inbox: Subscription) -> None:
    """Forget queued notifications: the caller re-reads the database instead."""
    inbox.overflowed = False
    while not inbox.queue.empty():
        inbox.queue.get_nowait()


class TaskEventStream:
    """The events of one task after `after`, then live, in `seq` order.

    With `after=None` (or an `after` older than the retained log) the stream opens
    with one SNAPSHOT event: the whole task as of seq N, then every event after N.
    """

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        task_id: uuid.UUID,
        user_id: str,
        after: int | None,
        quiet_recheck_seconds: float = QUIET_RECHECK_SECONDS,
        degraded_poll_seconds: float = DEGRADED_POLL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._task_id = task_id
        self._user_id = user_id
        self._after = after
        self.last_seq = after or 0
        self._quiet = quiet_recheck_seconds
        self._poll = degraded_poll_seconds

    async def read_after(self, after: int, limit: int = REPLAY_BATCH) -> list[Event]:
        async with self._sessions() as session:
            rows = await events_after(session, self._task_id, after=after, limit=limit)
        return [event_from_row(row, self._user_id) for row in rows]

    async def _stored_after_last(self) -> AsyncIterator[Event]:
        while True:
            events = await self.read_after(self.last_seq)
            for event in events:
                assert event.seq is not None
                self.last_seq = event.seq
                yield event
            if len(events) < REPLAY_BATCH:
                return

    async def needs_snapshot(self) -> bool:
        """No cursor, or one older than the oldest event still stored."""
        if self._after is None:
            return True
        if self._after == 0:
            return False
        async with self._sessions() as session:
            first = await first_retained_seq(session, self._task_id)
        return first is not None and first > self._after + 1

    async def snapshot(self) -> Event | None:
        async with self._sessions() as session:
            rows = await task_rows_as_of_now(session, self._task_id)
        return None if rows is None else snapshot_event(rows)

    async def __aiter__(self) -> AsyncIterator[Event]:
        # Subscribe before reading anything, so nothing published meanwhile is missed.
        async with self._bus.subscribe(
            TASK_CHANNEL.format(self._task_id), maxsize=INBOX_SIZE
        ) as inbox:
            if await self.needs_snapshot():
                snapshot = await self.snapshot()
                if snapshot is not None:
                    assert snapshot.seq is not None
                    self.last_seq = snapshot.seq
                    yield snapshot
            async for stored in self._stored_after_last():
                yield stored
            while True:
                woken = await next_wakeup(inbox, self._bus, quiet=self._quiet, poll=self._poll)
                if not woken or inbox.overflowed:
                    drain(inbox)
                    async for stored in self._stored_after_last():
                        yield stored
                    continue
                event = inbox.queue.get_nowait()
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


async def close_quietly(iterator: AsyncIterator[Event]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
