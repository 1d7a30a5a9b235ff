"""Answer several approval requests at once (AC5.8.5; docs/approvals.md "Batches").

Atomic (the default): every answer is checked first, so a batch naming an unknown,
foreign, ineligible or already answered approval changes nothing and names the first
refusal. Partial: each answer is applied on its own and gets its own result, the task or
the error with its code. With an `idempotencyKey`, a repeat returns the first result and
changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from db.engine import write_session
from db.models import Task
from db.repositories.approvals import (
    claim_batch_key,
    decisions_by_approval_ids,
    find_batch,
    tasks_by_ids,
)
from db.repositories.steps import get_approval
from db.repositories.tasks import get_task
from resolvers.access import hidden, not_found, visible
from resolvers.approvals import (
    ApprovalAnswer,
    check_may_decide,
    check_pending,
    check_step_parameters,
    record_answer,
    validate_answer,
)
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, DomainError, NotFoundError, ValidationFailedError
from resolvers.limits import require_scope, throttle
from resolvers.validation import clean_text

MAX_BATCH = 50


@dataclass(frozen=True, slots=True)
class BatchItem:
    task_id: uuid.UUID
    answer: ApprovalAnswer


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """One answer's result: the task as it stands, or why the answer was refused."""

    approval_id: uuid.UUID
    task_id: uuid.UUID
    task: Task | None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch_id: uuid.UUID
    atomic: bool
    replayed: bool
    outcomes: list[BatchOutcome]

    @property
    def tasks(self) -> list[Task]:
        """The tasks of the answers that were recorded, in the order of the answers."""
        return [o.task for o in self.outcomes if o.task is not None and o.error_code is None]


async def approve_batch(
    ctx: RequestContext,
    *,
    items: list[BatchItem],
    atomic: bool = True,
    idempotency_key: Any = None,
) -> BatchResult:
    """Each answer is one write, counted before any check: a refused batch spends the
    budget like an accepted one, and a batch is never cut short by the limit midway."""
    require_scope(ctx, "tasks:write")
    await throttle(ctx, "write", cost=min(max(len(items), 1), MAX_BATCH))
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailedError(
            f"a batch holds 1 to {MAX_BATCH} answers; this one has {len(items)}",
            field="decisions",
        )
    ids = [item.answer.approval_id for item in items]
    if len(set(ids)) != len(ids):
        raise ValidationFailedError("each approval may appear once in a batch", field="decisions")
    key = clean_text(idempotency_key, field="idempotencyKey", max_chars=255)
    batch_id = uuid.uuid4()
    if key is not None:
        replay, batch_id = await _claim(ctx, key, atomic=atomic)
        if replay is not None:
            return replay
    try:
        apply = _apply_all if atomic else _apply_each
        result = await apply(ctx, items, batch_id)
    except _InterruptedError as stopped:
        # Some answers were recorded before a race refused one: a repeat with the key must
        # replay them, never apply them again.
        if key is not None:
            await _store(ctx, key, stopped.result)
        raise stopped.error from None
    except DomainError:
        if key is not None:
            await _release(ctx, key)  # nothing changed: the key may be used again
        raise
    if key is not None:
        await _store(ctx, key, result)
    return result


class _InterruptedError(Exception):
    """An atomic batch that a race stopped after some answers were recorded."""

    def __init__(self, error: ConflictError, result: BatchResult) -> None:
        super().__init__(error.message)
        self.error = error
        self.result = result


