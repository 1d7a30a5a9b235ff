"""HTTP guards in front of every route: request context, body size, JSON only, rate headers.

Pure ASGI (like server/middleware.py), so streaming responses (SSE) pass untouched.
The body is buffered up to the limit before the app sees it: a request over the limit
is refused with 413 whether or not it declared its length.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.request_info import RequestInfo, begin_request, end_request
from resolvers.limits import RateNote, current_note
from rest_compat.envelope import failure
from rest_compat.errors import ErrorInfo
from rest_compat.inputs import is_json_media_type
from schema.view import graphql_error_body

# Where a request body must be JSON; REST routes check their own bodies (rest_compat).
JSON_ONLY_PATHS = ("/graphql",)
BODY_METHODS = ("POST", "PUT", "PATCH")


def error_response(scope: Scope, status: int, code: str, message: str, hint: str) -> Response:
    """An error in the envelope of the route family: REST under /api, GraphQL elsewhere."""
    if str(scope.get("path", "")).startswith("/api"):
        request_id = str(scope.get("state", {}).get("request_id", ""))
        info = ErrorInfo(
            status=status, category="client_error", code=code, message=message, hint=hint
        )
        return failure(info, request_id)
    body = graphql_error_body(message, code, hint=hint)
    return Response(body, status_code=status, media_type="application/json")


def request_info(scope: Scope, kind: str) -> RequestInfo:
    client = scope.get("client")
    return RequestInfo(
        request_id=str(scope.get("state", {}).get("request_id", "")),
        client=str(client[0]) if client else "",
        route=f"{kind} {scope.get('path', '')}",
    )


class HttpGuardMiddleware:
    """Per HTTP request: the request context, the body bounds, and `RateLimit-*` headers."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info_token = begin_request(request_info(scope, str(scope.get("method", ""))))
        note = RateNote()
        note_token = current_note.set(note)
        try:
            await self._guarded(scope, receive, send, note)
        finally:
            current_note.reset(note_token)
            end_request(info_token)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, note: RateNote) -> None:
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope.get("method") in BODY_METHODS:
            buffered = await self._read_body(receive)
            if buffered is None:
                await self._too_big(scope)(scope, receive, send)
                return
            receive = _replay(buffered, receive)

        async def send_with_rate_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and note.decision is not None:
                response_headers = MutableHeaders(scope=message)
                for name, value in note.decision.headers().items():
                    if name not in response_headers:
                        response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_rate_headers)

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return self._too_big(scope)
        has_body = (declared.isdigit() and int(declared) > 0) or "transfer-encoding" in headers
        path = str(scope.get("path", ""))
        if (
            has_body
            and scope.get("method") in BODY_METHODS
            and path in JSON_ONLY_PATHS
            and not is_json_media_type(headers.get("content-type", ""))
        ):
            return error_response(
                scope,
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "the request body must be JSON",
                "send 'Content-Type: application/json' with a JSON body",
            )
        return None

    def _too_big(self, scope: Scope) -> Response:
        return error_response(
            scope,
            413,
            "PAYLOAD_TOO_LARGE",
            f"the request body is larger than {self.max_body_bytes} bytes",
            "send a smaller body",
        )

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """The body messages, or None once they exceed the limit (the rest is not read)."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
