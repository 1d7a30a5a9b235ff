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
from resolvers.socket_budget import SOCKETS_PER_USER_CLOSE, SocketBudget
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
    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: list[str],
        limiter: RateLimiter | None,
        budget: SocketBudget | None = None,
    ) -> None:
        self.app = app
        self.origins = origins
        self.limiter = limiter
        self.budget = budget

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
            if self.limiter is None and self.budget is None:
                await self.app(scope, receive, send)
                return
            guarded = _GuardedSocket(scope, receive, send, self.limiter, info, self.budget)
            try:
                await self.app(scope, guarded.receive, guarded.send)
            finally:
                guarded.release()
        finally:
            end_request(token)


class _GuardedSocket:
    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limiter: RateLimiter | None,
        info: RequestInfo,
        budget: SocketBudget | None,
    ) -> None:
        self._receive = receive
        self._send = send
        self._limiter = limiter
        self._info = info
        self._budget = budget
        # The user whose place in the budget this socket holds, once it holds one.
        self._holder: uuid.UUID | None = None
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
        if self._closed:
            return
        if message["type"] == "websocket.send" and not await self._has_place():
            return
        await self._send(message)

    async def _has_place(self) -> bool:
        """Whether this socket may go on: the first frame sent once its credential is
        known (graphql-ws `connection_ack`, the legacy `connected`) takes the user's
        place in the budget, or closes the socket instead of going out."""
        principal = self._info.principal
        if self._budget is None or self._holder is not None or principal is None:
            return True
        if self._budget.acquire(principal.user_id):
            self._holder = principal.user_id
            return True
        self._closed = True
        limit = self._budget.per_user
        logger.info("refused a socket: %s already holds %d", principal.subject, limit)
        await self._send(
            {
                "type": "websocket.close",
                "code": SOCKETS_PER_USER_CLOSE,
                "reason": f"too many open sockets for this user (limit {limit})",
            }
        )
        return False

    def release(self) -> None:
        if self._budget is not None and self._holder is not None:
            self._budget.release(self._holder)
            self._holder = None

    async def _refusal(self, message: Message) -> str | None:
        """The close reason when this frame is over a limit (at most 123 bytes)."""
        if self._limiter is None:
            return None
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
