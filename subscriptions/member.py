"""One subscription operation on one socket, fed by a shared topic (subscriptions/hub.py).

Sending: when a member is idle (nothing queued, no send in flight) the topic sends its
frame inline, without waking a task per subscriber: a WebSocket send almost always
completes without suspending (it only waits when the socket's write buffer is full), and
a task wake-up per subscriber per event costs about as much as the send itself. Should
the send suspend, a small task finishes it and the frames that arrive meanwhile queue in
the member's bounded `Outbox`, drained by the member's own loop. A slow socket therefore
never holds up the topic or any other member.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

from subscriptions import telemetry
from subscriptions.envelope import Event
from subscriptions.feeds import Feed
from subscriptions.hub import Group, Hub, Render, Topic
from subscriptions.library_seam import start_inline
from subscriptions.outbox import Outbox, Outgoing, coalesce_key
from subscriptions.telemetry import GRAPHQL_WS, Watch

Send = Callable[[str], Awaitable[None]]
JOIN_ATTEMPTS = 5


class Member:
    __slots__ = (
        "_finishing",
        "busy",
        "channel",
        "failure",
        "group",
        "op_id",
        "outbox",
        "position",
        "prefix",
        "send",
        "skip_through",
        "suffix",
        "topic",
        "watch",
    )

    def __init__(
        self,
        *,
        op_id: str,
        prefix: str,
        send: Send,
        capacity: int,
        channel: str = GRAPHQL_WS,
        suffix: str = "}",
    ) -> None:
        self.op_id = op_id
        self.channel = channel
        self.watch: Watch | None = None
        # Each frame is prefix + the group's payload + suffix (an operation id's envelope).
        self.prefix = prefix
        self.suffix = suffix
        self.send = send
        self.outbox = Outbox(capacity)
        self.position = 0
        self.skip_through = 0
        self.topic: Topic | None = None
        self.group: Group | None = None
        self.busy = False
        self.failure: BaseException | None = None
        self._finishing: asyncio.Task[None] | None = None

    def frame(self, payload: str) -> str:
        return self.prefix + payload + self.suffix

    def offer(self, event: Event, position: int | None, payload: str) -> None:
        """Called by the topic for each live event; never blocks."""
        if position is not None and position <= self.skip_through:
            return
        frame = self.frame(payload)
        outbox = self.outbox
        if not self.busy and not outbox.items and not outbox.lagged and self.failure is None:
            self._send_inline(frame, event, position)
            return
        outbox.push(
            Outgoing(
                frame=frame,
                position=position,
                priority=event.effective_priority,
                coalesce_key=coalesce_key(event),
                event=event,
            )
        )

    def _sent(self, event: Event) -> None:
        if self.watch is not None:
            self.watch.sent(event)

    def _send_inline(self, frame: str, event: Event, position: int | None) -> None:
        sending = self.send(frame)
        assert isinstance(sending, Coroutine)
        try:
            rest = start_inline(sending)
        except Exception as error:  # the socket is gone: the member's loop ends
            self.failure = error
            self.outbox.ready.set()
            return
        if rest is None:
            self._delivered(event, position)
            return
        # It must wait (a full write buffer): finish it in a task; queue what follows.
        self.busy = True
        self._finishing = asyncio.ensure_future(self._finish(rest, event, position))

    def _delivered(self, event: Event, position: int | None) -> None:
        if position is not None:
            self.position = position
        self._sent(event)

    async def _finish(
        self, rest: Coroutine[Any, Any, None], event: Event, position: int | None
    ) -> None:
        """The end of a send that suspended (library_seam.start_inline drives it)."""
        try:
            await rest
            self._delivered(event, position)
        except Exception as error:
            self.failure = error
        finally:
            self.busy = False
            self.outbox.ready.set()

    async def run(
        self,
        hub: Hub,
        feed: Feed,
        *,
        group_key: Hashable,
        render: Render,
        start: Any,
        resumed: bool = False,
    ) -> None:
        """Deliver `start` (a snapshot Event, or a position to resume after), then live events."""
        topic = await hub.acquire(feed)
        self.topic = topic
        self.watch = Watch(self.channel, resumed=resumed)
        try:
            group = self.group = topic.group(group_key, render)
            if isinstance(start, Event):
                await self.send(self.frame(await group.payload(start, cache=False)))
                self._sent(start)
                self.position = feed.position(start) or 0
            else:
                self.position = int(start)
            await self._catch_up_and_join()
            await self._send_live()
        finally:
            self.watch.close()
            self._leave()
            if self._finishing is not None:
                self._finishing.cancel()
                with contextlib.suppress(BaseException):
                    await self._finishing
            await hub.release(topic)

    def _leave(self) -> None:
        group, topic = self.group, self.topic
        if group is None or topic is None:
            return
        group.members.discard(self)
        if not group.members and topic.groups.get(group.key) is group:
            del topic.groups[group.key]

    async def _replay(self) -> None:
        assert self.topic is not None and self.group is not None
        feed = self.topic.feed
        while True:
            events = await feed.read_after(self.position)
            for event in events:
                await self.send(self.frame(await self.group.payload(event)))
                self._sent(event)
                self.position = feed.position(event) or self.position
            if not events:
                return

    async def _catch_up_and_join(self) -> None:
        assert self.topic is not None and self.group is not None
        topic = self.topic
        for _ in range(JOIN_ATTEMPTS):
            await self._replay()
            async with topic.lock:
                if self.position >= topic.position:
                    self._join()
                    return
        # A busy topic: finish the replay holding the lock, so it cannot run ahead.
        async with topic.lock:
            await self._replay()
            self._join()

    def _join(self) -> None:
        assert self.group is not None and self.topic is not None
        self.skip_through = self.position
        self.outbox.reset()
        # The group may have been dropped (and another made) while we caught up.
        self.group = self.topic.groups.setdefault(self.group.key, self.group)
        self.group.members.add(self)

    async def _send_live(self) -> None:
        outbox = self.outbox
        while True:
            if self.failure is not None:
                raise self.failure
            item = None if self.busy else outbox.pop()
            if item is None:
                if outbox.lagged and not self.busy:
                    await self._recover_from_lag()
                    continue
                outbox.ready.clear()
                await outbox.ready.wait()
                continue
            self.busy = True
            try:
                await self.send(item.frame)
            finally:
                self.busy = False
            self._sent(item.event)
            if item.position is not None:
                self.position = item.position

    async def _recover_from_lag(self) -> None:
        assert self.topic is not None and self.group is not None
        self.group.members.discard(self)
        notice = self.topic.feed.lagged(self.position, self.outbox.dropped)
        self.outbox.reset()
        telemetry.recorder.lagged()
        await self.send(self.frame(await self.group.payload(notice, cache=False)))
        self._sent(notice)
        await self._catch_up_and_join()
