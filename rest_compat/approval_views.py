"""REST shapes of the approval inbox: each request with its task, step and decisions."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from resolvers.approvals import DecisionRow, InboxEntry, approval_policy_of, remaining_seconds
from rest_compat.views import (
    ApprovalStatusJson,
    ApprovalView,
    Id,
    StepView,
    TaskJson,
    TaskStatusJson,
    Timestamp,
    View,
)
from subscriptions.wire import iso


class DecisionView(View):
    """One person's answer (or the expiry, by `system:timeout`)."""

    by: str = Field(description="`user:<subject>`, as in the audit log, or `system:timeout`.")
    decision: ApprovalStatusJson
    message: str | None
    parameters_before: dict[str, Any] | None
    parameters_after: dict[str, Any] | None
    at: Timestamp

    @classmethod
    def of(cls, row: DecisionRow) -> DecisionView:
        return cls(
            by=row.decided_by,
            decision=row.decision,
            message=row.message,
            parameters_before=row.parameters_before,
            parameters_after=row.parameters_after,
            at=iso(row.decided_at) or "",
        )


class InboxTask(View):
    """The task a request belongs to, as a reviewer may see it."""

    id: Id
    task: str
    status: TaskStatusJson
    created_at: Timestamp


class InboxApproval(ApprovalView):
    """An approval request in the inbox."""

    required: int = Field(description="How many distinct people must approve (1 to 10).")
    roles: list[str] = Field(description="Who may decide; empty: the owner and admins.")
    allow_self: bool = Field(description="Whether the task's owner may decide it.")
    remaining_seconds: float | None = Field(
        description="Seconds to its deadline; null once settled."
    )
    decisions: list[DecisionView]
    task: InboxTask
    step: StepView | None

    @classmethod
    def of_entry(cls, entry: InboxEntry) -> InboxApproval:
        policy = approval_policy_of(entry.approval)
        return cls(
            **ApprovalView.of(entry.approval).model_dump(),
            required=policy.required,
            roles=list(policy.roles),
            allow_self=policy.allow_self,
            remaining_seconds=remaining_seconds(entry.approval),
            decisions=[DecisionView.of(d) for d in entry.decisions],
            task=InboxTask(
                id=str(entry.task.id),
                task=entry.task.task,
                status=entry.task.status,
                created_at=iso(entry.task.created_at) or "",
            ),
            step=StepView.of(entry.step) if entry.step is not None else None,
        )


class InboxPage(View):
    """A page of approval requests, newest first."""

    approvals: list[InboxApproval]
    next_cursor: str | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )


class BatchDecisionView(View):
    """The result of one answer of a batch."""

    approval_id: Id
    task_id: Id
    ok: bool = Field(description="Whether the answer was recorded.")
    task: TaskJson | None = Field(description="The task after the answer, when ok.")
    error: dict[str, str] | None = Field(description="`{code, message}` when not ok.")


class BatchResultView(View):
    """What a batch of answers did."""

    batch_id: Id
    atomic: bool
    replayed: bool = Field(
        description="True: the stored result of an earlier batch with the same "
        "idempotencyKey; this call changed nothing."
    )
    results: list[BatchDecisionView]
