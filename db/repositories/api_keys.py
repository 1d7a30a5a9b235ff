"""API keys: only a SHA-256 hash is stored; the plain key is shown once, at creation."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiKey, User, utcnow

KEY_PREFIX = "aw"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    row: ApiKey
    plain: str


def hash_key(plain: str) -> str:
    """The stored form: a key is 256 random bits, so a fast hash is enough (no salt needed)."""
    return hashlib.sha256(plain.encode()).hexdigest()


def new_key(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    name: str,
    scopes: list[str],
    roles: list[str] | None = None,
) -> CreatedKey:
    """A new key `aw_<prefix>_<secret>`; the prefix identifies it in lists and logs."""
    prefix = secrets.token_hex(4)
    plain = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        id=uuid.uuid4(),
        user_id=user_id,
        name=name,
        prefix=prefix,
        key_hash=hash_key(plain),
        scopes=sorted(scopes),
        roles=sorted(roles or []),
    )
    session.add(row)
    return CreatedKey(row=row, plain=plain)


async def find_active_key(session: AsyncSession, plain: str) -> tuple[ApiKey, User] | None:
    """The unrevoked key whose hash matches, with its owner."""
    result = await session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_hash == hash_key(plain), ApiKey.revoked_at.is_(None))
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def touch_key(session: AsyncSession, key_id: uuid.UUID, when: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))


async def find_key(session: AsyncSession, id_or_prefix: str) -> ApiKey | None:
    """A key by its id or its prefix (what `apikey list` shows)."""
    conditions = [ApiKey.prefix == id_or_prefix]
    with contextlib.suppress(ValueError):
        conditions.append(ApiKey.id == uuid.UUID(id_or_prefix))
    result = await session.execute(select(ApiKey).where(or_(*conditions)))
    rows = result.scalars().all()
    return rows[0] if len(rows) == 1 else None


async def revoke_key(session: AsyncSession, key: ApiKey) -> bool:
    """Revoke once; False when it already was."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True


async def keys_of_user(session: AsyncSession, user_id: uuid.UUID) -> Sequence[ApiKey]:
    result = await session.execute(
        select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
    )
    return result.scalars().all()
