"""Credentials of open channels: a revoked session or API key, or an expired token, ends them.

A socket or an event stream authenticates once, when it opens, and may stay open for
hours; `agentwire revoke-session`, `agentwire apikey revoke` and a token's `exp` must still
reach it. Every open channel registers its principal and a way to end it; every
`interval` seconds one sweep reads, for all of them together, which sessions and keys
are no longer good (two queries whatever the number of channels) and ends the channels
that rest on them, with the reason. A write on a socket asks `problem()` first, which
reads the database at most once per credential per `cache_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.principal import Principal
from db.models import ApiKey, ApiSession, utcnow

logger = logging.getLogger("agentwire.security")

EXPIRED = "the token expired; reconnect with a fresh one"
SESSION_REVOKED = "the token's session was revoked or has expired; sign in again"
KEY_REVOKED = "the API key was revoked"
# An IN list stays well under every driver's parameter limit.
CHUNK = 1000

End = Callable[[str], Awaitable[None]]


def _session_uuid(principal: Principal) -> uuid.UUID | None:
    if principal.session_id is None:
        return None
    try:
        return uuid.UUID(principal.session_id)
    except ValueError:
        return None


@dataclass(eq=False)
class Channel:
    """One open socket or stream: what it was opened with, and how to end it."""

    principal: Principal
    end: End
    ended: bool = field(default=False)


class CredentialWatch:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval_seconds: float,
        leeway_seconds: float,
        cache_seconds: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._interval = interval_seconds
        self._leeway = leeway_seconds
        self._cache_seconds = cache_seconds
        self._channels: set[Channel] = set()
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ending: set[asyncio.Task[None]] = set()

    # channels

    def open(self, principal: Principal, end: End) -> Channel:
        channel = Channel(principal, end)
        self._channels.add(channel)
        return channel

    def close(self, channel: Channel) -> None:
        self._channels.discard(channel)

    @contextlib.contextmanager
    def watching(self, principal: Principal, end: End) -> Iterator[Channel]:
        channel = self.open(principal, end)
        try:
            yield channel
        finally:
            self.close(channel)

    @property
    def channel_count(self) -> int:
        return len(self._channels)

    # checks

    def expired(self, principal: Principal, now: float | None = None) -> bool:
        if principal.expires_at is None:
            return False
        return (now or time.time()) > principal.expires_at + self._leeway

    async def problem(self, principal: Principal) -> str | None:
        """Why `principal` may no longer act (expired, session or key revoked), or None."""
        if self.expired(principal):
            return EXPIRED
        key = self._cache_key(principal)
        if key is None:
            return None
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        bad_sessions, bad_keys = await self._revoked([principal])
        answer = self._reason(principal, bad_sessions, bad_keys)
        self._cache[key] = (now, answer)
        if len(self._cache) > 10 * CHUNK:
            self._cache.clear()
        return answer

    @staticmethod
    def _cache_key(principal: Principal) -> tuple[str, str] | None:
        if principal.key_id is not None:
            return ("key", str(principal.key_id))
        if principal.session_id is not None:
            return ("session", principal.session_id)
        return None

    @staticmethod
    def _reason(
        principal: Principal, bad_sessions: set[uuid.UUID], bad_keys: set[uuid.UUID]
    ) -> str | None:
        if principal.key_id is not None and principal.key_id in bad_keys:
            return KEY_REVOKED
        session_id = _session_uuid(principal)
        if principal.session_id is not None and (session_id is None or session_id in bad_sessions):
            return SESSION_REVOKED
        return None

    async def _revoked(
        self, principals: Iterable[Principal]
    ) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
        """Of the sessions and keys these principals rest on, the ones no longer good."""
        principals = list(principals)
        session_ids = {sid for p in principals if (sid := _session_uuid(p)) is not None}
        key_ids = {p.key_id for p in principals if p.key_id is not None}
        if not session_ids and not key_ids:
            return set(), set()
        good_sessions: set[uuid.UUID] = set()
        good_keys: set[uuid.UUID] = set()
        now = utcnow()
        async with self._sessions() as session:
            for chunk in _chunks(session_ids):
                rows = await session.execute(
                    select(ApiSession.id).where(
                        ApiSession.id.in_(chunk),
                        ApiSession.revoked_at.is_(None),
                        ApiSession.expires_at > now,
                    )
                )
                good_sessions.update(rows.scalars())
            for chunk in _chunks(key_ids):
                rows = await session.execute(
                    select(ApiKey.id).where(ApiKey.id.in_(chunk), ApiKey.revoked_at.is_(None))
                )
                good_keys.update(rows.scalars())
        return session_ids - good_sessions, key_ids - good_keys

    # the sweep

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="agentwire-credential-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep()
            except Exception:
                logger.exception("checking the credentials of open channels failed; retrying")

    async def sweep(self) -> None:
        """End every open channel whose credential has expired or was revoked."""
        channels = [c for c in self._channels if not c.ended]
        now = time.time()
        bad_sessions, bad_keys = await self._revoked(c.principal for c in channels)
        for channel in channels:
            reason = (
                EXPIRED
                if self.expired(channel.principal, now)
                else self._reason(channel.principal, bad_sessions, bad_keys)
            )
            if reason is not None:
                self._end(channel, reason)

    def _end(self, channel: Channel, reason: str) -> None:
        channel.ended = True
        self._channels.discard(channel)
        logger.info("ending an open channel of %s: %s", channel.principal.actor, reason)
        task = asyncio.ensure_future(channel.end(reason))
        self._ending.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._ending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("ending a channel failed", exc_info=task.exception())


def _chunks(values: set[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    ordered = list(values)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]
