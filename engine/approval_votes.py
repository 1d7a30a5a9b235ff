"""One person's answer to an approval request that may need several (docs/approvals.md).

Every answer is kept as an `ApprovalDecision` row. A rejection by anyone eligible rejects the
request; it is approved once `required` distinct people approved it. Until then it stays
pending, and an `approval_decision` event tells watchers how far it got. Changed parameters
carry forward: the next approver sees (and may change again) what the previous one left.
"""

from __future__ import annotations

from typing import Any

from db.models import ApprovalDecision, ApprovalRequest, utcnow
from domain.vocabulary import ApprovalStatus, EventType
from engine.approval_policy import ApprovalPolicy
from engine.approvals import Decision, record_decision
from engine.journal import TaskTransaction
from subscriptions.wire import APPROVAL_IN_EVENT


def decision_json(row: ApprovalDecision) -> dict[str, Any]:
    return {
        "by": row.decided_by,
        "decision": row.decision,
        "message": row.message,
        "parametersBefore": row.parameters_before,
        "parametersAfter": row.parameters_after,
        "at": row.decided_at.isoformat(),
    }


async def answer_approval(
    tx: TaskTransaction,
    approval: ApprovalRequest,
    *,
    decided_by: str,
    approved: bool,
    message: str | None,
    modified: dict[str, Any] | None,
    earlier: list[ApprovalDecision],
) -> ApprovalStatus:
    """Record the answer; settle the request when its policy is met. Returns its status.
    `earlier` are the request's decisions so far, which the caller read to check the person."""
    policy = ApprovalPolicy.from_json(approval.policy)
    before = dict(approval.modified_parameters or approval.parameters or {})
    if not approved:
        decision = ApprovalStatus.REJECTED
    else:
        decision = ApprovalStatus.MODIFIED if modified is not None else ApprovalStatus.APPROVED
    row = ApprovalDecision(
        approval_id=approval.id,
        decided_by=decided_by,
        decision=decision,
        message=message,
        parameters_before=before,
        parameters_after=dict(modified) if modified is not None else before,
        decided_at=utcnow(),
    )
    tx.session.add(row)
    if decision is ApprovalStatus.REJECTED:
        await record_decision(
            tx, approval, status=ApprovalStatus.REJECTED, decided_by=decided_by, message=message
        )
        return ApprovalStatus.REJECTED

    if modified is not None:
        approval.modified_parameters = dict(modified)
    granted = 1 + sum(1 for d in earlier if d.decision in ApprovalStatus.GRANTED)
    if granted >= policy.required:
        final = approval.modified_parameters
        status: Decision = ApprovalStatus.MODIFIED if final is not None else ApprovalStatus.APPROVED
        await record_decision(
            tx,
            approval,
            status=status,
            decided_by=decided_by,
            message=message,
            modified_parameters=final,
        )
        return status
    tx.emit(
        EventType.APPROVAL_DECISION,
        step={"id": str(approval.step_id)},
        approvalRequest=APPROVAL_IN_EVENT(approval),
        decision=decision_json(row),
        approvals=granted,
        required=policy.required,
        message=f"{decided_by} approved ({granted} of {policy.required})",
    )
    tx.log(
        f"approval {granted} of {policy.required} by {decided_by}",
        step_id=approval.step_id,
        data={"approvalId": str(approval.id)},
    )
    return ApprovalStatus.PENDING
