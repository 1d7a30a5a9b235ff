"""The `/api` application: the task routes, the fallbacks, the legacy socket and the docs."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from auth.authenticate import Authenticator
from resolvers.context import Services
from rest_compat.docs import docs_routes
from rest_compat.envelope import failure_for
from rest_compat.errors import TransportError
from rest_compat.legacy_ws import serve_legacy_socket
from rest_compat.openapi import build_document
from rest_compat.routes_approvals import OPERATIONS as APPROVAL_OPERATIONS
from rest_compat.routes_events import poll_operation, stream_operation
from rest_compat.routes_links import OPERATIONS as LINK_OPERATIONS
from rest_compat.routes_tasks import OPERATIONS as TASK_OPERATIONS
from rest_compat.routes_worker import OPERATIONS as WORKER_OPERATIONS
from rest_compat.routing import Dependencies, Operation, build_routes


def api_version() -> str:
    try:
        return version("agentwire")
    except PackageNotFoundError:
        return "0.0.0"


def operations(*, heartbeat_seconds: float) -> tuple[Operation, ...]:
    return (
        # Before the task routes: `/agent/approvals` is not a task id.
        *APPROVAL_OPERATIONS,
        *TASK_OPERATIONS,
        poll_operation(heartbeat_seconds),
        stream_operation(heartbeat_seconds),
        *WORKER_OPERATIONS,
        *LINK_OPERATIONS,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and wrong methods, in the same envelope as every other error."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        # Starlette lists the methods from a set; sort them so the header is stable.
        listed = (exc.headers or {}).get("Allow", "").split(",")
        allowed = ", ".join(sorted(m.strip() for m in listed if m.strip()))
        error = TransportError(
            405,
            "METHOD_NOT_ALLOWED",
            f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}",
            hint="use one of the methods in the Allow header",
            headers={"Allow": allowed},
        )
    elif exc.status_code == 404:
        error = TransportError(
            404,
            "ROUTE_NOT_FOUND",
            f"no route {request.url.path}",
            hint="see /api/docs for the routes",
        )
    else:
        error = TransportError(
            exc.status_code,
            "HTTP_ERROR",
            exc.detail,
            hint="see /api/docs",
            headers=dict(exc.headers or {}),
        )
    return failure_for(error, request)


def create_rest_app(
    *, services: Services, authenticator: Authenticator, heartbeat_seconds: float
) -> Starlette:
    """The ASGI app to mount at `/api`."""
    deps = Dependencies(services=services, authenticator=authenticator)
    ops = operations(heartbeat_seconds=heartbeat_seconds)

    async def legacy(websocket: WebSocket) -> None:
        await serve_legacy_socket(websocket, deps, heartbeat_seconds=heartbeat_seconds)

    routes: list[BaseRoute] = [
        *build_routes(ops, deps),
        WebSocketRoute("/agent/{taskId}/updates", legacy),
        *docs_routes(build_document(ops, version=api_version())),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
