"""One documented example per error status, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any

_REQUEST_ID = "5c0d0c5e8f0f4a3e9d1f2a6b7c8d9e0f"


def _example(
    description: str, code: str, category: str, message: str, hint: str, **extra: Any
) -> dict[str, Any]:
    return {
        "description": description,
        "error": {
            "code": code,
            "category": category,
            "message": message,
            "hint": hint,
            "details": extra.get("details", []),
            "requestId": _REQUEST_ID,
        },
    }


ERROR_EXAMPLES: dict[int, dict[str, Any]] = {
    400: _example(
        "The body is not valid JSON.",
        "MALFORMED_JSON",
        "client_error",
        "the request body is not valid JSON: unexpected character at position 9",
        "check the JSON syntax of the body",
    ),
    401: _example(
        "No credential, or one that does not verify.",
        "UNAUTHENTICATED",
        "auth_error",
        "authentication required: send 'Authorization: Bearer <token>'",
        "send a valid token: 'Authorization: Bearer <token>'",
    ),
    403: _example(
        "The credential lacks a needed scope.",
        "FORBIDDEN",
        "auth_error",
        "this credential lacks the 'tasks:write' scope",
        "use a token or API key that has the 'tasks:write' scope",
    ),
    404: _example(
        "No such task, or not yours (the two are indistinguishable), or no such route.",
        "NOT_FOUND",
        "client_error",
        "task 3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b was not found",
        "check the id; you can only see your own tasks",
    ),
    405: _example(
        "The route exists but not with this method.",
        "METHOD_NOT_ALLOWED",
        "client_error",
        "PUT is not allowed on /api/agent; allowed: POST",
        "use one of the methods in the Allow header",
    ),
    409: _example(
        "The task's state does not allow it.",
        "CONFLICT",
        "client_error",
        "the task is already completed and cannot be cancelled",
        "only pending, running or awaiting-approval tasks can be cancelled",
    ),
    410: _example(
        "The approval link was used, has expired or was revoked.",
        "GONE",
        "client_error",
        "this approval link was already used, at 2026-12-02T16:00:00+00:00",
        "ask the person who sent it for a new link",
    ),
    413: _example(
        "The body is too large.",
        "PAYLOAD_TOO_LARGE",
        "client_error",
        "the request body is larger than 262144 bytes",
        "send a smaller body; context is limited to 64 KiB",
    ),
    415: _example(
        "The body is not JSON.",
        "UNSUPPORTED_MEDIA_TYPE",
        "client_error",
        "the request body must be JSON",
        "send 'Content-Type: application/json'",
    ),
    422: _example(
        "A field is missing or invalid; `details` names each.",
        "VALIDATION",
        "validation_error",
        "limit must be from 1 to 100",
        "fix the named field and send the request again",
        details=[{"field": "limit", "message": "limit must be from 1 to 100"}],
    ),
    429: _example(
        "Too many requests; wait Retry-After seconds.",
        "RATE_LIMITED",
        "rate_limited",
        "rate limit exceeded: 120 per 1 minute",
        "retry after 12 seconds",
    ),
    500: _example(
        "An unexpected error; the details are logged, never returned.",
        "INTERNAL",
        "server_error",
        "internal error",
        "retry later; if it persists, report the requestId",
    ),
    503: _example(
        "The database is unreachable.",
        "UNAVAILABLE",
        "server_error",
        "the database is unreachable",
        "the service is degraded; retry shortly",
    ),
}
