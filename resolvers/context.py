"""The typed request context every resolver takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.principal import Principal
from auth.revocation import CredentialWatch
from auth.tokens import TokenConfig
from engine.core import Engine
from subscriptions.bus import EventBus
from subscriptions.hub import Hub

if TYPE_CHECKING:  # imported for annotations only: both modules import this one
    from resolvers.audit import AuditTrail
    from resolvers.limits import RateLimiter


@dataclass(frozen=True)
class Services:
    """What lives for the whole process: shared by every request."""

    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    engine: Engine
    # None leaves reads and writes unlimited and denials unaudited (tools, unit tests).
    limiter: RateLimiter | None = None
    audit: AuditTrail | None = None
    # Ends open sockets and streams whose credential expires or is revoked (auth/revocation.py).
    credentials: CredentialWatch | None = None
    # The process's fan-out: every live channel's subscribers (subscriptions/hub.py).
    hub: Hub = field(default_factory=Hub)
    # Signs task tokens (resolvers/task_tokens.py); None where none can be issued.
    tokens: TokenConfig | None = None


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    services: Services
    request_id: str = field(default="")

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.services.sessions

    @property
    def engine(self) -> Engine:
        return self.services.engine
