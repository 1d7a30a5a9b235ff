"""Input to a running task (issue 12): recorded as an INPUT event and handed to the task's
worker in its heartbeat signals. While the task awaits approval the policy decides: QUEUE
keeps it for after the decision; REJECT_PENDING rejects the pending approval and hands the
input over at once."""

from __future__ import annotations

import uuid
from typing import Any

from db.models import Task, utcnow
from db.repositories.audit import record_audit
from db.repositories.steps import approvals_by_task_ids
from domain.vocabulary import ApprovalStatus, EventType, InputPolicy, TaskStatus, parse_word
from engine.approvals import record_decision
from engine.journal import TaskMissingError
from engine.stalls import expect_progress
from resolvers.access import not_found, require_owner
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, ValidationFailedError
from resolvers.limits import authorize
from resolvers.validation import MAX_CONTEXT_BYTES, check_json_object

MAX_INPUTS = 100


async def send_input(
    ctx: RequestContext, *, task_id: uuid.UUID, input: Any, policy: str = InputPolicy.QUEUE
) -> Task:
    await authorize(ctx, "tasks:write")
    if parse_word(InputPolicy, policy) is None:
        raise ValidationFailedError("policy must be 'queue' or 'reject_pending'", field="policy")
    if input is None:
        raise ValidationFailedError("input is required (any JSON value)", field="input")
    check_json_object({"input": input}, field="input", max_bytes=MAX_CONTEXT_BYTES)
    rejected: list[uuid.UUID] = []
    try:
        async with ctx.engine.transaction(task_id) as tx:
            require_owner(ctx, tx.task, action="task.input")
            if tx.task.status not in TaskStatus.OPEN:
                raise ConflictError(
                    f"the task is {tx.task.status}; input goes only to an unfinished task",
                    hint="send input while the task is pending, running or awaiting approval",
                )
            inputs = list(tx.task.inputs or [])
            if len(inputs) >= MAX_INPUTS:
                raise ConflictError(
                    f"the task already holds {MAX_INPUTS} inputs", hint="start a new task"
                )
            entry = {
                "id": str(uuid.uuid4()),
                "input": input,
                "sentBy": ctx.principal.actor,
                "sentAt": utcnow().isoformat(),
            }
            tx.task.inputs = [*inputs, entry]
            awaiting = tx.task.status == TaskStatus.AWAITING_APPROVAL
            tx.emit(
                EventType.INPUT,
                inputId=entry["id"],
                input=input,
                policy=policy,
                queued=awaiting and policy == InputPolicy.QUEUE,
            )
            if awaiting and policy == InputPolicy.REJECT_PENDING:
                for approval in (await approvals_by_task_ids(tx.session, [task_id]))[0]:
                    if approval.status == ApprovalStatus.PENDING:
                        await record_decision(
                            tx,
                            approval,
                            status=ApprovalStatus.REJECTED,
                            decided_by=ctx.principal.actor,
                            message="rejected by input sent to the task",
                        )
                        rejected.append(approval.id)
                if rejected:
                    expect_progress(tx, seconds=ctx.engine.resume_stall_seconds)
            record_audit(
                tx.session,
                actor=ctx.principal.actor,
                action="task.input",
                target=f"task:{task_id}",
                details={
                    "inputId": entry["id"],
                    "policy": policy,
                    "rejected": [str(r) for r in rejected],
                },
                request_id=ctx.request_id,
            )
            task = tx.task
    except TaskMissingError as error:
        raise not_found(task_id) from error
    for approval_id in rejected:
        ctx.engine.approval_decided(approval_id)
    return task


def deliverable_inputs(task: Task) -> list[dict[str, Any]]:
    """What a worker's heartbeat hands over: nothing while an approval is pending (QUEUE),
    everything sent otherwise (the worker keeps track of the ids it has handled)."""
    if task.status == TaskStatus.AWAITING_APPROVAL:
        return []
    return list(task.inputs or [])
