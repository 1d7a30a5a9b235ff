"""The one cursor loop: a task's events (by `seq`) or a user's (global cursor), stored, then live.

A feed reads the stored log from the database and uses the bus only as a wake-up, so
its position always means "every stored event up to here was seen". Its `live(after)`
is the only replay-then-live loop of the service: the hub's topics, AG-UI and the
long-poll all read through it. A notification that continues the position is delivered
as it came; a jump in the position (a missed notification), an overflowed or poked
inbox, or a quiet spell makes it read the missing events back from the database first,
so a dropped notification never becomes a lost event. While the bus is degraded (Redis
is down) the quiet spell shrinks to a short polling interval.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import TaskEvent
from db.repositories.events import events_after
from db.repositories.feeds import (
    approval_events_after,
    first_retained_seq,
    latest_global_position,
    latest_user_position,
    task_last_seq,
    task_rows_as_of_now,
    user_events_after,
)
from subscriptions.bus import TASK_CHANNEL, USER_CHANNEL, EventBus
from subscriptions.envelope import Event, EventPriority, EventType
from subscriptions.snapshot import lagged_event, snapshot_event

REPLAY_BATCH = 500
QUIET_RECHECK_SECONDS = 5.0
DEGRADED_POLL_SECONDS = 0.5
INBOX_SIZE = 1000
APPROVAL_RECHECK_SECONDS = 1.0
APPROVAL_KINDS = (
    EventType.APPROVAL_REQUEST,
    EventType.APPROVAL_DECISION,
    EventType.APPROVAL_RESOLVED,
    EventType.APPROVAL_TIMEOUT,
)


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


class Feed(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def channel(self) -> str:
        """The bus channel whose notifications wake this feed."""
        ...

    def position(self, event: Event) -> int | None:
        """Where `event` sits in this feed; None for ephemeral events."""
        ...

    async def end_position(self) -> int:
        """The position of the newest stored event now."""
        ...

    async def read_after(self, position: int, limit: int = REPLAY_BATCH) -> list[Event]: ...

    def live(self, after: int) -> AsyncIterator[Event]: ...

    def lagged(self, resume_after: int, dropped: Event | None) -> Event: ...


class LogFeed:
    """What both feeds share: the bus, the database, and the one live loop."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        quiet_recheck_seconds: float = QUIET_RECHECK_SECONDS,
        degraded_poll_seconds: float = DEGRADED_POLL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._quiet = quiet_recheck_seconds
        self._poll = degraded_poll_seconds

    @property
    def channel(self) -> str:
        raise NotImplementedError

    def position(self, event: Event) -> int | None:
        raise NotImplementedError

    async def read_after(self, position: int, limit: int = REPLAY_BATCH) -> list[Event]:
        raise NotImplementedError

    def continues(self, last: int, position: int) -> bool:
        """Whether an event at `position` is the very next one after `last`, so it can
        be delivered without reading the database (only a per-task `seq` can tell)."""
        return False

    async def _stored_after(self, last: int) -> AsyncIterator[Event]:
        while True:
            events = await self.read_after(last)
            for event in events:
                last = self.position(event) or last
                yield event
            if len(events) < REPLAY_BATCH:
                return

    async def live(self, after: int) -> AsyncIterator[Event]:
        """Every stored event after `after`, then each new one, in order; ephemeral
        events (queue_update) as they come."""
        last = after
        # Subscribe before reading anything, so nothing published meanwhile is missed.
        async with self._bus.subscribe(self.channel, maxsize=INBOX_SIZE) as inbox:
            read_now = True
            while True:
                if read_now:
                    async for stored in self._stored_after(last):
                        last = self.position(stored) or last
                        yield stored
                timeout = self._poll if self._bus.degraded else self._quiet
                woken = await inbox.wait(timeout)
                arrived, missed = inbox.take()
                read_now = not woken or missed
                for event in arrived:
                    position = self.position(event)
                    if event.seq is None:
                        yield event  # ephemeral: never stored, so never read back
                    elif position is not None and position <= last:
                        continue
                    elif not read_now and position is not None and self.continues(last, position):
                        last = position
                        yield event
                    else:
                        read_now = True  # a gap: the log fills it, in order


