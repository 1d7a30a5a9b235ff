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
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from auth.authenticate import AuthenticationError
from auth.principal import Principal
from resolvers import approvals as approval_resolvers
from resolvers import feeds as feed_resolvers
from resolvers import views as view_resolvers
from resolvers.context import RequestContext
from resolvers.errors import ValidationFailedError
from resolvers.validation import parse_id
from rest_compat.envelope import dumps, error_payload, request_id_of
from rest_compat.errors import ErrorInfo, describe
from rest_compat.inputs import Param, parse_param
from rest_compat.legacy_batch import MAX_BATCH_MS, Batcher
from rest_compat.routing import Dependencies
from rest_compat.views import TaskJson
from subscriptions.envelope import Event, now_ms
from subscriptions.member import Member
from subscriptions.telemetry import LEGACY_WS

logger = logging.getLogger("agentwire.rest.ws")

SUBPROTOCOL = "agentwire.v1"
BEARER_PREFIX = "agentwire.bearer."
AUTH_TIMEOUT_SECONDS = 10.0
AFTER = Param("after", "query", {"type": "integer", "minimum": 0, "maximum": 2**53}, "", default=0)
BATCH_MS = Param(
    "batchMs",
    "query",
    {"type": "integer", "minimum": 0, "maximum": MAX_BATCH_MS},
    "",
    default=0,
)
# Every legacy socket (and only they) receives the plain envelope: one group, one render.
WIRE_GROUP = ("legacy-ws", "envelope")


def wire_json(event: Event) -> str:
    return dumps(event.to_wire()).decode()


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

    async def send_text(frame: str) -> None:
        async with lock:
            await websocket.send_text(frame)

    async def send(message: dict[str, Any]) -> None:
        await send_text(dumps(message).decode())

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
        batch_ms = parse_param(BATCH_MS, websocket.query_params.get("batchMs"))
        feed, start = await feed_resolvers.open_task_stream(
            ctx, task_id=session.task_id, after=after
        )
    except WebSocketDisconnect:
        return
    except Exception as error:
        await close_with(error)
        return
    # Events reach this socket through the hub, as they reach a graphql-ws subscriber:
    # one render per event for every legacy socket, coalescing and LAGGED when it is slow.
    hub = deps.services.hub
    batcher = Batcher(send_text, batch_ms)
    member = Member(
        op_id="",
        prefix="",
        suffix="",
        send=batcher.send,
        capacity=hub.outbox_capacity,
        channel=LEGACY_WS,
    )
    # Resolved with the reason when the credential expires or is revoked: ends the session.
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def credential_ended(reason: str) -> None:
        if not ended.done():
            ended.set_exception(CredentialEndedError(reason))

    credentials = deps.services.credentials
    channel = credentials.open(principal, credential_ended) if credentials is not None else None
    try:
        await send(
            control(
                "connected",
                {
                    "taskId": str(session.task_id),
                    "after": after,
                    "batchMs": batch_ms,
                    "heartbeatSeconds": heartbeat_seconds,
                    "subject": principal.subject,
                },
            )
        )
        await _run_until_first_ends(
            member.run(
                hub, feed, group_key=WIRE_GROUP, render=wire_json, start=start, resumed=after > 0
            ),
            session.read(),
            session.heartbeat(heartbeat_seconds),
            ended,
        )
    except WebSocketDisconnect:
        return
    except Exception as error:
        await close_with(error)
    finally:
        batcher.close()
        if channel is not None and credentials is not None:
            credentials.close(channel)
