"""A plan becomes step rows one way, whether the API planned it at submit or a worker did."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from db.models import Task, TaskStep
from domain.vocabulary import StepStatus
from engine.executor import StepSpec


def step_rows(task: Task, specs: Sequence[StepSpec], *, first_position: int = 0) -> list[TaskStep]:
    """New pending rows for `specs`; the roles their approval policies name become the task's
    reviewer roles (holders may read the task and decide those approvals)."""
    rows = [
        TaskStep(
            id=uuid.uuid4(),
            task_id=task.id,
            position=first_position + offset,
            name=spec.name,
            description=spec.description,
            action=spec.action,
            params=spec.params,
            requires_approval=spec.requires_approval,
            approval_policy=spec.approval.to_json() if spec.approval is not None else None,
            reversibility=spec.reversibility,
            status=StepStatus.PENDING,
            progress=0.0,
        )
        for offset, spec in enumerate(specs)
    ]
    add_reviewer_roles(task, [r for s in specs if s.approval is not None for r in s.approval.roles])
    return rows


def add_reviewer_roles(task: Task, roles: Sequence[str]) -> None:
    if not roles:
        return
    merged = list(dict.fromkeys([*(task.reviewer_roles or []), *roles]))
    if merged != (task.reviewer_roles or []):
        task.reviewer_roles = merged
