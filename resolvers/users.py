"""Who am I."""

from __future__ import annotations

from db.models import User
from db.repositories.users import get_user
from resolvers.context import RequestContext
from resolvers.errors import UnauthenticatedError
from resolvers.limits import throttle


async def get_me(ctx: RequestContext) -> User:
    """The caller's user row; any credential may ask (no scope), but it counts as a read."""
    await throttle(ctx, "read")
    async with ctx.sessions() as session:
        user = await get_user(session, ctx.principal.user_id)
    if user is None:
        raise UnauthenticatedError("the user behind this credential no longer exists")
    return user
