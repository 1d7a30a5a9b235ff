"""The GraphQL endpoint: authentication, GraphQL-over-HTTP status codes, WebSocket auth."""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema import BaseSchema
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from auth.authenticate import AuthenticationError, Authenticator, AuthThrottledError
from resolvers.context import RequestContext, Services
from resolvers.errors import RateLimitedError, UnavailableError, unavailable_from
from resolvers.limits import throttle, throttle_request
from schema.context import GraphQLContext
from schema.dataloaders import Loaders
from schema.ide import graphiql_page
from schema.operation_metrics import OK, STATE_KEY
from schema.ws_handler import AgentwireTransportWSHandler, Realtime
from subscriptions import telemetry

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
EVENT_STREAM = "text/event-stream"
MULTIPART_MIXED = "multipart/mixed"


def wants_stream(accept: str) -> bool:
    """GraphQL over SSE (graphql-sse, distinct connections) or Apollo's multipart
    subscriptions: Strawberry streams the subscription itself."""
    media_types = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return EVENT_STREAM in media_types or MULTIPART_MIXED in media_types


def graphql_error_body(message: str, code: str, **extensions: Any) -> bytes:
    return orjson.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    )


def rate_limited(error: RateLimitedError, media_type: str) -> Response:
    """429 with Retry-After, so proxies and clients back off as they would over REST."""
    return Response(
        graphql_error_body(error.message, error.code, hint=error.hint),
        status_code=429,
        media_type=media_type,
        headers={"Retry-After": str(error.retry_after)},
    )


def unavailable(error: UnavailableError, media_type: str) -> Response:
    """503 with Retry-After: the database did not answer (REST says the same)."""
    return Response(
        graphql_error_body(error.message, error.code, hint=error.hint),
        status_code=503,
        media_type=media_type,
        headers={"Retry-After": str(error.retry_after)},
    )


def preferred_media_type(accept: str) -> str | None:
    """The response type the client asked for; None when it accepts neither JSON type."""
    if not accept.strip():
        return APPLICATION_JSON
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE_JSON:
            ranked.append((quality, -index, GRAPHQL_RESPONSE_JSON))
        elif media in (APPLICATION_JSON, "application/*", "*/*"):
            ranked.append((quality, -index, APPLICATION_JSON))
    return max(ranked)[2] if ranked else None


