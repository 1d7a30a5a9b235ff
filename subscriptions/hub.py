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
from typing import TYPE_CHECKING

from subscriptions.envelope import Event
from subscriptions.feeds import Feed
from subscriptions.outbox import DEFAULT_CAPACITY

if TYPE_CHECKING:
    from subscriptions.member import Member

logger = logging.getLogger(__name__)

Render = Callable[[Event], "str | Awaitable[str]"]
RENDER_CACHE_SIZE = 512
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
