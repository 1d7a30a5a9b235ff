"""Shared fan-out: one reader per feed per process, one render per group, the same bytes to all.

A `Topic` follows one feed (a task, or a user's tasks) once per process. Its
subscribers are split into `Group`s by what they may receive in the same form
(the transport decides: same document, same variables except the cursor, same
visibility). Each event is rendered once per group; each member of the group
gets those bytes behind its own operation id, in its own bounded `Outbox`.

A new member first catches up from the database (from its cursor, or from a
snapshot), sending directly at its own pace; then, holding the topic's lock so
no event slips between, it joins the live group. A member that falls behind is
told so (LAGGED), leaves the group, catches up from the database again and
rejoins, so nothing is skipped silently and no other member waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from subscriptions.envelope import Event
from subscriptions.feeds import Feed
from subscriptions.outbox import DEFAULT_CAPACITY, Outbox, Outgoing, coalesce_key

logger = logging.getLogger(__name__)

Render = Callable[[Event], "str | Awaitable[str]"]
Send = Callable[[str], Awaitable[None]]
RENDER_CACHE_SIZE = 512
JOIN_ATTEMPTS = 5
PUMP_RETRY_SECONDS = 1.0


class Group:
    """Subscribers that receive the very same payload for every event."""

    def __init__(self, key: Hashable, render: Render) -> None:
        self.key = key
        self.render = render
        self.members: set[Member] = set()
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def payload(self, event: Event, *, cache: bool = True) -> str:
        cached = self._cache.get(event.id) if cache else None
        if cached is not None:
            return cached
        rendered = self.render(event)
        if inspect.isawaitable(rendered):
            rendered = await rendered
        assert isinstance(rendered, str)
        if cache:
            self._cache[event.id] = rendered
            if len(self._cache) > RENDER_CACHE_SIZE:
                self._cache.popitem(last=False)
        return rendered


class Topic:
    """One feed followed once per process on behalf of every local subscriber."""

    def __init__(self, hub: Hub, feed: Feed) -> None:
        self.hub = hub
        self.feed = feed
        self.groups: dict[Hashable, Group] = {}
        self.position = 0
        self.lock = asyncio.Lock()
        self.interest = 0
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.position = await self.feed.end_position()
        self._pump = asyncio.create_task(self._run(), name=f"agentwire-topic-{self.feed.key}")

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    def group(self, key: Hashable, render: Render) -> Group:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(key, render)
        return group

    async def _run(self) -> None:
        while True:
            try:
                async for event in self.feed.live(self.position):
                    async with self.lock:
                        await self._deliver(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("topic %s failed; resuming from the log", self.feed.key)
            await asyncio.sleep(PUMP_RETRY_SECONDS)

    async def _deliver(self, event: Event) -> None:
        position = self.feed.position(event)
        if position is not None:
            if position <= self.position:
                return
            self.position = position
        for group in list(self.groups.values()):
            if not group.members:
                continue
            try:
                payload = await group.payload(event)
            except Exception:
                logger.exception("rendering %s for group failed", event.type)
                continue
            for member in group.members:
                member.offer(event, position, payload)


class Hub:
    """Every topic of this process, created on first interest and closed on the last."""

    def __init__(self, *, outbox_capacity: int = DEFAULT_CAPACITY) -> None:
        self.topics: dict[str, Topic] = {}
        self._starting: dict[str, asyncio.Future[Topic]] = {}
        self.outbox_capacity = outbox_capacity

    async def acquire(self, feed: Feed) -> Topic:
        topic = self.topics.get(feed.key)
        if topic is None:
            starting = self._starting.get(feed.key)
            if starting is not None:
                topic = await asyncio.shield(starting)
            else:
                future: asyncio.Future[Topic] = asyncio.get_running_loop().create_future()
                self._starting[feed.key] = future
                try:
                    topic = Topic(self, feed)
                    await topic.start()
                    self.topics[feed.key] = topic
                    future.set_result(topic)
                except BaseException as error:
                    future.set_exception(error)
                    future.exception()  # retrieved: the waiters re-raise it
                    raise
                finally:
                    del self._starting[feed.key]
        topic.interest += 1
        return topic

    async def release(self, topic: Topic) -> None:
        topic.interest -= 1
        if topic.interest <= 0 and self.topics.get(topic.feed.key) is topic:
            del self.topics[topic.feed.key]
            await topic.stop()

    async def stop(self) -> None:
        for topic in list(self.topics.values()):
            await topic.stop()
        self.topics.clear()

    @property
    def member_count(self) -> int:
        return sum(len(g.members) for t in self.topics.values() for g in t.groups.values())


class Member:
    """One subscription operation on one socket, fed by a shared topic."""

    __slots__ = ("group", "op_id", "outbox", "position", "prefix", "send", "skip_through", "topic")

    def __init__(self, *, op_id: str, prefix: str, send: Send, capacity: int) -> None:
        self.op_id = op_id
        self.prefix = prefix
        self.send = send
        self.outbox = Outbox(capacity)
        self.position = 0
        self.skip_through = 0
        self.topic: Topic | None = None
        self.group: Group | None = None

    def frame(self, payload: str) -> str:
        return self.prefix + payload + "}"

    def offer(self, event: Event, position: int | None, payload: str) -> None:
        if position is not None and position <= self.skip_through:
            return
        self.outbox.push(
            Outgoing(
                frame=self.frame(payload),
                position=position,
                priority=event.effective_priority,
                coalesce_key=coalesce_key(event),
                event=event,
            )
        )

    async def run(
        self, hub: Hub, feed: Feed, *, group_key: Hashable, render: Render, start: Any
    ) -> None:
        """Deliver `start` (a snapshot Event, or a position to resume after), then live events."""
        topic = await hub.acquire(feed)
        self.topic = topic
        try:
            group = self.group = topic.group(group_key, render)
            if isinstance(start, Event):
                await self.send(self.frame(await group.payload(start, cache=False)))
                self.position = feed.position(start) or 0
            else:
                self.position = int(start)
            await self._catch_up_and_join()
            await self._send_live()
        finally:
            self._leave()
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
            item = outbox.pop()
            if item is None:
                if outbox.lagged:
                    await self._recover_from_lag()
                    continue
                outbox.ready.clear()
                await outbox.ready.wait()
                continue
            await self.send(item.frame)
            if item.position is not None:
                self.position = item.position

    async def _recover_from_lag(self) -> None:
        assert self.topic is not None and self.group is not None
        self.group.members.discard(self)
        notice = self.topic.feed.lagged(self.position, self.outbox.dropped)
        self.outbox.reset()
        await self.send(self.frame(await self.group.payload(notice, cache=False)))
        await self._catch_up_and_join()