class AgentwireGraphQL(GraphQL[GraphQLContext, None]):
    """Strawberry's ASGI view with agentwire's authentication and HTTP semantics."""

    graphql_transport_ws_handler_class = AgentwireTransportWSHandler
    # Set by the app factory: this process's shared fan-out, heartbeat and registry.
    realtime: Realtime

    def __init__(
        self,
        schema: BaseSchema,
        *,
        services: Services,
        authenticator: Authenticator,
        graphql_ide: bool,
        **options: Any,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphql_ide else None,
            subscription_protocols=[
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_SSE_PROTOCOL,
                MULTIPART_SUBSCRIPTION_PROTOCOL,
            ],
            **options,
        )
        self.services = services
        self.authenticator = authenticator

    def encode_json(self, data: object) -> str:
        # Text, not bytes: graphql-transport-ws frames must be text frames.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            # Strawberry recognises the standard library's error type.
            raise json.JSONDecodeError(str(error), error.doc, error.pos) from error

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_page())

    async def get_context(self, request: Request | WebSocket, response: Any) -> GraphQLContext:
        state = request.scope.get("state", {})
        return GraphQLContext(
            services=self.services,
            loaders=Loaders.create(self.services.sessions),
            request=request,
            response=response,
            principal=state.get("principal"),
            request_id=state.get("request_id", ""),
        )

    async def on_ws_connect(self, context: GraphQLContext) -> UnsetType | dict[str, object] | None:
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        try:
            context.principal = await self.authenticator.from_connection_params(params)
        except AuthenticationError as error:
            raise ConnectionRejectionError({"message": str(error)}) from error
        except Exception as error:
            # The database did not answer: the socket handler closes with 1013 (retry).
            down = unavailable_from(error)
            if down is None:
                raise
            raise down from error
        result: UnsetType = UNSET
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        # A request error (the document did not parse or validate) has no data and no path.
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            request.scope.setdefault("state", {})["graphql_request_error"] = True
        waits = [
            e.original_error.retry_after
            for e in result.errors or ()
            if isinstance(e.original_error, RateLimitedError)
        ]
        if waits:
            request.scope.setdefault("state", {})["graphql_retry_after"] = max(waits)
        down = [
            e.original_error.retry_after
            for e in result.errors or ()
            if isinstance(e.original_error, UnavailableError)
        ]
        if down:
            request.scope.setdefault("state", {})["graphql_unavailable_retry_after"] = max(down)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await self._handle_http(request)
        await response(scope, receive, send)

    async def _handle_http(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        wants_page = "text/html" in accept or "*/*" in accept
        no_query = request.method == "GET" and "query" not in request.query_params
        if no_query and wants_page and self.graphql_ide:
            return await self.render_graphql_ide(request)
        streaming = wants_stream(accept)
        media_type = APPLICATION_JSON if streaming else preferred_media_type(accept)
        if media_type is None:
            return Response(
                graphql_error_body(
                    "cannot answer in any type the Accept header lists; accept "
                    f"{GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}",
                    "NOT_ACCEPTABLE",
                ),
                status_code=406,
                media_type=APPLICATION_JSON,
            )
        try:
            principal = await self.authenticator.from_http_headers(request.headers)
        except AuthThrottledError as error:
            telemetry.recorder.graphql_operation("unknown", "rate_limited")
            limited = RateLimitedError(str(error), retry_after=error.retry_after)
            return rate_limited(limited, media_type)
        except AuthenticationError as error:
            telemetry.recorder.graphql_operation("unknown", "auth")
            return Response(
                graphql_error_body(str(error), "UNAUTHENTICATED", hint=error.hint),
                status_code=401,
                media_type=media_type,
                headers={"WWW-Authenticate": 'Bearer realm="agentwire"'},
            )
        except Exception as error:
            # A first-seen subject is written, a key or session read: the database may
            # not answer, and then the caller gets the JSON 503 every request gets.
            down = unavailable_from(error)
            if down is None:
                raise
            telemetry.recorder.graphql_operation("unknown", "server")
            return unavailable(down, media_type)
        request.scope.setdefault("state", {})["principal"] = principal
        ctx = RequestContext(
            principal=principal,
            services=self.services,
            request_id=request.scope["state"].get("request_id", ""),
        )
        try:
            if streaming:
                # A stream is a subscription opened, as on the sockets.
                await throttle(ctx, "subscribe")
            response = await self.run(request)
        except HTTPException as error:
            return Response(
                graphql_error_body(error.reason, "BAD_REQUEST"),
                status_code=error.status_code,
                media_type=media_type,
            )
        except RateLimitedError as error:
            return rate_limited(error, media_type)
        if isinstance(response, StreamingResponse):
            return response
        try:
            await throttle_request(ctx)
        except RateLimitedError as error:
            return rate_limited(error, media_type)
        request_error = request.scope["state"].get("graphql_request_error", False)
        if media_type == GRAPHQL_RESPONSE_JSON:
            if request_error and response.status_code == 200:
                body = orjson.loads(bytes(response.body))
                body.pop("data", None)
                response = Response(orjson.dumps(body), status_code=400, media_type=media_type)
            response.headers["content-type"] = media_type
        down_for = request.scope["state"].get("graphql_unavailable_retry_after")
        if down_for is not None:
            # The database did not answer: HTTP says so, as REST does, so clients back off.
            response.status_code = 503
            response.headers["Retry-After"] = str(down_for)
        retry_after = request.scope["state"].get("graphql_retry_after")
        if retry_after is not None:
            # Over a rate limit: HTTP says so too, so proxies and clients can back off.
            response.status_code = 429
            response.headers["Retry-After"] = str(retry_after)
        outcome = request.scope["state"].get(STATE_KEY, OK)
        if outcome != OK and response.status_code < 400:
            # A 200 that carries errors; 4xx and 5xx are counted by the HTTP middleware.
            telemetry.recorder.error_answered(outcome)
        return response
