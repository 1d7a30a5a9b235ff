"""Who is calling: the authenticated identity every resolver receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

ADMIN_ROLE = "admin"
ALL_SCOPES = frozenset({"tasks:read", "tasks:write"})
# What an API key may be granted; `worker` is for execution engines (DESIGN.md section 8).
KNOWN_SCOPES = frozenset({"tasks:read", "tasks:write", "worker"})


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

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> str:
        return f"user:{self.subject}"
