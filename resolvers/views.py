"""Read models: a task together with what a client needs to show it (steps, approvals, logs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db.models import ApprovalRequest, Task, TaskLog, TaskStep
from db.repositories.steps import approvals_by_task_ids, logs_by_task_ids, steps_by_task_ids
from resolvers.access import not_found, visible
from resolvers.context import RequestContext
from resolvers.progress import QueueInfo, current_step, queue_info, task_progress
from resolvers.tasks import get_task


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
        pending = [a for a in self.approvals if a.status == "pending"]
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
    ids = [t.id for t in tasks]
    async with ctx.sessions() as session:
        steps = await steps_by_task_ids(session, ids)
        approvals = await approvals_by_task_ids(session, ids)
        logs = await logs_by_task_ids(session, ids) if with_logs else [[] for _ in ids]
    views = []
    for task, task_steps, task_approvals, task_logs in zip(
        tasks, steps, approvals, logs, strict=True
    ):
        views.append(
            TaskView(
                task=task,
                steps=task_steps,
                approvals=task_approvals,
                logs=task_logs,
                queue=await queue_info(ctx, task),
            )
        )
    return views


async def view_task(ctx: RequestContext, task: Task, *, with_logs: bool = False) -> TaskView:
    """The view of one task the caller may see."""
    return (await view_tasks(ctx, [task], with_logs=with_logs))[0]


async def get_task_view(ctx: RequestContext, *, task_id: uuid.UUID) -> TaskView:
    """The task with its steps, approvals and logs; NotFound when the caller may not see it."""
    task = await get_task(ctx, task_id=task_id)
    return await view_task(ctx, task, with_logs=True)
