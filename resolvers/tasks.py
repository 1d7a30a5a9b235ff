"""Task use cases: submit, read, list, cancel."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from db.engine import write_session
from db.models import Task, TaskStep
from db.repositories import tasks as task_queries
from db.repositories.audit import record_audit
from db.repositories.steps import approvals_by_task_ids, steps_of_task
from engine.approvals import ON_REJECT_VALUES, ON_TIMEOUT_VALUES, cancel_everything
from engine.executor import PlanError
from engine.journal import TaskMissingError, TaskTransaction
from resolvers.audit import record_denied
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, NotFoundError, ValidationFailedError

# require_scope is re-exported: other modules import it from here.
from resolvers.limits import authorize
from resolvers.limits import require_scope as require_scope
from resolvers.validation import (
    MAX_CONTEXT_BYTES,
    MAX_KEY_CHARS,
    MAX_TASK_CHARS,
    check_json_object,
    check_priority,
    clean_text,
)
from subscriptions.envelope import EventType

TASK_STATUSES = (
    "pending",
    "running",
    "awaiting_approval",
    "completed",
    "failed",
    "cancelled",
    "rolled_back",
)
FINISHED = ("completed", "failed", "cancelled", "rolled_back")
MAX_PAGE = 100


def not_found(task_id: uuid.UUID | str) -> NotFoundError:
    """The one answer for a missing task and for another user's task."""
    return NotFoundError(f"task {task_id} was not found")


def hidden(ctx: RequestContext, task_id: uuid.UUID, *, action: str) -> NotFoundError:
    """Another user's task: audit the attempt, then answer exactly as for a missing one."""
    record_denied(ctx, action=action, target=f"task:{task_id}", reason="not the owner")
    return not_found(task_id)


def visible(ctx: RequestContext, task: Task | None) -> bool:
    return task is not None and (task.user_id == ctx.principal.user_id or ctx.principal.is_admin)


async def load_visible_task(ctx: RequestContext, task_id: uuid.UUID) -> Task:
    async with ctx.sessions() as session:
        task = await task_queries.get_task(session, task_id)
    if task is None:
        raise not_found(task_id)
    if not visible(ctx, task):
        raise hidden(ctx, task_id, action="task.read")
    return task


@dataclass(frozen=True, slots=True)
class SubmitTaskInput:
    task: str
    priority: int | None = None
    conversation_id: str | None = None
    context: Any = None
    idempotency_key: str | None = None


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
    if on_timeout not in ON_TIMEOUT_VALUES:
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
    executor = ctx.engine.executors["builtin"]
    try:
        plan = executor.plan(text, context)
    except PlanError as error:
        raise ValidationFailedError(str(error), field=error.field or "context") from error

    if idempotency_key:
        async with ctx.sessions() as session:
            existing = await task_queries.find_by_idempotency_key(
                session, ctx.principal.user_id, idempotency_key
            )
        if existing is not None:
            return Submitted(task=existing, created=False)

    task = Task(
        id=uuid.uuid4(),
        user_id=ctx.principal.user_id,
        conversation_id=conversation_id or None,
        task=text,
        priority=priority,
        context=context,
        executor=executor.name,
        status="pending",
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
            for position, spec in enumerate(plan):
                session.add(
                    TaskStep(
                        task_id=task.id,
                        position=position,
                        name=spec.name,
                        description=spec.description,
                        action=spec.action,
                        params=spec.params,
                        requires_approval=spec.requires_approval,
                        reversibility=spec.reversibility,
                        status="pending",
                        progress=0.0,
                    )
                )
            tx = TaskTransaction(session, task)
            tx.emit(
                EventType.STATUS_CHANGE, status="pending", previousStatus=None, message="queued"
            )
            tx.log(f"task submitted with {len(plan)} step(s)")
    except IntegrityError:
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


@dataclass(frozen=True, slots=True)
class TaskQuery:
    status: str | None = None
    conversation_id: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: list[Task]
    has_next: bool
    total: int


def encode_cursor(task: Task) -> str:
    raw = f"{task.created_at.isoformat()}|{task.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, task_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment, uuid.UUID(task_id)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailedError(
            "after is not a cursor this API issued; pass pageInfo.endCursor back unchanged",
            field="after",
        ) from error


