"""API sessions: a JWT with a `sid` claim is only good while its session row is."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiSession, utcnow


def add_session(
    session: AsyncSession,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    token: str,
    expires_at: datetime,
) -> ApiSession:
    """Record a session; only a hash of the token it was issued with is kept."""
    row = ApiSession(
        id=session_id,
        user_id=user_id,
        session_token=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=expires_at,
    )
    session.add(row)
    return row


async def get_session(session: AsyncSession, session_id: uuid.UUID) -> ApiSession | None:
    return await session.get(ApiSession, session_id)


def session_problem(row: ApiSession | None, *, user_id: uuid.UUID) -> str | None:
    """Why a token naming this session must be refused, or None when it may pass."""
    if row is None or row.user_id != user_id:
        return "the token's session is unknown; sign in again"
    if row.revoked_at is not None:
        return "the token's session was revoked; sign in again"
    if row.expires_at <= utcnow():
        return "the token's session has expired; sign in again"
    return None


async def revoke_session(session: AsyncSession, row: ApiSession) -> bool:
    """Revoke once; False when it already was."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
