"""Approval use cases: answer one request, or a batch of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApprovalRequest, Task, utcnow
from db.repositories.audit import record_audit
from db.repositories.steps import approvals_for_user, get_approval, get_step
from domain.vocabulary import ApprovalStatus, TaskStatus, parse_word
from engine.approvals import Decision, record_decision
from engine.journal import TaskMissingError
from resolvers.access import hidden, not_found, visible
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, NotFoundError, ValidationFailedError
from resolvers.executors import check_modified_parameters
from resolvers.limits import authorize
from resolvers.validation import MAX_CONTEXT_BYTES, check_json_object, clean_text


@dataclass(frozen=True, slots=True)
class ApprovalAnswer:
    approval_id: uuid.UUID
    approved: bool
    message: str | None = None
    modified_parameters: Any = None


def validate_answer(answer: ApprovalAnswer) -> tuple[str | None, dict[str, Any] | None]:
    """The answer's message and changed parameters, checked."""
    message = clean_text(answer.message, field="message", max_chars=2000)
    if answer.modified_parameters is None:
        return message, None
    if not answer.approved:
        raise ValidationFailedError(
            "modifiedParameters only goes with approved: true", field="modifiedParameters"
        )
    modified = check_json_object(
        answer.modified_parameters, field="modifiedParameters", max_bytes=MAX_CONTEXT_BYTES
    )
    return message, modified


async def approve_step(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    answer: ApprovalAnswer,
    batch_id: uuid.UUID | None = None,
) -> Task:
    """Record the decision on a pending approval and move the task on; audited."""
    await authorize(ctx, "tasks:write")
    message, modified = validate_answer(answer)
    try:
        async with ctx.engine.transaction(task_id) as tx:
            if not visible(ctx, tx.task):
                raise hidden(ctx, task_id, action="approval.decide")
            approval = await get_approval(tx.session, answer.approval_id)
            if approval is None or approval.task_id != task_id:
                raise NotFoundError(
                    f"approval {answer.approval_id} was not found on task {task_id}",
                    hint="use an id from Task.approvals or the approval_request event",
                )
            check_pending(approval)
            if tx.task.status != TaskStatus.AWAITING_APPROVAL:
                raise ConflictError(
                    f"task {task_id} is {tx.task.status}, not waiting for approval {approval.id}",
                    hint="read the task for its current state; only a waiting task can be answered",
                )
            if modified is not None:
                await check_step_parameters(ctx, tx.session, tx.task, approval, modified)
            approval.batch_id = batch_id
            status: Decision = (
                ApprovalStatus.REJECTED
                if not answer.approved
                else (ApprovalStatus.MODIFIED if modified is not None else ApprovalStatus.APPROVED)
            )
            await record_decision(
                tx,
                approval,
                status=status,
                decided_by=ctx.principal.actor,
                message=message,
                modified_parameters=modified,
            )
            record_audit(
                tx.session,
                actor=ctx.principal.actor,
                action=f"approval.{status}",
                target=f"task:{task_id}",
                details={
                    "approvalId": str(approval.id),
                    "stepId": str(approval.step_id),
                    "message": message,
                    "modifiedParameters": modified,
                    "batchId": str(batch_id) if batch_id else None,
                },
                request_id=ctx.request_id,
            )
            task = tx.task
    except TaskMissingError as error:
        raise not_found(task_id) from error
    ctx.engine.approval_decided(answer.approval_id)
    return task


async def check_step_parameters(
    ctx: RequestContext,
    session: AsyncSession,
    task: Task,
    approval: ApprovalRequest,
    parameters: dict[str, Any],
) -> None:
    """Changed parameters must satisfy the step action's declared schema."""
    step = await get_step(session, approval.step_id)
    if step is not None:
        await check_modified_parameters(
            ctx, executor=task.executor, action=step.action, parameters=parameters
        )


def check_pending(approval: ApprovalRequest) -> None:
    if approval.status != ApprovalStatus.PENDING:
        raise ConflictError(
            f"approval {approval.id} is already {approval.status}",
            hint="only a pending approval can be answered; read the task for its current state",
        )
    if approval.expires_at <= utcnow():
        raise ConflictError(
            f"approval {approval.id} expired at {approval.expires_at.isoformat()}",
            hint="the request timed out; its timeout policy applies",
        )


async def list_approvals(ctx: RequestContext, *, status: str | None) -> list[ApprovalRequest]:
    await authorize(ctx, "tasks:read")
    wanted = parse_word(ApprovalStatus, status)
    if status is not None and wanted is None:
        raise ValidationFailedError(
            f"status must be one of {', '.join(ApprovalStatus)}", field="status"
        )
    async with ctx.sessions() as session:
        rows = await approvals_for_user(
            session, None if ctx.principal.is_admin else ctx.principal.user_id, status=wanted
        )
    return list(rows)
