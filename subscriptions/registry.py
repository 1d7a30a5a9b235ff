"""The live connection registry (`websocket_connections`): written in batches, swept when stale.

Sockets come and go far more often than the table needs to know in real time,
so changes are collected in memory and flushed together every interval: new
connections, the tasks each watches, one UPDATE of `last_heartbeat` for every
connection that answered since the last flush, and the closed ones. Rows whose
heartbeat is older than `stale_after` (an instance that crashed, for example)
are swept by whichever instance flushes next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import write_session
from db.models import WebSocketConnection, utcnow

logger = logging.getLogger(__name__)


@dataclass
class _Live:
    user_id: uuid.UUID | None
    task_ids: set[str] = field(default_factory=set)
    stored: bool = False
    dirty: bool = True
    # Bumped on every change, so a change made while a flush is writing is not lost.
    version: int = 0


class ConnectionRegistry:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        flush_seconds: float,
        stale_after_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._flush_seconds = flush_seconds
        self._stale_after = timedelta(seconds=stale_after_seconds)
        self._live: dict[str, _Live] = {}
        self._beaten: set[str] = set()
        self._closed: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def opened(self, connection_id: str, user_id: uuid.UUID | None) -> None:
        self._live[connection_id] = _Live(user_id=user_id)

    def watching(self, connection_id: str, task_id: str, *, watching: bool = True) -> None:
        live = self._live.get(connection_id)
        if live is None:
            return
        if watching:
            live.task_ids.add(task_id)
        else:
            live.task_ids.discard(task_id)
        live.dirty = True
        live.version += 1

    def beat(self, connection_id: str) -> None:
        if connection_id in self._live:
            self._beaten.add(connection_id)

    def closed(self, connection_id: str) -> None:
        live = self._live.pop(connection_id, None)
        self._beaten.discard(connection_id)
        if live is not None and live.stored:
            self._closed.add(connection_id)

    def task_ids(self, connection_id: str) -> set[str]:
        live = self._live.get(connection_id)
        return set(live.task_ids) if live is not None else set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="agentwire-ws-registry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for connection_id in list(self._live):
            self.closed(connection_id)
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception:
                logger.exception("flushing the connection registry failed; retrying")

    async def flush(self) -> None:
        """Write every change since the last flush in one transaction, then sweep."""
        now = utcnow()
        new = [(cid, live) for cid, live in self._live.items() if not live.stored]
        changed = [(cid, live) for cid, live in self._live.items() if live.stored and live.dirty]
        beaten = list(self._beaten - {cid for cid, _ in new})
        closed = list(self._closed)
        versions = {cid: live.version for cid, live in new + changed}
        async with write_session(self._sessions) as session:
            for cid, live in new:
                session.add(
                    WebSocketConnection(
                        user_id=live.user_id,
                        connection_id=cid,
                        task_ids=sorted(live.task_ids),
                        last_heartbeat=now,
                        created_at=now,
                    )
                )
            for cid, live in changed:
                await session.execute(
                    update(WebSocketConnection)
                    .where(WebSocketConnection.connection_id == cid)
                    .values(task_ids=sorted(live.task_ids))
                )
            if beaten:
                await session.execute(
                    update(WebSocketConnection)
                    .where(WebSocketConnection.connection_id.in_(beaten))
                    .values(last_heartbeat=now)
                )
            if closed:
                await session.execute(
                    delete(WebSocketConnection).where(WebSocketConnection.connection_id.in_(closed))
                )
            await session.execute(
                delete(WebSocketConnection).where(
                    WebSocketConnection.last_heartbeat < now - self._stale_after
                )
            )
        for cid, live in new + changed:
            live.stored = True
            live.dirty = live.version != versions[cid]
        self._beaten.difference_update(beaten)
        self._closed.difference_update(closed)
