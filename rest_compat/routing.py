"""Route definitions: each operation is declared once, and both its Starlette route and its
OpenAPI entry are built from that declaration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.authenticate import Authenticator
from auth.principal import ANONYMOUS, Principal
from resolvers.context import RequestContext, Services
from rest_compat.envelope import failure_for, request_id_of
from rest_compat.inputs import Param, read_body, read_params
from rest_compat.views import View


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets: the request, the caller's context, parsed parameters and body."""

    request: Request
    ctx: RequestContext
    params: dict[str, Any]
    body: Any


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Reply:
    """A documented response: its status, what it means and the model of its `data`."""

    status: int
    description: str
    data: type[View] | None = None
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()
    # Other bodies the same status may carry, as (media type, JSON Schema); one of the same
    # media type as `data` is offered beside it (`oneOf`).
    alternatives: tuple[tuple[str, dict[str, Any]], ...] = ()


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    handler: Handler
    replies: tuple[Reply, ...]
    errors: tuple[int, ...]
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    tag: str = "tasks"
    extra: dict[str, Any] = field(default_factory=dict)
    # "query_token": a task token may also come as `?access_token=` (EventSource cannot
    # send headers); "none": the route's own secret authenticates (approval links).
    auth: Literal["header", "query_token", "none"] = "header"
    # The body may also be an HTML form post with these fields (a JSON Schema of strings);
    # the handler reads it.
    form_body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Dependencies:
    services: Services
    authenticator: Authenticator


async def run_operation(op: Operation, request: Request, deps: Dependencies) -> Response:
    """Authenticate, parse, call the handler; any failure becomes the error envelope."""
    try:
        principal = await _principal(op, request, deps)
        ctx = RequestContext(
            principal=principal, services=deps.services, request_id=request_id_of(request)
        )
        params = read_params(request, op.params)
        body = (
            await read_body(request, op.body, required=op.body_required)
            if op.body is not None and op.form_body is None
            else None
        )
        return await op.handler(Call(request=request, ctx=ctx, params=params, body=body))
    except Exception as error:
        return failure_for(error, request)


ACCESS_TOKEN = "access_token"


async def _principal(op: Operation, request: Request, deps: Dependencies) -> Principal:
    if op.auth == "none":
        return ANONYMOUS
    token = request.query_params.get(ACCESS_TOKEN) if op.auth == "query_token" else None
    if token:
        return await deps.authenticator.from_query_token(token)
    return await deps.authenticator.from_http_headers(request.headers)


def build_routes(operations: tuple[Operation, ...], deps: Dependencies) -> list[Route]:
    """One Starlette route per path, so a wrong method answers 405 with every allowed method."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op
    routes = []
    for path, methods in by_path.items():

        def endpoint(
            methods: dict[str, Operation], shadowed: list[tuple[dict[str, str], list[str]]]
        ) -> Callable[[Request], Awaitable[Response]]:
            async def dispatch(request: Request) -> Response:
                for binding, allowed in shadowed:
                    if all(request.path_params.get(k) == v for k, v in binding.items()):
                        # `DELETE /agent/approvals` is a wrong method on the inbox, not a
                        # cancel of a task whose id is "approvals".
                        raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
                method = "GET" if request.method == "HEAD" else request.method
                return await run_operation(methods[method], request, deps)

            return dispatch

        shadowed = _literal_paths_matched_by(path, by_path)
        routes.append(Route(path, endpoint(methods, shadowed), methods=list(methods)))
    return routes


def _literal_paths_matched_by(
    path: str, by_path: dict[str, dict[str, Operation]]
) -> list[tuple[dict[str, str], list[str]]]:
    """For each path without parameters that `path`'s pattern also matches, the parameter
    values that spell it and the methods declared on it."""
    segments = path.split("/")
    found = []
    for other, methods in by_path.items():
        other_segments = other.split("/")
        if other == path or "{" in other or len(other_segments) != len(segments):
            continue
        binding: dict[str, str] = {}
        for mine, theirs in zip(segments, other_segments, strict=True):
            if mine.startswith("{") and mine.endswith("}"):
                binding[mine[1:-1].split(":", 1)[0]] = theirs
            elif mine != theirs:
                break
        else:
            allowed = list(methods)
            if "GET" in allowed:
                allowed.append("HEAD")
            found.append((binding, allowed))
    return found
