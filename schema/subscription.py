"""Subscription: a task's events, every event of the caller's tasks, or the approvals
the caller may decide.

These resolvers serve every subscription that runs through Strawberry's own execution:
GraphQL over SSE (graphql-sse) and Apollo's multipart subscriptions over HTTP
(schema/view.py; tests/integration/test_graphql_http_streams.py), with every schema
extension (limits, error mask) applied by Strawberry. Over graphql-transport-ws
`taskUpdates` and `myTaskUpdates` are served by the shared fan-out instead
(schema/ws_handler.py), which renders each event once per group of identical
subscriptions and validates and masks with the same rules (schema/build.py's
`validation_rules`, schema/extensions.py's mask). `approvalUpdates`, whose events depend
on the caller's roles, keeps Strawberry's path over the socket too.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import feeds as feed_resolvers
from resolvers.validation import parse_id
from schema.context import Info
from schema.events import TaskEvent


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Without `after`: one SNAPSHOT event (the whole task as of seq N in "
        "data.task), then every event after N. With `after`: the stored events with "
        "seq > after, then live ones; a snapshot instead when `after` is older than the "
        "retained log. No gap, no repeat; resume after a reconnect with the last seq you saw."
    )
    async def task_updates(
        self, info: Info, task_id: strawberry.ID, after: int | None = None
    ) -> AsyncGenerator[TaskEvent, None]:
        feed, start = await feed_resolvers.open_task_feed(
            info.context.resolver_context(), task_id=parse_id(task_id, field="taskId"), after=after
        )
        async for event in feed_resolvers.replay_then_live(feed, start, resumed=bool(after)):
            yield TaskEvent.from_event(event)

    @strawberry.subscription(
        description="Every event of every task of the caller, in commit order, including "
        "QUEUE_UPDATE with the live position and estimated wait of each pending task. "
        "Without `after` it starts now; with `after` (an event's `cursor`) it first replays "
        "what came after that event: nothing lost, nothing repeated."
    )
    async def my_task_updates(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[TaskEvent, None]:
        feed, start = await feed_resolvers.open_user_feed(
            info.context.resolver_context(), after=after
        )
        resumed = after is not None
        async for event in feed_resolvers.replay_then_live(feed, start, resumed=resumed):
            yield TaskEvent.from_event(event)

    @strawberry.subscription(
        description="The approval events (APPROVAL_REQUEST, APPROVAL_DECISION, "
        "APPROVAL_RESOLVED, APPROVAL_TIMEOUT) of every task whose approvals the caller may "
        "decide: their own, those whose approval policies name one of their roles, every "
        "task for an admin; in commit order. Without `after` it starts now; with `after` "
        "(an event's `cursor`) it first replays what came after that event. A reviewer "
        "sees another user's request within about a second of it being stored."
    )
    async def approval_updates(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[TaskEvent, None]:
        feed, start = await feed_resolvers.open_approval_feed(
            info.context.resolver_context(), after=after
        )
        resumed = after is not None
        async for event in feed_resolvers.replay_then_live(feed, start, resumed=resumed):
            yield TaskEvent.from_event(event)
