"""The legacy WebSocket `/api/agent/{taskId}/updates?after=N`: the seed's message structure.

Authentication, in order: the `agentwire.bearer.<token>` subprotocol (browsers cannot
set headers), the handshake's headers (`Authorization` or `X-API-Key`), or a first
`{"type": "auth", "token": ...}` (or `"apiKey": ...`) message. Then replay from
`after` and live events (the same stream as GraphQL), plus ping/pong, interactive
approvals and a server heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from auth.authenticate import AuthenticationError
from auth.principal import Principal
from resolvers import approvals as approval_resolvers
from resolvers import events as event_resolvers
from resolvers import views as view_resolvers
from resolvers.context import RequestContext
from resolvers.errors import ValidationFailedError
from resolvers.validation import parse_id
from rest_compat.envelope import dumps, error_payload, request_id_of
from rest_compat.errors import ErrorInfo, describe
from rest_compat.inputs import Param, parse_param
from rest_compat.routing import Dependencies
from rest_compat.views import TaskJson
from subscriptions.envelope import Event, now_ms
from subscriptions.telemetry import LEGACY_WS, observed

logger = logging.getLogger("agentwire.rest.ws")

SUBPROTOCOL = "agentwire.v1"
BEARER_PREFIX = "agentwire.bearer."
AUTH_TIMEOUT_SECONDS = 10.0
AFTER = Param("after", "query", {"type": "integer", "minimum": 0, "maximum": 2**53}, "", default=0)
# Close codes: 4000 + the HTTP status the same failure has on REST.
CLOSE_CODES = {400: 4400, 401: 4401, 403: 4403, 404: 4404, 409: 4409, 422: 4400, 429: 4429}

Send = Callable[[dict[str, Any]], Awaitable[None]]


def close_code(info: ErrorInfo) -> int:
    return CLOSE_CODES.get(info.status, 1013 if info.status == 503 else 1011)


def control(kind: str, data: Any = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": kind, "timestamp": now_ms()}
    if data is not None:
        message["data"] = data
    return {**message, **extra}


def decode(text: str | bytes | None) -> dict[str, Any]:
    try:
        message = orjson.loads(text or b"")
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValidationFailedError(
            'messages must be JSON objects with a string "type"', field="type"
        )
    return message


async def authenticate(websocket: WebSocket, deps: Dependencies) -> Principal:
    offered = websocket.scope.get("subprotocols") or []
    token = next((p[len(BEARER_PREFIX) :] for p in offered if p.startswith(BEARER_PREFIX)), None)
    if token:
        return await deps.authenticator.from_token(token)
    if "authorization" in websocket.headers or "x-api-key" in websocket.headers:
        return await deps.authenticator.from_http_headers(websocket.headers)
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_SECONDS):
            raw = await websocket.receive()
    except TimeoutError:
        raise AuthenticationError(
            f"no credential within {AUTH_TIMEOUT_SECONDS:g} seconds: send "
            '{"type": "auth", "token": "<token>"} first'
        ) from None
    if raw["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(raw.get("code", 1000))
    message = decode(raw.get("text") or raw.get("bytes"))
    if message["type"] == "auth" and isinstance(message.get("token"), str):
        return await deps.authenticator.from_token(message["token"])
    if message["type"] == "auth" and isinstance(message.get("apiKey"), str):
        return await deps.authenticator.from_api_key(message["apiKey"])
    raise AuthenticationError(
        'authentication required: the first message must be {"type": "auth", "token": ...} '
        'or {"type": "auth", "apiKey": ...}'
    )


class LegacySession:
    def __init__(self, websocket: WebSocket, ctx: RequestContext, send: Send) -> None:
        self.websocket = websocket
        self.ctx = ctx
        self.send = send
        self.task_id = parse_id(websocket.path_params["taskId"], field="taskId")

    async def pump(self, events: AsyncIterator[Event]) -> None:
        async for event in events:
            await self.send(event.to_wire())

    async def heartbeat(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.send(control("heartbeat"))

    async def read(self) -> None:
        while True:
            raw = await self.websocket.receive()
            if raw["type"] == "websocket.disconnect":
                return
            reply_to: dict[str, Any] = {}
            try:
                message = decode(raw.get("text") or raw.get("bytes"))
                if "id" in message:
                    reply_to = {"replyTo": message["id"]}
                await self.handle(message, reply_to)
            except CredentialEndedError:
                raise  # ends the connection, not just this message
            except Exception as error:
                info = describe(error)
                await self.send(
                    control("error", error_payload(info, self.ctx.request_id), **reply_to)
                )

    async def handle(self, message: dict[str, Any], reply_to: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ping":
            await self.send(control("pong", **reply_to))
        elif kind == "approve":
            await self.approve(message.get("data"), reply_to)
        elif kind == "auth":
            raise ValidationFailedError("this connection is already authenticated", field="type")
        else:
            raise ValidationFailedError(
                f"unknown message type {kind!r}: send ping or approve", field="type"
            )

    async def approve(self, data: Any, reply_to: dict[str, Any]) -> None:
        credentials = self.ctx.services.credentials
        if credentials is not None:
            # A write re-checks the credential (cached briefly): revoked or expired ends here.
            problem = await credentials.problem(self.ctx.principal)
            if problem is not None:
                raise CredentialEndedError(problem)
        if not isinstance(data, dict):
            raise ValidationFailedError("approve needs data: {approvalId, approved}", field="data")
        approved = data.get("approved")
        if not isinstance(approved, bool):
            raise ValidationFailedError("data.approved must be true or false", field="approved")
        message = data.get("message")
        if message is not None and not isinstance(message, str):
            raise ValidationFailedError("data.message must be a string", field="message")
        task = await approval_resolvers.approve_step(
            self.ctx,
            task_id=self.task_id,
            answer=approval_resolvers.ApprovalAnswer(
                approval_id=parse_id(str(data.get("approvalId")), field="approvalId"),
                approved=approved,
                message=message,
                modified_parameters=data.get("modifiedParameters"),
            ),
        )
        view = await view_resolvers.view_task(self.ctx, task)
        result = {"approvalId": str(data["approvalId"]), "task": TaskJson.of(view).dump()}
        await self.send(control("approve_result", result, **reply_to))


class CredentialEndedError(AuthenticationError):
    """The connection's credential expired or was revoked: the socket closes with 4401."""


