"""/readyz's database check: an answer within a second, whatever the database does.

Cancelling a statement that hangs is not instant (the driver and the pool clean up, and
against a partitioned server that can take as long as a connect timeout), so the check
runs as its own task: /readyz waits for it at most `within` seconds and answers 503 if it
has not finished, while the task ends on its own (by the command timeout) in the
background. One check at a time: probes that arrive meanwhile wait on the same one, so a
load balancer polling a hung database cannot pile up connections.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger("agentwire")


class DatabaseProbe:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._check: asyncio.Task[None] | None = None

    async def ready(self, *, within: float) -> bool:
        """Whether `SELECT 1` succeeded within `within` seconds."""
        check = self._check
        if check is None or check.done():
            check = self._check = asyncio.create_task(self._select_one(), name="agentwire-readyz")
            check.add_done_callback(_log_failure)
        done, _ = await asyncio.wait({check}, timeout=within)
        return bool(done) and not check.cancelled() and check.exception() is None

    async def _select_one(self) -> None:
        async with self._sessions() as session:
            await session.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._check is not None and not self._check.done():
            self._check.cancel()
            await asyncio.gather(self._check, return_exceptions=True)


def _log_failure(check: asyncio.Task[None]) -> None:
    if not check.cancelled() and check.exception() is not None:
        logger.warning("readiness check failed: database unreachable (%r)", check.exception())
