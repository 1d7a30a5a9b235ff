"""Who may see a task: its owner and admins. Anyone else is told it does not exist."""

from __future__ import annotations

import uuid

from auth.request_info import note_task
from db.models import Task
from db.repositories import tasks as task_queries
from resolvers.audit import record_denied
from resolvers.context import RequestContext
from resolvers.errors import NotFoundError


def not_found(task_id: uuid.UUID | str) -> NotFoundError:
    """The one answer for a missing task and for another user's task."""
    note_task(task_id)
    return NotFoundError(f"task {task_id} was not found")


def hidden(ctx: RequestContext, task_id: uuid.UUID, *, action: str) -> NotFoundError:
    """Another user's task: audit the attempt, then answer exactly as for a missing one."""
    record_denied(ctx, action=action, target=f"task:{task_id}", reason="not the owner")
    return not_found(task_id)


def visible(ctx: RequestContext, task: Task | None) -> bool:
    # Every task read passes here: name the task for the request's log lines.
    if task is not None:
        note_task(task.id)
    return task is not None and (task.user_id == ctx.principal.user_id or ctx.principal.is_admin)


async def load_visible_task(ctx: RequestContext, task_id: uuid.UUID) -> Task:
    async with ctx.sessions() as session:
        task = await task_queries.get_task(session, task_id)
    if task is None:
        raise not_found(task_id)
    if not visible(ctx, task):
        raise hidden(ctx, task_id, action="task.read")
    return task
