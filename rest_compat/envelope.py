"""The `{success, data}` / `{success, error}` envelope of every REST response."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import Response

from rest_compat.errors import ErrorInfo, describe

JSON_MEDIA_TYPE = "application/json"


def request_id_of(connection: HTTPConnection) -> str:
    """The id RequestIdMiddleware gave this request (also in the X-Request-ID header)."""
    return str(connection.scope.get("state", {}).get("request_id", ""))


def success(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"success": True, "data": data})
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
    body = orjson.dumps({"success": False, "error": error_payload(info, request_id)})
    return Response(body, status_code=info.status, media_type=JSON_MEDIA_TYPE, headers=info.headers)


def failure_for(error: BaseException, connection: HTTPConnection) -> Response:
    return failure(describe(error), request_id_of(connection))