async def _apply_all(
    ctx: RequestContext, items: list[BatchItem], batch_id: uuid.UUID
) -> BatchResult:
    await _check_all(ctx, items)
    outcomes: list[BatchOutcome] = []
    for item in items:
        try:
            task = await record_answer(
                ctx, task_id=item.task_id, answer=item.answer, batch_id=batch_id
            )
        except DomainError as error:
            # Only a change between the check and this answer (a race) gets here.
            recorded = ", ".join(str(o.approval_id) for o in outcomes)
            conflict = ConflictError(
                f"approval {item.answer.approval_id} could not be answered ({error.message}); "
                f"recorded before it: {recorded or 'none'}",
                hint="read the tasks again; answer what is still pending",
            )
            if not outcomes:
                raise conflict from error
            refused = BatchOutcome(
                item.answer.approval_id,
                item.task_id,
                None,
                error_code=error.code,
                error_message=error.message,
            )
            so_far = BatchResult(
                batch_id=batch_id, atomic=True, replayed=False, outcomes=[*outcomes, refused]
            )
            raise _InterruptedError(conflict, so_far) from error
        outcomes.append(BatchOutcome(item.answer.approval_id, item.task_id, task))
    return BatchResult(batch_id=batch_id, atomic=True, replayed=False, outcomes=outcomes)


async def _apply_each(
    ctx: RequestContext, items: list[BatchItem], batch_id: uuid.UUID
) -> BatchResult:
    outcomes: list[BatchOutcome] = []
    for item in items:
        try:
            task = await record_answer(
                ctx, task_id=item.task_id, answer=item.answer, batch_id=batch_id
            )
        except DomainError as error:
            outcomes.append(
                BatchOutcome(
                    item.answer.approval_id,
                    item.task_id,
                    None,
                    error_code=error.code,
                    error_message=error.message,
                )
            )
            continue
        outcomes.append(BatchOutcome(item.answer.approval_id, item.task_id, task))
    return BatchResult(batch_id=batch_id, atomic=False, replayed=False, outcomes=outcomes)


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
            earlier = (await decisions_by_approval_ids(session, [approval.id]))[0]
            check_may_decide(ctx, task, approval, earlier)
            if parameters is not None:
                await check_step_parameters(ctx, session, task, approval, parameters)


# idempotency keys


async def _claim(
    ctx: RequestContext, key: str, *, atomic: bool
) -> tuple[BatchResult | None, uuid.UUID]:
    """Take the key (its batch id is this batch's), or the stored result of its batch."""
    async with write_session(ctx.sessions) as session:
        existing, claimed = await claim_batch_key(
            session, user_id=ctx.principal.user_id, key=key, atomic=atomic
        )
    if existing is None:
        return None, claimed
    if existing.outcomes is None:
        raise ConflictError(
            f"a batch with idempotencyKey {key!r} is being applied now",
            hint="retry in a moment: the repeat then returns its result",
        )
    stored = [dict(o) for o in existing.outcomes]
    async with ctx.sessions() as session:
        tasks = await tasks_by_ids(session, list({uuid.UUID(o["taskId"]) for o in stored}))
    outcomes = [
        BatchOutcome(
            approval_id=uuid.UUID(o["approvalId"]),
            task_id=uuid.UUID(o["taskId"]),
            task=tasks.get(uuid.UUID(o["taskId"])) if o.get("error") is None else None,
            error_code=(o.get("error") or {}).get("code"),
            error_message=(o.get("error") or {}).get("message"),
        )
        for o in stored
    ]
    replayed = BatchResult(
        batch_id=existing.id, atomic=existing.atomic, replayed=True, outcomes=outcomes
    )
    return replayed, existing.id


async def _store(ctx: RequestContext, key: str, result: BatchResult) -> None:
    async with write_session(ctx.sessions) as session:
        batch = await find_batch(session, user_id=ctx.principal.user_id, key=key)
        if batch is None:
            return
        batch.outcomes = [
            {
                "approvalId": str(o.approval_id),
                "taskId": str(o.task_id),
                "error": (
                    {"code": o.error_code, "message": o.error_message}
                    if o.error_code is not None
                    else None
                ),
            }
            for o in result.outcomes
        ]


async def _release(ctx: RequestContext, key: str) -> None:
    async with write_session(ctx.sessions) as session:
        batch = await find_batch(session, user_id=ctx.principal.user_id, key=key)
        if batch is not None and batch.outcomes is None:
            await session.delete(batch)
