"""The security audit trail: denied access and failed authentication.

Security entries are written off the request path, so a denial answers as fast as a
miss (another user's task must not be told apart from a missing one by its timing),
and a flood of bad credentials cannot turn into a flood of synchronous writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.authenticate import AuthFailure
from db.repositories.audit import record_audit
from resolvers.context import RequestContext

logger = logging.getLogger("agentwire.audit")

MAX_PENDING_WRITES = 1000
# Per client address: enough to see an attack in the log without writing every attempt.
AUTH_FAILURES_AUDITED = parse("30/minute")


class AuditTrail:
    """Writes entries in the background; `drain()` waits for those still in flight."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._pending: set[asyncio.Task[None]] = set()
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
        self._track(
            self._write(
                actor=actor, action=action, target=target, details=details, request_id=request_id
            )
        )

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background (`drain()` waits for it), or drop it when backed up."""
        if len(self._pending) >= MAX_PENDING_WRITES:
            work.close()
            self._dropped += 1
            if self._dropped % 100 == 1:
                logger.warning("audit writes are backed up; %d entries dropped", self._dropped)
            return
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, **entry: Any) -> None:
        try:
            async with self._sessions() as session, session.begin():
                record_audit(session, **entry)
        except Exception:
            logger.exception("could not write audit entry %s", entry.get("action"))

    def auth_failure(self, failure: AuthFailure) -> None:
        """The `Authenticator` hook: audit a failed authentication, throttled per client."""
        request = failure.request
        client = request.client if request else ""
        self._track(self._audit_failure(failure, client))

    async def _audit_failure(self, failure: AuthFailure, client: str) -> None:
        if not await self._throttle.hit(AUTH_FAILURES_AUDITED, "auth", client or "unknown"):
            return
        request = failure.request
        self.record(
            actor="anonymous",
            action="auth.failed",
            target=f"route:{request.route}" if request and request.route else None,
            details={"reason": failure.reason, "credential": failure.credential, "client": client},
            request_id=request.request_id if request else None,
        )

    async def drain(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


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
