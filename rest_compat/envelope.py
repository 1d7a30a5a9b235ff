"""The `{success, data}` / `{success, error}` envelope of every REST response."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import Response

from rest_compat.errors import ErrorInfo, describe

JSON_MEDIA_TYPE = "application/json"


def dumps(value: Any) -> bytes:
    """JSON bytes; integers beyond 64 bits (PostgreSQL's JSONB hands them back exactly, and
    orjson refuses them) fall back to the standard library, which writes any integer."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def request_id_of(connection: HTTPConnection) -> str:
    """The id RequestIdMiddleware gave this request (also in the X-Request-ID header)."""
    return str(connection.scope.get("state", {}).get("request_id", ""))


def success(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = dumps({"success": True, "data": data})
    return Response(body, status_code=status, media_type=JSON_MEDIA_TYPE, headers=headers)


def error_payload(info: ErrorInfo, request_id: str) -> dict[str, Any]:
    return {
        "code": info.code,
        "category": info.category,
        "message": info.message,
        "hint": info.hint,
        "details": info.details,
        "requestId": request_id,
    }


def failure(info: ErrorInfo, request_id: str) -> Response:
    body = dumps({"success": False, "error": error_payload(info, request_id)})
    return Response(body, status_code=info.status, media_type=JSON_MEDIA_TYPE, headers=info.headers)


def failure_for(error: BaseException, connection: HTTPConnection) -> Response:
    return failure(describe(error), request_id_of(connection))