async def _run_until_first_ends(*jobs: Awaitable[None]) -> None:
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def serve_legacy_socket(
    websocket: WebSocket, deps: Dependencies, *, heartbeat_seconds: float
) -> None:
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with lock:
            await websocket.send_text(dumps(message).decode())

    async def close_with(error: BaseException) -> None:
        info = describe(error)
        with contextlib.suppress(Exception):
            await send(control("error", error_payload(info, request_id_of(websocket))))
            await websocket.close(code=close_code(info), reason=info.code)

    try:
        principal = await authenticate(websocket, deps)
        ctx = RequestContext(
            principal=principal, services=deps.services, request_id=request_id_of(websocket)
        )
        session = LegacySession(websocket, ctx, send)
        after = parse_param(AFTER, websocket.query_params.get("after"))
        stream = await event_resolvers.follow_task(ctx, task_id=session.task_id, after=after)
    except WebSocketDisconnect:
        return
    except Exception as error:
        await close_with(error)
        return
    events = observed(aiter(stream), LEGACY_WS, resumed=after > 0)
    ended = asyncio.Event()
    reasons: list[str] = []

    async def credential_ended(reason: str) -> None:
        reasons.append(reason)
        ended.set()

    async def until_credential_ends() -> None:
        await ended.wait()
        raise CredentialEndedError(reasons[0])

    credentials = deps.services.credentials
    channel = credentials.open(principal, credential_ended) if credentials is not None else None
    try:
        await send(
            control(
                "connected",
                {
                    "taskId": str(session.task_id),
                    "after": after,
                    "heartbeatSeconds": heartbeat_seconds,
                    "subject": principal.subject,
                },
            )
        )
        await _run_until_first_ends(
            session.pump(events),
            session.read(),
            session.heartbeat(heartbeat_seconds),
            until_credential_ends(),
        )
    except WebSocketDisconnect:
        return
    except Exception as error:
        await close_with(error)
    finally:
        if channel is not None and credentials is not None:
            credentials.close(channel)
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
