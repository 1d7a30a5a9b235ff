"""Stream-control events: SNAPSHOT (the whole task as of a seq) and LAGGED (resume from here)."""

from __future__ import annotations

from typing import Any

from db.repositories.feeds import TaskRows
from subscriptions.envelope import Event, EventPriority, EventType
from subscriptions.wire import APPROVAL_IN_EVENT, STEP_IN_SNAPSHOT, TASK_IN_SNAPSHOT


def task_json(rows: TaskRows) -> dict[str, Any]:
    """The wire form of a snapshot's task (REST and legacy sockets; GraphQL selects fields)."""
    return {
        **TASK_IN_SNAPSHOT(rows.task),
        "steps": [STEP_IN_SNAPSHOT(step) for step in rows.steps],
        "approvals": [APPROVAL_IN_EVENT(approval) for approval in rows.approvals],
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
