"""Approval links, found by the sha256 of their token, and a task's pending requests."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApprovalLink, ApprovalRequest
from domain.vocabulary import ApprovalStatus


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def pending_approvals_of_task(
    session: AsyncSession, task_id: uuid.UUID
) -> Sequence[ApprovalRequest]:
    result = await session.execute(
        select(ApprovalRequest).where(
            ApprovalRequest.task_id == task_id, ApprovalRequest.status == ApprovalStatus.PENDING
        )
    )
    return result.scalars().all()


async def find_link(session: AsyncSession, token: str) -> ApprovalLink | None:
    result = await session.execute(
        select(ApprovalLink).where(ApprovalLink.token_hash == token_hash(token))
    )
    return result.scalar_one_or_none()


async def get_link(session: AsyncSession, link_id: uuid.UUID) -> ApprovalLink | None:
    return await session.get(ApprovalLink, link_id)


async def use_link(session: AsyncSession, link_id: uuid.UUID, now: datetime) -> bool:
    """Mark the link used, atomically: False when it was used, revoked or expired first
    (two requests racing on one link: exactly one wins)."""
    result = await session.execute(
        update(ApprovalLink)
        .where(
            ApprovalLink.id == link_id,
            ApprovalLink.used_at.is_(None),
            ApprovalLink.revoked_at.is_(None),
            ApprovalLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
