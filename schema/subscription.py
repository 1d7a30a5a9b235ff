"""Subscription: a task's events, stored ones after a cursor, then live."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import events as event_resolvers
from resolvers.validation import parse_id
from schema.context import Info
from schema.events import TaskEvent


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Events of a task with seq > after (every stored one when omitted), "
        "then live ones; no gap, no repeat. Resume after a reconnect with the last seq you saw."
    )
    async def task_updates(
        self, info: Info, task_id: strawberry.ID, after: int | None = None
    ) -> AsyncGenerator[TaskEvent, None]:
        stream = await event_resolvers.follow_task(
            info.context.resolver_context(), task_id=parse_id(task_id, field="taskId"), after=after
        )
        async for event in stream:
            yield TaskEvent.from_event(event)