def _filter_for(ctx: RequestContext, query: TaskQuery) -> task_queries.TaskFilter:
    if query.status is not None and query.status not in TASK_STATUSES:
        raise ValidationFailedError(
            f"status must be one of {', '.join(TASK_STATUSES)}", field="status"
        )
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise ValidationFailedError("dateFrom must not be after dateTo", field="dateFrom")
    return task_queries.TaskFilter(
        user_id=None if ctx.principal.is_admin else ctx.principal.user_id,
        status=query.status,
        conversation_id=query.conversation_id,
        date_from=query.date_from,
        date_to=query.date_to,
    )


def _check_limit(limit: int, *, field: str) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailedError(f"{field} must be from 1 to {MAX_PAGE}", field=field)


async def list_tasks(
    ctx: RequestContext,
    *,
    query: TaskQuery,
    limit: int = 20,
    after: str | None = None,
    offset: int = 0,
) -> TaskPage:
    """The caller's tasks (every task for an admin), newest first."""
    await authorize(ctx, "tasks:read")
    _check_limit(limit, field="first" if after is not None or offset == 0 else "limit")
    if offset < 0:
        raise ValidationFailedError("offset must not be negative", field="offset")
    task_filter = _filter_for(ctx, query)
    before = decode_cursor(after) if after else None
    async with ctx.sessions() as session:
        rows = list(
            await task_queries.list_tasks_page(
                session, task_filter, limit=limit + 1, before=before, offset=offset
            )
        )
        total = await task_queries.count_tasks(session, task_filter)
    return TaskPage(tasks=rows[:limit], has_next=len(rows) > limit, total=total)


async def cancel_task(ctx: RequestContext, *, task_id: uuid.UUID) -> Task:
    """Pending and awaiting-approval tasks end at once; a running one at its next checkpoint."""
    await authorize(ctx, "tasks:write")
    try:
        async with ctx.engine.transaction(task_id) as tx:
            if not visible(ctx, tx.task):
                raise hidden(ctx, task_id, action="task.cancel")
            status = tx.task.status
            if status in FINISHED:
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
            if status == "running":
                if not tx.task.cancel_requested:
                    tx.task.cancel_requested = True
                    tx.log("cancellation requested; stopping at the next checkpoint")
            else:
                await cancel_everything(tx, message=f"cancelled by {ctx.principal.subject}")
            task = tx.task
    except TaskMissingError as error:
        raise not_found(task_id) from error
    ctx.engine.request_cancel(task_id)
    for approval_id in await _pending_approval_ids(ctx, task_id):
        ctx.engine.approval_decided(approval_id)
    ctx.engine.wake()
    if status == "pending":
        await ctx.engine.publish_queue_updates()
    return task


async def _pending_approval_ids(ctx: RequestContext, task_id: uuid.UUID) -> list[uuid.UUID]:
    async with ctx.sessions() as session:
        approvals = (await approvals_by_task_ids(session, [task_id]))[0]
    return [a.id for a in approvals]


@dataclass(frozen=True, slots=True)
class QueueInfo:
    position: int | None
    estimated_wait_seconds: float | None


async def queue_info(ctx: RequestContext, task: Task) -> QueueInfo:
    if task.status != "pending":
        return QueueInfo(position=None, estimated_wait_seconds=None)
    async with ctx.sessions() as session:
        position = await task_queries.queue_position(session, task)
    return QueueInfo(position=position, estimated_wait_seconds=ctx.engine.estimated_wait(position))


def task_progress(task: Task, steps: list[TaskStep]) -> float:
    """Done steps count fully, the running one by its own progress."""
    if not steps:
        return 1.0 if task.status == "completed" else 0.0
    done = sum(1.0 for s in steps if s.status in ("completed", "skipped", "rolled_back"))
    running = sum(s.progress for s in steps if s.status == "running")
    return round(min((done + running) / len(steps), 1.0), 4)


def current_step(steps: list[TaskStep]) -> TaskStep | None:
    for step in steps:
        if step.status in ("running", "awaiting_approval"):
            return step
    return None


async def steps_for(ctx: RequestContext, task: Task) -> list[TaskStep]:
    async with ctx.sessions() as session:
        return await steps_of_task(session, task.id)
