"""WebSocket guards for every socket route: the Origin allow-list and message rate limits.

Browsers do not apply CORS to WebSocket handshakes, so a page on any site could open a
socket with its visitor's credentials; the handshake's `Origin` is checked against the
same allow-list as CORS (same-origin pages and non-browser clients always pass).

Limits are counted on the frames themselves, before the protocol handler sees them:
every frame against the per-connection message limit, and each graphql-transport-ws
`subscribe` against the caller's subscription limit. Over either, the socket is closed
with 4429, which graphql-ws clients treat as fatal rather than retrying at once.
"""

from __future__ import annotations

import logging
import uuid

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http.websocket_origin import is_same_origin, normalize_origin

from auth.request_info import RequestInfo, begin_request, end_request
from resolvers.limits import RateLimiter
from server.http_guard import request_info

logger = logging.getLogger("agentwire.security")

RATE_LIMITED_CLOSE = 4429
# Sockets that speak graphql-transport-ws, whose `subscribe` frames open subscriptions.
GRAPHQL_WS_PATHS = ("/graphql",)


def origin_allowed(headers: Headers, allowed: list[str]) -> bool:
    origin = headers.get("origin")
    if origin is None or "*" in allowed:
        return True
    if headers.get("sec-fetch-site") == "same-origin" or is_same_origin(
        origin, headers.get("host")
    ):
        return True
    return normalize_origin(origin) in {normalize_origin(o) for o in allowed}


class WebSocketGuardMiddleware:
    def __init__(self, app: ASGIApp, *, origins: list[str], limiter: RateLimiter | None) -> None:
        self.app = app
        self.origins = origins
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        info = request_info(scope, "WS")
        token = begin_request(info)
        try:
            if not origin_allowed(Headers(scope=scope), self.origins):
                logger.warning("refused a WebSocket handshake from a page on another origin")
                await receive()  # websocket.connect
                # A close before the accept answers the handshake with HTTP 403.
                await send({"type": "websocket.close", "code": 1008})
                return
            if self.limiter is None:
                await self.app(scope, receive, send)
                return
            guarded = _GuardedSocket(scope, receive, send, self.limiter, info)
            await self.app(scope, guarded.receive, guarded.send)
        finally:
            end_request(token)


class _GuardedSocket:
    def __init__(
        self, scope: Scope, receive: Receive, send: Send, limiter: RateLimiter, info: RequestInfo
    ) -> None:
        self._receive = receive
        self._send = send
        self._limiter = limiter
        self._info = info
        self._key = uuid.uuid4().hex
        self._graphql_ws = scope.get("path") in GRAPHQL_WS_PATHS
        self._closed = False

    async def receive(self) -> Message:
        if self._closed:
            return {"type": "websocket.disconnect", "code": RATE_LIMITED_CLOSE}
        message = await self._receive()
        if message["type"] != "websocket.receive":
            return message
        refusal = await self._refusal(message)
        if refusal is None:
            return message
        # Mark first, so the handler's concurrent sends stop before the close goes out.
        self._closed = True
        await self._send({"type": "websocket.close", "code": RATE_LIMITED_CLOSE, "reason": refusal})
        return {"type": "websocket.disconnect", "code": RATE_LIMITED_CLOSE}

    async def send(self, message: Message) -> None:
        if not self._closed:
            await self._send(message)

    async def _refusal(self, message: Message) -> str | None:
        """The close reason when this frame is over a limit (at most 123 bytes)."""
        decision = await self._limiter.hit("ws_message", self._key)
        if decision is not None and not decision.allowed:
            return f"too many messages; retry after {decision.reset_seconds} s"
        principal = self._info.principal
        if not self._graphql_ws or principal is None or not _is_subscribe(message):
            return None
        decision = await self._limiter.hit("subscribe", str(principal.user_id))
        if decision is not None and not decision.allowed:
            return f"too many subscriptions; retry after {decision.reset_seconds} s"
        return None


def _is_subscribe(message: Message) -> bool:
    text = message.get("text")
    if not text or '"subscribe"' not in text:  # cheap test first: most frames are not
        return False
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(frame, dict) and frame.get("type") == "subscribe"
