"""Approval gates: open a request, wait for a person or the deadline, report the outcome."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from db.models import ApprovalRequest, utcnow
from db.repositories.steps import (
    due_parked_approvals,
    get_approval,
    get_step,
    pending_approval_for_step,
)
from domain.vocabulary import ApprovalStatus, EventType, StepStatus, TaskStatus
from engine.approvals import expire_approval
from engine.executor import ApprovalDecision, StepCancelledError
from engine.journal import TaskMissingError, TaskTransaction
from engine.stalls import expect_progress
from subscriptions.wire import APPROVAL_IN_EVENT, STEP_IN_EVENT

if TYPE_CHECKING:
    from engine.core import Engine


class ApprovalGate:
    """Waits on approval requests; a decision wakes it at once, the database is polled too."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def await_approval(
        self, task_id: uuid.UUID, step_id: uuid.UUID, *, prompt: str, parameters: dict[str, Any]
    ) -> ApprovalDecision | None:
        """Open (or, after a restart, find) the step's approval request. While it is pending
        the task is parked: `awaiting_approval`, no lease, no slot, no runner; None tells
        the runner to stop. The decision (or the scheduler's expiry) puts the task back in
        the queue, and the next run goes past the gate."""
        approval_id = await self._open_approval(
            task_id, step_id, prompt=prompt, parameters=parameters
        )
        approval = await self._load_approval(approval_id)
        if approval.status == ApprovalStatus.PENDING:
            return None
        return ApprovalDecision(
            status=approval.status,
            parameters=dict(approval.modified_parameters or approval.parameters),
            message=approval.decision_message,
        )

    async def _open_approval(
        self, task_id: uuid.UUID, step_id: uuid.UUID, *, prompt: str, parameters: dict[str, Any]
    ) -> uuid.UUID:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status not in TaskStatus.ACTIVE or tx.task.cancel_requested:
                raise StepCancelledError
            existing = await pending_approval_for_step(tx.session, step_id)
            step = await get_step(tx.session, step_id)
            assert step is not None
            if existing is not None:
                # Found again after a restart: park it as it was, same request, same deadline.
                step.status = StepStatus.AWAITING_APPROVAL
                park(tx)
                tx.set_status(TaskStatus.AWAITING_APPROVAL, message=existing.prompt)
                return existing.id
            approval = ApprovalRequest(
                id=uuid.uuid4(),
                task_id=task_id,
                step_id=step_id,
                status=ApprovalStatus.PENDING,
                prompt=prompt,
                parameters=parameters,
                created_at=utcnow(),
                on_timeout=str(tx.task.context.get("onApprovalTimeout", "reject")),
                expires_at=utcnow() + timedelta(seconds=self._approval_timeout(tx)),
                policy=step.approval_policy,
            )
            tx.session.add(approval)
            step.status = StepStatus.AWAITING_APPROVAL
            park(tx)
            tx.set_status(TaskStatus.AWAITING_APPROVAL, message=prompt)
            tx.emit(
                EventType.APPROVAL_REQUEST,
                step=STEP_IN_EVENT(step),
                approvalRequest=APPROVAL_IN_EVENT(approval),
                message=prompt,
            )
            return approval.id

    def _approval_timeout(self, tx: TaskTransaction) -> float:
        requested = tx.task.context.get("approvalTimeoutSeconds")
        if isinstance(requested, int | float) and not isinstance(requested, bool) and requested > 0:
            return float(requested)
        return self.engine.approval_timeout

    async def _load_approval(self, approval_id: uuid.UUID) -> ApprovalRequest:
        async with self.engine.sessions() as session:
            approval = await get_approval(session, approval_id)
        assert approval is not None
        return approval

    async def expire_due(self) -> None:
        """Expire the overdue requests of parked tasks (no runner waits on them)."""
        async with self.engine.sessions() as session:
            due = await due_parked_approvals(session, utcnow())
        for task_id, approval_id in due:
            with contextlib.suppress(TaskMissingError):
                await self.expire(task_id, approval_id)

    async def expire(self, task_id: uuid.UUID, approval_id: uuid.UUID) -> None:
        async with self.engine.transaction(task_id) as tx:
            approval = await get_approval(tx.session, approval_id)
            if (
                approval is None
                or approval.status != ApprovalStatus.PENDING
                or approval.expires_at > utcnow()
            ):
                return
            await expire_approval(tx, approval)
            expect_progress(tx, seconds=self.engine.resume_stall_seconds)
        self.engine.wake()


def park(tx: TaskTransaction) -> None:
    """The task waits for a person: it holds no lease, so it holds no slot and no runner."""
    tx.task.lease_owner = None
    tx.task.lease_expires_at = None
    tx.task.lease_token = None
