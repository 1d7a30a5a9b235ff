"""The GraphQL context: one per HTTP request, one per WebSocket connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from auth.principal import Principal
from resolvers.context import RequestContext, Services
from resolvers.errors import UnauthenticatedError
from schema.dataloaders import Loaders


@dataclass
class GraphQLContext:
    services: Services
    loaders: Loaders
    request: Any = None
    response: Any = None
    principal: Principal | None = None
    request_id: str = ""
    connection_params: dict[str, Any] = field(default_factory=dict)

    def resolver_context(self) -> RequestContext:
        """The resolver-layer context; an operation without a principal is refused."""
        if self.principal is None:
            raise UnauthenticatedError("authentication required")
        return RequestContext(
            principal=self.principal, services=self.services, request_id=self.request_id
        )


Info = StrawberryInfo[GraphQLContext, None]
