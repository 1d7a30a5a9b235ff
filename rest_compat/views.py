"""Response shapes: JSON views of tasks, steps, logs, approvals and events (camelCase, lower case).

They are pydantic models so the OpenAPI document is generated from the very
classes that build the responses: the two cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, GetPydanticSchema, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic_core import core_schema

from db import models
from domain.vocabulary import (
    ApprovalStatus,
    EventPriority,
    OnTimeout,
    Reversibility,
    StepStatus,
    TaskStatus,
)
from resolvers.views import TaskView
from subscriptions.envelope import Event
from subscriptions.wire import APPROVAL, STEP, TASK, iso

Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Id = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]


def _words(vocabulary: type[StrEnum]) -> GetPydanticSchema:
    """Validated as a literal of the vocabulary's values, then held as the member: the
    documented schema stays an inline `enum` list, made from the vocabulary itself."""
    values = [word.value for word in vocabulary]
    return GetPydanticSchema(
        lambda _type, _handler: core_schema.no_info_after_validator_function(
            vocabulary, core_schema.literal_schema(values)
        )
    )


TaskStatusJson = Annotated[TaskStatus, _words(TaskStatus)]
StepStatusJson = Annotated[StepStatus, _words(StepStatus)]
ApprovalStatusJson = Annotated[ApprovalStatus, _words(ApprovalStatus)]
ReversibilityJson = Annotated[Reversibility, _words(Reversibility)]
OnTimeoutJson = Annotated[OnTimeout, _words(OnTimeout)]
EventPriorityJson = Annotated[EventPriority, _words(EventPriority)]


class View(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class StepView(View):
    """One step of a task's plan."""

    id: Id
    position: int = Field(description="0-based order within the task.")
    name: str
    description: str | None
    action: str = Field(description="The executor action, e.g. `wait` or `note`.")
    params: dict[str, Any]
    requires_approval: bool
    reversibility: ReversibilityJson
    status: StepStatusJson
    progress: float = Field(description="0 to 1.")
    result: Any = Field(default=None, description="What the step produced.")
    error: dict[str, Any] | None = None
    started_at: Timestamp | None
    finished_at: Timestamp | None

    @classmethod
    def of(cls, row: models.TaskStep) -> StepView:
        return cls.model_validate(STEP(row))


class LogView(View):
    """A log line written while the task ran."""

    id: Id
    step_id: Id | None
    level: str = Field(description="info, warning or error.")
    message: str
    data: dict[str, Any] | None
    created_at: Timestamp

    @classmethod
    def of(cls, row: models.TaskLog) -> LogView:
        return cls(
            id=str(row.id),
            step_id=str(row.step_id) if row.step_id else None,
            level=row.level,
            message=row.message,
            data=row.data,
            created_at=iso(row.created_at) or "",
        )


class ApprovalView(View):
    """A request for a person to approve a step before it runs."""

    id: Id
    task_id: Id
    step_id: Id
    status: ApprovalStatusJson
    prompt: str
    parameters: dict[str, Any]
    modified_parameters: dict[str, Any] | None
    on_timeout: OnTimeoutJson
    decided_by: str | None
    decision_message: str | None
    created_at: Timestamp
    expires_at: Timestamp
    decided_at: Timestamp | None

    @classmethod
    def of(cls, row: models.ApprovalRequest) -> ApprovalView:
        return cls.model_validate(APPROVAL(row))


class TaskJson(View):
    """An agent task as it stands now."""

    id: Id
    task: str
    status: TaskStatusJson
    priority: int
    conversation_id: str | None
    context: dict[str, Any]
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    artifacts: dict[str, Any] = Field(description="What its steps stored (key to value).")
    result: Any = Field(default=None, description="The outcome, once completed.")
    error: dict[str, Any] | None
    last_seq: int = Field(description="The seq of its newest stored event.")
    progress: float = Field(description="Completed share of the plan, 0 to 1.")
    queue_position: int | None = Field(
        description="1 for the next task to start; null unless pending."
    )
    estimated_wait_time: float | None = Field(
        description="Seconds until it starts; null unless pending."
    )
    steps: list[StepView]
    approvals: list[ApprovalView]
    pending_approval: ApprovalView | None
    current_step: StepView | None

    @classmethod
    def of(cls, view: TaskView) -> TaskJson:
        pending, current = view.pending_approval, view.current_step
        return cls.model_validate(
            {
                **TASK(view.task),
                "progress": view.progress,
                "queuePosition": view.queue.position,
                "estimatedWaitTime": view.queue.estimated_wait_seconds,
                "steps": [STEP(s) for s in view.steps],
                "approvals": [APPROVAL(a) for a in view.approvals],
                "pendingApproval": APPROVAL(pending) if pending else None,
                "currentStep": STEP(current) if current else None,
            }
        )


class EventJson(View):
    """One task event: the same envelope on every channel."""

    id: str = Field(description="Unique, time-sortable (ULID).")
    version: int = Field(description="Envelope version; rises only on a breaking change.")
    type: str = Field(description="Lower snake case, e.g. `step_progress`; ignore unknown types.")
    seq: int | None = Field(description="Per-task position, gap-free from 1; null if ephemeral.")
    timestamp: float = Field(description="Milliseconds since the Unix epoch.")
    priority: EventPriorityJson
    cursor: str | None = Field(
        default=None,
        description="Opaque position across all of your tasks' events; null if ephemeral.",
    )
    data: dict[str, Any] = Field(description="What the event reports; always has `taskId`.")

    @classmethod
    def of(cls, event: Event) -> EventJson:
        return cls.model_validate(event.to_wire())
