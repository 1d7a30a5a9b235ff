"""Who am I."""

from __future__ import annotations

from dataclasses import dataclass

from auth.principal import ADMIN_ROLE
from db.models import User
from db.repositories.users import get_user
from resolvers.context import RequestContext
from resolvers.errors import UnauthenticatedError
from resolvers.limits import throttle


@dataclass(frozen=True, slots=True)
class Me:
    """The caller's user row and the roles of the credential in hand (not the row's)."""

    user: User
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


async def get_me(ctx: RequestContext) -> Me:
    """The caller as this credential sees it; any credential may ask (no scope), but it
    counts as a read. The roles are the credential's: the row records the last token seen,
    so reading them from it would report roles another credential carried."""
    await throttle(ctx, "read")
    async with ctx.sessions() as session:
        user = await get_user(session, ctx.principal.user_id)
    if user is None:
        raise UnauthenticatedError("the user behind this credential no longer exists")
    return Me(user=user, roles=ctx.principal.roles)
