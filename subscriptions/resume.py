"""Resume for clients that re-send their original subscription after a reconnect.

graphql-ws, Apollo's `GraphQLWsLink` and urql re-send each operation with the same id
and its original variables, so a cursor in the variables is stale after a reconnect.
A client that names itself with `resumeKey` in `connection_init` gets, per (user,
`resumeKey`, operation id), the last position delivered remembered in the database
(`resume_positions`), which every instance shares and a restart keeps. A re-subscribe
with that id then starts from there instead of from its variables.

Positions are read off the live members (`Member.position` is what the socket took),
so delivery itself pays nothing: a flush every `flush_seconds` writes those that moved,
in one statement; a subscription that ends writes its last position at once, so the
next instance to see the client reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import write_session
from db.models import utcnow
from db.repositories.resume import (
    ResumeRow,
    forget_position,
    forget_positions_before,
    save_positions,
)
from db.repositories.resume import stored_position as read_stored_position

logger = logging.getLogger(__name__)

MIN_KEY_CHARS = 16
MAX_KEY_CHARS = 128
MAX_OPERATION_ID_CHARS = 128
# Live rows are re-stamped this often, so an instance that dies keeps them fresh for
# at least the TTL after its last stamp.
TOUCH_EVERY_FLUSHES = 120


def resume_key_problem(value: object) -> str | None:
    """Why a `resumeKey` is unusable, or None when it is fine."""
    if not isinstance(value, str) or not MIN_KEY_CHARS <= len(value) <= MAX_KEY_CHARS:
        return f"resumeKey must be a string of {MIN_KEY_CHARS} to {MAX_KEY_CHARS} characters"
    return None


class Positioned(Protocol):
    """What is tracked: anything whose `position` is the last one its client received."""

    position: int


@dataclass(frozen=True, slots=True)
class ResumeSlot:
    user_id: uuid.UUID
    resume_key: str
    operation_id: str
    target: str

    def row(self, position: int) -> ResumeRow:
        return ResumeRow(self.user_id, self.resume_key, self.operation_id, self.target, position)


class ResumeBook:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_seconds: float,
        flush_seconds: float = 0.25,
    ) -> None:
        self._sessions = sessions
        self._ttl = timedelta(seconds=ttl_seconds)
        self._flush_seconds = flush_seconds
        self._live: dict[ResumeSlot, Positioned] = {}
        self._written: dict[ResumeSlot, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._rounds = 0

    @staticmethod
    def slot(
        user_id: uuid.UUID, resume_key: str, operation_id: str, target: str
    ) -> ResumeSlot | None:
        """None for an operation id too long to store: that operation is not resumed."""
        if len(operation_id) > MAX_OPERATION_ID_CHARS:
            return None
        return ResumeSlot(user_id, resume_key, operation_id, target)

    async def stored_position(self, slot: ResumeSlot) -> int | None:
        async with self._sessions() as session:
            return await read_stored_position(
                session,
                user_id=slot.user_id,
                resume_key=slot.resume_key,
                operation_id=slot.operation_id,
                target=slot.target,
                newer_than=utcnow() - self._ttl,
            )

    def track(self, slot: ResumeSlot, member: Positioned, *, start: int | None) -> None:
        """Follow `member`'s position from now on; `start` is already known to the client."""
        self._live[slot] = member
        if start is not None:
            self._written[slot] = start

    async def release(self, slot: ResumeSlot, member: Positioned, *, completed: bool) -> None:
        """The subscription ended. Lost with its socket: store its last position now, for
        the re-subscribe. Completed by its client: forget it, the client is done with it."""
        if self._live.get(slot) is member:
            del self._live[slot]
        position = member.position
        try:
            if completed and slot not in self._live:
                async with self._lock, write_session(self._sessions) as session:
                    await forget_position(
                        session,
                        user_id=slot.user_id,
                        resume_key=slot.resume_key,
                        operation_id=slot.operation_id,
                    )
            elif not completed and position > 0 and self._written.get(slot) != position:
                await self._save({slot: position})
        except Exception:
            logger.exception("storing the resume position of %s failed", slot.operation_id)
        finally:
            if slot not in self._live:
                self._written.pop(slot, None)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="agentwire-resume-positions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception:
                logger.exception("storing resume positions failed; retrying")

    async def flush(self) -> None:
        self._rounds += 1
        touch = self._rounds % TOUCH_EVERY_FLUSHES == 0
        moved = {
            slot: member.position
            for slot, member in self._live.items()
            if member.position > 0 and (touch or self._written.get(slot) != member.position)
        }
        await self._save(moved)
        if touch:
            async with write_session(self._sessions) as session:
                await forget_positions_before(session, utcnow() - self._ttl)

    async def _save(self, positions: dict[ResumeSlot, int]) -> None:
        if not positions:
            return
        async with self._lock, write_session(self._sessions) as session:
            await save_positions(
                session, [slot.row(position) for slot, position in positions.items()], utcnow()
            )
        self._written.update(positions)
