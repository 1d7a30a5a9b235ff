"""The security controls in front of the routes, assembled from settings (docs/security.md)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from strawberry.http.websocket_origin import normalize_origin

from resolvers.limits import RateLimiter
from resolvers.socket_budget import SocketBudget
from server.http_guard import HttpGuardMiddleware
from server.settings import Settings
from server.ws_guard import WebSocketGuardMiddleware

# What a browser page on an allowed origin may send and read.
CORS_ALLOW_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "x-api-key",
    "x-request-id",
    "idempotency-key",
    "last-event-id",
)
CORS_EXPOSE_HEADERS = (
    "x-request-id",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
)


def rate_limits(settings: Settings) -> dict[str, str]:
    """The limit of each operation class, in the `limits` notation."""
    return {
        "read": settings.rate_limit_read,
        "write": settings.rate_limit_write,
        "subscribe": settings.rate_limit_subscribe,
        "ws_message": settings.rate_limit_ws_message,
        "auth_failure": settings.rate_limit_auth_failure,
    }


def checked_origins(origins: list[str]) -> list[str]:
    """The allow-list, each entry exactly as browsers send `Origin`; refuse anything else."""
    for origin in origins:
        if origin != "*" and normalize_origin(origin) != origin:
            raise ValueError(
                f"AGENTWIRE_CORS_ORIGINS: {origin!r} is not an origin as browsers send it; "
                "write scheme://host[:port] in lower case, without a path, e.g. "
                "https://app.example.com"
            )
    return origins


def security_middleware(settings: Settings, limiter: RateLimiter) -> list[Middleware]:
    """CORS outermost, so even a 413 or 429 is readable by an allowed page."""
    origins = checked_origins(settings.cors_origin_list)
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=list(CORS_ALLOW_HEADERS),
            expose_headers=list(CORS_EXPOSE_HEADERS),
            # Credentials only ever go with an explicit list, never with "*".
            allow_credentials=bool(origins) and "*" not in origins,
            max_age=600,
        ),
        Middleware(HttpGuardMiddleware, max_body_bytes=settings.max_body_bytes),
        Middleware(
            WebSocketGuardMiddleware,
            origins=origins,
            limiter=limiter,
            budget=SocketBudget(settings.ws_max_connections_per_user),
        ),
    ]
