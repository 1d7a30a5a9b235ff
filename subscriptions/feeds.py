"""What a shared topic follows: one task (by `seq`) or all of a user's tasks (by global cursor).

Both read the stored log from the database and use the bus only as a wake-up,
so a feed's position always means "every stored event up to here was seen".
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.feeds import latest_user_position, task_last_seq, user_events_after
from subscriptions.bus import USER_CHANNEL, EventBus
from subscriptions.envelope import Event
from subscriptions.snapshot import lagged_event
from subscriptions.stream import (
    DEGRADED_POLL_SECONDS,
    INBOX_SIZE,
    QUIET_RECHECK_SECONDS,
    REPLAY_BATCH,
    TaskEventStream,
    drain,
    event_from_row,
    next_wakeup,
)


class Feed(Protocol):
    @property
    def key(self) -> str: ...

    def position(self, event: Event) -> int | None:
        """Where `event` sits in this feed; None for ephemeral events."""
        ...

    async def end_position(self) -> int:
        """The position of the newest stored event now."""
        ...

    async def read_after(self, position: int, limit: int = REPLAY_BATCH) -> list[Event]: ...

    def live(self, after: int) -> AsyncIterator[Event]: ...

    def lagged(self, resume_after: int, dropped: Event | None) -> Event: ...


class TaskFeed:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        task_id: uuid.UUID,
        user_id: str,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self.task_id = task_id
        self.user_id = user_id

    @property
    def key(self) -> str:
        return f"task:{self.task_id}"

    def position(self, event: Event) -> int | None:
        return event.seq

    def stream(self, after: int | None) -> TaskEventStream:
        return TaskEventStream(
            sessions=self._sessions,
            bus=self._bus,
            task_id=self.task_id,
            user_id=self.user_id,
            after=after,
        )

    async def end_position(self) -> int:
        async with self._sessions() as session:
            return await task_last_seq(session, self.task_id) or 0

    async def read_after(self, position: int, limit: int = REPLAY_BATCH) -> list[Event]:
        return await self.stream(position).read_after(position, limit)

    def live(self, after: int) -> AsyncIterator[Event]:
        return aiter(self.stream(after))

    async def snapshot(self) -> Event | None:
        return await self.stream(None).snapshot()

    async def needs_snapshot(self, after: int | None) -> bool:
        return await self.stream(after).needs_snapshot()

    def lagged(self, resume_after: int, dropped: Event | None) -> Event:
        return lagged_event(
            task_id=str(self.task_id), user_id=self.user_id, resume_after=resume_after, cursor=None
        )


class UserFeed:
    """Every event of every task of one user, in commit order (global cursor)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        user_id: uuid.UUID,
        quiet_recheck_seconds: float = QUIET_RECHECK_SECONDS,
        degraded_poll_seconds: float = DEGRADED_POLL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self.user_id = user_id
        self._quiet = quiet_recheck_seconds
        self._poll = degraded_poll_seconds

    @property
    def key(self) -> str:
        return f"user:{self.user_id}"

    def position(self, event: Event) -> int | None:
        return event.cursor

    async def end_position(self) -> int:
        async with self._sessions() as session:
            return await latest_user_position(session, self.user_id)

    async def read_after(self, position: int, limit: int = REPLAY_BATCH) -> list[Event]:
        async with self._sessions() as session:
            rows = await user_events_after(session, self.user_id, after=position, limit=limit)
        return [event_from_row(row, str(self.user_id)) for row in rows]

    async def live(self, after: int) -> AsyncIterator[Event]:
        """Stored events come from the database (a notification only says "read now"),
        because the bus cannot prove that nothing between two cursors was missed;
        ephemeral ones (queue_update) come straight from the bus."""
        last = after
        async with self._bus.subscribe(
            USER_CHANNEL.format(self.user_id), maxsize=INBOX_SIZE
        ) as inbox:
            read_now = True
            while True:
                if read_now:
                    while True:
                        events = await self.read_after(last)
                        for event in events:
                            assert event.cursor is not None
                            last = event.cursor
                            yield event
                        if len(events) < REPLAY_BATCH:
                            break
                woken = await next_wakeup(inbox, self._bus, quiet=self._quiet, poll=self._poll)
                read_now = not woken or inbox.overflowed
                if inbox.overflowed:
                    drain(inbox)
                while not inbox.queue.empty():
                    event = inbox.queue.get_nowait()
                    if event.seq is None:
                        yield event
                    elif event.cursor is None or event.cursor > last:
                        read_now = True

    def lagged(self, resume_after: int, dropped: Event | None) -> Event:
        return lagged_event(
            task_id=dropped.task_id if dropped is not None else "",
            user_id=str(self.user_id),
            resume_after=None,
            cursor=resume_after,
        )
