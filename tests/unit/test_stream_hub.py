"""The shared fan-out hub with an in-memory log: one render per group, catch-up then live,
and a slow subscriber that lags, is told so, and resumes from the log without a gap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from subscriptions.envelope import Event, EventType
from subscriptions.hub import Hub
from subscriptions.member import Member
from subscriptions.snapshot import lagged_event


class MemoryFeed:
    """A real feed over a list: the log is the truth, `append` also notifies live readers."""

    key = "task:t"

    def __init__(self) -> None:
        self.log: list[Event] = []
        self._listeners: list[asyncio.Queue[Event]] = []

    def append(self, kind: EventType) -> Event:
        event = Event(
            task_id="t", user_id="u", type=kind, data={"taskId": "t"}, seq=len(self.log) + 1
        )
        self.log.append(event)
        for queue in self._listeners:
            queue.put_nowait(event)
        return event

    def position(self, event: Event) -> int | None:
        return event.seq

    async def end_position(self) -> int:
        return len(self.log)

    async def read_after(self, position: int, limit: int = 500) -> list[Event]:
        return self.log[position : position + limit]

    async def live(self, after: int) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._listeners.append(queue)
        for event in self.log[after:]:
            yield event
        while True:
            event = await queue.get()
            if event.seq is not None and event.seq > after:
                yield event

    def lagged(self, resume_after: int, dropped: Event | None) -> Event:
        return lagged_event(task_id="t", user_id="u", resume_after=resume_after, cursor=None)


class Socket:
    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.frames: list[dict[str, object]] = []
        self.gate = gate

    async def send(self, frame: str) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.frames.append(json.loads(frame))

    def seqs(self) -> list[object]:
        return [f["payload"]["seq"] for f in self.frames]  # type: ignore[index]

    def types(self) -> list[object]:
        return [f["payload"]["type"] for f in self.frames]  # type: ignore[index]


renders: list[str] = []


def render(event: Event) -> str:
    renders.append(event.id)
    return json.dumps(
        {"seq": event.seq, "type": event.type.value, "resume": event.data.get("resumeAfter")}
    )


async def settle(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(5):
        while True:
            if condition():
                return
            await asyncio.sleep(0.005)


def member(op_id: str, socket: Socket, capacity: int = 8) -> Member:
    return Member(
        op_id=op_id, prefix=f'{{"id":"{op_id}","payload":', send=socket.send, capacity=capacity
    )


async def test_members_catch_up_then_share_one_render_per_event() -> None:
    feed, hub = MemoryFeed(), Hub()
    for _ in range(3):
        feed.append(EventType.STEP_COMPLETE)
    one, two = Socket(), Socket()
    runs = [
        asyncio.create_task(member(op, s).run(hub, feed, group_key="g", render=render, start=0))
        for op, s in (("1", one), ("2", two))
    ]
    await settle(lambda: hub.member_count == 2)
    renders.clear()
    for _ in range(5):
        feed.append(EventType.STEP_PROGRESS)
    await settle(lambda: len(one.frames) == 8 and len(two.frames) == 8)
    assert one.seqs() == two.seqs() == list(range(1, 9))
    assert len(renders) == 5  # once per event, not once per subscriber
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
    assert hub.topics == {}


async def test_slow_member_is_told_it_lagged_and_resumes_from_the_log() -> None:
    feed, hub = MemoryFeed(), Hub()
    gate = asyncio.Event()
    fast, slow = Socket(), Socket(gate)
    runs = [
        asyncio.create_task(
            member("f", fast).run(hub, feed, group_key="g", render=render, start=0)
        ),
        asyncio.create_task(
            member("s", slow, capacity=4).run(hub, feed, group_key="g", render=render, start=0)
        ),
    ]
    await settle(lambda: hub.member_count == 2)
    kinds = [EventType.STATUS_CHANGE, EventType.APPROVAL_REQUEST, EventType.STEP_COMPLETE] * 6
    for kind in kinds:
        feed.append(kind)
        await asyncio.sleep(0)
    await settle(lambda: len(fast.frames) == len(kinds))
    assert fast.seqs() == list(range(1, len(kinds) + 1))
    gate.set()
    await settle(lambda: slow.frames and slow.seqs()[-1] == len(kinds))
    types = slow.types()
    assert "lagged" in types
    at = types.index("lagged")
    resume = slow.frames[at]["payload"]["resume"]  # type: ignore[index]
    before, after = slow.seqs()[:at], slow.seqs()[at + 1 :]
    # nothing skipped: what came before, then everything after the resume point, once
    assert before == list(range(1, resume + 1))
    assert after == list(range(resume + 1, len(kinds) + 1))
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
