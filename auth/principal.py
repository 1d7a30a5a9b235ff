"""Who is calling: the authenticated identity every resolver receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

ADMIN_ROLE = "admin"
ALL_SCOPES = frozenset({"tasks:read", "tasks:write"})
# What an API key may be granted; `worker` is for execution engines (DESIGN.md section 8).
KNOWN_SCOPES = frozenset({"tasks:read", "tasks:write", "worker"})
# Deciding approvals: implied by `tasks:write`, and the one write a task token (APPROVE)
# or an approval link may hold on its own.
DECIDE_SCOPE = "approvals:decide"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    subject: str
    roles: tuple[str, ...] = ()
    scopes: frozenset[str] = field(default=ALL_SCOPES)
    via: str = "jwt"
    expires_at: float | None = None
    session_id: str | None = None
    # The API key's public prefix when `via == "api_key"`: names the key in the audit log.
    key_prefix: str | None = None
    # The API key's row, so open channels can see its revocation (auth/revocation.py).
    key_id: uuid.UUID | None = None
    # A task token (docs/security.md) or an approval link: the one task this credential may
    # touch. resolvers/access.py answers NOT_FOUND for any other, and resolvers/limits.py
    # refuses every operation that spans tasks.
    task_scope: uuid.UUID | None = None
    # The approval link this principal decides through; it names the link in the actor.
    link_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def can(self, scope: str) -> bool:
        if scope == DECIDE_SCOPE and "tasks:write" in self.scopes:
            return True
        return scope in self.scopes

    @property
    def person(self) -> str:
        """The person, whatever credential they used: `user:<subject>`."""
        return f"user:{self.subject}"

    @property
    def actor(self) -> str:
        """Who acted, for decisions and the audit log: the person, or the link they sent."""
        if self.link_id is not None:
            return f"link:{self.link_id} for {self.person}"
        return self.person


# The caller of a route whose own secret authenticates it (an approval link) until that
# secret is checked: no scope, so every use case refuses it.
ANONYMOUS = Principal(user_id=uuid.UUID(int=0), subject="anonymous", scopes=frozenset(), via="none")


def person_of(actor: str) -> str:
    """`link:<id> for user:<s>` → `user:<s>`; any other actor unchanged."""
    _, sep, person = actor.partition(" for ")
    return person if sep and actor.startswith("link:") else actor