class TaskFeed(LogFeed):
    """One task's events, by `seq`. A SNAPSHOT stands in for a cursor that is absent
    or older than the retained log."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        task_id: uuid.UUID,
        user_id: str,
        **options: float,
    ) -> None:
        super().__init__(sessions=sessions, bus=bus, **options)
        self.task_id = task_id
        self.user_id = user_id

    @property
    def key(self) -> str:
        return f"task:{self.task_id}"

    @property
    def channel(self) -> str:
        return TASK_CHANNEL.format(self.task_id)

    def position(self, event: Event) -> int | None:
        return event.seq

    def continues(self, last: int, position: int) -> bool:
        return position == last + 1

    async def end_position(self) -> int:
        async with self._sessions() as session:
            return await task_last_seq(session, self.task_id) or 0

    async def read_after(self, position: int, limit: int = REPLAY_BATCH) -> list[Event]:
        async with self._sessions() as session:
            rows = await events_after(session, self.task_id, after=position, limit=limit)
        return [event_from_row(row, self.user_id) for row in rows]

    async def needs_snapshot(self, after: int | None) -> bool:
        """No cursor, or one older than the oldest event still stored."""
        if after is None:
            return True
        if after == 0:
            return False
        async with self._sessions() as session:
            first = await first_retained_seq(session, self.task_id)
        return first is not None and first > after + 1

    async def snapshot(self) -> Event | None:
        async with self._sessions() as session:
            rows = await task_rows_as_of_now(session, self.task_id)
        return None if rows is None else snapshot_event(rows)

    def lagged(self, resume_after: int, dropped: Event | None) -> Event:
        return lagged_event(
            task_id=str(self.task_id), user_id=self.user_id, resume_after=resume_after, cursor=None
        )


class UserFeed(LogFeed):
    """Every event of every task of one user, in commit order (global cursor)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        user_id: uuid.UUID,
        **options: float,
    ) -> None:
        super().__init__(sessions=sessions, bus=bus, **options)
        self.user_id = user_id

    @property
    def key(self) -> str:
        return f"user:{self.user_id}"

    @property
    def channel(self) -> str:
        return USER_CHANNEL.format(self.user_id)

    def position(self, event: Event) -> int | None:
        return event.cursor

    async def end_position(self) -> int:
        async with self._sessions() as session:
            return await latest_user_position(session, self.user_id)

    async def read_after(self, position: int, limit: int = REPLAY_BATCH) -> list[Event]:
        async with self._sessions() as session:
            rows = await user_events_after(session, self.user_id, after=position, limit=limit)
        return [event_from_row(row, str(self.user_id)) for row in rows]

    def lagged(self, resume_after: int, dropped: Event | None) -> Event:
        return lagged_event(
            task_id=dropped.task_id if dropped is not None else "",
            user_id=str(self.user_id),
            resume_after=None,
            cursor=resume_after,
        )


class ApprovalFeed(LogFeed):
    """The approval events (opened, decided, resolved or cancelled, expired) of every task
    whose approvals the caller may decide: their own, those whose reviewer roles name one
    of the caller's roles, every task for an admin. Global cursor, as `UserFeed`.

    Only the owner's bus channel carries a task's events, so a reviewer is woken by
    nobody: the feed listens on the caller's own channel (their own tasks arrive at
    once) and re-reads the log every `APPROVAL_RECHECK_SECONDS` otherwise, so a reviewer
    sees a request up to that long after it is stored (docs/approvals.md).
    """

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        user_id: uuid.UUID,
        roles: tuple[str, ...],
        is_admin: bool,
        quiet_recheck_seconds: float = APPROVAL_RECHECK_SECONDS,
        **options: float,
    ) -> None:
        super().__init__(
            sessions=sessions, bus=bus, quiet_recheck_seconds=quiet_recheck_seconds, **options
        )
        self.user_id = user_id
        self.roles = roles
        self.is_admin = is_admin

    @property
    def key(self) -> str:
        return f"approvals:{self.user_id}"

    @property
    def channel(self) -> str:
        return USER_CHANNEL.format(self.user_id)

    def position(self, event: Event) -> int | None:
        return event.cursor

    async def end_position(self) -> int:
        async with self._sessions() as session:
            return await latest_global_position(session)

    async def read_after(self, position: int, limit: int = REPLAY_BATCH) -> list[Event]:
        async with self._sessions() as session:
            rows = await approval_events_after(
                session,
                kinds=APPROVAL_KINDS,
                user_id=None if self.is_admin else self.user_id,
                roles=self.roles,
                after=position,
                limit=limit,
            )
        return [event_from_row(row, str(row.user_id)) for row in rows]

    async def live(self, after: int) -> AsyncIterator[Event]:
        # The owner's channel also carries their other events (QUEUE_UPDATE, which is
        # never stored, above all): only approval events belong here.
        async for event in super().live(after):
            if event.type in APPROVAL_KINDS:
                yield event

    def lagged(self, resume_after: int, dropped: Event | None) -> Event:
        return lagged_event(
            task_id=dropped.task_id if dropped is not None else "",
            user_id=str(self.user_id),
            resume_after=None,
            cursor=resume_after,
        )
