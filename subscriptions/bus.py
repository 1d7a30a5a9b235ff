"""The event bus: notifications after commit. The database stays the truth."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Protocol

from subscriptions import telemetry
from subscriptions.envelope import Event

if TYPE_CHECKING:
    from subscriptions.sequencer import Sequencer

logger = logging.getLogger(__name__)

TASK_CHANNEL = "task:{}"
USER_CHANNEL = "user:{}"


def channels_for(event: Event) -> tuple[str, str]:
    return TASK_CHANNEL.format(event.task_id), USER_CHANNEL.format(event.user_id)


class Inbox:
    """A subscriber's wake-ups from the bus: a bounded queue that notes an overflow
    instead of blocking the publisher. Used only through its methods: the reader waits,
    takes what came, and re-reads the database whenever `take` says it missed some."""

    __slots__ = ("_maxsize", "_missed", "_queue", "_wakeup")

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._queue: deque[Event] = deque()
        self._missed = False
        self._wakeup = asyncio.Event()

    def offer(self, event: Event) -> None:
        if len(self._queue) < self._maxsize:
            self._queue.append(event)
        else:
            self._missed = True
        self._wakeup.set()

    def poke(self) -> None:
        """Ask the reader to re-read the database: notifications may have been lost."""
        self._missed = True
        self._wakeup.set()

    async def wait(self, timeout: float) -> bool:
        """Until something arrives (True) or `timeout` seconds pass (False)."""
        if self._queue or self._missed:
            return True
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def take(self) -> tuple[list[Event], bool]:
        """What arrived since the last take, and whether some notifications were missed."""
        events, missed = list(self._queue), self._missed
        self._queue.clear()
        self._missed = False
        return events, missed


class EventBus(Protocol):
    @property
    def sequencer(self) -> Sequencer | None:
        """What numbers this bus's committed events before they go out (PostgreSQL)."""
        ...

    @property
    def degraded(self) -> bool:
        """True while notifications may be missed (Redis is down): readers poll the database."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, events: list[Event]) -> None: ...

    def subscribe(
        self, channel: str, *, maxsize: int = 1000
    ) -> AbstractAsyncContextManager[Inbox]: ...


class InProcessBus:
    """Fan-out inside one process: one queue per subscriber, keyed by channel."""

    def __init__(self, *, sequencer: Sequencer | None = None) -> None:
        self._subscribers: dict[str, set[Inbox]] = {}
        # Gives committed events their cursor before they go out (PostgreSQL only).
        self._sequencer = sequencer

    @property
    def sequencer(self) -> Sequencer | None:
        return self._sequencer

    @property
    def degraded(self) -> bool:
        return False

    def poke_all(self) -> None:
        for inboxes in self._subscribers.values():
            for inbox in inboxes:
                inbox.poke()

    def has_subscribers(self, channel: str) -> bool:
        return channel in self._subscribers

    @property
    def channels(self) -> list[str]:
        return list(self._subscribers)

    async def start(self) -> None:
        if self._sequencer is not None:
            await self._sequencer.start(self.publish)

    async def stop(self) -> None:
        if self._sequencer is not None:
            await self._sequencer.stop()
        self._subscribers.clear()

    async def publish(self, events: list[Event]) -> None:
        if self._sequencer is not None and self._sequencer.needs_positions(events):
            self._sequencer.submit(events, self._deliver)
            return
        await self._deliver(events)

    async def _deliver(self, events: list[Event]) -> None:
        # Every stored event is published once, by the instance that wrote it, through
        # the in-process bus (the Redis bus delegates to it): counting here counts it once.
        for event in events:
            telemetry.recorder.events_written(event.type.value)
            self.deliver_locally(event)

    def deliver_locally(self, event: Event) -> None:
        for channel in channels_for(event):
            self.deliver_to(channel, event)

    def deliver_to(self, channel: str, event: Event) -> None:
        for inbox in self._subscribers.get(channel, ()):
            inbox.offer(event)

    @asynccontextmanager
    async def subscribe(self, channel: str, *, maxsize: int = 1000) -> AsyncIterator[Inbox]:
        inbox = Inbox(maxsize)
        self._subscribers.setdefault(channel, set()).add(inbox)
        try:
            yield inbox
        finally:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(inbox)
                if not subscribers:
                    del self._subscribers[channel]

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
