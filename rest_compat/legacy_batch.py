"""`?batchMs=N` on the legacy WebSocket: events within N ms go out as one `batch` frame.

The hub's member hands each event's frame to `Batcher.send`. With N = 0 the frame goes
out at once. Otherwise it waits up to N ms for company and then everything pending goes
out as one `{"type": "batch", "timestamp": …, "data": {"events": [envelope, …]}}` frame.
A `critical` event is never held back: it flushes the batch it ends, at once. While a
flush is being written, the next `send` waits for it, so a slow socket still pushes back
on the member (which coalesces, then says LAGGED) instead of growing a buffer here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from subscriptions.envelope import now_ms

MAX_BATCH_MS = 1000
# Frames are the envelope as `Event.to_wire()` serialises it; this names its priority.
CRITICAL_MARK = '"priority":"critical"'


def batch_frame(frames: list[str]) -> str:
    """The events (already JSON) inside one frame, without parsing them again."""
    return f'{{"type":"batch","timestamp":{now_ms():.0f},"data":{{"events":[{",".join(frames)}]}}}}'


class Batcher:
    def __init__(self, send_text: Callable[[str], Awaitable[None]], window_ms: int) -> None:
        self._send_text = send_text
        self._window = window_ms / 1000
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    async def send(self, frame: str) -> None:
        if self._window == 0:
            await self._send_text(frame)
            return
        if self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)
        self._pending.append(frame)
        # A false positive (the mark inside a step's data) only flushes sooner.
        if CRITICAL_MARK in frame:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._window, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        self._flushing = asyncio.ensure_future(self.flush())
        self._flushing.add_done_callback(_retrieve)

    async def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        frames, self._pending = self._pending, []
        if frames:
            await self._send_text(batch_frame(frames))

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._flushing is not None:
            self._flushing.cancel()


def _retrieve(task: asyncio.Task[None]) -> None:
    # A socket that went away: the session's own loops notice and end.
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
