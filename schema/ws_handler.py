"""agentwire's graphql-transport-ws handler: Strawberry's, plus what production needs.

- Every frame must be a JSON object of the protocol's shape; anything else closes
  the socket with 4400 instead of crashing the handler (Strawberry 0.341.2 raises
  a TypeError on a JSON array or number).
- `taskUpdates` and `myTaskUpdates` go through the shared fan-out (subscriptions/
  hub.py): one render per group of identical subscriptions, the same bytes to
  each socket. Every other operation keeps Strawberry's own path.
- Server pings (schema/ws_heartbeat.py), the connection registry, and a close
  with 4403 when the connection's credential expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import specified_rules
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    ErrorMessage,
    Message,
    PongMessage,
    SubscribeMessage,
)

from auth.revocation import Channel, CredentialWatch
from resolvers import feeds as feed_resolvers
from resolvers.errors import DomainError, UnavailableError, unavailable_from
from resolvers.validation import parse_id
from schema.context import GraphQLContext
from schema.dataloaders import Loaders
from schema.extensions import INTERNAL_MESSAGE
from schema.operation_metrics import OK, category_of_code
from schema.realtime import (
    DocumentSyntaxError,
    EventRenderer,
    SharedSubscription,
    SubscriptionPlanner,
)
from schema.suggestions import hides_suggestions
from schema.ws_heartbeat import HeartbeatMonitor
from subscriptions import telemetry
from subscriptions.envelope import encode_event_cursor
from subscriptions.feeds import Feed, TaskFeed
from subscriptions.hub import Hub
from subscriptions.library_seam import (
    BaseGraphQLTransportWSHandler,
    Operation,
    graphql_core_schema,
    send_raw_text,
    start_operation,
)
from subscriptions.member import Member
from subscriptions.registry import ConnectionRegistry
from subscriptions.resume import ResumeBook, ResumeSlot, resume_key_problem
from subscriptions.telemetry import GRAPHQL_WS

logger = logging.getLogger(__name__)

SENT_AWAY = (WebSocketDisconnect, WebSocketDisconnected, RuntimeError, OSError)
INTERNAL_ERROR: Any = {"message": INTERNAL_MESSAGE, "extensions": {"code": "INTERNAL"}}


@dataclass
class Realtime:
    """The per-process pieces every socket shares."""

    hub: Hub
    planner: SubscriptionPlanner
    heartbeat: HeartbeatMonitor
    registry: ConnectionRegistry
    resume: ResumeBook

    @classmethod
    def create(
        cls,
        schema: BaseSchema,
        *,
        sessions: async_sessionmaker[AsyncSession],
        heartbeat_seconds: float,
        hub: Hub,
        resume_ttl_seconds: float = 900,
    ) -> Realtime:
        return cls(
            hub=hub,
            planner=SubscriptionPlanner(
                graphql_core_schema(schema),
                rules=getattr(schema, "validation_rules", specified_rules),
                hide_suggestions=hides_suggestions(schema),
            ),
            heartbeat=HeartbeatMonitor(heartbeat_seconds),
            registry=ConnectionRegistry(
                sessions,
                flush_seconds=min(heartbeat_seconds, 5.0),
                stale_after_seconds=max(3 * heartbeat_seconds, 30.0),
            ),
            resume=ResumeBook(sessions, ttl_seconds=resume_ttl_seconds),
        )

    async def start(self) -> None:
        await self.registry.start()
        await self.resume.start()
        await self.heartbeat.start()

    async def stop(self) -> None:
        await self.heartbeat.stop()
        await self.resume.stop()
        await self.hub.stop()
        await self.registry.stop()


def _is_optional(value: Any, kind: type | tuple[type, ...]) -> bool:
    return value is None or isinstance(value, kind)


def subscribe_shape_error(message: dict[str, Any]) -> str | None:
    """Why a subscribe message is malformed, or None."""
    payload = message.get("payload")
    if not isinstance(message.get("id"), str) or not message["id"]:
        return "subscribe needs a non-empty string id"
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "subscribe needs a payload with a query string"
    if not _is_optional(payload.get("variables"), dict):
        return "variables must be an object"
    if not _is_optional(payload.get("operationName"), str):
        return "operationName must be a string"
    if not _is_optional(payload.get("extensions"), dict):
        return "extensions must be an object"
    return None


def _count_resume(after: object) -> None:
    """A cursor, from the variables or from the resume key's stored position, is a resume
    (`after: 0`, "from the first event", is a start, as on REST and the legacy socket)."""
    if after is not None and after != 0:
        telemetry.recorder.resumed(GRAPHQL_WS)


class AgentwireTransportWSHandler(BaseGraphQLTransportWSHandler[GraphQLContext, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.realtime: Realtime = self.view.realtime  # type: ignore[attr-defined]
        self.connection_id = uuid.uuid4().hex
        self.last_seen = time.monotonic()
        self.ping_sent_at: float | None = None
        self._channel: Channel | None = None
        # Set by connection_init's `resumeKey`: re-subscribes resume where they stood.
        self.resume_key: str | None = None
        self._completed: set[str] = set()

    # the socket

    @property
    def acknowledged(self) -> bool:
        return self.connection_acknowledged

    async def send_text(self, frame: str) -> None:
        try:
            await send_raw_text(self, frame)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(*SENT_AWAY):  # already closed
            await self.websocket.close(code=code, reason=reason)

    async def handle(self) -> None:
        self.realtime.heartbeat.add(self)
        try:
            await super().handle()
        finally:
            self.realtime.heartbeat.discard(self)
            self.realtime.registry.closed(self.connection_id)
            if self._channel is not None and self._credentials is not None:
                self._credentials.close(self._channel)

    @property
    def _credentials(self) -> CredentialWatch | None:
        return self.context.services.credentials

    # messages

    async def handle_message(self, message: Message) -> None:
        self.last_seen = time.monotonic()
        raw: Any = message
        if not isinstance(raw, dict):
            await self.handle_invalid_message("a message must be a JSON object")
            return
        if not isinstance(raw.get("type"), str):
            await self.handle_invalid_message("a message needs a string type")
            return
        if raw["type"] == "subscribe" and (problem := subscribe_shape_error(raw)):
            await self.handle_invalid_message(problem)
            return
        if raw["type"] == "complete" and not isinstance(raw.get("id"), str):
            await self.handle_invalid_message("complete needs a string id")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload: Any = message.get("payload")
        if isinstance(payload, dict) and "resumeKey" in payload:
            problem = resume_key_problem(payload["resumeKey"])
            if problem is not None:
                await self.close(4400, problem)
                return
            self.resume_key = payload["resumeKey"]
        try:
            await super().handle_connection_init(message)
        except UnavailableError as error:
            # Not the credential's fault: 1013 (try again later), which clients retry.
            await self.close(1013, error.message)
            return
        principal = self.context.principal
        if not self.connection_acknowledged or principal is None:
            return
        self.realtime.registry.opened(self.connection_id, principal.user_id)
        if self._credentials is not None:
            # An expired token, a revoked session or API key closes the socket with 4403.
            self._channel = self._credentials.open(principal, self._credential_ended)

    async def _credential_ended(self, reason: str) -> None:
        await self.close(4403, reason)

    async def handle_complete(self, message: CompleteMessage) -> None:
        if message["id"] in self.operations:
            self._completed.add(message["id"])
        await super().handle_complete(message)

    async def handle_pong(self, message: PongMessage) -> None:
        self.realtime.registry.beat(self.connection_id)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # 4401 / 4409
            return
        principal = self.context.principal
        if self._credentials is not None and principal is not None:
            # Every operation (a mutation above all) re-checks the credential, cached briefly.
            problem = await self._credentials.problem(principal)
            if problem is not None:
                await self.close(4403, problem)
                return
        payload = message["payload"]
        try:
            plan = self.realtime.planner.plan(
                payload["query"], payload.get("variables"), payload.get("operationName")
            )
        except DocumentSyntaxError as error:
            await self.websocket.close(code=4400, reason=str(error)[:120])
            return
        if plan is None:
            await super().handle_subscribe(message)
            return
        if isinstance(plan, list):
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [e.formatted for e in plan]}
            )
            return
        limit = self.max_subscriptions_per_connection
        if limit is not None and len(self.operations) >= limit:
            await super().handle_subscribe(message)  # Strawberry's "Subscription limit reached"
            return
        start_operation(
            self,
            op_id=message["id"],
            query=payload["query"],
            variables=payload.get("variables"),
            run=lambda operation: self._run_shared(operation, plan),
        )

    # the shared path

    def _resume_slot(self, op_id: str, target: str) -> ResumeSlot | None:
        principal = self.context.principal
        if self.resume_key is None or principal is None:
            return None
        return self.realtime.resume.slot(principal.user_id, self.resume_key, op_id, target)

    async def _open(
        self, plan: SharedSubscription, op_id: str
    ) -> tuple[Feed, feed_resolvers.Start, str, ResumeSlot | None]:
        ctx = self.context.resolver_context()
        after = plan.arguments.get("after")
        if plan.field == "taskUpdates":
            task_id = parse_id(str(plan.arguments["taskId"]), field="taskId")
            slot = self._resume_slot(op_id, f"taskUpdates:{task_id}")
            if slot is not None and (stored := await self.realtime.resume.stored_position(slot)):
                after = stored  # where this operation stood, not its (stale) variables
            feed, start = await feed_resolvers.open_task_feed(ctx, task_id=task_id, after=after)
            _count_resume(after)
            return feed, start, "task", slot
        slot = self._resume_slot(op_id, "myTaskUpdates")
        if slot is not None and (stored := await self.realtime.resume.stored_position(slot)):
            after = encode_event_cursor(stored)
        user_feed, position = await feed_resolvers.open_user_feed(ctx, after=after)
        _count_resume(after)
        return user_feed, position, f"user:{ctx.principal.user_id}", slot

    async def _run_shared(self, operation: Operation[GraphQLContext, None], plan: Any) -> None:
        try:
            feed, start, visibility, slot = await self._open(plan, operation.id)
        except DomainError as error:
            telemetry.recorder.graphql_operation("subscription", category_of_code(error.code))
            await operation.send_operation_message(
                {
                    "id": operation.id,
                    "type": "error",
                    "payload": [
                        {
                            "message": error.message,
                            "path": [plan.field],
                            "extensions": error.extensions,
                        }
                    ],
                }
            )
            return
        telemetry.recorder.graphql_operation("subscription", OK)
        if isinstance(feed, TaskFeed):
            self.realtime.registry.watching(self.connection_id, str(feed.task_id))
        # The group renders with a context of its own: it outlives this socket.
        render_context = GraphQLContext(
            services=self.context.services,
            loaders=Loaders.create(self.context.services.sessions),
            principal=self.context.principal,
        )
        member = Member(
            op_id=operation.id,
            prefix='{"id":' + orjson.dumps(operation.id).decode() + ',"type":"next","payload":',
            send=self.send_text,
            capacity=self.realtime.hub.outbox_capacity,
        )
        if slot is not None:
            self.realtime.resume.track(
                slot, member, start=start if isinstance(start, int) else None
            )
        try:
            await member.run(
                self.realtime.hub,
                feed,
                group_key=plan.group_key(visibility),
                render=EventRenderer(self.realtime.planner.schema, plan, render_context),
                start=start,
            )
        except SENT_AWAY:
            return
        except Exception as error:
            # Not the client's fault (the database, say): tell it, so it can resubscribe.
            down = unavailable_from(error)
            if down is None:
                logger.exception("subscription %s failed", operation.id)
            else:
                logger.warning("subscription %s failed: %r", operation.id, error)
            with contextlib.suppress(*SENT_AWAY):
                failed: ErrorMessage = {
                    "id": operation.id,
                    "type": "error",
                    "payload": [
                        INTERNAL_ERROR
                        if down is None
                        else {"message": down.message, "extensions": down.extensions}
                    ],
                }
                await operation.send_operation_message(failed)
        finally:
            if slot is not None:
                completed = operation.id in self._completed
                self._completed.discard(operation.id)
                # Shielded: a socket that closes cancels this task, and the position
                # must still be stored for the client's re-subscribe.
                await asyncio.shield(
                    self.realtime.resume.release(slot, member, completed=completed)
                )
            if isinstance(feed, TaskFeed):
                self.realtime.registry.watching(
                    self.connection_id, str(feed.task_id), watching=False
                )
