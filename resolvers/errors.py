"""The domain errors: each has a stable `code`, a safe message and a `hint`.

The transports map them in one place each: GraphQL to `extensions.code`, REST to
the error envelope and its status.
"""

from __future__ import annotations

from typing import Any


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


class RateLimitedError(DomainError):
    code = "RATE_LIMITED"
    hint = "wait before retrying"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, hint=f"retry after {retry_after} seconds")
        self.retry_after = retry_after


class UnavailableError(DomainError):
    code = "UNAVAILABLE"
    hint = "the service is degraded; retry shortly"
