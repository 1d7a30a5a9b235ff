"""Read models: a task together with what a client needs to show it (steps, approvals, logs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApprovalRequest, Task, TaskLog, TaskStep
from db.repositories import tasks as task_queries
from db.repositories.steps import approvals_by_task_ids, logs_by_task_ids, steps_by_task_ids
from domain.vocabulary import ApprovalStatus
from resolvers.access import hidden, not_found, visible
from resolvers.context import RequestContext
from resolvers.limits import authorize
from resolvers.progress import QueueInfo, current_step, queue_infos, task_progress


@dataclass(frozen=True, slots=True)
class TaskView:
    """One task as it stands, with its children loaded; `logs` is empty unless asked for."""

    task: Task
    steps: list[TaskStep]
    approvals: list[ApprovalRequest]
    logs: list[TaskLog]
    queue: QueueInfo

    @property
    def progress(self) -> float:
        return task_progress(self.task, self.steps)

    @property
    def current_step(self) -> TaskStep | None:
        return current_step(self.steps)

    @property
    def pending_approval(self) -> ApprovalRequest | None:
        pending = [a for a in self.approvals if a.status == ApprovalStatus.PENDING]
        return pending[-1] if pending else None


async def view_tasks(
    ctx: RequestContext, tasks: list[Task], *, with_logs: bool = False
) -> list[TaskView]:
    """Views of tasks the caller may see, children loaded with one query per kind.

    No scope check of its own: the tasks come from a resolver that already checked the
    scope its use case needs (a write-only key still gets back the task it submitted).
    """
    for task in tasks:
        # Callers pass tasks another resolver already authorized; re-check so a
        # view can never leak a task by mistake.
        if not visible(ctx, task):
            raise not_found(task.id)
    async with ctx.sessions() as session:
        return await _views(ctx, session, tasks, with_logs=with_logs)


async def _views(
    ctx: RequestContext, session: AsyncSession, tasks: list[Task], *, with_logs: bool
) -> list[TaskView]:
    """One query per kind of child row and one for queue positions, in `session`."""
    ids = [t.id for t in tasks]
    steps = await steps_by_task_ids(session, ids)
    approvals = await approvals_by_task_ids(session, ids)
    logs = await logs_by_task_ids(session, ids) if with_logs else [[] for _ in ids]
    queues = await queue_infos(ctx, session, tasks)
    return [
        TaskView(task=task, steps=s, approvals=a, logs=lg, queue=q)
        for task, s, a, lg, q in zip(tasks, steps, approvals, logs, queues, strict=True)
    ]


async def view_task(ctx: RequestContext, task: Task, *, with_logs: bool = False) -> TaskView:
    """The view of one task the caller may see."""
    return (await view_tasks(ctx, [task], with_logs=with_logs))[0]


async def get_task_view(ctx: RequestContext, *, task_id: uuid.UUID) -> TaskView:
    """The task with its steps, approvals and logs; NotFound when the caller may not see it.

    One session for the task and its children (it was two, each a checkout and a
    transaction of its own).
    """
    await authorize(ctx, "tasks:read")
    async with ctx.sessions() as session:
        task = await task_queries.get_task(session, task_id)
        if task is None:
            raise not_found(task_id)
        if not visible(ctx, task):
            raise hidden(ctx, task_id, action="task.read")
        return (await _views(ctx, session, [task], with_logs=True))[0]
