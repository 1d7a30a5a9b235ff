"""GraphQL shape of the event envelope (DESIGN.md section 5)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from db.repositories.feeds import TaskRows
from schema.scalars import ApprovalStatus, EventPriority, StepStatus, TaskEventType, TaskStatus
from schema.types import Task
from subscriptions.envelope import Event, EventType, encode_event_cursor


@strawberry.type(description="The step an event is about, as it was at that moment.")
class EventStep:
    id: strawberry.ID = strawberry.field(description="The step id.")
    name: str | None = strawberry.field(description="Its name.")
    position: int | None = strawberry.field(description="0-based order in the task.")
    action: str | None = strawberry.field(description="Its executor action.")
    status: StepStatus | None = strawberry.field(description="Its status then.")
    progress: float | None = strawberry.field(description="Its progress then, 0 to 1.")

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EventStep:
        status = data.get("status")
        return cls(
            id=strawberry.ID(str(data["id"])),
            name=data.get("name"),
            position=data.get("position"),
            action=data.get("action"),
            status=StepStatus(status) if status else None,
            progress=data.get("progress"),
        )


@strawberry.type(description="An approval request as it was at the moment of the event.")
class EventApproval:
    id: strawberry.ID = strawberry.field(description="The approval id, used to answer it.")
    step_id: strawberry.ID = strawberry.field(description="The step it gates.")
    status: ApprovalStatus = strawberry.field(description="Its status then.")
    prompt: str = strawberry.field(description="What the person is asked.")
    parameters: JSON = strawberry.field(description="The parameters the step would run with.")
    modified_parameters: JSON | None = strawberry.field(description="Changed parameters, if any.")
    on_timeout: str = strawberry.field(description="What happens at expiry.")
    expires_at: str | None = strawberry.field(description="ISO 8601 expiry time.")
    decided_by: str | None = strawberry.field(
        description="Who answered: `user:<subject>` (as in the audit log), or `system:timeout`."
    )
    decided_at: str | None = strawberry.field(description="ISO 8601 decision time.")
    message: str | None = strawberry.field(description="The approver's message.")

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EventApproval:
        return cls(
            id=strawberry.ID(str(data["id"])),
            step_id=strawberry.ID(str(data["stepId"])),
            status=ApprovalStatus(data["status"]),
            prompt=data.get("prompt", ""),
            parameters=data.get("parameters", {}),
            modified_parameters=data.get("modifiedParameters"),
            on_timeout=data.get("onTimeout", "reject"),
            expires_at=data.get("expiresAt"),
            decided_by=data.get("decidedBy"),
            decided_at=data.get("decidedAt"),
            message=data.get("message"),
        )


@strawberry.type(description="What an event reports; which fields are set depends on its type.")
class TaskEventData:
    task_id: strawberry.ID = strawberry.field(description="The task the event belongs to.")
    status: TaskStatus | None = strawberry.field(description="The task status it reports, if any.")
    previous_status: TaskStatus | None = strawberry.field(description="The status before it.")
    step: EventStep | None = strawberry.field(description="The step it is about.")
    progress: float | None = strawberry.field(description="Step progress, 0 to 1.")
    message: str | None = strawberry.field(description="A human-readable line.")
    approval_request: EventApproval | None = strawberry.field(description="The approval involved.")
    result: JSON | None = strawberry.field(description="A step's or the task's result.")
    error: JSON | None = strawberry.field(description="Failure detail.")
    queue_position: int | None = strawberry.field(
        description="Position in the queue (queue_update)."
    )
    estimated_wait_time: float | None = strawberry.field(description="Estimated seconds to start.")
    task: Task | None = strawberry.field(
        default=None, description="SNAPSHOT only: the whole task as of the event's seq."
    )
    resume_after: int | None = strawberry.field(
        default=None,
        description="LAGGED only: the last seq you received; the events after it follow.",
    )

    @classmethod
    def from_data(cls, data: dict[str, Any], rows: TaskRows | None = None) -> TaskEventData:
        step = data.get("step")
        approval = data.get("approvalRequest")
        status, previous = data.get("status"), data.get("previousStatus")
        return cls(
            task_id=strawberry.ID(str(data["taskId"])),
            status=TaskStatus(status) if status else None,
            previous_status=TaskStatus(previous) if previous else None,
            step=EventStep.from_data(step) if step else None,
            progress=data.get("progress"),
            message=data.get("message"),
            approval_request=EventApproval.from_data(approval) if approval else None,
            result=data.get("result"),
            error=data.get("error"),
            queue_position=data.get("queuePosition"),
            estimated_wait_time=data.get("estimatedWaitTime"),
            task=Task.from_model(rows.task) if rows is not None else None,
            resume_after=data.get("resumeAfter"),
        )


@strawberry.type(description="One event of a task: the same envelope on every channel.")
class TaskEvent:
    id: str = strawberry.field(description="Unique, time-sortable (ULID).")
    version: int = strawberry.field(
        description="Envelope version; rises only on a breaking change."
    )
    type: TaskEventType = strawberry.field(description="What happened.")
    seq: int | None = strawberry.field(
        description="Per-task position, gap-free from 1; null for ephemeral events (queue_update)."
    )
    timestamp: float = strawberry.field(description="Milliseconds since the Unix epoch.")
    priority: EventPriority = strawberry.field(description="Delivery priority.")
    cursor: str | None = strawberry.field(
        description="Opaque, globally ordered position of a stored event across all tasks: "
        "pass it as myTaskUpdates(after:) to resume. Null for ephemeral and control events, "
        "except LAGGED on myTaskUpdates, where it is the cursor to resume after."
    )
    data: TaskEventData = strawberry.field(description="What the event reports.")

    @classmethod
    def from_event(cls, event: Event) -> TaskEvent:
        return cls(
            id=event.id,
            version=event.version,
            type=event.type,
            seq=event.seq,
            timestamp=event.timestamp,
            priority=event.effective_priority,
            cursor=encode_event_cursor(event.cursor),
            data=TaskEventData.from_data(
                event.data,
                event.attachment if event.type is EventType.SNAPSHOT else None,
            ),
        )
