"""Approval decisions: one rule for a person's answer and for an expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from db.models import ApprovalDecision, ApprovalRequest, utcnow
from db.repositories.audit import record_audit
from db.repositories.steps import approvals_by_task_ids, get_step, steps_of_task
from domain.vocabulary import ApprovalStatus, EventType, OnTimeout, StepStatus, TaskStatus
from engine.journal import TaskTransaction
from subscriptions import telemetry
from subscriptions.wire import APPROVAL_IN_EVENT, STEP_IN_EVENT

OnReject = Literal["skip", "cancel"]
# What a person or an expiry may record (a cancelled request is the task's doing, not a decision).
Decision = Literal[
    ApprovalStatus.APPROVED,
    ApprovalStatus.MODIFIED,
    ApprovalStatus.REJECTED,
    ApprovalStatus.EXPIRED,
]
ON_REJECT_VALUES = ("skip", "cancel")
TIMEOUT_ACTOR = "system:timeout"


def on_reject_policy(context: dict[str, Any]) -> OnReject:
    policy = context.get("onReject", "skip")
    return "cancel" if policy == "cancel" else "skip"


def _count_wait(tx: TaskTransaction, approval: ApprovalRequest) -> None:
    """`agentwire_approval_wait_seconds`, once the decision is committed."""
    assert approval.decided_at is not None
    waited = max(0.0, (approval.decided_at - approval.created_at).total_seconds())
    outcome = str(approval.status)
    tx.after_commit.append(lambda: telemetry.recorder.approval_waited(outcome, waited))


async def record_decision(
    tx: TaskTransaction,
    approval: ApprovalRequest,
    *,
    status: Decision,
    decided_by: str,
    message: str | None = None,
    modified_parameters: dict[str, Any] | None = None,
    decided_at: datetime | None = None,
) -> None:
    """Record the outcome and move the task on: run the step, skip it, or cancel the task."""
    step = await get_step(tx.session, approval.step_id)
    assert step is not None
    approval.status = status
    approval.decided_by = decided_by
    approval.decision_message = message
    approval.decided_at = decided_at or utcnow()
    _count_wait(tx, approval)
    if status == ApprovalStatus.MODIFIED:
        approval.modified_parameters = modified_parameters
        step.params = dict(modified_parameters or {})

    event_type = (
        EventType.APPROVAL_TIMEOUT
        if status == ApprovalStatus.EXPIRED
        else EventType.APPROVAL_RESOLVED
    )
    tx.emit(
        event_type,
        step=STEP_IN_EVENT(step),
        approvalRequest=APPROVAL_IN_EVENT(approval),
        message=message,
    )
    tx.log(
        f"approval {status} by {decided_by}", step_id=step.id, data={"approvalId": str(approval.id)}
    )

    granted = status in ApprovalStatus.GRANTED or (
        status == ApprovalStatus.EXPIRED and approval.on_timeout == OnTimeout.APPROVE
    )
    if granted:
        step.status = StepStatus.PENDING
        tx.set_status(_resumed_status(tx), message=f"step {step.name!r} approved")
        return
    if on_reject_policy(tx.task.context) == "cancel" or (
        status == ApprovalStatus.EXPIRED and approval.on_timeout == OnTimeout.CANCEL
    ):
        await cancel_everything(tx, message=f"step {step.name!r} was {status}")
        return
    step.status = StepStatus.SKIPPED
    step.finished_at = utcnow()
    tx.emit(EventType.STEP_COMPLETE, step=STEP_IN_EVENT(step), message=f"skipped: {status}")
    tx.set_status(_resumed_status(tx), message=f"step {step.name!r} skipped")


def _resumed_status(tx: TaskTransaction) -> TaskStatus:
    """A worker holding the task's lease carries on itself (`running`); a task the embedded
    engine parked goes back to the queue (`pending`) and takes a slot when one is free."""
    return TaskStatus.RUNNING if tx.task.lease_token is not None else TaskStatus.PENDING


TIMEOUT_OUTCOMES = {
    OnTimeout.APPROVE: ApprovalStatus.APPROVED,
    OnTimeout.CANCEL: ApprovalStatus.CANCELLED,
    OnTimeout.REJECT: ApprovalStatus.REJECTED,
}


async def expire_approval(tx: TaskTransaction, approval: ApprovalRequest) -> None:
    """An expiry is always recorded `expired` (APPROVAL_TIMEOUT first, then the events of the
    outcome its `onTimeout` policy applies) and audited as `system:timeout`."""
    outcome = TIMEOUT_OUTCOMES[approval.on_timeout]
    message = f"the approval request expired; step {outcome} by its onApprovalTimeout policy"
    parameters = dict(approval.modified_parameters or approval.parameters or {})
    # Kept with the people's decisions, so `decisions` tells the whole story of the request.
    tx.session.add(
        ApprovalDecision(
            approval_id=approval.id,
            decided_by=TIMEOUT_ACTOR,
            decision=ApprovalStatus.EXPIRED,
            message=message,
            parameters_before=parameters,
            parameters_after=parameters,
            decided_at=utcnow(),
        )
    )
    await record_decision(
        tx, approval, status=ApprovalStatus.EXPIRED, decided_by=TIMEOUT_ACTOR, message=message
    )
    record_audit(
        tx.session,
        actor=TIMEOUT_ACTOR,
        action="approval.expired",
        target=f"task:{tx.task.id}",
        details={
            "approvalId": str(approval.id),
            "stepId": str(approval.step_id),
            "onTimeout": approval.on_timeout,
            "outcome": outcome,
        },
        request_id=None,
    )


async def fail_pending_approvals(tx: TaskTransaction, *, message: str) -> None:
    """A task that ends cancels the approvals still waiting on it."""
    for approval in (await approvals_by_task_ids(tx.session, [tx.task.id]))[0]:
        if approval.status == ApprovalStatus.PENDING:
            approval.status = ApprovalStatus.CANCELLED
            approval.decided_at = utcnow()
            _count_wait(tx, approval)
            tx.emit(
                EventType.APPROVAL_RESOLVED,
                step={"id": str(approval.step_id)},
                approvalRequest=APPROVAL_IN_EVENT(approval),
                message=message,
            )


async def cancel_everything(tx: TaskTransaction, *, message: str) -> None:
    """End the task as cancelled: open steps and pending approvals are cancelled with it."""
    for step in await steps_of_task(tx.session, tx.task.id):
        if step.status in StepStatus.OPEN:
            step.status = StepStatus.CANCELLED
            step.finished_at = utcnow()
    await fail_pending_approvals(tx, message=message)
    tx.task.cancel_requested = False
    tx.task.cancel_mode = None
    tx.task.lease_owner = None
    tx.set_status(TaskStatus.CANCELLED, message=message)
    tx.emit(EventType.CANCELLED, status=TaskStatus.CANCELLED, message=message)
