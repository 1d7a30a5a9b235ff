"""Approval gates: open a request, wait for a person or the deadline, report the outcome."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from db.models import ApprovalRequest, utcnow
from db.repositories.steps import get_approval, get_step, pending_approval_for_step
from engine.approvals import record_decision
from engine.executor import ApprovalDecision, StepCancelledError
from engine.journal import TaskTransaction
from subscriptions.envelope import EventType
from subscriptions.payloads import approval_snapshot, step_snapshot

if TYPE_CHECKING:
    from engine.core import Engine

APPROVAL_POLL_SECONDS = 1.0


class ApprovalGate:
    """Waits on approval requests; a decision wakes it at once, the database is polled too."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def await_approval(
        self, task_id: uuid.UUID, step_id: uuid.UUID, *, prompt: str, parameters: dict[str, Any]
    ) -> ApprovalDecision:
        """Open (or, after a restart, find) the step's approval request and wait for its outcome."""
        approval_id = await self._open_approval(
            task_id, step_id, prompt=prompt, parameters=parameters
        )
        while True:
            approval = await self._load_approval(approval_id)
            if approval.status != "pending":
                return ApprovalDecision(
                    status=approval.status,  # type: ignore[arg-type]
                    parameters=dict(approval.modified_parameters or approval.parameters),
                    message=approval.decision_message,
                )
            remaining = (approval.expires_at - utcnow()).total_seconds()
            if remaining <= 0:
                await self._expire(task_id, approval_id)
                continue
            await self.engine.wait_for_approval(
                approval_id, timeout=min(remaining, APPROVAL_POLL_SECONDS)
            )

    async def _open_approval(
        self, task_id: uuid.UUID, step_id: uuid.UUID, *, prompt: str, parameters: dict[str, Any]
    ) -> uuid.UUID:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status not in ("running", "awaiting_approval") or tx.task.cancel_requested:
                raise StepCancelledError
            existing = await pending_approval_for_step(tx.session, step_id)
            if existing is not None:
                return existing.id
            step = await get_step(tx.session, step_id)
            assert step is not None
            approval = ApprovalRequest(
                id=uuid.uuid4(),
                task_id=task_id,
                step_id=step_id,
                status="pending",
                prompt=prompt,
                parameters=parameters,
                created_at=utcnow(),
                on_timeout=str(tx.task.context.get("onApprovalTimeout", "reject")),
                expires_at=utcnow() + timedelta(seconds=self._approval_timeout(tx)),
            )
            tx.session.add(approval)
            step.status = "awaiting_approval"
            tx.set_status("awaiting_approval", message=prompt)
            tx.emit(
                EventType.APPROVAL_REQUEST,
                step=step_snapshot(step),
                approvalRequest=approval_snapshot(approval),
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

    async def _expire(self, task_id: uuid.UUID, approval_id: uuid.UUID) -> None:
        async with self.engine.transaction(task_id) as tx:
            approval = await get_approval(tx.session, approval_id)
            if approval is None or approval.status != "pending":
                return
            if approval.on_timeout == "approve":
                await record_decision(
                    tx,
                    approval,
                    status="approved",
                    decided_by="system:timeout",
                    message="approved automatically when the request expired",
                )
                return
            await record_decision(
                tx,
                approval,
                status="expired",
                decided_by="system:timeout",
                message="the approval request expired",
            )
