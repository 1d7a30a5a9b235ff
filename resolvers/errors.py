"""The domain errors: each has a stable `code`, a safe message and a `hint`.

The transports map them in one place each: GraphQL to `extensions.code`, REST to
the error envelope and its status.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc


class DomainError(Exception):
    code = "ERROR"
    hint = "see the documentation"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        self.field = field
        self.details = details or ([{"field": field, "message": message}] if field else [])

    @property
    def extensions(self) -> dict[str, Any]:
        """What GraphQL puts in `errors[].extensions` (graphql-core reads this attribute)."""
        extensions: dict[str, Any] = {"code": self.code, "hint": self.hint}
        if self.field:
            extensions["field"] = self.field
        return extensions


class NotFoundError(DomainError):
    code = "NOT_FOUND"
    hint = "check the id; you can only see your own tasks"


class ValidationFailedError(DomainError):
    code = "VALIDATION"
    hint = "fix the named field and send the request again"


class ConflictError(DomainError):
    code = "CONFLICT"
    hint = "read the task again to see its current state"


class UnauthenticatedError(DomainError):
    code = "UNAUTHENTICATED"
    hint = "send a valid token: 'Authorization: Bearer <token>'"


class ForbiddenError(DomainError):
    code = "FORBIDDEN"
    hint = "ask for a credential with the needed scope or role"


class GoneError(DomainError):
    """Something that existed and can no longer be used: a used, expired or revoked link."""

    code = "GONE"
    hint = "ask the person who sent it for a new link"


class RateLimitedError(DomainError):
    code = "RATE_LIMITED"
    hint = "wait before retrying"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, hint=f"retry after {retry_after} seconds")
        self.retry_after = retry_after


class UnavailableError(DomainError):
    code = "UNAVAILABLE"
    hint = "the service is degraded; retry shortly"

    def __init__(self, message: str, *, retry_after: int = 5, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


# Errors that mean the database (or the network to it) did not answer: a connection that
# failed or was lost, a connect/command/pool timeout (TimeoutError is an OSError).
_UNREACHABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    ConnectionError,
    OSError,
)
# PostgreSQL's query_canceled: the server's statement_timeout ended the statement.
_QUERY_CANCELED = "57014"
DATABASE_UNREACHABLE = "the database is unreachable"


def _cancelled_by_the_server(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(4):  # the driver's error sits a few causes down
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) == _QUERY_CANCELED:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def unavailable_from(error: BaseException) -> UnavailableError | None:
    """The `UNAVAILABLE` error that `error` means, when it means the database did not
    answer (every transport maps it to 503 with Retry-After); None for anything else."""
    if isinstance(error, UnavailableError):
        return error
    if isinstance(error, _UNREACHABLE) or _cancelled_by_the_server(error):
        return UnavailableError(DATABASE_UNREACHABLE)
    return None
