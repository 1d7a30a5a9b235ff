"""Task use cases: submit, read, cancel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from db.engine import write_session
from db.models import Task
from db.repositories import tasks as task_queries
from db.repositories.audit import record_audit
from db.repositories.steps import approvals_by_task_ids
from domain.vocabulary import CancelMode, EventType, OnTimeout, TaskStatus, parse_word
from engine.actions import parse_steps
from engine.approvals import ON_REJECT_VALUES, cancel_everything
from engine.executor import PlanError, StepSpec
from engine.journal import TaskMissingError, TaskTransaction
from engine.plan_rows import step_rows
from resolvers.access import load_visible_task, not_found, require_owner
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, NotFoundError, ValidationFailedError
from resolvers.executors import actions_of, executor_name_of
from resolvers.limits import authorize
from resolvers.validation import (
    MAX_CONTEXT_BYTES,
    MAX_KEY_CHARS,
    MAX_TASK_CHARS,
    check_json_object,
    check_priority,
    clean_text,
)


@dataclass(frozen=True, slots=True)
class SubmitTaskInput:
    task: str
    priority: int | None = None
    conversation_id: str | None = None
    context: Any = None
    idempotency_key: str | None = None
    # A client-chosen id (AG-UI's threadId is the task's id); a new random one when absent.
    task_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    task: Task
    created: bool


def _check_policies(context: dict[str, Any]) -> None:
    on_reject = context.get("onReject", "skip")
    if on_reject not in ON_REJECT_VALUES:
        raise ValidationFailedError(
            "context.onReject must be 'skip' or 'cancel'", field="context.onReject"
        )
    on_timeout = context.get("onApprovalTimeout", "reject")
    if parse_word(OnTimeout, on_timeout) is None:
        raise ValidationFailedError(
            "context.onApprovalTimeout must be 'reject', 'cancel' or 'approve'",
            field="context.onApprovalTimeout",
        )
    timeout = context.get("approvalTimeoutSeconds")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= 86_400 * 7
    ):
        raise ValidationFailedError(
            "context.approvalTimeoutSeconds must be a number of seconds from 1 to 604800",
            field="context.approvalTimeoutSeconds",
        )


@dataclass(frozen=True, slots=True)
class Planned:
    name: str
    plan: list[StepSpec]


async def plan_of(ctx: RequestContext, text: str, context: dict[str, Any]) -> Planned:
    """The task's plan from its executor (`context.executor`, default builtin): an in-process
    executor plans it; a registered one takes `context.steps` checked against its declared
    actions, or starts with no steps for its worker to plan."""
    name = executor_name_of(context)
    try:
        in_process = ctx.engine.executors.get(name)
        if in_process is not None:
            return Planned(name, in_process.plan(text, context))
        actions = await actions_of(ctx, name)
        if actions is None:
            raise ValidationFailedError(
                f"context.executor {name!r} is not a registered executor",
                field="context.executor",
                hint="register it first (POST /api/worker/executors) or leave it out for "
                "the built-in executor",
            )
        return Planned(name, parse_steps(context["steps"], actions) if "steps" in context else [])
    except PlanError as error:
        raise ValidationFailedError(str(error), field=error.field or "context") from error


async def submit_task(ctx: RequestContext, *, data: SubmitTaskInput) -> Submitted:
    """Validate, store the task `pending` with its planned steps, and queue it.

    A repeat with the same idempotency key returns the first task unchanged.
    """
    await authorize(ctx, "tasks:write")
    text = clean_text(data.task, field="task", max_chars=MAX_TASK_CHARS, required=True)
    assert text is not None
    conversation_id = clean_text(
        data.conversation_id, field="conversationId", max_chars=MAX_KEY_CHARS
    )
    idempotency_key = clean_text(
        data.idempotency_key, field="idempotencyKey", max_chars=MAX_KEY_CHARS
    )
    context = check_json_object(data.context, field="context", max_bytes=MAX_CONTEXT_BYTES)
    priority = check_priority(data.priority)
    _check_policies(context)
    executor = await plan_of(ctx, text, context)
    plan = executor.plan

    if idempotency_key:
        async with ctx.sessions() as session:
            existing = await task_queries.find_by_idempotency_key(
                session, ctx.principal.user_id, idempotency_key
            )
        if existing is not None:
            return Submitted(task=existing, created=False)

    task = Task(
        id=data.task_id or uuid.uuid4(),
        user_id=ctx.principal.user_id,
        conversation_id=conversation_id or None,
        task=text,
        priority=priority,
        context=context,
        executor=executor.name,
        status=TaskStatus.PENDING,
        idempotency_key=idempotency_key or None,
        artifacts={},
        last_seq=0,
        version=1,
        attempts=0,
        cancel_requested=False,
    )
    try:
        async with write_session(ctx.sessions) as session:
            session.add(task)
            await session.flush()
            session.add_all(step_rows(task, plan))
            tx = TaskTransaction(session, task)
            tx.emit(
                EventType.STATUS_CHANGE,
                status=TaskStatus.PENDING,
                previousStatus=None,
                message="queued",
            )
            tx.log(f"task submitted with {len(plan)} step(s)")
    except IntegrityError:
        if data.task_id is not None and not idempotency_key:
            raise ConflictError(
                "a task with this id already exists",
                hint="choose a new id (a fresh UUID) for a new task",
            ) from None
        if not idempotency_key:
            raise
        async with ctx.sessions() as session:
            existing = await task_queries.find_by_idempotency_key(
                session, ctx.principal.user_id, idempotency_key
            )
        if existing is None:
            raise
        return Submitted(task=existing, created=False)
    await ctx.services.bus.publish(tx.events)
    ctx.engine.wake()
    await ctx.engine.publish_queue_updates()
    return Submitted(task=task, created=True)


async def get_task(ctx: RequestContext, *, task_id: uuid.UUID) -> Task:
    """The task if the caller may see it; otherwise the same NotFound as a missing one."""
    await authorize(ctx, "tasks:read")
    return await load_visible_task(ctx, task_id)


async def find_task(ctx: RequestContext, *, task_id: uuid.UUID) -> Task | None:
    try:
        return await get_task(ctx, task_id=task_id)
    except NotFoundError:
        return None


async def cancel_task(
    ctx: RequestContext, *, task_id: uuid.UUID, mode: str = CancelMode.IMMEDIATE
) -> Task:
    """Pending and awaiting-approval tasks end at once; a running one at its next checkpoint
    (`immediate`) or once its running step finishes (`after_step`)."""
    await authorize(ctx, "tasks:write")
    cancel_mode = parse_word(CancelMode, mode)
    if cancel_mode is None:
        raise ValidationFailedError("mode must be 'immediate' or 'after_step'", field="mode")
    try:
        async with ctx.engine.transaction(task_id) as tx:
            require_owner(ctx, tx.task, action="task.cancel")
            status = tx.task.status
            if status in TaskStatus.FINISHED:
                raise ConflictError(
                    f"the task is already {status} and cannot be cancelled",
                    hint="only pending, running or awaiting-approval tasks can be cancelled",
                )
            record_audit(
                tx.session,
                actor=ctx.principal.actor,
                action="task.cancel",
                target=f"task:{task_id}",
                details={"status": status},
                request_id=ctx.request_id,
            )
            if status == TaskStatus.RUNNING:
                if not tx.task.cancel_requested or cancel_mode == CancelMode.IMMEDIATE:
                    tx.task.cancel_requested = True
                    tx.task.cancel_mode = cancel_mode
                    tx.log("cancellation requested; stopping at the next checkpoint")
            else:
                await cancel_everything(tx, message=f"cancelled by {ctx.principal.subject}")
            task = tx.task
    except TaskMissingError as error:
        raise not_found(task_id) from error
    ctx.engine.request_cancel(task_id, mode=mode)
    for approval_id in await _pending_approval_ids(ctx, task_id):
        ctx.engine.approval_decided(approval_id)
    ctx.engine.wake()
    if status == TaskStatus.PENDING:
        await ctx.engine.publish_queue_updates()
    return task


async def _pending_approval_ids(ctx: RequestContext, task_id: uuid.UUID) -> list[uuid.UUID]:
    async with ctx.sessions() as session:
        approvals = (await approvals_by_task_ids(session, [task_id]))[0]
    return [a.id for a in approvals]
