"""One subscriber's bounded queue of ready-to-send frames, and what happens when it fills.

A subscriber that reads slower than events arrive must not make the server hold
an unbounded backlog, nor slow anyone else down. When the queue is full:

1. `low` frames (step progress, queue updates) are coalesced: of the frames about
   the same step (or the same task's queue position) only the newest is kept;
2. if it is still full, the queue is dropped as a whole and marked `lagged`: the
   subscriber is told so (a LAGGED event naming the last seq it got) and is then
   fed again from the database, from that seq. `critical` frames are therefore
   never lost, only re-read; nothing is skipped silently.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from subscriptions import telemetry
from subscriptions.envelope import Event, EventPriority

DEFAULT_CAPACITY = 256


@dataclass(slots=True)
class Outgoing:
    frame: str
    position: int | None
    priority: EventPriority
    coalesce_key: str | None
    event: Event


def coalesce_key(event: Event) -> str | None:
    """Frames with the same key carry successive values of one thing: the newest wins."""
    if event.effective_priority is not EventPriority.LOW:
        return None
    step = event.data.get("step")
    if isinstance(step, dict) and step.get("id"):
        return f"{event.task_id}:{event.type.value}:{step['id']}"
    return f"{event.task_id}:{event.type.value}"


class Outbox:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.items: deque[Outgoing] = deque()
        self.lagged = False
        # The first event that did not fit: where the LAGGED notice points.
        self.dropped: Event | None = None
        self.ready = asyncio.Event()
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self.items)

    def push(self, item: Outgoing) -> None:
        if self.lagged:
            return  # everything from here on is read back from the database
        if len(self.items) >= self.capacity:
            self._coalesce(item)
        if len(self.items) >= self.capacity:
            self.items.clear()
            self.lagged = True
            self.dropped = item.event
        else:
            self.items.append(item)
        self.ready.set()

    def pop(self) -> Outgoing | None:
        return self.items.popleft() if self.items else None

    def reset(self) -> None:
        self.items.clear()
        self.lagged = False
        self.dropped = None

    def _coalesce(self, incoming: Outgoing) -> None:
        """Keep only the newest low frame per key, counting the incoming one as newest."""
        newest: set[str] = set()
        if incoming.coalesce_key is not None:
            newest.add(incoming.coalesce_key)
        kept: list[Outgoing] = []
        for item in reversed(self.items):
            key = item.coalesce_key
            if key is not None and key in newest:
                continue
            if key is not None:
                newest.add(key)
            kept.append(item)
        if replaced := len(self.items) - len(kept):
            self.coalesced += replaced
            telemetry.recorder.coalesced(replaced)
        kept.reverse()
        self.items = deque(kept)
