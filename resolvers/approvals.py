"""Approval use cases: answer one request, or a batch of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth.principal import DECIDE_SCOPE, person_of
from db.models import ApprovalDecision, ApprovalRequest, Task, TaskStep, utcnow
from db.repositories.approval_links import use_link
from db.repositories.approvals import (
    decisions_by_approval_ids,
    inbox_page,
    steps_by_ids,
    tasks_by_ids,
)
from db.repositories.audit import record_audit
from db.repositories.steps import get_approval, get_step
from domain.vocabulary import ApprovalStatus, TaskStatus, parse_word
from engine.approval_policy import ApprovalPolicy
from engine.approval_votes import answer_approval
from engine.journal import TaskMissingError
from engine.stalls import expect_progress
from resolvers.access import hidden, not_found, visible
from resolvers.audit import record_denied
from resolvers.context import RequestContext
from resolvers.errors import (
    ConflictError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    ValidationFailedError,
)
from resolvers.executors import check_modified_parameters
from resolvers.history import MAX_PAGE, decode_cursor
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
    await authorize(ctx, DECIDE_SCOPE)
    return await record_answer(ctx, task_id=task_id, answer=answer, batch_id=batch_id)


async def record_answer(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    answer: ApprovalAnswer,
    batch_id: uuid.UUID | None,
) -> Task:
    """`approve_step` for a caller that has authorized and counted the write already."""
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
            # Before the pending check: of answers racing on one link, the losers are
            # told the link was used (410), not that the request was decided (409).
            await _use_link(ctx, tx.session, task_id=task_id, approval_id=approval.id)
            check_pending(approval)
            if tx.task.status != TaskStatus.AWAITING_APPROVAL:
                raise ConflictError(
                    f"task {task_id} is {tx.task.status}, not waiting for approval {approval.id}",
                    hint="read the task for its current state; only a waiting task can be answered",
                )
            earlier = (await decisions_by_approval_ids(tx.session, [approval.id]))[0]
            check_may_decide(ctx, tx.task, approval, earlier)
            if modified is not None:
                await check_step_parameters(ctx, tx.session, tx.task, approval, modified)
            approval.batch_id = batch_id
            outcome = await answer_approval(
                tx,
                approval,
                decided_by=ctx.principal.actor,
                approved=answer.approved,
                message=message,
                modified=modified,
                earlier=earlier,
            )
            if outcome is not ApprovalStatus.PENDING:
                expect_progress(tx, seconds=ctx.engine.resume_stall_seconds)
            decision = (
                ApprovalStatus.REJECTED
                if not answer.approved
                else (ApprovalStatus.MODIFIED if modified is not None else ApprovalStatus.APPROVED)
            )
            record_audit(
                tx.session,
                actor=ctx.principal.actor,
                action=f"approval.{decision}",
                target=f"task:{task_id}",
                details={
                    "approvalId": str(approval.id),
                    "stepId": str(approval.step_id),
                    "message": message,
                    "modifiedParameters": modified,
                    "batchId": str(batch_id) if batch_id else None,
                    "requestStatus": outcome,
                },
                request_id=ctx.request_id,
            )
            task = tx.task
    except TaskMissingError as error:
        raise not_found(task_id) from error
    ctx.engine.approval_decided(answer.approval_id)
    return task


async def _use_link(
    ctx: RequestContext, session: AsyncSession, *, task_id: uuid.UUID, approval_id: uuid.UUID
) -> None:
    """A decision through an approval link marks it used in the decision's own transaction
    (so a refused decision leaves it usable, and of two racing uses one wins); audited."""
    link_id = ctx.principal.link_id
    if link_id is None:
        return
    if not await use_link(session, link_id, utcnow()):
        raise GoneError("this approval link was already used, revoked or has expired")
    record_audit(
        session,
        actor=ctx.principal.actor,
        action="approval_link.use",
        target=f"task:{task_id}",
        details={"linkId": str(link_id), "approvalId": str(approval_id)},
        request_id=ctx.request_id,
    )


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


def check_may_decide(
    ctx: RequestContext,
    task: Task,
    approval: ApprovalRequest,
    earlier: list[ApprovalDecision],
) -> None:
    """The request's policy lets this person decide, and they have not decided it yet."""
    refusal = ApprovalPolicy.from_json(approval.policy).refusal(
        user_id=ctx.principal.user_id, roles=ctx.principal.roles, owner_id=task.user_id
    )
    if refusal is not None:
        record_denied(
            ctx, action="approval.decide", target=f"task:{task.id}", reason="not eligible"
        )
        raise ForbiddenError(
            f"you may not decide approval {approval.id}: {refusal}",
            hint="ask a person the step's approval policy names",
        )
    # One decision per person, whether they answered directly or through a link.
    if any(person_of(d.decided_by) == ctx.principal.person for d in earlier):
        raise ConflictError(
            f"you already decided approval {approval.id}",
            hint="each person decides a request once; it waits for the others",
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


def approval_policy_of(approval: ApprovalRequest) -> ApprovalPolicy:
    return ApprovalPolicy.from_json(approval.policy)


def remaining_seconds(approval: ApprovalRequest) -> float | None:
    if approval.status != ApprovalStatus.PENDING:
        return None
    return max(0.0, (approval.expires_at - utcnow()).total_seconds())


@dataclass(frozen=True, slots=True)
class InboxPage:
    approvals: list[ApprovalRequest]
    has_next: bool


async def approval_inbox(
    ctx: RequestContext, *, status: str | None, first: int = 20, after: str | None = None
) -> InboxPage:
    """Newest first: the requests of the caller's tasks and of tasks whose approval policies
    name one of the caller's roles (every request for an admin)."""
    await authorize(ctx, "tasks:read", across_tasks=True)
    wanted = parse_word(ApprovalStatus, status)
    if status is not None and wanted is None:
        raise ValidationFailedError(
            f"status must be one of {', '.join(ApprovalStatus)}", field="status"
        )
    if not 1 <= first <= MAX_PAGE:
        raise ValidationFailedError(f"first must be between 1 and {MAX_PAGE}", field="first")
    before = decode_cursor(after) if after else None
    async with ctx.sessions() as session:
        rows = await inbox_page(
            session,
            user_id=None if ctx.principal.is_admin else ctx.principal.user_id,
            roles=ctx.principal.roles,
            status=wanted,
            before=before,
            limit=first + 1,
        )
    return InboxPage(approvals=list(rows[:first]), has_next=len(rows) > first)


# The decision rows an inbox entry carries, for transports that may not import db/.
DecisionRow = ApprovalDecision


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """An inbox request with what a reviewer needs to decide it."""

    approval: ApprovalRequest
    task: Task
    step: TaskStep | None
    decisions: list[ApprovalDecision]


async def inbox_entries(ctx: RequestContext, approvals: list[ApprovalRequest]) -> list[InboxEntry]:
    """Tasks, steps and decisions of a page: one query each, whatever the page's size."""
    async with ctx.sessions() as session:
        tasks = await tasks_by_ids(session, list({a.task_id for a in approvals}))
        steps = await steps_by_ids(session, list({a.step_id for a in approvals}))
        decisions = await decisions_by_approval_ids(session, [a.id for a in approvals])
    return [
        InboxEntry(approval=a, task=tasks[a.task_id], step=steps.get(a.step_id), decisions=d)
        for a, d in zip(approvals, decisions, strict=True)
        if a.task_id in tasks
    ]
