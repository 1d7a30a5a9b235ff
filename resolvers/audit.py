"""The security audit trail: denied access and failed authentication.

Security entries are queued and written off the request path by one writer, in batches:
a denial answers as fast as a miss (another user's task must not be told apart from a
missing one by its timing), and a flood of bad credentials or denials becomes a few
batched writes rather than a write per request competing for the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.authenticate import AuthFailure
from db.engine import write_session
from db.repositories.audit import record_audit
from resolvers.context import RequestContext

logger = logging.getLogger("agentwire.audit")

MAX_QUEUED = 1000
MAX_BATCH = 100
# Per client address: enough to see an attack in the log without writing every attempt.
AUTH_FAILURES_AUDITED = parse("30/minute")


@dataclass(frozen=True, slots=True)
class _Queued:
    entry: dict[str, Any]
    # Set for failed authentications: written only while this client is under the limit.
    throttle_client: str | None = None


class AuditTrail:
    """Queues entries for one background writer; `drain()` writes what is still queued."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._throttle = MovingWindowRateLimiter(MemoryStorage())
        self._dropped = 0

    def record(
        self,
        *,
        actor: str,
        action: str,
        target: str | None,
        details: dict[str, Any],
        request_id: str | None,
    ) -> None:
        entry = {
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
            "request_id": request_id,
        }
        self._enqueue(_Queued(entry))

    def auth_failure(self, failure: AuthFailure) -> None:
        """The `Authenticator` hook: audit a failed authentication, throttled per client."""
        request = failure.request
        client = request.client if request else ""
        entry = {
            "actor": "anonymous",
            "action": "auth.failed",
            "target": f"route:{request.route}" if request and request.route else None,
            "details": {
                "reason": failure.reason,
                "credential": failure.credential,
                "client": client,
            },
            "request_id": request.request_id if request else None,
        }
        self._enqueue(_Queued(entry, throttle_client=client or "unknown"))

    def _enqueue(self, item: _Queued) -> None:
        if self._queue.qsize() >= MAX_QUEUED:
            self._dropped += 1
            if self._dropped % 100 == 1:
                logger.warning("the audit queue is full; %d entries dropped", self._dropped)
            return
        self._queue.put_nowait(item)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_forever())

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception:
                logger.exception("could not write %d audit entries", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Queued]) -> None:
        entries = []
        for item in batch:
            client = item.throttle_client
            if client is None or await self._throttle.hit(AUTH_FAILURES_AUDITED, "auth", client):
                entries.append(item.entry)
        if not entries:
            return
        async with write_session(self._sessions) as session:
            for entry in entries:
                record_audit(session, **entry)

    async def drain(self) -> None:
        """Write everything queued, then stop the writer (at shutdown)."""
        if self._writer is None:
            return
        await self._queue.join()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer


def record_denied(
    ctx: RequestContext, *, action: str, target: str | None, reason: str, **details: Any
) -> None:
    """Audit an access the caller was refused (missing scope, another user's task)."""
    trail = ctx.services.audit
    if trail is None:
        return
    principal = ctx.principal
    trail.record(
        actor=principal.actor,
        action="access.denied",
        target=target,
        details={
            "attempted": action,
            "reason": reason,
            "via": principal.via,
            **({"apiKey": principal.key_prefix} if principal.key_prefix else {}),
            **details,
        },
        request_id=ctx.request_id or None,
    )
