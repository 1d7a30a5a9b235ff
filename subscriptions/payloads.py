"""How steps and approval requests appear inside events: one form for every event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.models import ApprovalRequest, TaskStep


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def step_snapshot(step: TaskStep) -> dict[str, Any]:
    return {
        "id": str(step.id),
        "name": step.name,
        "position": step.position,
        "action": step.action,
        "status": step.status,
        "progress": step.progress,
    }


def approval_snapshot(approval: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": str(approval.id),
        "stepId": str(approval.step_id),
        "status": approval.status,
        "prompt": approval.prompt,
        "parameters": approval.parameters,
        "modifiedParameters": approval.modified_parameters,
        "onTimeout": approval.on_timeout,
        "expiresAt": iso(approval.expires_at),
        "decidedBy": approval.decided_by,
        "decidedAt": iso(approval.decided_at),
        "message": approval.decision_message,
        # `{required, roles, allowSelf}`; null: the owner or an admin decides, alone.
        "policy": approval.policy,
    }
