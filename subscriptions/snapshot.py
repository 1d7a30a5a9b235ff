"""Stream-control events: SNAPSHOT (the whole task as of a seq) and LAGGED (resume from here)."""

from __future__ import annotations

from typing import Any

from db.models import TaskStep
from db.repositories.feeds import TaskRows
from subscriptions.envelope import Event, EventPriority, EventType
from subscriptions.payloads import approval_snapshot, iso, step_snapshot


def _step_json(step: TaskStep) -> dict[str, Any]:
    return {
        **step_snapshot(step),
        "requiresApproval": step.requires_approval,
        "result": step.result,
    }


def task_json(rows: TaskRows) -> dict[str, Any]:
    """The wire form of a snapshot's task (REST and legacy sockets; GraphQL selects fields)."""
    task = rows.task
    return {
        "id": str(task.id),
        "task": task.task,
        "status": task.status,
        "priority": task.priority,
        "conversationId": task.conversation_id,
        "createdAt": iso(task.created_at),
        "startedAt": iso(task.started_at),
        "finishedAt": iso(task.finished_at),
        "artifacts": task.artifacts,
        "result": task.result,
        "error": task.error,
        "lastSeq": task.last_seq,
        "steps": [_step_json(step) for step in rows.steps],
        "approvals": [approval_snapshot(approval) for approval in rows.approvals],
    }


def snapshot_event(rows: TaskRows) -> Event:
    """The first event of a subscription without a cursor: `seq` is N, the task as of N."""
    task = rows.task
    return Event(
        task_id=str(task.id),
        user_id=str(task.user_id),
        type=EventType.SNAPSHOT,
        data={"taskId": str(task.id), "status": task.status, "task": task_json(rows)},
        seq=task.last_seq,
        priority=EventPriority.CRITICAL,
        attachment=rows,
    )


def lagged_event(
    *, task_id: str, user_id: str, resume_after: int | None, cursor: int | None
) -> Event:
    """Told to a subscriber that fell behind: what follows resumes after `resume_after`."""
    return Event(
        task_id=task_id,
        user_id=user_id,
        type=EventType.LAGGED,
        data={
            "taskId": task_id,
            "resumeAfter": resume_after,
            "message": "you fell behind; the events that follow are read back from the log",
        },
        seq=None,
        cursor=cursor,
        priority=EventPriority.CRITICAL,
    )
