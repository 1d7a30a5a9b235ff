"""Who may see a task and who may change it.

The owner and admins see and change their tasks. A person holding a role that one of the
task's approval policies names (a reviewer) sees the task read-only, so that they can
decide its approvals (docs/approvals.md); anyone else is told it does not exist.
A credential scoped to one task (a task token, an approval link) sees no other task at all.
"""

from __future__ import annotations

import uuid

from auth.request_info import note_task
from db.models import Task
from db.repositories import tasks as task_queries
from resolvers.audit import record_denied
from resolvers.context import RequestContext
from resolvers.errors import ForbiddenError, NotFoundError


def not_found(task_id: uuid.UUID | str) -> NotFoundError:
    """The one answer for a missing task and for another user's task."""
    note_task(task_id)
    return NotFoundError(f"task {task_id} was not found")


def hidden(ctx: RequestContext, task_id: uuid.UUID, *, action: str) -> NotFoundError:
    """Another user's task: audit the attempt, then answer exactly as for a missing one."""
    record_denied(ctx, action=action, target=f"task:{task_id}", reason="not the owner")
    return not_found(task_id)


def in_scope(ctx: RequestContext, task: Task) -> bool:
    """False for every task but its own when the credential is scoped to one task."""
    scope = ctx.principal.task_scope
    return scope is None or scope == task.id


def owns(ctx: RequestContext, task: Task) -> bool:
    if not in_scope(ctx, task):
        return False
    return task.user_id == ctx.principal.user_id or ctx.principal.is_admin


def reviews(ctx: RequestContext, task: Task) -> bool:
    """The caller holds a role one of the task's approval policies names."""
    if not in_scope(ctx, task):
        return False
    roles = task.reviewer_roles
    return bool(roles) and not set(ctx.principal.roles).isdisjoint(roles or ())


def visible(ctx: RequestContext, task: Task | None) -> bool:
    # Every task read passes here: name the task for the request's log lines.
    if task is not None:
        note_task(task.id)
    return task is not None and (owns(ctx, task) or reviews(ctx, task))


def require_owner(ctx: RequestContext, task: Task, *, action: str) -> None:
    """A change other than an approval decision: only the owner or an admin. A reviewer is
    told the task is read-only for them; anyone else that it does not exist."""
    if owns(ctx, task):
        note_task(task.id)
        return
    if visible(ctx, task):
        record_denied(ctx, action=action, target=f"task:{task.id}", reason="reviewer only")
        raise ForbiddenError(
            f"task {task.id} is read-only for you: you may only decide its approvals",
            hint="ask the task's owner or an admin",
        )
    raise hidden(ctx, task.id, action=action)


async def load_visible_task(ctx: RequestContext, task_id: uuid.UUID) -> Task:
    async with ctx.sessions() as session:
        task = await task_queries.get_task(session, task_id)
    if task is None:
        raise not_found(task_id)
    if not visible(ctx, task):
        raise hidden(ctx, task_id, action="task.read")
    return task
