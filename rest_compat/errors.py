"""The one place that maps an exception to an HTTP status, an error category and a code.

Domain errors keep the `code` they carry in GraphQL (`extensions.code`), so a client
sees the same code on both transports; transport-level failures (unknown route,
bad JSON, wrong media type) get codes of their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from auth.authenticate import AuthenticationError, AuthThrottledError
from resolvers.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    RateLimitedError,
    UnauthenticatedError,
    UnavailableError,
    ValidationFailedError,
    unavailable_from,
)

logger = logging.getLogger("agentwire.rest")

Category = Literal["client_error", "validation_error", "auth_error", "rate_limited", "server_error"]
CATEGORIES: tuple[Category, ...] = (
    "client_error",
    "validation_error",
    "auth_error",
    "rate_limited",
    "server_error",
)
WWW_AUTHENTICATE = 'Bearer realm="agentwire"'


class TransportError(Exception):
    """A failure of the HTTP exchange itself, before any resolver ran."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        hint: str,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.headers = headers or {}
        self.details = details or []


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    status: int
    category: Category
    code: str
    message: str
    hint: str
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def _category_of(status: int) -> Category:
    if status == 422:
        return "validation_error"
    if status in (401, 403):
        return "auth_error"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "client_error"


_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFoundError, 404),
    (ValidationFailedError, 422),
    (ConflictError, 409),
    (UnauthenticatedError, 401),
    (ForbiddenError, 403),
    (GoneError, 410),
    (RateLimitedError, 429),
    (UnavailableError, 503),
)


def status_of(error: DomainError) -> int:
    for kind, status in _DOMAIN_STATUS:
        if isinstance(error, kind):
            return status
    return 400


def describe(error: BaseException) -> ErrorInfo:
    """What the client is told about `error`; anything unexpected is logged and masked."""
    if isinstance(error, TransportError):
        return ErrorInfo(
            status=error.status,
            category=_category_of(error.status),
            code=error.code,
            message=error.message,
            hint=error.hint,
            details=error.details,
            headers=error.headers,
        )
    if isinstance(error, DomainError):
        status = status_of(error)
        headers: dict[str, str] = {}
        if isinstance(error, RateLimitedError | UnavailableError):
            headers["Retry-After"] = str(max(1, int(error.retry_after)))
        if status == 401:
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        return ErrorInfo(
            status=status,
            category=_category_of(status),
            code=error.code,
            message=error.message,
            hint=error.hint,
            details=list(error.details),
            headers=headers,
        )
    if isinstance(error, AuthThrottledError):
        return ErrorInfo(
            status=429,
            category=_category_of(429),
            code=RateLimitedError.code,
            message=str(error),
            hint=error.hint,
            headers={"Retry-After": str(error.retry_after)},
        )
    if isinstance(error, AuthenticationError):
        # The authenticator's messages are written to be safe to show.
        return ErrorInfo(
            status=401,
            category="auth_error",
            code=UnauthenticatedError.code,
            message=str(error),
            hint=error.hint,
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    unavailable = unavailable_from(error)
    if unavailable is not None:
        logger.warning("database unreachable: %s", type(error).__name__)
        return describe(unavailable)
    logger.error("unexpected error in a REST call", exc_info=error)
    return ErrorInfo(
        status=500,
        category="server_error",
        code="INTERNAL",
        message="internal error",
        hint="retry later; if it persists, report the requestId",
    )
