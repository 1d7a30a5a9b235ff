"""Users: one row per JWT subject, created on first sight."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User


async def get_user_by_subject(session: AsyncSession, subject: str) -> User | None:
    result = await session.execute(select(User).where(User.subject == subject))
    return result.scalar_one_or_none()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def upsert_user(
    session: AsyncSession, *, subject: str, display_name: str, roles: list[Any]
) -> User:
    """The user for `subject`, created (or its roles refreshed) in its own savepoint."""
    user = await get_user_by_subject(session, subject)
    if user is None:
        try:
            async with session.begin_nested():
                user = User(subject=subject, display_name=display_name, roles=roles)
                session.add(user)
        except IntegrityError:
            # Another request created it between our read and our insert.
            user = await get_user_by_subject(session, subject)
            assert user is not None
    elif list(user.roles) != roles or user.display_name != display_name:
        user.roles = roles
        user.display_name = display_name
    return user
