"""Answer several related approval requests at once (AC5.8.5, batch approval)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db.models import Task
from db.repositories.steps import get_approval
from db.repositories.tasks import get_task
from resolvers.access import hidden, not_found, visible
from resolvers.approvals import (
    ApprovalAnswer,
    check_pending,
    check_step_parameters,
    record_answer,
    validate_answer,
)
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, DomainError, NotFoundError, ValidationFailedError
from resolvers.limits import require_scope, throttle

MAX_BATCH = 50


@dataclass(frozen=True, slots=True)
class BatchItem:
    task_id: uuid.UUID
    answer: ApprovalAnswer


async def approve_batch(ctx: RequestContext, *, items: list[BatchItem]) -> list[Task]:
    """Check every answer first, so a batch naming an unknown, foreign or already answered
    approval changes nothing; then record each under one batch id, in order.

    Each answer is one write, counted before any check: a refused batch spends the
    budget like an accepted one, and a batch is never cut short by the limit midway."""
    require_scope(ctx, "tasks:write")
    await throttle(ctx, "write", cost=min(max(len(items), 1), MAX_BATCH))
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailedError(
            f"a batch holds 1 to {MAX_BATCH} answers; this one has {len(items)}", field="items"
        )
    ids = [item.answer.approval_id for item in items]
    if len(set(ids)) != len(ids):
        raise ValidationFailedError("each approval may appear once in a batch", field="items")
    await _check_all(ctx, items)

    batch_id = uuid.uuid4()
    answered: list[Task] = []
    for item in items:
        try:
            task = await record_answer(
                ctx, task_id=item.task_id, answer=item.answer, batch_id=batch_id
            )
        except DomainError as error:
            recorded = ", ".join(str(i.answer.approval_id) for i in items[: len(answered)])
            raise ConflictError(
                f"approval {item.answer.approval_id} could not be answered ({error.message}); "
                f"recorded before it: {recorded or 'none'}",
                hint="read the tasks again; answer what is still pending",
            ) from error
        answered.append(task)
    return answered


async def _check_all(ctx: RequestContext, items: list[BatchItem]) -> None:
    modified = [validate_answer(item.answer)[1] for item in items]
    async with ctx.sessions() as session:
        for item, parameters in zip(items, modified, strict=True):
            task = await get_task(session, item.task_id)
            if task is None:
                raise not_found(item.task_id)
            if not visible(ctx, task):
                raise hidden(ctx, item.task_id, action="approval.decide")
            approval = await get_approval(session, item.answer.approval_id)
            if approval is None or approval.task_id != item.task_id:
                raise NotFoundError(
                    f"approval {item.answer.approval_id} was not found on task {item.task_id}",
                    hint="use an id from Task.approvals or the approval_request event",
                )
            check_pending(approval)
            if parameters is not None:
                await check_step_parameters(ctx, session, task, approval, parameters)
