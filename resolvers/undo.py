"""Undo: roll a finished task's completed steps back, newest first, down to a step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db.models import Task, TaskStep
from db.repositories.audit import record_audit
from db.repositories.steps import steps_of_task
from engine.journal import TaskMissingError
from engine.rollback import (
    UndoFailedError,
    UndoRefusedError,
    plan_undo,
    queue_undo,
    reserve_undo,
    run_undo,
)
from resolvers.access import load_visible_task, not_found, require_owner
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, NotFoundError
from resolvers.limits import authorize


async def undo_task(ctx: RequestContext, *, task_id: uuid.UUID, step_id: uuid.UUID | None) -> Task:
    """Nothing changes unless every step in the plan can be rolled back; one undo at a time.
    A task of a remote executor is undone by a worker of it: the undo is queued, and this
    returns at once (its events report the progress)."""
    await authorize(ctx, "tasks:write")
    try:
        async with ctx.engine.transaction(task_id) as tx:
            require_owner(ctx, tx.task, action="task.undo")
            steps = await steps_of_task(tx.session, task_id)
            try:
                plan = plan_undo(tx.task.status, steps, step_id)
                in_process = tx.task.executor in ctx.engine.executors
                if in_process:
                    reservation = reserve_undo(tx)
                else:
                    queue_undo(tx, plan)
            except UndoRefusedError as refused:
                if refused.not_found:
                    raise NotFoundError(
                        f"step {step_id} was not found on task {task_id}", hint=refused.hint
                    ) from refused
                raise ConflictError(refused.reason, hint=refused.hint) from refused
            record_audit(
                tx.session,
                actor=ctx.principal.actor,
                action="task.undo",
                target=f"task:{task_id}",
                details={"stepIds": [str(s) for s in plan.step_ids]},
                request_id=ctx.request_id,
            )
    except TaskMissingError as error:
        raise not_found(task_id) from error
    if not in_process:
        # A worker of the task's executor claims the undo and runs its rollback handlers;
        # the task's events report it as they report an in-process undo.
        return await load_visible_task(ctx, task_id)
    try:
        await run_undo(ctx.engine, task_id, plan, reservation=reservation)
    except UndoFailedError as failure:
        raise ConflictError(
            str(failure), hint="read the task's steps to see what was undone"
        ) from failure
    return await load_visible_task(ctx, task_id)


@dataclass(frozen=True, slots=True)
class UndoPreview:
    """What `undo` would do now: the steps in rollback order, or why it would refuse."""

    possible: bool
    steps: list[TaskStep]
    reason: str | None = None
    hint: str | None = None


async def preview_undo(
    ctx: RequestContext, *, task_id: uuid.UUID, step_id: uuid.UUID | None
) -> UndoPreview:
    """The undo plan, computed by the same rule as `undo_task`, changing nothing."""
    await authorize(ctx, "tasks:read")
    task = await load_visible_task(ctx, task_id)
    async with ctx.sessions() as session:
        steps = await steps_of_task(session, task_id)
    try:
        plan = plan_undo(task.status, steps, step_id)
    except UndoRefusedError as refused:
        if refused.not_found:
            raise NotFoundError(
                f"step {step_id} was not found on task {task_id}", hint=refused.hint
            ) from refused
        return UndoPreview(possible=False, steps=[], reason=refused.reason, hint=refused.hint)
    by_id = {step.id: step for step in steps}
    return UndoPreview(possible=True, steps=[by_id[step] for step in plan.step_ids])
