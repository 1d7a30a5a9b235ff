"""The audit trail: who did what to which object, and when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEntry


def record_audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor, action=action, target=target, details=details or {}, request_id=request_id
    )
    session.add(entry)
    return entry


async def audit_for_target(
    session: AsyncSession, target: str, *, limit: int = 200
) -> Sequence[AuditEntry]:
    result = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.target == target)
        .order_by(AuditEntry.created_at)
        .limit(limit)
    )
    return result.scalars().all()
