"""Query: read tasks, their events, approvals and the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from resolvers import approvals as approval_resolvers
from resolvers import audit_log as audit_resolvers
from resolvers import events as event_resolvers
from resolvers import history
from resolvers import tasks as task_resolvers
from resolvers import undo as undo_resolvers
from resolvers import users as user_resolvers
from resolvers.validation import parse_id
from schema.audit import AuditEntry
from schema.context import Info
from schema.events import TaskEvent
from schema.scalars import ApprovalStatus, TaskStatus
from schema.types import (
    ApprovalConnection,
    ApprovalEdge,
    ApprovalRequest,
    PageInfo,
    Task,
    TaskConnection,
    TaskEdge,
    UndoPlan,
    User,
)


def _selects(info: Info, name: str) -> bool:
    """Whether the current field's selection (fragments included) asks for `name`."""

    def walk(selections: list[Any]) -> bool:
        for selection in selections:
            if getattr(selection, "name", None) == name:
                return True
            if walk(list(getattr(selection, "selections", None) or [])):
                return True
        return False

    return any(walk(list(field.selections)) for field in info.selected_fields)


@strawberry.type
class Query:
    @strawberry.field(description="A task by id; null when it does not exist or is not yours.")
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        ctx = info.context.resolver_context()
        row = await task_resolvers.find_task(ctx, task_id=parse_id(id, field="id"))
        return Task.from_model(row) if row else None

    @strawberry.field(description="Your tasks (every task for an admin), newest first.")
    async def tasks(
        self,
        info: Info,
        status: TaskStatus | None = None,
        conversation_id: str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> TaskConnection:
        page = await history.list_tasks(
            info.context.resolver_context(),
            query=history.TaskQuery(
                status=status.value if status else None,
                conversation_id=conversation_id,
                date_from=date_from,
                date_to=date_to,
            ),
            limit=first,
            after=after,
            with_total=_selects(info, "totalCount"),
        )
        edges = [
            TaskEdge(cursor=history.encode_cursor(t), node=Task.from_model(t)) for t in page.tasks
        ]
        return TaskConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=page.total if page.total is not None else 0,
        )

    @strawberry.field(description="Stored events of a task with seq > after, oldest first.")
    async def task_events(
        self, info: Info, task_id: strawberry.ID, after: int = 0, limit: int = 100
    ) -> list[TaskEvent]:
        events = await event_resolvers.task_events(
            info.context.resolver_context(),
            task_id=parse_id(task_id, field="taskId"),
            after=after,
            limit=limit,
        )
        return [TaskEvent.from_event(e) for e in events]

    @strawberry.field(
        description="Your approval inbox, newest first: the requests of your tasks and of the "
        "tasks whose approval policies name one of your roles (every request for an admin)."
    )
    async def approvals(
        self,
        info: Info,
        status: ApprovalStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> ApprovalConnection:
        page = await approval_resolvers.approval_inbox(
            info.context.resolver_context(),
            status=status.value if status else None,
            first=first,
            after=after,
        )
        edges = [
            ApprovalEdge(cursor=history.encode_cursor(a), node=ApprovalRequest.from_model(a))
            for a in page.approvals
        ]
        return ApprovalConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(
        description="The audit log of a task, oldest first: approvals and their decisions, "
        "undo, cancel and denied attempts. For the task's owner and admins."
    )
    async def audit_log(self, info: Info, task_id: strawberry.ID) -> list[AuditEntry]:
        rows = await audit_resolvers.task_audit_log(
            info.context.resolver_context(), task_id=parse_id(task_id, field="taskId")
        )
        return [AuditEntry.from_model(r) for r in rows]

    @strawberry.field(
        description="What `undo` would do now, without doing it: the steps it would roll "
        "back, newest first, or why it would refuse."
    )
    async def undo_plan(
        self, info: Info, task_id: strawberry.ID, step_id: strawberry.ID | None = None
    ) -> UndoPlan:
        preview = await undo_resolvers.preview_undo(
            info.context.resolver_context(),
            task_id=parse_id(task_id, field="taskId"),
            step_id=parse_id(step_id, field="stepId") if step_id is not None else None,
        )
        return UndoPlan.from_preview(preview)

    @strawberry.field(description="The authenticated caller.")
    async def me(self, info: Info) -> User:
        return User.from_me(await user_resolvers.get_me(info.context.resolver_context()))
