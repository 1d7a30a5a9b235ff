"""Who am I."""

from __future__ import annotations

from db.models import User
from db.repositories.users import get_user
from resolvers.context import RequestContext
from resolvers.errors import UnauthenticatedError


async def get_me(ctx: RequestContext) -> User:
    async with ctx.sessions() as session:
        user = await get_user(session, ctx.principal.user_id)
    if user is None:
        raise UnauthenticatedError("the user behind this credential no longer exists")
    return user
